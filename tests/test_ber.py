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
