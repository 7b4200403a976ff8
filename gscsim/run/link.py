"""The link: frames through encode -> power normalisation -> channel -> decode -> metrics,
batch by batch, with ARQ where the transceiver reports integrity. Returns plain records per
frame; gscsim.run.trial wraps them into the trial's result."""
from __future__ import annotations

import base64
import io
import json
import math
import time
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Sequence

import torch

from gscsim import registry, seeding
from gscsim.conventions import achieved_cbr, average_power, normalize_power, symbol_budget
from gscsim.metrics.pixel import to_8bit
from gscsim.plugins import (
    Batch,
    Channel,
    Dataset,
    Decoded,
    LinkContext,
    Metric,
    Received,
    Transceiver,
)
from gscsim.run.scenario import Scenario, Trial, seed_key


class BudgetExceeded(RuntimeError):
    """A transceiver sent more channel uses than the CBR budget allows."""


class TrialError(RuntimeError):
    """A plugin misbehaved during a trial (NaN output, wrong shape, ...)."""


@dataclass
class Plugins:
    transceiver: Transceiver
    channel: Channel
    dataset: Dataset
    metrics: dict[str, Metric]          # per frame
    set_metrics: dict[str, Metric]      # per trial (FID, KID)
    dataset_name: str = ""              # the dataset's registered name

    def weights(self) -> list[Path]:
        """Every weight file the trial's results depend on (gscsim.weights)."""
        plugins = [self.transceiver, self.channel, self.dataset, *self.metrics.values(),
                   *self.set_metrics.values()]
        return [path for plugin in plugins for path in plugin.weights()]


def build_plugins(scenario: Scenario, trial: Trial, search_dir: Path | None = None) -> Plugins:
    def make(kind: str, name: str, options: dict[str, Any]):
        cls = registry.resolve(kind, name, search_dir)
        try:
            return cls(cls.Options.model_validate(options))
        except Exception as err:
            raise TrialError(f"{kind[:-1]} '{name}' could not be built: "
                             f"{type(err).__name__}: {err}") from err

    metrics = {m: make("metrics", m, {}) for m in scenario.metrics}
    return Plugins(
        transceiver=make("transceivers", trial.transceiver_name, trial.transceiver_options),
        channel=make("channels", trial.channel_name, trial.channel_options),
        dataset=make("datasets", scenario.dataset.name, scenario.dataset.options),
        metrics={n: m for n, m in metrics.items() if not m.per_set},
        # FID computes KID from the same features: a separate KID would run Inception twice
        set_metrics={n: m for n, m in metrics.items()
                     if m.per_set and not (n == "kid" and "fid" in metrics)},
        dataset_name=scenario.dataset.name,
    )


def reference_key(scenario: Scenario, indices: Sequence[int]) -> str:
    """Names the reference frames of a set metric (for its on-disk cache)."""
    return json.dumps({"dataset": scenario.dataset.model_dump(mode="json"),
                       "frames": list(indices)}, sort_keys=True)


def compute_set_metrics(set_metrics: dict[str, Metric]) -> dict[str, float]:
    """{column: value} of every set metric (FID reports KID beside it)."""
    values: dict[str, float] = {}
    for metric in set_metrics.values():
        values.update(metric.compute())
    return values


@dataclass
class LinkOutcome:
    """What a trial's links produced: one record per frame, the set metrics, and the weight
    files the results depend on."""

    frames: list[dict[str, Any]]
    set_metrics: dict[str, float]
    weight_files: list[Path]
    kept: dict[str, dict[str, str]] = field(default_factory=dict)


def run_untimed(scenario: Scenario, trial: Trial, search_dir: Path | None = None,
                plugins: Plugins | None = None) -> LinkOutcome:
    """Every dataset frame through the trial's link once."""
    plugins = plugins or build_plugins(scenario, trial, search_dir)
    indices = range(len(plugins.dataset))
    for metric in plugins.set_metrics.values():
        metric.reset(reference_key(scenario, indices))
    kept: dict[str, dict[str, str]] = {}
    records = run_frames(scenario, trial, plugins, indices, key=seed_key(scenario, trial),
                         kept=kept)
    return LinkOutcome(records, compute_set_metrics(plugins.set_metrics), plugins.weights(),
                       kept)


