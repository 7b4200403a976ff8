"""The zero-information references and the semantic judge."""
import numpy as np
import pytest
import torch

from gscsim.io import read_csv
from gscsim.metrics.pixel import PSNR
from gscsim.run.runner import run_loaded
from gscsim.run.scenario import validate
from gscsim.run.tables import judge_rows
from gscsim.run.trial import TrialResult


def test_references_send_nothing_and_show_their_priors(tmp_path):
    from gscsim.baselines.references import mean_scene
    from gscsim.data.scenes.shards import SceneSplit

    scenario = validate({
        "name": "refs", "seed": 1,
        "dataset": {"name": "scenes", "options": {"count": 4, "split": "test", "size": 64}},
        "transceivers": [{"name": "prior_mean", "options": {"count": 500}},
                         {"name": "prior_sample"}],
        "channels": [{"name": "awgn"}], "sweep": {"snr_db": [10], "cbr": ["1/48"]},
        "metrics": ["psnr"], "batch_size": 4})
    root = run_loaded(scenario, tmp_path / "out", progress=False, plots=False)
    rows = {r["transceiver"]: r for r in read_csv(root / "summary.csv")}
    assert rows["prior_mean"]["achieved_cbr"] == rows["prior_sample"]["achieved_cbr"] == 0
    frames = SceneSplit("test", 4, 64, progress=False).images.float() / 255
    floor = PSNR()(frames, mean_scene(500, 64).expand_as(frames)).mean().item()
    assert rows["prior_mean"]["psnr"] == pytest.approx(floor, abs=1e-9)
    assert rows["prior_sample"]["psnr"] < floor          # a sample is no closer than the mean


def _result(label: str, scores: list[float], snr: float = 10.0) -> TrialResult:
    trial = {"transceiver": label, "transceiver_name": label, "transceiver_options": {},
             "channel": "awgn", "channel_name": "awgn", "channel_options": {}, "snr_db": snr,
             "cbr": 0.02, "seed": 0, "stream_snr_db": {}, "swept": {}, "users": None}
    frames = [{"frame": str(i), "semantic_acc": s} for i, s in enumerate(scores)]
    return TrialResult(id=label, trial=trial, frames=frames)


def test_the_judge_gives_each_frame_to_the_closest_method_and_shares_ties():
    rows = judge_rows([_result("A", [0.9, 0.5, 0.7, 0.1]), _result("B", [0.8, 0.6, 0.7, 0.2]),
                       _result("C", [0.1, 0.1, 0.1, 0.2])])
    share = {r["method"]: r["judge_win_share"] for r in rows}
    # frame 0: A; frame 1: B; frame 2: A and B tie; frame 3: B and C tie
    assert share == pytest.approx({"A": 1.5 / 4, "B": 2 / 4, "C": 0.5 / 4})
    assert sum(share.values()) == pytest.approx(1.0)
    two_points = judge_rows([_result("A", [1.0]), _result("B", [0.0]),
                             _result("A", [0.0], snr=1.0), _result("B", [1.0], snr=1.0)])
    assert {(r["snr_db"], r["method"]): r["judge_win_share"] for r in two_points} == {
        (10.0, "A"): 1.0, (10.0, "B"): 0.0, (1.0, "A"): 0.0, (1.0, "B"): 1.0}
    with_refusal = judge_rows([_result("A", [0.9, 0.1]), _result("B", [0.2, 0.8]),
                               _result("R", [])])   # R refused the point: no frames scored
    rows = {r["method"]: r for r in with_refusal}
    assert rows["A"]["judge_win_share"] == rows["B"]["judge_win_share"] == 0.5
    assert rows["A"]["n_frames"] == 2 and rows["R"]["n_frames"] == 0
    assert np.isnan(rows["R"]["judge_win_share"])


def test_kept_frames_are_stored_as_pictures_and_laid_out_by_gscsim_grid(tmp_path):
    from PIL import Image

    from gscsim.cli import main

    scenario = validate({
        "name": "kept", "seed": 1,
        "dataset": {"name": "scenes", "options": {"count": 3, "split": "test", "size": 64}},
        "transceivers": [{"name": "softcast", "options": {"chunks_per_side": 4}},
                         {"name": "prior_mean", "options": {"count": 200}}],
        "channels": [{"name": "awgn"}], "sweep": {"snr_db": [0, 20], "cbr": ["1/12"]},
        "metrics": ["psnr"], "batch_size": 3, "keep_frames": ["test000001"]})
    root = run_loaded(scenario, tmp_path / "out", progress=False, plots=False)
    folder = root / "frames" / "test000001"
    pictures = sorted(p.name for p in folder.glob("*.png"))
    assert "original.png" in pictures and len(pictures) == 1 + 4          # 2 methods x 2 SNRs
    frames = read_csv(root / "frames.csv")
    received = [r for r in frames if r["frame"] == "test000001" and r["transceiver"] == "softcast"
                and r["snr_db"] == 20.0][0]
    original = torch.from_numpy(np.array(Image.open(folder / "original.png")))
    # the stored picture is what the metric scored: its PSNR against the original matches
    tid = [p.stem for p in folder.glob("softcast*snr20*.png")][0]
    got = torch.from_numpy(np.array(Image.open(folder / f"{tid}.png")))
    psnr = PSNR()(original.permute(2, 0, 1)[None].float() / 255,
                  got.permute(2, 0, 1)[None].float() / 255).item()
    assert psnr == pytest.approx(received["psnr"], abs=1e-6)
    assert main(["grid", str(root), "--point", "20:1/12", "--point", "0:1/12"]) == 0
    assert (root / "plots" / "grid.png").exists()


def test_gscsim_grid_lays_out_the_points_of_several_results_folders(tmp_path):
    from gscsim.cli import main
    from gscsim.run.grid import layout

    def run(name, transceiver, snrs, frames):
        scenario = validate({
            "name": name, "seed": 1,
            "dataset": {"name": "scenes", "options": {"count": 3, "split": "test", "size": 64}},
            "transceivers": [transceiver], "channels": [{"name": "awgn"}],
            "sweep": {"snr_db": snrs, "cbr": ["1/12"]}, "metrics": ["psnr"], "batch_size": 3,
            "keep_frames": frames})
        return run_loaded(scenario, tmp_path / name, progress=False, plots=False)

    first = run("a", {"name": "softcast", "options": {"chunks_per_side": 4}}, [0, 20],
                ["test000000", "test000001"])
    second = run("b", {"name": "prior_mean", "label": "mean", "options": {"count": 200}}, [20],
                 ["test000001", "test000002"])
    rows, columns = layout([first, second], None)
    assert rows == ["test000001"]                                 # the frame both kept
    titles = [title.replace("\n", " ") for title, _ in columns]
    assert titles == ["original", "softcast 20 dB, CBR 1/12", "mean 20 dB, CBR 1/12",
                      "softcast 0 dB, CBR 1/12"]
    assert all(second.name in str(file) for title, file in columns if title.startswith("mean"))
    assert main(["grid", str(first), str(second), "--out", str(tmp_path / "g.png")]) == 0
    assert (tmp_path / "g.png").stat().st_size > 0


def test_grid_points_may_have_negative_snrs():
    from gscsim.cli import _attach_negative_points, build_parser

    argv = ["grid", "results/x", "--point", "-13:0.006", "--point", "10:0.006"]
    args = build_parser().parse_args(_attach_negative_points(argv))
    assert args.point == ["-13:0.006", "10:0.006"] and args.output == ["results/x"]
