"""The compiled 5G LDPC decoders (gscsim.phy.ldpc) against Sionna's BP decoder, in one run:
speed at batch 32 and 256 on the same LLRs (n = 8192), and BLER at three points of a waterfall
with Clopper-Pearson 95% intervals.

    python benchmarks/ldpc_throughput.py [--blocks 1000] [--repeats 2]

Speed: 5G LDPC k = 4096 (CRC included), n = 8192, QPSK, 20 iterations at most, at Es/N0 1.2 dB
(mid-waterfall: most codewords need all 20 iterations) and 1.6 dB (low BLER, where a BER sweep
spends its codewords: the compiled decoders stop a codeword as soon as every check holds,
Sionna never stops). Information bits decoded per second, best of
`repeats`. BLER: k = 1024, n = 2048, QPSK, `blocks` codewords per point per decoder, the same
LLRs for all of them.
"""
from __future__ import annotations

import argparse
import time

import torch

from gscsim.channels.awgn import AWGN
from gscsim.phy.ber import clopper_pearson
from gscsim.phy.ldpc import compiled_decoder_class


def llrs(k: int, n: int, batch: int, esno_db: float, seed: int):
    """(info bits [batch, k], channel LLRs [batch, n], encoder) of QPSK over AWGN."""
    from sionna.phy.fec.ldpc import LDPC5GEncoder
    from sionna.phy.mapping import Demapper, Mapper

    encoder = LDPC5GEncoder(k, n, num_bits_per_symbol=2)
    g = torch.Generator().manual_seed(seed)
    bits = torch.randint(0, 2, (batch, k), generator=g).float()
    rx = AWGN().transmit(Mapper("qam", 2)(encoder(bits)).to(torch.complex64), esno_db, g)
    return bits, Demapper("app", "qam", 2)(rx.symbols, rx.noise_var), encoder


def decoders(encoder) -> dict:
    from sionna.phy.fec.ldpc import LDPC5GDecoder

    compiled = compiled_decoder_class()
    return {"Sionna BP": LDPC5GDecoder(encoder, cn_update="boxplus-phi", num_iter=20,
                                       hard_out=True),
            "compiled flooding": compiled(encoder, schedule="flooding", num_iter=20),
            "compiled layered": compiled(encoder, schedule="layered", num_iter=20)}


def speed(repeats: int) -> None:
    print(f"speed: k=4096, n=8192, QPSK, {torch.get_num_threads()} threads")
    for esno, batch in ((1.2, 32), (1.2, 256), (1.6, 32), (1.6, 256)):
        bits, llr, encoder = llrs(4096, 8192, batch, esno, seed=batch)
        rates = {}
        for name, decoder in decoders(encoder).items():
            decoder(llr[:2])                                   # compile / warm up
            times = []
            for _ in range(repeats):
                started = time.perf_counter()
                decoder(llr)
                times.append(time.perf_counter() - started)
            rates[name] = batch * 4096 / min(times) / 1e6
        base = rates["Sionna BP"]
        print(f"  Es/N0 {esno} dB, batch {batch:3d}: " + ", ".join(
            f"{name} {rate:.3f} Mbit/s ({rate / base:.1f}x)" for name, rate in rates.items()),
            flush=True)


def waterfall(blocks: int, batch: int = 100) -> None:
    print(f"BLER: k=1024, n=2048, QPSK, 20 iterations, {blocks} codewords per point")
    for esno in (1.0, 1.25, 1.5):
        errors: dict[str, int] = {}
        for start in range(0, blocks, batch):
            bits, llr, encoder = llrs(1024, 2048, min(batch, blocks - start), esno, seed=start)
            for name, decoder in _cached(encoder).items():
                errors[name] = errors.get(name, 0) + int((decoder(llr) != bits).any(1).sum())
        cells = []
        for name, count in errors.items():
            low, high = clopper_pearson(count, blocks)
            cells.append(f"{name} {count / blocks:.4f} [{low:.4f}, {high:.4f}]")
        print(f"  Es/N0 {esno:4.2f} dB: " + "; ".join(cells), flush=True)


_DECODERS: dict = {}


def _cached(encoder) -> dict:
    """One set of decoders per code (the encoders of one (k, n) build the same code)."""
    key = (encoder.k, encoder.n)
    if key not in _DECODERS:
        _DECODERS[key] = decoders(encoder)
    return _DECODERS[key]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--blocks", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--no-bler", action="store_true", help="speed only")
    args = parser.parse_args()
    speed(args.repeats)
    if not args.no_bler:
        waterfall(args.blocks)


if __name__ == "__main__":
    main()
