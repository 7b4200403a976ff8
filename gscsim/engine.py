"""One trial: every frame of the dataset through encode -> power normalisation -> channel ->
decode -> metrics, batch by batch. Returns plain records; the results store persists them."""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from . import registry, seeding
from .conventions import achieved_cbr, average_power, normalize_power, symbol_budget
from .plugins import Batch, Channel, Dataset, LinkContext, Metric, Transceiver
from .scenario import Scenario, Trial, trial_id


class BudgetExceeded(RuntimeError):
    """A transceiver sent more channel uses than the CBR budget allows."""


class TrialError(RuntimeError):
    """A plugin misbehaved during a trial (NaN output, wrong shape, ...)."""


@dataclass
class Plugins:
    transceiver: Transceiver
    channel: Channel
    dataset: Dataset
    metrics: dict[str, Metric]


def build_plugins(scenario: Scenario, trial: Trial, search_dir: Path | None = None) -> Plugins:
    def make(kind: str, name: str, options: dict[str, Any]):
        cls = registry.resolve(kind, name, search_dir)
        return cls(cls.Options.model_validate(options))

    return Plugins(
        transceiver=make("transceivers", trial.transceiver_name, trial.transceiver_options),
        channel=make("channels", trial.channel_name, trial.channel_options),
        dataset=make("datasets", scenario.dataset.name, scenario.dataset.options),
        metrics={m: make("metrics", m, {}) for m in scenario.metrics},
    )


def run_trial(scenario: Scenario, trial: Trial, search_dir: Path | None = None,
              plugins: Plugins | None = None) -> dict[str, Any]:
    """Run one trial; returns {"id", "trial", "frames": [record, ...], "compute_s", "wall_s"}.

    Each frame record holds the frame id, every metric, the achieved CBR, the symbols sent, the
    mean transmit power before normalisation, and the encode / channel / decode / metrics wall
    seconds (a batch's time shared equally among its frames).
    """
    started = time.perf_counter()
    plugins = plugins or build_plugins(scenario, trial, search_dir)
    tid = trial_id(scenario, trial)
    device = torch.device(scenario.device)
    records: list[dict[str, Any]] = []
    compute_s = 0.0
    n = len(plugins.dataset)
    for batch_index, start in enumerate(range(0, n, scenario.batch_size)):
        frames = [plugins.dataset[i] for i in range(start, min(n, start + scenario.batch_size))]
        batch = Batch(images=torch.stack([f.image for f in frames]).to(device),
                      captions=[f.caption for f in frames], ids=[f.id for f in frames])
        rows, seconds = _run_batch(scenario, trial, tid, batch_index, batch, plugins)
        records += rows
        compute_s += seconds
    return {"id": tid, "trial": trial.to_dict(), "frames": records, "compute_s": compute_s,
            "wall_s": time.perf_counter() - started}


def _context(trial: Trial, tid: str, batch_index: int, shape: tuple[int, int, int],
             channel: Channel, device: torch.device) -> LinkContext:
    return LinkContext(total_budget=symbol_budget(trial.cbr, shape), image_shape=shape,
                       cbr=trial.cbr, snr_db=trial.snr_db, stream_snr_db=dict(trial.stream_snr_db),
                       overhead=channel.overhead_symbols,
                       generator=seeding.generator(trial.seed, tid, batch_index, "transceiver",
                                                   device=device),
                       device=device)


def _run_batch(scenario: Scenario, trial: Trial, tid: str, batch_index: int, batch: Batch,
               plugins: Plugins) -> tuple[list[dict[str, Any]], float]:
    tx, channel = plugins.transceiver, plugins.channel
    shape = tuple(batch.images.shape[1:])
    ctx = _context(trial, tid, batch_index, shape, channel, batch.images.device)
    b = len(batch)

    t0 = time.perf_counter()
    streams = tx.encode(batch, ctx)
    t_encode = time.perf_counter() - t0
    lengths = {name: _check_stream(trial, name, x, b) for name, x in streams.items()}
    sent = sum(n + channel.overhead_symbols(n) for n in lengths.values())
    if sent > ctx.total_budget:
        raise BudgetExceeded(
            f"transceiver '{trial.transceiver}' sent {sent} channel uses per image (streams "
            f"{lengths}, pilots included) but CBR {trial.cbr:.5g} at {shape} allows "
            f"{ctx.total_budget}")

    t0 = time.perf_counter()
    received, energy = {}, torch.zeros(b, dtype=torch.float64)
    for name in sorted(streams):
        x = streams[name]
        if lengths[name] == 0:
            continue
        energy += average_power(x).double().cpu() * lengths[name]
        g = seeding.generator(trial.seed, tid, batch_index, "channel", name, device=x.device)
        received[name] = channel.transmit(normalize_power(x), ctx.snr_for(name), g)
    t_channel = time.perf_counter() - t0

    t0 = time.perf_counter()
    decoded = tx.decode(received, ctx)
    t_decode = time.perf_counter() - t0
    _check_decoded(trial, decoded, batch.images)

    t0 = time.perf_counter()
    values = {name: metric(batch.images, decoded.to(batch.images.device)).cpu().tolist()
              for name, metric in plugins.metrics.items()}
    t_metrics = time.perf_counter() - t0
    n_payload = sum(lengths.values())
    rows = []
    for i in range(b):
        row = {"frame": batch.ids[i], **{m: v[i] for m, v in values.items()},
               "achieved_cbr": achieved_cbr(sent, shape), "symbols": sent,
               "tx_power": float(energy[i] / n_payload) if n_payload else 0.0,
               "encode_s": t_encode / b, "channel_s": t_channel / b, "decode_s": t_decode / b, "metrics_s": t_metrics / b}
        rows.append(row)
    return rows, t_encode + t_channel + t_decode


def _check_stream(trial: Trial, name: str, x: torch.Tensor, batch: int) -> int:
    if not (isinstance(x, torch.Tensor) and x.is_complex() and x.dim() == 2 and x.shape[0] == batch):
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
    if not torch.isfinite(decoded).all():
        raise TrialError(f"transceiver '{trial.transceiver}' decoded NaN or inf pixels at "
                         f"SNR {trial.snr_db} dB, CBR {trial.cbr:.5g}, channel '{trial.channel}'")

