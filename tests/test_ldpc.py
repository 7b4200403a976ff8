"""The compiled 5G LDPC decoders against Sionna's BP decoder, the reference."""
import pytest
import torch

from gscsim.channels.awgn import AWGN
from gscsim.phy.digital import MCS, DigitalLink
from gscsim.phy.ldpc import compiled_decoder_class, graph


def _llrs(k, n, m, esno_db, batch=48, seed=1):
    from sionna.phy.fec.ldpc import LDPC5GEncoder
    from sionna.phy.mapping import Demapper, Mapper

    encoder = LDPC5GEncoder(k, n, num_bits_per_symbol=m)
    g = torch.Generator().manual_seed(seed)
    bits = torch.randint(0, 2, (batch, k), generator=g).float()
    rx = AWGN().transmit(Mapper("qam", m)(encoder(bits)).to(torch.complex64), esno_db, g)
    return bits, Demapper("app", "qam", m)(rx.symbols, rx.noise_var), encoder


@pytest.mark.parametrize("k, n, m, esno_db", [(1024, 2048, 2, 1.0), (500, 1500, 4, 4.0),
                                              (3000, 3600, 6, 16.0)])
def test_flooding_makes_sionnas_decisions(k, n, m, esno_db):
    """Same code (base graph 1 and 2, punctured, shortened, rate-matched), same rules: the
    same bits from every codeword, decoded or not (tolerance: none)."""
    from sionna.phy.fec.ldpc import LDPC5GDecoder

    bits, llr, encoder = _llrs(k, n, m, esno_db)
    sionna = LDPC5GDecoder(encoder, cn_update="boxplus-phi", num_iter=20, hard_out=True)
    compiled = compiled_decoder_class()(encoder, schedule="flooding", num_iter=20)
    theirs, ours = sionna(llr), compiled(llr)
    failed = (theirs != bits).any(1)
    assert 0 < int(failed.sum()) < len(bits) or esno_db > 10      # a point on the waterfall
    assert torch.equal(ours, theirs)


def test_layered_converges_faster_and_stops_early():
    bits, llr, encoder = _llrs(1024, 2048, 2, 1.25, batch=96)
    decoder = compiled_decoder_class()
    flooding = decoder(encoder, schedule="flooding", num_iter=20)
    layered = decoder(encoder, schedule="layered", num_iter=20)
    errors = {name: int((d(llr) != bits).any(1).sum())
              for name, d in (("flooding", flooding), ("layered", layered))}
    assert errors["layered"] <= errors["flooding"]
    assert layered.last_iterations.mean() < 0.8 * flooding.last_iterations.mean()
    clean_bits, clean, _ = _llrs(1024, 2048, 2, 6.0, batch=16)
    assert torch.equal(flooding(clean), clean_bits)
    assert flooding.last_iterations.max() <= 6          # of 20: stopped once every check holds


def test_graph_lists_every_edge_once_from_both_sides():
    pcm = torch.tensor([[1, 1, 0, 1], [0, 1, 1, 1]]).numpy()
    cn_ptr, cn_vn, vn_ptr, vn_edges = graph(pcm)
    assert cn_ptr.tolist() == [0, 3, 6] and cn_vn.tolist() == [0, 1, 3, 1, 2, 3]
    assert vn_ptr.tolist() == [0, 1, 3, 4, 6]
    assert [cn_vn[e] for e in vn_edges] == [0, 1, 1, 2, 3, 3]


@pytest.mark.parametrize("decoder", ["bp-compiled", "bp-layered"])
def test_the_digital_link_decodes_with_the_compiled_decoders(decoder):
    link = DigitalLink(MCS("16qam", 0.5), 2000, decoder=decoder)
    g = torch.Generator().manual_seed(0)
    bits = torch.randint(0, 2, (4, link.payload_bits), generator=g).float()
    decoded, ok = link.decode(AWGN().transmit(link.encode(bits), 12.0, g))
    assert bool(ok.all()) and torch.equal(decoded, bits)
    decoded, ok = link.decode(AWGN().transmit(link.encode(bits), -5.0, g))
    assert not bool(ok.any())                                    # the CRC catches failures


@pytest.mark.parametrize("decoder", ["bp-compiled", "bp-layered"])
def test_no_error_floor_above_the_waterfall(decoder):
    """Far above the waterfall (Es/N0 6 dB for r1/2 QPSK) no block fails: a layered decoder
    that clipped its extrinsic inputs lost evidence and stalled on 8 of 2048 blocks here."""
    link = DigitalLink(MCS("qpsk", 0.5), 1024, decoder=decoder)
    g = torch.Generator().manual_seed(0)
    bits = torch.randint(0, 2, (2048, link.payload_bits), generator=g).float()
    _, ok = link.decode(AWGN().transmit(link.encode(bits), 6.0, g))
    assert bool(ok.all())


def test_decoding_leaves_torchs_thread_count_alone():
    """numba's OpenMP layer used to reset the process's OpenMP threads (torch's went from 1
    to the core count after the first decode), breaking the executors' thread policy."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        link = DigitalLink(MCS("qpsk", 0.5), 512, decoder="bp-layered")
        g = torch.Generator().manual_seed(0)
        bits = torch.randint(0, 2, (8, link.payload_bits), generator=g).float()
        link.decode(AWGN().transmit(link.encode(bits), 5.0, g))
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
