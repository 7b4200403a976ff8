"""The discrete-event layer (simpy): frames as events in time on links that share servers.

Per frame, in simulated seconds:

    arrival -> [transmitter: wait, encode] -> [air: wait, overhead + symbols / bandwidth]
            -> propagation -> [receiver server: wait, decode] -> done
                 ^---- NACK after propagation, while ARQ attempts remain ----'

With ARQ, `air_start_s` is the first transmission's start; `air_end_s`, `rx_arrival_s` and the
decode timestamps belong to the last attempt; the waits add up over attempts.

A link's transmitter is its own unless it names a shared one; its air interface (its band) is
its own; receivers have K decode servers shared by every link that points to them, so frames
queue. Quality is computed first, frame by frame, exactly as without timing; the event layer
only adds when things happen, so timing never changes quality.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import simpy
import yaml

from gscsim import seeding
from gscsim.run.link import (
    LinkOutcome,
    build_plugins,
    compute_set_metrics,
    reference_key,
    run_frames,
)
from gscsim.run.scenario import ComputeSpec, LinkSpec, NetworkSpec, Scenario, Trial, seed_key
from gscsim.run.traffic import arrivals, frame_count

TIMESTAMPS = ("arrival_s", "encode_start_s", "encode_end_s", "air_start_s", "air_end_s",
              "rx_arrival_s", "decode_start_s", "decode_end_s")


@dataclass
class FrameJob:
    """One frame's work: when it arrives, what it sends, how long its compute takes (s)."""

    arrival_s: float
    symbols: int
    encode_s: float
    decode_s: float          # per attempt
    attempts: int = 1


@dataclass
class TimedLink:
    name: str
    jobs: list[FrameJob]
    receiver: str
    transmitter: str | None = None
    bandwidth_hz: float = 1e6
    propagation_s: float = 0.0
    overhead_s: float = 0.0
    deadline_s: float | None = None
    late: str = "log"


@dataclass
class Simulation:
    """Per link, one timing record per frame; per server, its busy intervals (for checks)."""

    records: dict[str, list[dict[str, Any]]]
    busy: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    capacity: dict[str, int] = field(default_factory=dict)


def simulate(links: list[TimedLink], receivers: dict[str, int],
             transmitters: dict[str, int] | None = None) -> Simulation:
    """Run the event simulation of `links`; receivers/transmitters: name -> number of servers."""
    env = simpy.Environment()
    transmitters = transmitters or {}
    resources: dict[str, simpy.Resource] = {}
    capacity: dict[str, int] = {}

    def resource(name: str, servers: int) -> simpy.Resource:
        if name not in resources:
            resources[name] = simpy.Resource(env, capacity=servers)
            capacity[name] = servers
        return resources[name]

    sim = Simulation(records={link.name: [] for link in links}, capacity=capacity)
    for link in links:
        tx_name = f"tx:{link.transmitter}" if link.transmitter else f"tx:{link.name}"
        tx = resource(tx_name, transmitters.get(link.transmitter, 1) if link.transmitter else 1)
        air = resource(f"air:{link.name}", 1)
        rx_name = f"rx:{link.receiver}"
        rx = resource(rx_name, receivers[link.receiver])
        for seq, job in enumerate(link.jobs):
            record: dict[str, Any] = {"seq": seq}
            sim.records[link.name].append(record)
            env.process(_frame(env, link, job, record, (tx_name, tx), (f"air:{link.name}", air),
                               (rx_name, rx), sim.busy))
    env.run()
    return sim


def _frame(env: simpy.Environment, link: TimedLink, job: FrameJob, rec: dict[str, Any],
           tx, air, rx, busy: dict[str, list[tuple[float, float]]]):
    yield env.timeout(job.arrival_s)
    rec.update({k: float("nan") for k in TIMESTAMPS})
    rec.update(arrival_s=env.now, tx_wait_s=0.0, air_wait_s=0.0, rx_wait_s=0.0, outcome="")
    deadline = job.arrival_s + link.deadline_s if link.deadline_s is not None else None

    def expired() -> bool:
        return link.late == "drop" and deadline is not None and env.now > deadline

    def serve(slot, duration: float, wait_key: str, start_key: str, end_key: str, first: bool):
        name, res = slot
        asked = env.now
        with res.request() as request:
            yield request
            rec[wait_key] += env.now - asked
            if expired():
                return False
            if first:
                rec[start_key] = env.now
            start = env.now
            yield env.timeout(duration)
            busy.setdefault(name, []).append((start, env.now))
            rec[end_key] = env.now
        return True

    done = yield from serve(tx, job.encode_s, "tx_wait_s", "encode_start_s", "encode_end_s", True)
    for attempt in range(job.attempts):
        if done:
            airtime = link.overhead_s + job.symbols / link.bandwidth_hz
            done = yield from serve(air, airtime, "air_wait_s", "air_start_s", "air_end_s",
                                    attempt == 0)
        if done:
            yield env.timeout(link.propagation_s)
            rec["rx_arrival_s"] = env.now
            done = yield from serve(rx, job.decode_s, "rx_wait_s", "decode_start_s",
                                    "decode_end_s", True)
        if done and attempt < job.attempts - 1:
            yield env.timeout(link.propagation_s)        # the NACK travels back
    rec["queue_wait_s"] = rec["tx_wait_s"] + rec["air_wait_s"] + rec["rx_wait_s"]
    if not done:
        rec.update(latency_s=float("nan"), outcome="dropped")
        return
    rec["latency_s"] = rec["decode_end_s"] - rec["arrival_s"]
    if deadline is not None:
        rec["outcome"] = "on_time" if rec["decode_end_s"] <= deadline else "late"