def run_frames(scenario: Scenario, trial: Trial, plugins: Plugins, frame_indices: Sequence[int],
               key: str, max_retransmissions: int = 0,
               kept: dict[str, dict[str, str]] | None = None) -> list[dict[str, Any]]:
    """Send the dataset frames `frame_indices` through the link, batch by batch; the original
    and received images of the frames in scenario.keep_frames go into `kept` ({frame id:
    {"original": PNG, "received": PNG}}, base64 text).

    `key` salts every random draw (the trial's seed key, plus a link name for multi-link trials).
    Each record holds the frame id, every metric, the achieved CBR, the channel uses sent, the
    mean transmit power before normalisation, the number of transmission attempts (ARQ), the
    frame's integrity flag when the transceiver reports one, and the encode / channel / decode /
    metrics wall seconds (a batch's time shared equally among its frames; all attempts summed).
    """
    device = torch.device(scenario.device)
    indices = list(frame_indices)
    records: list[dict[str, Any]] = []
    for batch_index, start in enumerate(range(0, len(indices), scenario.batch_size)):
        frames = [plugins.dataset[i] for i in indices[start:start + scenario.batch_size]]
        depth = (torch.stack([f.depth for f in frames]).to(device)
                 if all(f.depth is not None for f in frames) else None)
        batch = Batch(images=torch.stack([f.image for f in frames]).to(device),
                      captions=[f.caption for f in frames], ids=[f.id for f in frames],
                      depth=depth)
        rows, received = _run_batch(trial, key, batch_index, batch, plugins,
                                    max_retransmissions)
        records += rows
        if kept is not None:
            for i, frame in enumerate(frames):
                if frame.id in scenario.keep_frames:
                    kept[frame.id] = {"original": png_base64(frame.image),
                                      "received": png_base64(received[i])}
    return records


def png_base64(image: torch.Tensor) -> str:
    """An image float [3, H, W] in [0, 1] as an 8-bit PNG, base64 text."""
    from PIL import Image

    pixels = to_8bit(image.unsqueeze(0), torch.uint8)[0].permute(1, 2, 0).cpu().numpy()
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _context(trial: Trial, key: str, batch_index: int, shape: tuple[int, int, int],
             channel: Channel, device: torch.device, batch_size: int, dataset: str
             ) -> LinkContext:
    return LinkContext(total_budget=symbol_budget(trial.cbr, shape), image_shape=shape,
                       cbr=trial.cbr, snr_db=trial.snr_db, stream_snr_db=dict(trial.stream_snr_db),
                       overhead=channel.overhead_symbols,
                       generator=seeding.generator(trial.seed, key, batch_index, "transceiver",
                                                   device=device),
                       device=device, batch_size=batch_size, dataset=dataset)


class EncodingCache:
    """Encoder outputs of transceivers whose encoding is SNR-free
    (Transceiver.encoding_is_snr_free), kept in this process so that the trials of an SNR sweep
    encode each batch once. Keyed by everything else the streams may depend on: transceiver,
    options, checkpoint files (path and modification time), CBR, channel (its pilots count),
    dataset, seed, image shape and frame ids. Least recently used entries leave beyond
    `max_entries`."""

    def __init__(self, max_entries: int = 2048):
        self.max_entries = max_entries
        self.entries: OrderedDict[str, tuple[dict[str, torch.Tensor], float]] = OrderedDict()

    def key(self, trial: Trial, batch: Batch, plugins: Plugins) -> str:
        files = [(str(p), p.stat().st_mtime_ns if p.exists() else None)
                 for p in plugins.transceiver.weights()]
        return json.dumps([trial.transceiver_name, trial.transceiver_options, files, trial.cbr,
                           trial.channel_name, trial.channel_options, plugins.dataset_name,
                           trial.seed, list(batch.images.shape), list(batch.ids),
                           str(batch.images.device)], sort_keys=True, default=str)

    def get(self, key: str) -> tuple[dict[str, torch.Tensor], float] | None:
        if key in self.entries:
            self.entries.move_to_end(key)
            return self.entries[key]
        return None

    def put(self, key: str, streams: dict[str, torch.Tensor], seconds: float) -> None:
        self.entries[key] = (streams, seconds)
        while len(self.entries) > self.max_entries:
            self.entries.popitem(last=False)


