"""The docs' worked example (docs/guide/adding-a-transceiver.md): a transceiver in one file,
used from a scenario."""
import shutil

import yaml
from conftest import REPO

from gscsim.io import read_csv
from gscsim.run.runner import run_scenario

EXAMPLE = REPO / "examples" / "pixel_analog.py"


def test_the_guide_shows_the_example_verbatim():
    guide = (REPO / "docs" / "guide" / "adding-a-transceiver.md").read_text()
    assert EXAMPLE.read_text().strip() in guide


def test_example_runs_from_a_scenario_beside_it(tmp_path, tiny_scenario):
    shutil.copy(EXAMPLE, tmp_path / "pixel_analog.py")
    tiny_scenario["transceivers"] = [{"name": "pixel_analog:PixelAnalog", "label": "pixels"},
                                     {"name": "softcast", "options": {"chunks_per_side": 4}}]
    tiny_scenario["channels"] = [{"name": "awgn"}]
    tiny_scenario["output"] = str(tmp_path / "out")
    path = tmp_path / "custom.yaml"
    path.write_text(yaml.safe_dump(tiny_scenario))
    root = run_scenario(path, plots=False, progress=False)
    rows = [r for r in read_csv(root / "summary.csv") if r["transceiver"] == "pixels"]
    assert len(rows) == 4
    assert all(r["achieved_cbr"] <= r["cbr"] for r in rows)
    by = {(r["snr_db"], r["cbr"]): r["psnr"] for r in rows}
    assert by[(10.0, 1 / 6)] > by[(0.0, 1 / 6)]
