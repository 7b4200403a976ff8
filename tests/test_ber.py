import math

import pytest
import yaml
from scipy.special import erfc

from gscsim.cli import main
from gscsim.io import read_csv


def test_ber_command_matches_theory_and_stops(tmp_path):
    scenario = {
        "name": "ber", "seed": 2,
        "chains": [{"label": "qpsk", "modulation": "qpsk", "coded": False, "symbols": 2000},
                   {"label": "ldpc", "modulation": "qpsk", "code_rate": 0.5, "symbols": 256}],
        "snr_db": [0.0, 4.0, 30.0],
        "stop": {"block_errors": 20, "max_blocks": 200, "bler_floor": 0.02, "batch": 20},
        "output": str(tmp_path / "out"),
    }
    path = tmp_path / "ber.yaml"
    path.write_text(yaml.safe_dump(scenario))
    assert main(["ber", str(path), "--quiet"]) == 0
    rows = read_csv(tmp_path / "out" / "ber.csv")
    uncoded = {r["esno_db"]: r for r in rows if r["chain"] == "qpsk"}
    theory = 0.5 * erfc(math.sqrt(10 ** 0.0) / math.sqrt(2))       # Q(sqrt(Es/N0))
    r = uncoded[0.0]
    assert abs(r["ber"] - theory) < 4 * math.sqrt(theory / r["bits"])
    assert r["block_errors"] >= 20 or r["blocks"] == 200         # a stopping rule ended it
    coded = {r["esno_db"]: r for r in rows if r["chain"] == "ldpc"}
    assert coded[0.0]["bler"] > coded[4.0]["bler"]
    assert 30.0 not in coded                                      # sweep stopped below the floor
    assert coded[4.0]["ebno_db"] - 4.0 == pytest.approx(
        -10 * math.log10((256 * 2 * 0.5 - 24) / 256))            # Eb per payload bit
    assert (tmp_path / "out" / "plots" / "ber_bler_vs_ebno_db.png").exists()
    before = len(rows)
    assert main(["ber", str(path), "--quiet"]) == 0              # a rerun resumes: no new rows
    assert len(read_csv(tmp_path / "out" / "ber.csv")) == before


def test_ber_points_carry_exact_intervals_and_zero_error_upper_bounds(tmp_path):
    from gscsim.phy.ber import clopper_pearson

    scenario = {"name": "ci", "seed": 3,
                "chains": [{"label": "qpsk", "modulation": "qpsk", "coded": False,
                            "symbols": 500}],
                "snr_db": [4.0, 30.0], "stop": {"block_errors": 5, "max_blocks": 40,
                                                "bler_floor": 0.0, "batch": 20},
                "output": str(tmp_path / "out")}
    path = tmp_path / "ber.yaml"
    path.write_text(yaml.safe_dump(scenario))
    assert main(["ber", str(path), "--quiet"]) == 0
    rows = {r["esno_db"]: r for r in read_csv(tmp_path / "out" / "ber.csv")}
    noisy, clean = rows[4.0], rows[30.0]
    assert noisy["ber_low"] < noisy["ber"] < noisy["ber_high"]
    assert clean["ber"] == 0 and clean["blocks"] == 40                  # ran to max_blocks
    assert clean["ber_high"] == pytest.approx(1 - 0.025 ** (1 / clean["bits"]), rel=1e-6)
    assert clopper_pearson(0, 100) == (0.0, pytest.approx(0.0362, abs=1e-4))
    assert clopper_pearson(50, 100)[0] == pytest.approx(0.3983, abs=1e-4)   # tables' values


@pytest.mark.parametrize("modulation, esno_db", [("bpsk", 4.0), ("qpsk", 7.0),
                                                 ("16qam", 14.0), ("64qam", 20.0)])
def test_closed_form_uncoded_ber_matches_the_simulated_chain(modulation, esno_db):
    import torch

    from gscsim.channels.awgn import AWGN
    from gscsim.phy.ber import UncodedLink, uncoded_ber

    link = UncodedLink(modulation, 20000)
    g = torch.Generator().manual_seed(4)
    bits = torch.randint(0, 2, (4, link.payload_bits), generator=g).float()
    decoded, _ = link.decode(AWGN().transmit(link.encode(bits), esno_db, g))
    simulated = float((decoded != bits).float().mean())
    theory = float(uncoded_ber(modulation, esno_db))
    n = bits.numel()
    assert abs(simulated - theory) < 4 * math.sqrt(theory / n) + 0.03 * theory, \
        (simulated, theory)           # 4 sigma, plus 3% for the QAM approximation