ENCODINGS = EncodingCache()


def _encode(trial: Trial, batch: Batch, ctx: LinkContext, plugins: Plugins
            ) -> tuple[dict[str, torch.Tensor], float]:
    """The transceiver's streams for this batch and the encoding's wall seconds: computed, or
    for an SNR-free encoder the ones an earlier trial at another SNR computed (with the time
    that encoding took, which is what encoding these frames costs)."""
    tx = plugins.transceiver
    if not tx.encoding_is_snr_free():
        t0 = time.perf_counter()
        streams = tx.encode(batch, ctx)
        return streams, time.perf_counter() - t0
    key = ENCODINGS.key(trial, batch, plugins)
    cached = ENCODINGS.get(key)
    if cached is not None:
        return cached
    blind = replace(ctx, snr_db=math.nan, generator=None,
                    stream_snr_db={name: math.nan for name in ctx.stream_snr_db})
    rng = torch.random.get_rng_state()
    t0 = time.perf_counter()
    streams = tx.encode(batch, blind)
    seconds = time.perf_counter() - t0
    if not torch.equal(rng, torch.random.get_rng_state()):
        raise TrialError(f"transceiver '{trial.transceiver}' says its encoding is SNR-free "
                         f"(encoding_is_snr_free) but its encode made random draws; return "
                         f"False there, or draw nothing")
    if isinstance(streams, dict):
        ENCODINGS.put(key, streams, seconds)
    return streams, seconds


def _run_batch(trial: Trial, key: str, batch_index: int, batch: Batch, plugins: Plugins,
               max_retransmissions: int) -> tuple[list[dict[str, Any]], torch.Tensor]:
    """The batch's records and its received images [B, 3, H, W]."""
    tx, channel = plugins.transceiver, plugins.channel
    shape = tuple(batch.images.shape[1:])
    b = len(batch)
    ctx = _context(trial, key, batch_index, shape, channel, batch.images.device, b,
                   plugins.dataset_name)

    streams, t_encode = _encode(trial, batch, ctx, plugins)
    if not isinstance(streams, dict):
        raise TrialError(f"transceiver '{trial.transceiver}': encode must return a dict "
                         f"{{stream name: complex tensor [B, N]}}; got {type(streams).__name__}")
    lengths = {name: _check_stream(trial, name, x, b) for name, x in streams.items()}
    sent = sum(n + channel.overhead_symbols(n) for n in lengths.values())
    if sent > ctx.total_budget:
        raise BudgetExceeded(
            f"transceiver '{trial.transceiver}' sent {sent} channel uses per image (streams "
            f"{lengths}, pilots included) but CBR {trial.cbr:.5g} at {shape} allows "
            f"{ctx.total_budget}")
    energy = torch.zeros(b, dtype=torch.float64)
    for name, x in streams.items():
        energy += average_power(x).double().cpu() * lengths[name] if lengths[name] else 0.0
    normalised = {name: normalize_power(x) for name, x in streams.items() if lengths[name]}

    def send(rows: torch.Tensor | slice, attempt: int) -> dict[str, Received]:
        received = {}
        for name in sorted(normalised):
            g = seeding.generator(trial.seed, key, batch_index, "channel", name,
                                  *(("retransmission", attempt) if attempt else ()),
                                  device=normalised[name].device)
            received[name] = channel.transmit(normalised[name][rows], ctx.snr_for(name), g)
        return received

    t0 = time.perf_counter()
    received = send(slice(None), 0)
    t_channel = time.perf_counter() - t0
    t0 = time.perf_counter()
    images, ok, captions, extras = _unpack(trial, tx.decode(received, ctx), batch.images)
    t_decode = torch.full((b,), (time.perf_counter() - t0) / b, dtype=torch.float64)
    attempts = torch.ones(b, dtype=torch.int64)

    for attempt in range(1, max_retransmissions + 1):       # ARQ: resend frames that failed
        if ok is None or bool(ok.all()):
            break
        failed = (~ok).nonzero().flatten()
        t0 = time.perf_counter()
        received = send(failed, attempt)
        t_channel += time.perf_counter() - t0
        t0 = time.perf_counter()
        retry_ctx = replace(ctx, batch_size=len(failed))
        retry, retry_ok, retry_captions, retry_extras = _unpack(
            trial, tx.decode(received, retry_ctx), batch.images[failed])
        t_decode[failed] += (time.perf_counter() - t0) / len(failed)
        images[failed], ok[failed] = retry, retry_ok
        if captions is not None and retry_captions is not None:
            for row, caption in zip(failed.tolist(), retry_captions):
                captions[row] = caption
        for name, column in retry_extras.items():
            for row, value in zip(failed.tolist(), column):
                extras.setdefault(name, [None] * b)[row] = value
        attempts[failed] += 1

    t0 = time.perf_counter()
    values = {name: (metric(batch.captions, captions) if metric.inputs == "captions"
                     else metric(batch.images, images.to(batch.images.device))).cpu().tolist()
              for name, metric in plugins.metrics.items()}
    for metric in plugins.set_metrics.values():
        metric.update(batch.images, images)
    t_metrics = time.perf_counter() - t0
    n_payload = sum(lengths.values())
    rows = []
    for i in range(b):
        row = {"frame": batch.ids[i], **{m: v[i] for m, v in values.items()},
               "achieved_cbr": achieved_cbr(sent, shape), "symbols": sent,
               "tx_power": float(energy[i] / n_payload) if n_payload else 0.0,
               "attempts": int(attempts[i])}
        if ok is not None:
            row["frame_ok"] = bool(ok[i])
        row.update({name: column[i] for name, column in extras.items()})
        row.update({"encode_s": t_encode / b, "channel_s": t_channel / b,
                    "decode_s": float(t_decode[i]), "metrics_s": t_metrics / b})
        rows.append(row)
    return rows, images


