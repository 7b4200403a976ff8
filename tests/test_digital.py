"""The digital link: 5G LDPC against Sionna's own chain, segmentation, CRC, bit packing."""
import math

import pytest
import torch

from gscsim.channels.awgn import AWGN
from gscsim.phy.digital import (
    MCS,
    MCS_TABLE,
    DigitalLink,
    LinkTooSmall,
    bits_to_bytes,
    bytes_to_bits,
    layout,
)

sionna_ldpc = pytest.importorskip("sionna.phy.fec.ldpc")


def _bler(link, esno_db, frames, seed):
    g = torch.Generator().manual_seed(seed)
    bits = torch.randint(0, 2, (frames, link.payload_bits), generator=g).float()
    decoded, ok = link.decode(AWGN().transmit(link.encode(bits), esno_db, g))
    wrong = (decoded != bits).any(dim=1)
    assert torch.equal(~ok.all(dim=1), wrong)           # CRC flags exactly the wrong frames
    return wrong.float().mean().item()


def _sionna_bler(ebno_db, frames, seed):
    """Sionna's own chain: LDPC5GEncoder(1024, 2048), QPSK, AWGN, APP demapper, BP 20."""
    from sionna.phy.mapping import Demapper, Mapper

    enc = sionna_ldpc.LDPC5GEncoder(1024, 2048)
    dec = sionna_ldpc.LDPC5GDecoder(enc, num_iter=20)
    mapper, demapper = Mapper("qam", 2), Demapper("app", "qam", 2)
    no = 10 ** (-ebno_db / 10)                          # Es/N0 = Eb/N0 at rate 1/2 QPSK
    g = torch.Generator().manual_seed(seed)
    u = torch.randint(0, 2, (frames, 1024), generator=g).float()
    x = mapper(enc(u))
    y = x + math.sqrt(no) * torch.randn(x.shape, dtype=torch.complex64, generator=g)
    return (dec(demapper(y, torch.tensor(no))) != u).any(dim=1).float().mean().item()


def test_ldpc_1024_rate_half_waterfall_matches_sionna():
    """k = 1024 (CRC included), n = 2048, QPSK, BP 20 iterations. benchmarks/ldpc_waterfall.py
    (1280 blocks per point) measured BLER 0.16 / 0.02 / 0.002 at Eb/N0 1.25 / 1.5 / 1.75 dB, so
    BLER 1e-2 falls near 1.6 dB. The test asserts BLER < 1e-2 at 1.75 dB and > 5%
    at 1.25 dB for this project's link (the waterfall sits within 0.25 dB of 1.6 dB), and that
    Sionna's bare chain agrees at 1.5 dB within 4 binomial standard errors."""
    link = DigitalLink(MCS("qpsk", 0.5), 1024)
    assert (link.layout.k, link.layout.n, link.layout.blocks) == (1024, 2048, 1)
    assert _bler(link, 1.75, 640, seed=1) < 1e-2
    assert _bler(link, 1.25, 320, seed=2) > 0.05
    ours, theirs = _bler(link, 1.5, 640, seed=3), _sionna_bler(1.5, 640, seed=4)
    se = math.sqrt(max(ours, 0.01) * (1 - ours) / 640 + max(theirs, 0.01) * (1 - theirs) / 640)
    assert abs(ours - theirs) <= 4 * se, (ours, theirs)


def test_layout_fills_the_budget_with_equal_blocks():
    for mcs in MCS_TABLE:
        lay = layout(mcs, 4096)
        assert lay.symbols <= 4096 and lay.symbols > 4096 - lay.blocks
        assert lay.k <= 8448 and lay.k / lay.n >= mcs.code_rate - 1e-9
    assert layout(MCS("256qam", 0.93), 40_000).blocks > 1
    for rate in (0.2, 0.3):                 # rates <= 1/3 need base graph 2: k <= 3824
        low = layout(MCS("qpsk", rate), 12288)
        assert low.blocks >= 2 and low.k <= 3824
        assert DigitalLink(MCS("qpsk", rate), 12288)._blocks["ldpc"] is not None  # Sionna takes it
    with pytest.raises(LinkTooSmall):
        layout(MCS("qpsk", 0.3), 20)


def test_segmented_link_round_trip_and_per_block_crc():
    link = DigitalLink(MCS("16qam", 0.6), 4096)                  # two code blocks
    assert link.layout.blocks == 2
    g = torch.Generator().manual_seed(0)
    bits = torch.randint(0, 2, (4, link.payload_bits), generator=g).float()
    decoded, ok = link.decode(AWGN().transmit(link.encode(bits), 30.0, g))
    assert ok.shape == (4, 2) and ok.all() and torch.equal(decoded, bits)
    _, ok = link.decode(AWGN().transmit(link.encode(bits), 0.0, g))
    assert not ok.any()


def test_bit_packing_round_trip():
    data = bytes(range(256))
    bits = bytes_to_bits(data, 2100)
    assert bits.shape == (2100,) and bits[2048:].sum() == 0
    assert bits_to_bytes(bits[:2048]) == data
    with pytest.raises(ValueError):
        bytes_to_bits(data, 100)


def test_scrambling_keeps_power_uniform_for_zero_padded_payloads():
    """A file padded with zeros must not pile onto one QAM point (power) or fail to decode."""
    from gscsim.conventions import average_power

    link = DigitalLink(MCS("256qam", 0.69), 4096)
    zeros = torch.zeros(2, link.payload_bits)
    x = link.encode(zeros)
    assert torch.allclose(average_power(x), torch.ones(2), atol=0.05)
    decoded, ok = link.decode(AWGN().transmit(x, 22.0, torch.Generator().manual_seed(0)))
    assert ok.all() and torch.equal(decoded.float(), zeros)
