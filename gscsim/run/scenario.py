"""Scenario files: YAML -> validated `Scenario` -> the list of `Trial`s it asks for.

Every problem in a file is reported at once, each with its field path, e.g.
`scenarios/x.yaml: transceivers[0].name: unknown transceiver 'foo'; known: softcast`.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from gscsim import registry
from gscsim.conventions import parse_ratio
from gscsim.io import ScenarioError, field_errors, read_yaml


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PluginSpec(_Strict):
    """One transceiver or channel: registered name (or "module:Class"), label, options, sweeps."""

    name: str = Field(..., description=(
        "a registered name (`gscsim list`) or `module:Class` of your own file beside the "
        "scenario"))
    label: str | None = Field(None, min_length=1, max_length=100, description=(
        "the name in tables and legends; default: `name` (two entries of one name need labels)"))
    options: dict[str, Any] = Field(default_factory=dict, description=(
        "the plugin's options (`gscsim list NAME` shows them), checked against its model"))
    sweep: dict[str, list[Any]] = Field(
        default_factory=dict, description="option name -> values, each a separate trial")

    @property
    def display(self) -> str:
        return self.label or self.name


class DatasetSpec(_Strict):
    """The frames every trial sends."""

    name: str = Field(..., description="a registered dataset (`gscsim list`) or `module:Class`")
    options: dict[str, Any] = Field(default_factory=dict, description=(
        "the dataset's options (`gscsim list NAME` shows them)"))


def _ratio(value: Any) -> float:
    try:
        ratio = parse_ratio(value)
    except (TypeError, ValueError, ZeroDivisionError):
        raise ValueError(f"cbr values are numbers or fractions like \"1/48\"; "
                         f"got {value!r}") from None
    if not math.isfinite(ratio) or ratio <= 0:
        raise ValueError(f"cbr values must be positive and finite; got {value!r}")
    return ratio


def _distinct(values: list[Any], what: str) -> list[Any]:
    """`values` if no two are equal (floats within 1e-9); else an error naming the repeat."""
    for i, a in enumerate(values):
        for b in values[:i]:
            same = (math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
                    if isinstance(a, float) and isinstance(b, float) else a == b)
            if same:
                raise ValueError(f"{what} lists {a!r} twice; each value is one trial, so drop "
                                 f"the repeat (for repetitions use several seeds)")
    return values


def _finite(values: list[float], what: str) -> list[float]:
    if any(not math.isfinite(v) for v in values):
        raise ValueError(f"{what} values must be finite numbers (dB); got {values}")
    return values


class CrossPoint(_Strict):
    """Where the SNR line and the CBR line of a cross sweep meet."""

    snr_db: float = Field(description="the CBR line's SNR (dB)")
    cbr: float = Field(description="the SNR line's CBR")

    @field_validator("cbr", mode="before")
    @classmethod
    def _fraction(cls, value: Any) -> float:
        return _ratio(value)


class SweepSpec(_Strict):
    """The operating points: every trial is one (SNR, CBR[, users], seed) per transceiver and
    channel."""

    snr_db: list[float] = Field(..., min_length=1, description="Es/N0 values in dB")
    cbr: list[float] = Field(..., min_length=1, description="channel uses per source value")
    stream_snr_db: dict[str, list[float]] = Field(
        default_factory=dict,
        description="stream name -> its own SNR values (others follow snr_db)")
    users: list[int] | None = Field(
        None, min_length=1, description="replicas of every link (timed scenarios): the load axis")
    cross_at: CrossPoint | None = Field(
        None, description="instead of the SNR x CBR grid: every snr_db at cross_at.cbr, and "
                          "every cbr at cross_at.snr_db (the two classic curves)")

    @field_validator("users")
    @classmethod
    def _positive_users(cls, values: list[int] | None) -> list[int] | None:
        if values is not None and any(v < 1 for v in values):
            raise ValueError("users values must be at least 1")
        return values if values is None else _distinct(values, "users")

    @field_validator("snr_db")
    @classmethod
    def _snr_values(cls, values: list[float]) -> list[float]:
        return _distinct(_finite(values, "snr_db"), "snr_db")

    @field_validator("stream_snr_db")
    @classmethod
    def _stream_snr_values(cls, streams: dict[str, list[float]]) -> dict[str, list[float]]:
        for name, values in streams.items():
            if not values:
                raise ValueError(f"stream_snr_db.{name} lists no SNR; give at least one")
            _distinct(_finite(values, f"stream_snr_db.{name}"), f"stream_snr_db.{name}")
        return streams

    @field_validator("cbr", mode="before")
    @classmethod
    def _fractions(cls, values: Any) -> Any:
        return _distinct([_ratio(v) for v in values], "cbr") if isinstance(values, list) \
            else values

    @model_validator(mode="after")
    def _cross_on_lines(self) -> "SweepSpec":
        cross = self.cross_at
        if cross is not None and not (cross.snr_db in self.snr_db
                                      and any(math.isclose(cross.cbr, c) for c in self.cbr)):
            raise ValueError("cross_at.snr_db must be one of snr_db and cross_at.cbr one of cbr")
        return self

    def points(self) -> list[tuple[float, float]]:
        """The (SNR, CBR) pairs swept, in a stable order."""
        if self.cross_at is None:
            return list(itertools.product(self.snr_db, self.cbr))
        cross = self.cross_at
        line = [(s, cross.cbr) for s in self.snr_db]
        return line + [(cross.snr_db, c) for c in self.cbr if not math.isclose(c, cross.cbr)]


class TrafficSpec(_Strict):
    """When a link's frames arrive: periodic at `rate_hz`, Poisson at `rate_hz`, or a trace file
    of arrival times in seconds (one per line, relative to the start)."""

    model: Literal["periodic", "poisson", "trace"] = Field("periodic", description=(
        "arrival process: periodic, Poisson, or the times in `file`"))
    rate_hz: float | None = Field(None, gt=0, description="frames per second")
    file: str | None = Field(None, description="trace file (model: trace)")
    frames: int | None = Field(None, ge=1, description="frames per link; default: the dataset "
                                                        "size (the dataset is cycled if larger)")
    offset_s: float = Field(0.0, ge=0, description="time of the first arrival (periodic)")

    @model_validator(mode="after")
    def _complete(self):
        if self.model in ("periodic", "poisson") and self.rate_hz is None:
            raise ValueError(f"traffic model '{self.model}' needs rate_hz")
        if self.model == "trace" and not self.file:
            raise ValueError("traffic model 'trace' needs file: a file of arrival times")
        return self


class ComputeSpec(_Strict):
    """How long encoding and decoding take in simulated time."""

    model: Literal["measured", "profile", "fixed"] = Field(
        "measured", description="measured: this machine's wall time of each frame; profile: "
        "seconds per frame from a device profile file; fixed: the values below")
    encode_s: float = Field(0.0, ge=0, description="fixed: seconds per frame to encode")
    decode_s: float = Field(0.0, ge=0, description="fixed: seconds per frame to decode")
    distribution: Literal["deterministic", "exponential"] = Field(
        "deterministic", description="fixed: constant times, or exponential with those means")
    profile: str | None = Field(None, description="profile: YAML {transceiver: {encode_s, "
                                                  "decode_s}}, keyed by label or name")

    @model_validator(mode="after")
    def _complete(self):
        if self.model == "profile" and not self.profile:
            raise ValueError("compute model 'profile' needs profile: a device profile file")
        return self


class TimingSpec(_Strict):
    """Turns each trial into a discrete-event simulation of its links (see gscsim.run.timed)."""

    bandwidth_hz: float = Field(1e6, gt=0, description="complex symbols per second on the air")
    propagation_s: float = Field(0.0, ge=0, description="one-way propagation delay")
    overhead_s: float = Field(0.0, ge=0, description="per transmission: preamble, guard, MAC")
    traffic: TrafficSpec = Field(default_factory=lambda: TrafficSpec(rate_hz=1.0),
                                 description="when frames arrive (default: 1 per second)")
    compute: ComputeSpec = Field(default_factory=ComputeSpec, description=(
        "how long encoding and decoding take in simulated time"))
    deadline_s: float | None = Field(None, gt=0, description="latency budget of each frame")
    late: Literal["log", "drop"] = Field("log", description="a late frame is logged, or dropped "
                                                            "as soon as its deadline passes")
    max_retransmissions: int = Field(0, ge=0, description="ARQ: resends of a frame whose "
                                                          "integrity check failed")


class ServerSpec(_Strict):
    """A receiver or transmitter: how many frames it processes at once."""

    servers: int = Field(1, ge=1, description="frames served at once (e.g. accelerators)")


class LinkSpec(_Strict):
    """One link (or `count` identical ones). Unset fields follow the trial."""

    name: str = Field("link", pattern=r"^[A-Za-z0-9_.-]+$", description=(
        "the link's name in frames.csv (unique)"))
    count: int = Field(1, ge=1, description="identical copies of this link (users)")
    transceiver: str | None = Field(None, description="label of one of `transceivers`")
    channel: str | None = Field(None, description="label of one of `channels`")
    snr_db: float | None = Field(None, description="this link's SNR (dB); default: the trial's")
    traffic: TrafficSpec | None = Field(None, description="default: timing.traffic")
    deadline_s: float | None = Field(None, gt=0, description="default: timing.deadline_s")
    receiver: str = Field("rx", description="one of network.receivers")
    transmitter: str | None = Field(None, description="a shared transmitter; default: its own")


class NetworkSpec(_Strict):
    """Several links sharing receivers (and transmitters): who queues behind whom."""

    receivers: dict[str, ServerSpec] = Field(
        default_factory=lambda: {"rx": ServerSpec()},
        description="name -> receiver; links queue at the one they name")
    transmitters: dict[str, ServerSpec] = Field(
        default_factory=dict, description="name -> shared transmitter (optional)")
    links: list[LinkSpec] = Field(default_factory=lambda: [LinkSpec()], min_length=1,
                                  description="the links of every trial")

    @model_validator(mode="after")
    def _known_names(self):
        for i, link in enumerate(self.links):
            if link.receiver not in self.receivers:
                raise ValueError(f"links[{i}].receiver '{link.receiver}' is not one of receivers "
                                 f"({', '.join(self.receivers)})")
            if link.transmitter is not None and link.transmitter not in self.transmitters:
                raise ValueError(f"links[{i}].transmitter '{link.transmitter}' is not one of "
                                 f"transmitters ({', '.join(self.transmitters) or 'none'})")
        names = [link.name for link in self.links]
        if len(set(names)) != len(names):
            raise ValueError("link names must be unique")
        return self


class Scenario(_Strict):
    """A scenario file: the frames, the transceivers and channels compared, the operating
    points, the metrics, and optionally a timed simulation of links sharing receivers."""

    name: str = Field(..., pattern=r"^[A-Za-z0-9_.-]{1,100}$", description=(
        "letters, digits and . _ - (not only dots), at most 100: names the output folder"))
    description: str = Field("", description="free text, copied to the manifest")
    seed: int | list[int] = Field(0, description="one seed, or a list: each is a repetition")
    dataset: DatasetSpec = Field(..., description="the frames every trial sends")
    transceivers: list[PluginSpec] = Field(..., min_length=1, description=(
        "the transceivers compared; every one runs at every point"))
    channels: list[PluginSpec] = Field(..., min_length=1, description=(
        "the channels (same fields as a transceiver entry)"))
    sweep: SweepSpec = Field(..., description="the operating points: SNR x CBR (x users)")
    metrics: list[str] = Field(default_factory=lambda: ["psnr"], min_length=1, description=(
        "registered metrics (`gscsim list`): per frame, or per set (fid, kid)"))
    batch_size: int = Field(8, ge=1, description="frames encoded and decoded together")
    device: str = Field("cpu", description="torch device of the metrics ('cpu', 'cuda', ...)")
    output: str | None = Field(None, description="output folder; default results/<name>")
    timing: TimingSpec | None = Field(None, description="simulate time: latency, queueing")
    network: NetworkSpec | None = Field(None, description="several links and shared receivers")
    keep_frames: list[str] = Field(default_factory=list, description=(
        "frame ids whose original and received images every trial keeps, as PNG files under "
        "OUTPUT/frames/<frame>/ (for `gscsim grid`)"))

    @field_validator("name")
    @classmethod
    def _not_only_dots(cls, name: str) -> str:
        if set(name) == {"."}:
            raise ValueError(f"name '{name}' would name the current or parent folder; use "
                             f"letters or digits")
        return name

    @field_validator("seed")
    @classmethod
    def _distinct_seeds(cls, seed: int | list[int]) -> int | list[int]:
        if isinstance(seed, list) and not seed:
            raise ValueError("seed lists no seed; give one seed or a list of them")
        return _distinct(seed, "seed") if isinstance(seed, list) else seed

    @field_validator("device")
    @classmethod
    def _known_device(cls, device: str) -> str:
        import torch

        try:
            kind = torch.device(device).type
        except (RuntimeError, ValueError):
            raise ValueError(f"device '{device}' is not a torch device (cpu, cuda, cuda:1)")\
                from None
        if kind == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device '{device}': this torch build or machine has no CUDA "
                             f"device; use cpu")
        return device

    @model_validator(mode="after")
    def _timing_needed(self):
        if self.timing is None and (self.network is not None or self.sweep.users is not None):
            raise ValueError("`network` and `sweep.users` need a `timing` section")
        return self

    @property
    def seeds(self) -> list[int]:
        return self.seed if isinstance(self.seed, list) else [self.seed]


@dataclass(frozen=True)
class Trial:
    """One point of the sweep: a transceiver x channel x SNR x CBR x seed combination."""

    transceiver: str                       # display label
    transceiver_name: str
    transceiver_options: dict[str, Any]
    channel: str
    channel_name: str
    channel_options: dict[str, Any]
    snr_db: float
    cbr: float
    seed: int
    stream_snr_db: dict[str, float] = field(default_factory=dict)
    swept: dict[str, Any] = field(default_factory=dict)   # swept option values, for columns
    users: int | None = None                              # link replicas (timed scenarios)

    def keys(self) -> dict[str, Any]:
        """The columns that identify this trial in frames.csv and summary.csv."""
        row = {"transceiver": self.transceiver, "channel": self.channel, "snr_db": self.snr_db,
               "cbr": self.cbr, "seed": self.seed}
        row.update({f"snr_db.{s}": v for s, v in sorted(self.stream_snr_db.items())})
        row.update(self.swept)
        if self.users is not None:
            row["users"] = self.users
        return row

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Trial":
        return cls(**data)


def _digest(data: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:12]


def seed_key(scenario: Scenario, trial: Trial) -> str:
    """What salts a trial's random draws: the trial and its frames, not the metrics or timing
    (so adding a metric or a timing section leaves every noise draw as it was)."""
    return _digest({"trial": trial.to_dict(), "dataset": scenario.dataset.model_dump(mode="json"),
                    "batch_size": scenario.batch_size})


def trial_id(scenario: Scenario, trial: Trial) -> str:
    """Stable id: a readable slug plus a hash of everything that changes the trial's results."""
    fingerprint = {"seed_key": seed_key(scenario, trial), "metrics": scenario.metrics}
    if scenario.timing is not None:
        fingerprint["timing"] = scenario.timing.model_dump(mode="json")
        fingerprint["network"] = scenario.network.model_dump(mode="json") if scenario.network \
            else None
    slug = (f"{trial.transceiver}_{trial.channel}_snr{trial.snr_db:g}_cbr{trial.cbr:.4g}"
            f"_s{trial.seed}")
    if trial.users is not None:
        slug += f"_u{trial.users}"
    safe = "".join(c if c.isalnum() or c in "._-" else "-" for c in slug)
    return f"{safe}_{_digest(fingerprint)}"


