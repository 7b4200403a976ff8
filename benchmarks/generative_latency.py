"""Seconds per image of the generative transceivers' senders and receivers, in one run on this
machine: TarGSC and TarGSC w/o text (SCVAR, next-scale autoregression), SGD-JSCC (latent
diffusion; default 50 steps, and 20 and 10) and BriGSC (with its diffusion refiner, 50 steps,
and without); senders at batch 1, receivers at batch 1 (the latency one frame sees) and 16,
with each receiver's network evaluations (NFE) and parameter counts, and the ratio to TarGSC:
the paper's Table II (0.537 s against 10.1 s and 15.2 s on its GPU).

Then users per receiver, which no paper reports: N users, each sending frames with Poisson
arrivals at 5 frames/s over its own transmitter (the sender time measured above) and band
(1 M symbols/s, 0.1 ms overhead), share one receiver with one decode server that takes the
batch-1 time measured above for every frame (no batching across users); the table gives the
largest N whose 95th-percentile latency is at most 200 ms with under 1% of the frames late
(200 frames per user, gscsim's discrete-event layer, gscsim.run.timed.simulate).

    python benchmarks/generative_latency.py [--repeats 3] [--sgd-jscc CKPT] [--brigsc CKPT]

64x64 test scenes, AWGN at 1 dB, CBR 1/48, text: genie for the diffusion receivers (the
released codes' setting, so that guidance runs its two evaluations a step), float32, median of
--repeats runs after a warm-up. A rival without a trained checkpoint is timed with untrained
weights of its shipped scenes64 architecture (its time does not depend on the weights); the
table says so.
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch
from targsc_latency import median_s  # benchmarks/ is on the path when run as a script

from gscsim.baselines.brigsc.train import CONFIG_DIR as BRIGSC_CONFIGS
from gscsim.baselines.brigsc.train import BriGSCRunConfig
from gscsim.baselines.brigsc.transceiver import BriGSCLink
from gscsim.baselines.brigsc.zoo import FAMILY as BRIGSC
from gscsim.baselines.sgd_jscc.train import CONFIG_DIR as SGD_CONFIGS
from gscsim.baselines.sgd_jscc.train import SGDRunConfig
from gscsim.baselines.sgd_jscc.transceiver import SGDJSCCLink
from gscsim.baselines.sgd_jscc.zoo import FAMILY as SGD
from gscsim.channels.awgn import AWGN
from gscsim.data.scenes.dataset import Scenes
from gscsim.io import load_yaml
from gscsim.nn import parameter_count
from gscsim.plugins import Batch, LinkContext
from gscsim.run.scenario import TrafficSpec
from gscsim.run.timed import FrameJob, TimedLink, simulate
from gscsim.run.traffic import arrivals
from gscsim.targsc.transceiver import TarGSC, TarGSCNoText
from gscsim.zoo import ZOO

SNR_DB, CBR = 1.0, 1 / 48
SYMBOLS = round(CBR * 3 * 64 * 64 / 2)           # complex channel uses per 64x64 frame
RATE_HZ, DEADLINE_S, FRAMES_PER_USER, MAX_USERS = 5.0, 0.2, 200, 64


def checkpoint(family, name: str, config_dir: Path, schema, folder: Path) -> tuple[str, bool]:
    """(checkpoint, trained): the zoo name or path if it exists, else an untrained bundle of
    the shipped scenes64 architecture written to `folder`."""
    if Path(name).is_file() or (ZOO / f"{name}.pt").is_file():
        return name, True
    config = load_yaml(config_dir / f"{family.name}-scenes64.yaml", schema).model
    path = folder / f"{family.name}-untrained.pt"
    torch.manual_seed(0)
    family.save(path, config.model_dump(mode="json"), family.build(config.model_dump()), {})
    return str(path), False


def sender_time(link, frames, repeats: int) -> float:
    """Seconds per image of link.encode at batch 1."""
    batch = Batch(frames[0].image.unsqueeze(0), [frames[0].caption], [frames[0].id])
    ctx = LinkContext.for_budget(CBR, (3, 64, 64), SNR_DB)
    ctx.batch_size = 1
    return median_s(lambda: link.encode(batch, ctx), repeats)


def receiver_time(link, frames, size: int, repeats: int) -> float:
    """Seconds per image of link.decode at batch `size`."""
    batch = Batch(torch.stack([f.image for f in frames[:size]]),
                  [f.caption for f in frames[:size]], [f.id for f in frames[:size]])
    ctx = LinkContext.for_budget(CBR, (3, 64, 64), SNR_DB)
    ctx.batch_size = size
    streams = link.encode(batch, ctx)
    g = torch.Generator().manual_seed(1)
    received = {k: AWGN().transmit(v, SNR_DB, g) for k, v in streams.items()}

    def decode():
        ctx.generator = torch.Generator().manual_seed(0)
        with torch.no_grad():
            return link.decode(received, ctx)

    return median_s(decode, repeats) / size


def latency_at(users: int, encode_s: float, decode_s: float, seed: int = 0
               ) -> tuple[float, float]:
    """(95th-percentile latency in s, share of frames later than DEADLINE_S) of `users` links
    at RATE_HZ Poisson frames/s sharing one single-server receiver that takes `decode_s` per
    frame; each link encodes on its own transmitter in `encode_s`."""
    rng = np.random.default_rng(seed)
    traffic = TrafficSpec(model="poisson", rate_hz=RATE_HZ)
    links = [TimedLink(f"user{u}", [FrameJob(float(t), SYMBOLS, encode_s, decode_s)
                                    for t in arrivals(traffic, FRAMES_PER_USER, rng)],
                       receiver="rx", bandwidth_hz=1e6, propagation_s=1e-6, overhead_s=1e-4,
                       deadline_s=DEADLINE_S)
             for u in range(users)]
    records = [r for rs in simulate(links, {"rx": 1}).records.values() for r in rs]
    latency = np.array([r["latency_s"] for r in records])
    late = np.mean([r["outcome"] != "on_time" for r in records])
    return float(np.percentile(latency, 95)), float(late)


def users_served(encode_s: float, decode_s: float) -> int:
    """The largest number of users (0..MAX_USERS) whose frames meet p95 <= DEADLINE_S with
    under 1% late, found by counting up from one user."""
    for users in range(1, MAX_USERS + 1):
        p95, late = latency_at(users, encode_s, decode_s)
        if p95 > DEADLINE_S or late >= 0.01:
            return users - 1
    return MAX_USERS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--targsc", default="targsc-scenes64")
    parser.add_argument("--sgd-jscc", default="sgd-jscc-scenes64")
    parser.add_argument("--brigsc", default="brigsc-scenes64")
    args = parser.parse_args()
    data = Scenes(Scenes.Options(split="test", count=16))
    frames = [data[i] for i in range(16)]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        sgd, sgd_trained = checkpoint(SGD, args.sgd_jscc, SGD_CONFIGS, SGDRunConfig, Path(tmp))
        bri, bri_trained = checkpoint(BRIGSC, args.brigsc, BRIGSC_CONFIGS, BriGSCRunConfig,
                                      Path(tmp))
        targsc = TarGSC(TarGSC.Options(checkpoint=args.targsc))
        scvar = targsc.models.scvar
        notext = TarGSCNoText(TarGSCNoText.Options(checkpoint=args.targsc))
        receivers = [("TarGSC (SCVAR, greedy)", targsc, len(scvar.cfg.patch_nums),
                      parameter_count(scvar), True),
                     ("TarGSC w/o text", notext, len(scvar.cfg.patch_nums),
                      parameter_count(scvar), True)]
        for steps in (50, 20, 10):
            link = SGDJSCCLink(SGDJSCCLink.Options(checkpoint=sgd, steps=steps, text="genie"))
            receivers.append((f"SGD-JSCC, {steps} steps", link, None,
                              parameter_count(link.model.denoiser)
                              + parameter_count(link.model.control), sgd_trained))
        for refine in ("diffusion", "none"):
            link = BriGSCLink(BriGSCLink.Options(checkpoint=bri, refine=refine, text="genie"))
            receivers.append((f"BriGSC, refine {refine}", link, None if refine == "diffusion"
                              else 0, parameter_count(link.model.refiner) if refine ==
                              "diffusion" else parameter_count(link.model.decoder),
                              bri_trained))
        for name, link, nfe, params, trained in receivers:
            times = {size: receiver_time(link, frames, size, args.repeats) for size in (1, 16)}
            nfe = getattr(link, "last_nfe", nfe)
            sender = sender_time(link, frames, args.repeats)
            rows.append((name, nfe, params, sender, times, trained))
    base = rows[0][4][1]
    print(f"{torch.get_num_threads()} threads; seconds per image (median of {args.repeats}); "
          f"SNR {SNR_DB:g} dB, CBR 1/48, 64x64")
    print("| method | NFE | parameters (generator) | sender, batch 1 | receiver, batch 1 | "
          "receiver, batch 16 | receiver batch 1 / TarGSC |")
    print("|---|---|---|---|---|---|---|")
    for name, nfe, params, sender, times, trained in rows:
        note = "" if trained else " (untrained weights)"
        print(f"| {name}{note} | {nfe} | {params:,} | {sender:.3f} | {times[1]:.3f} | "
              f"{times[16]:.3f} | {times[1] / base:.1f} |")
    print(f"\nUsers per receiver: Poisson {RATE_HZ:g} frames/s per user, one decode server, "
          f"deadline {DEADLINE_S * 1000:.0f} ms, {FRAMES_PER_USER} frames per user, "
          f"{SYMBOLS} symbols per frame at 1 M symbols/s")
    print("| method | sender [s] | receiver [s] | receiver capacity [frames/s] | "
          "p95 latency, 1 user [s] | late, 1 user | users served |")
    print("|---|---|---|---|---|---|---|")
    for name, _, _, sender, times, trained in rows:
        note = "" if trained else " (untrained weights)"
        p95, late = latency_at(1, sender, times[1])
        print(f"| {name}{note} | {sender:.3f} | {times[1]:.3f} | {1 / times[1]:.1f} | "
              f"{p95:.3f} | {late:.1%} | {users_served(sender, times[1])} |")


if __name__ == "__main__":
    main()
