"""The HTML report, the Python API and the example notebook, on a tiny run."""
import re
from pathlib import Path

import pytest

import gscsim
from gscsim.cli import main
from gscsim.run.report import check_in_browser, chromium

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def finished(tmp_path, tiny_scenario):
    """A tiny run with a refused point (SoftCast has no chunk to send at CBR 0.001), kept
    pictures, and one trial file lost afterwards."""
    tiny_scenario |= {"keep_frames": ["astronaut"], "metrics": ["psnr", "lpips"],
                      "channels": [{"name": "awgn"}],
                      "sweep": {"snr_db": [0, 10], "cbr": ["1/12", 0.001]}}
    results = gscsim.simulate(tiny_scenario, tmp_path / "out", progress=False)
    lost = sorted((results.folder / "trials").glob("*snr10_cbr0.08333*.json"))[0]
    lost.unlink()
    return results, lost.stem


def test_report_holds_tables_plots_pictures_and_warnings(finished):
    results, lost = finished
    assert main(["report", str(results.folder)]) == 0
    html = (results.folder / "report.html").read_text()
    assert "<h3>PSNR [dB] (higher is better)</h3>" in html
    assert "<h3>LPIPS (lower is better)</h3>" in html
    assert re.search(r"<td>\d+\.\d+ ± \d+\.\d+</td>", html)           # mean ± 95% interval
    assert "1 of 4 planned trials are not stored" in html and lost in html
    assert "softcast refused SNR 0 dB, CBR 0.001: softcast: CBR 0.001" in html
    plots = list((results.folder / "plots").glob("*.png"))
    assert html.count('src="data:image/png;base64,') == len(plots) + 1   # + the picture grid
    assert 'id="grid"' in html
    assert not re.search(r'(src|href)="(https?:)?//', html)               # no network needed


@pytest.mark.skipif(chromium() is None, reason="needs Debian's chromium package")
def test_report_renders_in_chromium_without_console_errors(finished, tmp_path):
    results, _ = finished
    page = results.report()
    shown, console = check_in_browser(page, tmp_path / "shot.png")
    total = page.read_text().count("<img ")
    assert total > 2 and shown == f"{total}/{total}"
    assert console == []
    assert (tmp_path / "shot.png").stat().st_size > 20_000


def test_python_api_gives_dataframes_and_figures(finished):
    results, _ = finished
    summary = results.summary
    assert set(summary["transceiver"]) == {"softcast"} and len(summary) == 4
    assert {"psnr", "psnr_ci95", "lpips", "refused"} <= set(summary.columns)
    assert len(results.frames) == 2 * 3
    again = gscsim.load(results.folder)
    assert again.summary.equals(summary)
    fig = again.plot("lpips", where={"cbr": 1 / 12})
    assert fig.axes[0].get_ylabel() == "LPIPS (lower is better)"
    assert "trials of softcast" in repr(again)
    with pytest.raises(FileNotFoundError, match="not a gscsim results folder"):
        gscsim.load(results.folder / "trials")


def test_example_notebook_runs_end_to_end(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    notebook = nbformat.read(REPO / "examples" / "quickstart.ipynb", as_version=4)
    nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs)      # a figure was shown
    assert (tmp_path / "results" / "notebook-demo" / "report.html").exists()


def test_report_of_a_timed_run_shows_its_latency(tmp_path, tiny_scenario):
    tiny_scenario |= {"channels": [{"name": "awgn"}],
                      "sweep": {"snr_db": [10], "cbr": ["1/12"], "users": [1, 3]},
                      "timing": {"traffic": {"model": "periodic", "rate_hz": 5, "frames": 6},
                                 "compute": {"model": "fixed", "decode_s": 0.1},
                                 "deadline_s": 0.25}}
    results = gscsim.simulate(tiny_scenario, tmp_path / "timed", progress=False)
    html = results.report().read_text()
    assert '<h2 id="latency">Latency</h2>' in html
    assert "latency_p95_s" in html and "deadline_miss_rate" in html
    assert "latency s cdf" in html                              # the CDF plot, embedded