# ---------------------------------------------------------------- loading and validation


def load(path: str | Path) -> Scenario:
    """Read and fully validate a scenario file (schema, plugin names, plugin options)."""
    path = Path(path)
    return validate(read_yaml(path), source=str(path), search_dir=path.parent)


def validate(raw: Any, source: str = "<scenario>", search_dir: Path | None = None) -> Scenario:
    if not isinstance(raw, dict):
        raise ScenarioError(source, [("", "expected a mapping of fields (name, dataset, ...)")])
    try:
        scenario = Scenario.model_validate(raw)
    except ValidationError as err:
        raise ScenarioError(source, field_errors(err)) from None
    problems = _check_plugins(scenario, search_dir)
    if problems:
        raise ScenarioError(source, problems)
    return scenario


def _check_plugins(scenario: Scenario, search_dir: Path | None) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    specs = [("datasets", "dataset", scenario.dataset)]
    specs += [("transceivers", f"transceivers[{i}]", s)
              for i, s in enumerate(scenario.transceivers)]
    specs += [("channels", f"channels[{i}]", s) for i, s in enumerate(scenario.channels)]
    for kind, where, spec in specs:
        try:
            cls = registry.resolve(kind, spec.name, search_dir)
        except registry.PluginError as err:
            problems.append((f"{where}.name", str(err)))
            continue
        for options in _option_sets(spec):
            try:
                cls.Options.model_validate(options)
            except ValidationError as err:
                problems += field_errors(err, prefix=f"{where}.options.")
                break
    declared = [registry.resolve("transceivers", t.name, search_dir).streams
                for t in scenario.transceivers if _resolvable("transceivers", t.name, search_dir)]
    if declared and all(d is not None for d in declared):
        known = sorted(set().union(*declared))
        for stream in sorted(set(scenario.sweep.stream_snr_db) - set(known)):
            problems.append((f"sweep.stream_snr_db.{stream}", f"no transceiver of this scenario "
                             f"sends a stream '{stream}' (they send: {', '.join(known)})"))
    for i, name in enumerate(scenario.metrics):
        try:
            metric = registry.resolve("metrics", name, search_dir)
        except registry.PluginError as err:
            problems.append((f"metrics[{i}]", str(err)))
            continue
        if metric.datasets is not None and scenario.dataset.name not in metric.datasets:
            problems.append((f"metrics[{i}]", f"{name} scores the datasets "
                             f"{', '.join(metric.datasets)} only, not '{scenario.dataset.name}'"))
    if scenario.network is not None:
        tx_labels = {t.display for t in scenario.transceivers}
        ch_labels = {c.display for c in scenario.channels}
        for i, link in enumerate(scenario.network.links):
            if link.transceiver is not None and link.transceiver not in tx_labels:
                problems.append((f"network.links[{i}].transceiver",
                                 f"'{link.transceiver}' is not a transceiver label "
                                 f"({', '.join(sorted(tx_labels))})"))
            if link.channel is not None and link.channel not in ch_labels:
                problems.append((f"network.links[{i}].channel", f"'{link.channel}' is not a "
                                 f"channel label ({', '.join(sorted(ch_labels))})"))
    for kind, specs in (("transceivers", scenario.transceivers),
                        ("channels", scenario.channels)):
        labels = [t.display for t in specs]
        if len(set(labels)) != len(labels):
            problems.append((kind, f"two {kind} share a label; give each a `label`"))
    return problems


