"""Decoded information bits per second of gscsim's digital link against Sionna's bare LDPC
decoder on the same codewords, in one run (ratios, since these machines are shared).

    python benchmarks/ldpc_throughput.py [--frames 64] [--symbols 4096] [--repeats 3]

The link's figure includes everything its receiver does (LLR demapping, block reshaping,
decoding in chunks of 32 codewords, CRC checks, bit reassembly); the bare figure is
LDPC5GDecoder alone on the link's own LLRs, in the same chunks. Best of `repeats` each.
"""
from __future__ import annotations

import argparse
import time

import torch

from gscsim.channels.awgn import AWGN
from gscsim.phy.digital import DECODE_CHUNK, MCS, DigitalLink


def best_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=64)
    parser.add_argument("--symbols", type=int, default=4096)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--snr-db", type=float, default=3.0)
    args = parser.parse_args()

    link = DigitalLink(MCS("qpsk", 0.5), args.symbols)
    g = torch.Generator().manual_seed(0)
    bits = torch.randint(0, 2, (args.frames, link.payload_bits), generator=g).float()
    rx = AWGN().transmit(link.encode(bits), args.snr_db, g)
    blocks = link._blocks
    llr = blocks["demap"](rx.symbols, rx.noise_var).reshape(-1, link.layout.n)

    def bare():
        for chunk in llr.split(DECODE_CHUNK):
            blocks["ldpc_decode"](chunk)

    bare()                                            # warm up both paths
    link.decode(rx)
    t_link = best_time(lambda: link.decode(rx), args.repeats)
    t_bare = best_time(bare, args.repeats)
    info = args.frames * link.payload_bits
    print(f"codewords      {llr.shape[0]} x n={link.layout.n} (k={link.layout.k}), "
          f"QPSK r1/2, Es/N0 {args.snr_db} dB")
    print(f"digital link   {info / t_link / 1e6:7.3f} Mbit/s ({t_link:.2f} s)")
    print(f"bare decoder   {info / t_bare / 1e6:7.3f} Mbit/s ({t_bare:.2f} s)")
    print(f"ratio          {t_bare / t_link:7.3f}  (link / bare throughput; aim >= 0.9)")


if __name__ == "__main__":
    main()
