"""BLER of the digital link (5G LDPC k=1024 with CRC, n=2048, QPSK, BP 20 iterations) beside
Sionna's bare chain built from its blocks, at Eb/N0 1.25 to 2 dB (1280 blocks per point each).

    python benchmarks/ldpc_waterfall.py
"""
from __future__ import annotations

import math

import torch

from gscsim.channels.awgn import AWGN
from gscsim.phy.digital import MCS, DigitalLink


def main(blocks: int = 1280, batch: int = 32) -> None:
    from sionna.phy.fec.ldpc import LDPC5GDecoder, LDPC5GEncoder
    from sionna.phy.mapping import Demapper, Mapper

    link = DigitalLink(MCS("qpsk", 0.5), 1024)
    enc = LDPC5GEncoder(1024, 2048)
    dec = LDPC5GDecoder(enc, num_iter=20)
    mapper, demapper = Mapper("qam", 2), Demapper("app", "qam", 2)
    for ebno in (1.25, 1.5, 1.75, 2.0):
        no = 10 ** (-ebno / 10)                        # Es/N0 = Eb/N0 at rate 1/2 QPSK
        g = torch.Generator().manual_seed(1)
        ours = theirs = 0
        for _ in range(blocks // batch):
            bits = torch.randint(0, 2, (batch, link.payload_bits), generator=g).float()
            _, ok = link.decode(AWGN().transmit(link.encode(bits), ebno, g))
            ours += int((~ok.all(dim=1)).sum())
            u = torch.randint(0, 2, (batch, 1024), generator=g).float()
            x = mapper(enc(u))
            y = x + math.sqrt(no) * torch.randn(x.shape, dtype=torch.complex64, generator=g)
            theirs += int((dec(demapper(y, torch.tensor(no))) != u).any(dim=1).sum())
        print(f"Eb/N0 {ebno:4.2f} dB  BLER gscsim {ours / blocks:.4f}  "
              f"Sionna {theirs / blocks:.4f}", flush=True)


if __name__ == "__main__":
    main()