def _resolvable(kind: str, name: str, search_dir: Path | None) -> bool:
    try:
        registry.resolve(kind, name, search_dir)
        return True
    except registry.PluginError:
        return False


def _option_sets(spec: PluginSpec | DatasetSpec) -> list[dict[str, Any]]:
    """Every options dict a spec expands to (its base options with each swept combination)."""
    sweep = getattr(spec, "sweep", {}) or {}
    if not sweep:
        return [dict(spec.options)]
    names = sorted(sweep)
    return [{**spec.options, **dict(zip(names, combo))}
            for combo in itertools.product(*(sweep[n] for n in names))]


def _resolved(kind: str, name: str, options: dict[str, Any]) -> dict[str, Any]:
    """Options with the plugin's defaults filled in, so that a trial's id (and so the resume
    state) changes when a default changes, and the manifest records what really ran."""
    cls = registry.resolve(kind, name)
    return cls.Options.model_validate(options).model_dump(mode="json")


# ---------------------------------------------------------------- expansion


def expand(scenario: Scenario) -> list[Trial]:
    """All trials of a scenario, in a stable order (seed, transceiver variant, channel variant,
    SNR, CBR, stream SNRs, users)."""
    stream_names = sorted(scenario.sweep.stream_snr_db)
    stream_combos = list(itertools.product(*(scenario.sweep.stream_snr_db[s]
                                             for s in stream_names)))
    tx_variants = [(tx, _resolved("transceivers", tx.name, options),
                    {f"{tx.display}.{n}": options[n] for n in sorted(tx.sweep)})
                   for tx in scenario.transceivers for options in _option_sets(tx)]
    ch_variants = [(ch, _resolved("channels", ch.name, options),
                    {f"{ch.display}.{n}": options[n] for n in sorted(ch.sweep)})
                   for ch in scenario.channels for options in _option_sets(ch)]
    return [Trial(transceiver=tx.display, transceiver_name=tx.name, transceiver_options=tx_opts,
                  channel=ch.display, channel_name=ch.name, channel_options=ch_opts,
                  snr_db=float(snr), cbr=float(cbr), seed=seed,
                  stream_snr_db=dict(zip(stream_names, combo)),
                  swept={**tx_swept, **ch_swept}, users=users)
            for seed, (tx, tx_opts, tx_swept), (ch, ch_opts, ch_swept), (snr, cbr), combo, users
            in itertools.product(scenario.seeds, tx_variants, ch_variants,
                                 scenario.sweep.points(), stream_combos,
                                 scenario.sweep.users or [None])]


def output_dir(scenario: Scenario, override: str | Path | None = None) -> Path:
    return Path(override or scenario.output or Path("results") / scenario.name)