def _unpack(trial: Trial, decoded: torch.Tensor | Decoded, reference: torch.Tensor
            ) -> tuple[torch.Tensor, torch.Tensor | None, list[str] | None, dict[str, list]]:
    """Images, per-frame integrity flags and received captions (None when not reported), and
    the transceiver's extra per-frame columns ({name: B plain values})."""
    if not isinstance(decoded, Decoded):
        decoded = Decoded(decoded)
    _check_decoded(trial, decoded.images, reference)
    ok = None if decoded.frame_ok is None else decoded.frame_ok.to(torch.bool).cpu().clone()
    captions = None if decoded.captions is None else list(decoded.captions)
    extras = {name: torch.as_tensor(column).cpu().tolist()
              for name, column in (decoded.extras or {}).items()}
    return decoded.images.clone(), ok, captions, extras


def _check_stream(trial: Trial, name: str, x: torch.Tensor, batch: int) -> int:
    if not (isinstance(x, torch.Tensor) and x.is_complex() and x.dim() == 2
            and x.shape[0] == batch):
        raise TrialError(f"transceiver '{trial.transceiver}': stream '{name}' must be a complex "
                         f"tensor [B={batch}, N]; got {getattr(x, 'dtype', type(x))} "
                         f"{tuple(getattr(x, 'shape', ()))}")
    if not torch.isfinite(torch.view_as_real(x)).all():
        raise TrialError(f"transceiver '{trial.transceiver}': stream '{name}' holds NaN or inf")
    return int(x.shape[1])


def _check_decoded(trial: Trial, decoded: torch.Tensor, reference: torch.Tensor) -> None:
    if not isinstance(decoded, torch.Tensor) or decoded.shape != reference.shape:
        raise TrialError(f"transceiver '{trial.transceiver}': decode must return images of shape "
                         f"{tuple(reference.shape)}; got {tuple(getattr(decoded, 'shape', ()))}")
    if not decoded.is_floating_point():
        raise TrialError(f"transceiver '{trial.transceiver}': decode must return float images in "
                         f"[0, 1]; got {decoded.dtype} (divide 8-bit pixels by 255)")
    if not torch.isfinite(decoded).all():
        raise TrialError(f"transceiver '{trial.transceiver}' decoded NaN or inf pixels at "
                         f"SNR {trial.snr_db} dB, CBR {trial.cbr:.5g}, channel '{trial.channel}'")

