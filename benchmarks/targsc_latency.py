"""TarGSC's per-image compute time on this machine, part by part: the sender (depth U-Net,
depth codec encoder, caption embedding + Text2Para) and the receiver (depth codec decoder,
Text2Para decoder, SCVAR generation), at batch 1 (the latency a single frame sees) and batch 16
(throughput), in milliseconds per image, median of --repeats runs after a warm-up.

    python benchmarks/targsc_latency.py [--checkpoint targsc-scenes64] [--repeats 10]

Greedy SCVAR decoding with the KV cache (the shipped default), float32, test-split scenes,
AWGN at 1 dB and CBR 1/48. The transceiver's own encode/decode are timed; the parts are timed
separately with the same inputs.
"""
from __future__ import annotations

import argparse
import time
from typing import Callable

import torch

from gscsim.channels.awgn import AWGN
from gscsim.conventions import from_symbols, symbol_budget
from gscsim.data.scenes.dataset import Scenes
from gscsim.nn.text_encoder import embed
from gscsim.plugins import Batch, LinkContext
from gscsim.targsc.codec import receive_latent
from gscsim.targsc.depth import to_metres
from gscsim.targsc.transceiver import TarGSC

SNR_DB, CBR = 1.0, 1 / 48


def median_s(fn: Callable[[], object], repeats: int) -> float:
    fn()                                                    # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def timings(link: TarGSC, batch: Batch, repeats: int) -> dict[str, float]:
    """Seconds per image of each part and of the whole sender and receiver."""
    m, n = link.models, len(batch)
    ctx = LinkContext(total_budget=symbol_budget(CBR, (3, 64, 64)), image_shape=(3, 64, 64),
                      cbr=CBR, snr_db=SNR_DB, stream_snr_db={}, overhead=lambda k: 0,
                      generator=torch.Generator().manual_seed(0))
    streams = link.encode(batch, ctx)
    channel, g = AWGN(), torch.Generator().manual_seed(1)
    received = {k: channel.transmit(v, SNR_DB, g) for k, v in streams.items()}
    snr = torch.full((n,), SNR_DB)
    cfg = m.config
    values = from_symbols(received["image"].symbols)[:, : cfg.tokens * link.channels(ctx)]
    latent = receive_latent(values, cfg.tokens, cfg.latent_channels)
    combined = received["text"].combine_copies(link.text_copies(ctx))
    text, text_snr = from_symbols(combined.symbols), combined.snr_db()
    with torch.no_grad():
        depth = to_metres(m.codec.decode(latent, snr))

        def decode_text() -> torch.Tensor:
            return m.text_decoder.for_generator(text, text_snr, use_prior=True)

        params = decode_text()
        features = m.unet(batch.images)
        parts = {
            "sender: depth U-Net": lambda: m.unet(batch.images),
            "sender: codec encoder": lambda: m.codec.encode(features, snr),
            "sender: embedding + Text2Para": lambda: m.text2para(embed(batch.captions)),
            "receiver: codec decoder": lambda: m.codec.decode(latent, snr),
            "receiver: text decoder (prior)": decode_text,
            "receiver: SCVAR generation": lambda: m.scvar.sample(m.vae, params, depth),
            "sender (transceiver.encode)": lambda: link.encode(batch, ctx),
            "receiver (transceiver.decode)": lambda: link.decode(received, ctx)}
        return {name: median_s(fn, repeats) / n for name, fn in parts.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", default="targsc-scenes64")
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    link = TarGSC(TarGSC.Options(checkpoint=args.checkpoint))
    data = Scenes(Scenes.Options(split="test", count=16))
    frames = [data[i] for i in range(16)]
    results = {}
    for size in (1, 16):
        batch = Batch(torch.stack([f.image for f in frames[:size]]),
                      [f.caption for f in frames[:size]], [f.id for f in frames[:size]])
        results[size] = timings(link, batch, args.repeats)
    print(f"TarGSC {args.checkpoint}, {torch.get_num_threads()} threads, SNR {SNR_DB:g} dB, "
          f"CBR 1/48; milliseconds per image (median of {args.repeats})")
    print("| part | batch 1 | batch 16 |\n|---|---|---|")
    for name in results[1]:
        print(f"| {name} | {1e3 * results[1][name]:.2f} | {1e3 * results[16][name]:.2f} |")


if __name__ == "__main__":
    main()