# ---------------------------------------------------------------- a timed trial


def compute_times(spec: ComputeSpec, records: list[dict[str, Any]], transceiver: tuple[str, str],
                  rng: np.random.Generator, base_dir: Path | None) -> list[tuple[float, float]]:
    """(encode_s, decode_s per attempt) of each frame under the scenario's compute model."""
    if spec.model == "measured":
        return [(r["encode_s"], r["decode_s"] / r["attempts"]) for r in records]
    if spec.model == "profile":
        encode, decode = _profile_entry(spec.profile, transceiver, base_dir)
        return [(encode, decode)] * len(records)
    if spec.distribution == "exponential":
        return [(float(rng.exponential(spec.encode_s)) if spec.encode_s else 0.0,
                 float(rng.exponential(spec.decode_s)) if spec.decode_s else 0.0)
                for _ in records]
    return [(spec.encode_s, spec.decode_s)] * len(records)


def _profile_entry(file: str, transceiver: tuple[str, str],
                   base_dir: Path | None) -> tuple[float, float]:
    path = Path(file)
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    try:
        profile = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        raise FileNotFoundError(f"device profile {path}: cannot read ({err})") from None
    if not isinstance(profile, dict):
        raise ValueError(f"device profile {path}: expected a mapping {{transceiver: {{encode_s, "
                         f"decode_s}}}}; got {type(profile).__name__}")
    for key in transceiver:
        if key in profile:
            entry = profile[key]
            try:
                return float(entry["encode_s"]), float(entry["decode_s"])
            except (KeyError, TypeError, ValueError):
                raise ValueError(f"device profile {path}: entry '{key}' needs numbers encode_s "
                                 f"and decode_s (seconds per frame)") from None
    raise ValueError(f"device profile {path} has no entry for transceiver "
                     f"'{transceiver[0]}' (has: {', '.join(map(str, profile)) or 'nothing'})")


def _link_trial(scenario: Scenario, trial: Trial, link: LinkSpec) -> Trial:
    """The trial as one link sees it: its own transceiver, channel or SNR where it sets one."""
    changes: dict[str, Any] = {}
    if link.transceiver is not None:
        spec = next(t for t in scenario.transceivers if t.display == link.transceiver)
        changes.update(transceiver=spec.display, transceiver_name=spec.name,
                       transceiver_options=dict(spec.options))
    if link.channel is not None:
        spec = next(c for c in scenario.channels if c.display == link.channel)
        changes.update(channel=spec.display, channel_name=spec.name,
                       channel_options=dict(spec.options))
    if link.snr_db is not None:
        changes["snr_db"] = link.snr_db
    return dataclasses.replace(trial, **changes)


def run_timed(scenario: Scenario, trial: Trial, search_dir: Path | None = None) -> LinkOutcome:
    """Quality of every frame of every link, then the event simulation of them all."""
    timing = scenario.timing
    network = scenario.network or NetworkSpec()
    base_key = seed_key(scenario, trial)
    replicas = [(spec, k, spec.count * (trial.users or 1)) for spec in network.links
                for k in range(spec.count * (trial.users or 1))]
    single = len(replicas) == 1
    links, quality = [], {}
    set_metrics: dict = {}
    files: list[Path] = []
    kept: dict[str, dict[str, str]] = {}     # kept frames (a later link replaces an earlier)
    for spec, k, copies in replicas:
        name = spec.name if copies == 1 else f"{spec.name}{k + 1}"
        key = base_key if single else f"{base_key}/{name}"
        link_trial = _link_trial(scenario, trial, spec)
        plugins = build_plugins(scenario, link_trial, search_dir)
        files += plugins.weights()
        traffic = spec.traffic or timing.traffic
        n = frame_count(traffic, len(plugins.dataset), search_dir)
        times = arrivals(traffic, n, seeding.numpy_rng(trial.seed, key, "traffic"), search_dir)
        indices = [i % len(plugins.dataset) for i in range(len(times))]
        if single:
            for metric in plugins.set_metrics.values():
                metric.reset(reference_key(scenario, indices))
        # set metrics (FID, KID) pool the frames of every link of the trial
        set_metrics = set_metrics or plugins.set_metrics
        plugins.set_metrics = set_metrics
        records = run_frames(scenario, link_trial, plugins, indices, key,
                             timing.max_retransmissions, kept)
        durations = compute_times(timing.compute, records,
                                  (link_trial.transceiver, link_trial.transceiver_name),
                                  seeding.numpy_rng(trial.seed, key, "compute"), search_dir)
        jobs = [FrameJob(float(t), r["symbols"], e, d, r["attempts"])
                for t, r, (e, d) in zip(times, records, durations)]
        links.append(TimedLink(name, jobs, spec.receiver, spec.transmitter, timing.bandwidth_hz,
                               timing.propagation_s, timing.overhead_s,
                               spec.deadline_s or timing.deadline_s, timing.late))
        quality[name] = (link_trial, records)
    sim = simulate(links, {n: s.servers for n, s in network.receivers.items()},
                   {n: s.servers for n, s in network.transmitters.items()})
    frames = []
    for name, (link_trial, records) in quality.items():
        for record, stamps in zip(records, sim.records[name]):
            frames.append({"link": name, "link_transceiver": link_trial.transceiver,
                           "link_channel": link_trial.channel, "link_snr_db": link_trial.snr_db,
                           **record, **stamps})
    return LinkOutcome(frames, compute_set_metrics(set_metrics), files, kept)
