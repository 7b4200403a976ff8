"""Bad inputs and faults, each run through the command line as a user would, with the outcome:
the exit code and the first line of what gscsim says. Writes docs/bad_inputs.md.

    python benchmarks/bad_inputs.py [--out docs/bad_inputs.md]

Every case must end in a message naming the file, the field or the fix (exit 1 or 2), or in a
correct run (exit 0); a traceback, or a run that goes wrong silently, is a failure, and the
script exits 1 when there is one.
"""
from __future__ import annotations

import argparse
import contextlib
import copy
import fcntl
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np
import yaml
from PIL import Image

from gscsim.cli import main
from gscsim.io import read_csv

BASE = {
    "name": "case", "seed": 1,
    "dataset": {"name": "samples", "options": {"size": 64, "limit": 2}},
    "transceivers": [{"name": "softcast", "options": {"chunks_per_side": 4}}],
    "channels": [{"name": "awgn"}],
    "sweep": {"snr_db": [10], "cbr": ["1/12"]},
    "metrics": ["psnr"], "batch_size": 2,
}

# (what, change to the scenario: path -> value, or None to drop the field)
SCENARIO_CASES: list[tuple[str, dict]] = [
    ("no name", {"name": None}), ("name of dots", {"name": ".."}),
    ("name with a slash", {"name": "a/b"}), ("name of 300 characters", {"name": "x" * 300}),
    ("empty name", {"name": ""}), ("name not a string", {"name": 5}),
    ("seed a string", {"seed": "one"}), ("seed list repeated", {"seed": [1, 1]}),
    ("seed float", {"seed": 1.5}), ("no dataset", {"dataset": None}),
    ("unknown dataset", {"dataset": {"name": "imagenet"}}),
    ("dataset option misspelt", {"dataset": {"name": "samples", "options": {"sise": 64}}}),
    ("dataset size negative", {"dataset": {"name": "samples", "options": {"size": -4}}}),
    ("dataset size a string", {"dataset": {"name": "samples", "options": {"size": "big"}}}),
    ("folder dataset without path", {"dataset": {"name": "folder"}}),
    ("folder dataset, missing folder",
     {"dataset": {"name": "folder", "options": {"path": "/nonexistent/images"}}}),
    ("scenes split unknown", {"dataset": {"name": "scenes", "options": {"split": "dev"}}}),
    ("scenes count zero", {"dataset": {"name": "scenes", "options": {"count": 0}}}),
    ("no transceivers", {"transceivers": None}), ("empty transceivers", {"transceivers": []}),
    ("unknown transceiver", {"transceivers": [{"name": "jpeg2025"}]}),
    ("transceiver option misspelt",
     {"transceivers": [{"name": "softcast", "options": {"chunk_per_side": 4}}]}),
    ("transceiver option out of range",
     {"transceivers": [{"name": "softcast", "options": {"chunks_per_side": 0}}]}),
    ("transceiver option of the wrong type",
     {"transceivers": [{"name": "softcast", "options": {"meta_bits": "six"}}]}),
    ("two transceivers with one label",
     {"transceivers": [{"name": "softcast"}, {"name": "softcast"}]}),
    ("label of 300 characters", {"transceivers": [{"name": "softcast", "label": "y" * 300}]}),
    ("empty label", {"transceivers": [{"name": "softcast", "label": ""}]}),
    ("transceiver without name", {"transceivers": [{"label": "x"}]}),
    ("transceiver is a string", {"transceivers": ["softcast"]}),
    ("module:Class that does not exist", {"transceivers": [{"name": "nomodule:Thing"}]}),
    ("module:Class attribute missing", {"transceivers": [{"name": "json:Missing"}]}),
    ("module:Class not a transceiver", {"transceivers": [{"name": "json:JSONDecoder"}]}),
    ("option sweep of a misspelt option",
     {"transceivers": [{"name": "softcast", "sweep": {"chunk_per_side": [2, 4]}}]}),
    ("swinjscc with an unknown checkpoint",
     {"transceivers": [{"name": "swinjscc", "options": {"checkpoint": "nope"}}]}),
    ("targsc on photographs", {"transceivers": [{"name": "targsc"}]}),
    ("swinjscc photo model on scenes",
     {"transceivers": [{"name": "swinjscc"}],
      "dataset": {"name": "scenes", "options": {"count": 2}}}),
    ("sgd-jscc without its checkpoint", {"transceivers": [{"name": "sgd-jscc"}],
                                         "dataset": {"name": "scenes", "options": {"count": 2}}}),
    ("no channels", {"channels": None}), ("empty channels", {"channels": []}),
    ("unknown channel", {"channels": [{"name": "awgn2"}]}),
    ("two channels with one label", {"channels": [{"name": "awgn"}, {"name": "awgn"}]}),
    ("channel option misspelt",
     {"channels": [{"name": "rayleigh_block", "options": {"csi": "pilot"}}]}),
    ("channel option of the wrong type",
     {"channels": [{"name": "rayleigh_block", "options": {"pilots_per_block": "eight"}}]}),
    ("fast fading with pilots", {"channels": [{"name": "rayleigh_fast",
                                               "options": {"csi": "pilots"}}]}),
    ("no sweep", {"sweep": None}), ("sweep without snr_db", {"sweep": {"cbr": ["1/12"]}}),
    ("sweep without cbr", {"sweep": {"snr_db": [1]}}),
    ("empty snr_db", {"sweep": {"snr_db": [], "cbr": ["1/12"]}}),
    ("snr_db repeated", {"sweep": {"snr_db": [10, 10], "cbr": ["1/12"]}}),
    ("snr_db NaN", {"sweep": {"snr_db": [float("nan")], "cbr": ["1/12"]}}),
    ("snr_db infinite", {"sweep": {"snr_db": [float("inf")], "cbr": ["1/12"]}}),
    ("snr_db a string", {"sweep": {"snr_db": ["ten"], "cbr": ["1/12"]}}),
    ("snr_db not a list", {"sweep": {"snr_db": 10, "cbr": ["1/12"]}}),
    ("cbr 1/0", {"sweep": {"snr_db": [1], "cbr": ["1/0"]}}),
    ("cbr zero", {"sweep": {"snr_db": [1], "cbr": [0]}}),
    ("cbr negative", {"sweep": {"snr_db": [1], "cbr": [-0.1]}}),
    ("cbr a word", {"sweep": {"snr_db": [1], "cbr": ["half"]}}),
    ("cbr repeated as fraction and decimal", {"sweep": {"snr_db": [1], "cbr": ["1/4", 0.25]}}),
    ("cbr too large for the budget check", {"sweep": {"snr_db": [1], "cbr": [1000]}}),
    ("cbr too small to send anything", {"sweep": {"snr_db": [1], "cbr": [1e-6]}}),
    ("stream_snr_db misspelt",
     {"sweep": {"snr_db": [1], "cbr": ["1/12"], "stream_snr_db": {"imgae": [0]}}}),
    ("stream_snr_db repeated values",
     {"sweep": {"snr_db": [1], "cbr": ["1/12"], "stream_snr_db": {"meta": [0, 0]}}}),
    ("stream_snr_db NaN",
     {"sweep": {"snr_db": [1], "cbr": ["1/12"], "stream_snr_db": {"meta": [float("nan")]}}}),
    ("users without timing", {"sweep": {"snr_db": [1], "cbr": ["1/12"], "users": [1, 2]}}),
    ("users zero", {"sweep": {"snr_db": [1], "cbr": ["1/12"], "users": [0]},
                    "timing": {}}),
    ("users repeated", {"sweep": {"snr_db": [1], "cbr": ["1/12"], "users": [2, 2]},
                        "timing": {}}),
    ("cross_at off the lines",
     {"sweep": {"snr_db": [1, 5], "cbr": ["1/12", "1/6"], "cross_at": {"snr_db": 3, "cbr": 1}}}),
    ("unknown sweep field", {"sweep": {"snr_db": [1], "cbr": ["1/12"], "snr": [2]}}),
    ("unknown metric", {"metrics": ["psnr", "vmaf"]}), ("empty metrics", {"metrics": []}),
    ("metric not a string", {"metrics": [5]}),
    ("semantic_acc on photographs", {"metrics": ["semantic_acc"]}),
    ("ms_ssim on 64x64 images", {"metrics": ["ms_ssim"]}),
    ("batch_size zero", {"batch_size": 0}), ("batch_size a string", {"batch_size": "all"}),
    ("device foo", {"device": "foo"}), ("device cuda on a CPU build", {"device": "cuda"}),
    ("unknown top-level field", {"metric": ["psnr"]}),
    ("output is a file", {"output": "{tmp}/a_file"}),
    ("output in an unwritable folder", {"output": "/proc/gscsim-out"}),
    ("output holding another scenario", {"output": "{tmp}/used"}),
    ("keep_frames not a list", {"keep_frames": "astronaut"}),
    ("timing with a negative bandwidth", {"timing": {"bandwidth_hz": -1}}),
    ("timing traffic without rate", {"timing": {"traffic": {"model": "poisson"}}}),
    ("timing trace without file", {"timing": {"traffic": {"model": "trace"}}}),
    ("timing trace file missing",
     {"timing": {"traffic": {"model": "trace", "file": "/nonexistent/trace.txt"}}}),
    ("timing profile without file", {"timing": {"compute": {"model": "profile"}}}),
    ("timing profile file missing",
     {"timing": {"compute": {"model": "profile", "profile": "/nonexistent/p.yaml"}}}),
    ("timing profile not a mapping", {"timing": {"compute": {"model": "profile",
                                                             "profile": "{tmp}/bad_profile"}}}),
    ("timing late policy unknown", {"timing": {"late": "ignore"}}),
    ("network without timing", {"network": {}}),
    ("network link to unknown receiver", {"timing": {}, "network": {
        "links": [{"name": "a", "receiver": "rx9"}]}}),
    ("network links with one name", {"timing": {}, "network": {
        "links": [{"name": "a"}, {"name": "a"}]}}),
    ("network link to unknown transceiver label", {"timing": {}, "network": {
        "links": [{"name": "a", "transceiver": "nope"}]}}),
    ("network link name with a slash", {"timing": {}, "network": {"links": [{"name": "a/b"}]}}),
    ("description not a string", {"description": ["x"]}),
]

# (what, the file's text) for malformed files
FILE_CASES = [
    ("empty file", ""), ("not YAML", "name: [unclosed"), ("a list, not a mapping", "- a\n- b\n"),
    ("a repeated key", "name: a\nname: b\n"), ("tabs for indentation", "name: a\n\tseed: 1\n"),
    ("binary junk", "\x00\x01\x02 not text"), ("a scalar", "42\n"),
    ("Python object tag", "name: !!python/object/apply:os.system ['echo hacked']\n"),
]

# (what, command line) for command misuse; {tmp} is a scratch folder, {ok} a valid scenario
CLI_CASES = [
    ("run a missing file", ["run", "/nonexistent.yaml"]),
    ("validate a missing file", ["validate", "/nonexistent.yaml"]),
    ("validate a folder", ["validate", "{tmp}"]),
    ("plot a folder without results", ["plot", "{tmp}/empty"]),
    ("plot an unknown column", ["plot", "{tmp}/done", "--y", "vmaf"]),
    ("plot a column no row fills", ["plot", "{tmp}/done", "--y", "frame_error_rate"]),
    ("cdf of a missing column", ["plot", "{tmp}/done", "--cdf", "latency_s"]),
    ("grid without kept frames", ["grid", "{tmp}/done"]),
    ("grid of a missing folder", ["grid", "/nonexistent"]),
    ("grid with a bad point", ["grid", "{tmp}/done", "--point", "ten"]),
    ("score with an unknown metric", ["score", "--metric", "vmaf", "{img}", "{img}"]),
    ("score files of different sizes", ["score", "--metric", "psnr", "{img}", "{small}"]),
    ("score a file against a folder", ["score", "--metric", "psnr", "{img}", "{tmp}"]),
    ("score a text file", ["score", "--metric", "psnr", "{txt}", "{txt}"]),
    ("score a 16-bit PNG", ["score", "--metric", "psnr", "{deep}", "{deep}"]),
    ("train with an unknown config", ["train", "swinjscc", "--config", "nonexistent"]),
    ("train with a broken config", ["train", "swinjscc", "--config", "{txt}"]),
    ("train scvar with --data", ["train", "scvar", "--config", "scvar-scenes64", "--data",
                                 "{tmp}"]),
    ("train sgd-jscc with --data", ["train", "sgd-jscc", "--config", "sgd-jscc-tiny",
                                    "--data", "{tmp}"]),
    ("fetch unknown data", ["data", "imagenet"]),
    ("ber with a missing file", ["ber", "/nonexistent.yaml"]),
    ("ber with an unknown field", ["ber", "{ber}"]),
]

# (what, how a fault is made) - run in order, each on the scenario {ok} unless it says


def run_cli(argv: list[str]) -> tuple[int, str]:
    """(exit code, first line of stderr, or of stdout) of gscsim with these arguments."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 2
        except BaseException as raised:       # the case this script exists to catch
            return -1, f"TRACEBACK {type(raised).__name__}: {raised}"
    text = [line for line in (err.getvalue().strip() or out.getvalue().strip()).splitlines()
            if "trial/s]" not in line]                  # progress bars
    errors = [line for line in text if line.startswith(("error", "  ", "warning", "interr"))]
    return code, " ".join((errors or text or [""])[:3])[:240]


def scenario_file(tmp: Path, name: str, change: dict) -> Path:
    raw = copy.deepcopy(BASE)
    for key, value in change.items():
        if value is None:
            raw.pop(key, None)
        else:
            raw[key] = json.loads(json.dumps(value).replace("{tmp}", str(tmp)))
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True))
    return path


# ---- faults: each injected into a real run through the command line, then checked ----------

FAULT_PLUGINS = '''
import os
import torch
from gscsim.plugins import PointRefused, Transceiver


class Faulty(Transceiver):
    """A toy analog transceiver whose fault is chosen by the environment variable GSCSIM_FAULT
    (checked at the SNR of 10 dB only, so that the other trial of the sweep is healthy)."""

    def __init__(self, options=None):
        super().__init__(options)
        if os.environ.get("GSCSIM_FAULT") == "build":
            raise RuntimeError("no weights here")

    def encode(self, batch, ctx):
        fault = os.environ.get("GSCSIM_FAULT") if ctx.snr_db == 10 else None
        n = ctx.total_budget
        x = torch.nn.functional.interpolate(batch.images, size=(4, 4)).flatten(1)
        symbols = torch.complex(x[:, :n], torch.zeros_like(x[:, :n]))
        if fault == "raise":
            raise RuntimeError("the encoder fell over")
        if fault == "tensor":
            return symbols
        if fault == "over":
            return {"image": torch.ones(len(x), n + 1, dtype=torch.complex64)}
        if fault == "refuse":
            raise PointRefused(f"this toy cannot serve {ctx.snr_db} dB")
        if fault == "interrupt":
            raise KeyboardInterrupt
        return {"image": symbols}

    def decode(self, received, ctx):
        fault = os.environ.get("GSCSIM_FAULT") if ctx.snr_db == 10 else None
        if fault == "uint8":
            return torch.full((ctx.batch_size, *ctx.image_shape), 128, dtype=torch.uint8)
        images = torch.full((ctx.batch_size, *ctx.image_shape), 0.5)
        return images * float("nan") if fault == "nan" else images
'''


def _fault_scenario(tmp: Path, out: Path, label: str = "faulty") -> Path:
    (tmp / "fault_plugins.py").write_text(FAULT_PLUGINS)
    raw = {**copy.deepcopy(BASE), "name": "faults", "output": str(out),
           "sweep": {"snr_db": [0, 10], "cbr": ["1/12"]},
           "transceivers": [{"name": "softcast", "options": {"chunks_per_side": 4}},
                            {"name": "fault_plugins:Faulty", "label": label}]}
    path = tmp / "faults.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def _trials(out: Path) -> list[Path]:
    return sorted((out / "trials").glob("*.json"))


def _summary_rows(out: Path) -> int:
    return len(read_csv(out / "summary.csv")) if (out / "summary.csv").exists() else 0


def _fault_in_plugin(kind: str):
    """A fault raised by the toy transceiver at 10 dB: the run must keep the other 3 trials,
    name the failing one and exit 1 (or record a refusal and exit 0)."""
    def case(tmp: Path):
        out = tmp / f"out-{kind}"
        os.environ["GSCSIM_FAULT"] = kind
        try:
            code, said = run_cli(["run", str(_fault_scenario(tmp, out)), "--quiet",
                                  "--no-plots"])
        finally:
            os.environ.pop("GSCSIM_FAULT")
        kept = len(_trials(out))
        if kind == "build":
            return code, said, code == 1 and kept == 2 and "fault_plugins:Faulty" in said, \
                "its trials fail naming the plugin and its error; the other transceiver's saved"
        if kind == "refuse":
            refused = [r for r in read_csv(out / "summary.csv") if r.get("refused")]
            return code, said, code == 0 and kept == 4 and len(refused) == 1, \
                "the refusal recorded as that point's result; the sweep goes on"
        if kind == "interrupt":
            return code, said, code == 130 and f"{kept} of 4 trials saved" in said, \
                "stops, says how many trials are saved and how to resume"
        return code, said, code == 1 and kept == 3 and "faulty" in said, \
            "the 3 healthy trials saved; the failing trial named with its error"
    return case


def _damaged_store(damage: str):
    """A finished run whose folder is then damaged; a rerun must repair it without recomputing
    the trials that are intact."""
    def case(tmp: Path):
        out = tmp / f"out-{damage}"
        scenario = _fault_scenario(tmp, out)
        main(["run", str(scenario), "--quiet", "--no-plots"])
        files = _trials(out)
        first = files[0]
        stamps = {p.name: p.stat().st_mtime_ns for p in files[1:]}
        if damage == "truncated":
            first.write_text(first.read_text()[:40])
        elif damage == "other json":
            first.write_text(json.dumps({"not": "a trial"}))
        elif damage == "random bytes":
            first.write_bytes(np.random.default_rng(0).bytes(300))
        elif damage == "tmp":
            (out / "trials" / ".x.json.123.tmp").write_text("left by a kill")
        elif damage == "summary":
            (out / "summary.csv").unlink()
        elif damage == "manifest":
            (out / "manifest.json").unlink()
        elif damage == "moved":
            moved = tmp / f"moved-{damage}"
            out.rename(moved)
            out = moved
            raw = yaml.safe_load(scenario.read_text())
            raw["output"] = str(out)
            scenario.write_text(yaml.safe_dump(raw))
        code, said = run_cli(["run", str(scenario), "--no-plots"])
        untouched = all(p.stat().st_mtime_ns == stamps[p.name] for p in _trials(out)
                        if p.name in stamps)
        rows = _summary_rows(out)
        ok = code == 0 and rows == 4 and untouched and (out / "manifest.json").exists()
        if damage in ("truncated", "other json", "random bytes"):
            ok = ok and first.name in said and (out / "trials" / "corrupt" / first.name).exists()
            return code, said, ok, "the file named and moved to trials/corrupt/; that trial rerun"
        if damage == "tmp":
            ok = ok and not list((out / "trials").glob(".*.tmp"))
            return code, said, ok, "the temporary file removed; nothing recomputed"
        return code, said, ok, "the tables rebuilt from the stored trials; nothing recomputed"
    return case


def _second_run(tmp: Path):
    out = tmp / "out-locked"
    scenario = _fault_scenario(tmp, out)
    out.mkdir()
    with open(out / ".gscsim.lock", "a+") as handle:      # as a run in progress holds it
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        code, said = run_cli(["run", str(scenario), "--quiet"])
    return code, said, code != 0 and "another gscsim run" in said and not _trials(out), \
        "refused at once; the running one is untouched"


def _other_scenario(tmp: Path):
    out = tmp / "out-other"
    main(["run", str(_fault_scenario(tmp, out)), "--quiet", "--no-plots"])
    other = scenario_file(tmp, "intruder", {"name": "intruder", "output": str(out)})
    code, said = run_cli(["run", str(other), "--quiet"])
    return code, said, code != 0 and "faults" in said and _summary_rows(out) == 4, \
        "refused; the folder keeps the first scenario's results"


def _plots_blocked(tmp: Path):
    out = tmp / "out-plots"
    out.mkdir()
    (out / "plots").write_text("a file where the plots folder goes")
    code, said = run_cli(["run", str(_fault_scenario(tmp, out)), "--quiet"])
    return code, said, code != 0 and "plots" in said and _summary_rows(out) == 4, \
        "every trial and table saved; the plot error named"


def _write_error(tmp: Path):
    """The disk fills up while the second trial is written."""
    import errno

    import gscsim.run.store as store

    out, real, calls = tmp / "out-full", store.write_json, []

    def full(path, value, *args, **kwargs):
        calls.append(path)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(path, value, *args, **kwargs)

    store.write_json = full
    try:
        code, said = run_cli(["run", str(_fault_scenario(tmp, out)), "--quiet", "--no-plots"])
    finally:
        store.write_json = real
    ok = code != 0 and "No space left" in said and len(_trials(out)) >= 1
    return code, said, ok, "the run stops naming the file and the error; saved trials kept"


def _checkpoint_changed(change: str):
    def case(tmp: Path):
        (tmp / "weighted.py").write_text(
            "from pathlib import Path\nfrom gscsim.baselines.softcast import SoftCast\n\n\n"
            "class Weighted(SoftCast):\n    \"\"\"SoftCast naming a checkpoint.\"\"\"\n\n"
            "    def weights(self):\n        return [Path(__file__).with_name('model.pt')]\n")
        weights = tmp / "model.pt"
        weights.write_bytes(b"first training")
        out = tmp / f"out-{change}"
        raw = {**copy.deepcopy(BASE), "name": "weighted", "output": str(out),
               "sweep": {"snr_db": [0, 10], "cbr": ["1/12"]},
               "transceivers": [{"name": "softcast", "options": {"chunks_per_side": 4}},
                                {"name": "weighted:Weighted", "label": "learned",
                                 "options": {"chunks_per_side": 4}}]}
        path = tmp / "weighted.yaml"
        path.write_text(yaml.safe_dump(raw))
        main(["run", str(path), "--quiet", "--no-plots"])
        if change == "retrained":
            weights.write_bytes(b"second training")
            code, said = run_cli(["run", str(path), "--no-plots"])
            return code, said, code == 0 and "rerunning 2 stored trials" in said, \
                "the 2 trials that used it rerun; the others kept"
        weights.unlink()
        code, said = run_cli(["run", str(path), "--no-plots"])
        ok = code == 1 and "FileNotFoundError" in said and len(_trials(out)) == 4 \
            and _summary_rows(out) == 2
        return code, said, ok, ("its 2 trials fail naming the missing file; their earlier "
                                "results stay in trials/ but leave the summary")
    return case


def _syntax_error(tmp: Path):
    (tmp / "broken_plugin.py").write_text("def encode(:\n")
    path = scenario_file(tmp, "syntax", {"transceivers": [{"name": "broken_plugin:X"}]})
    code, said = run_cli(["validate", str(path)])
    return code, said, code == 2 and "broken_plugin" in said and "line 1" in said, \
        "the file and line named"


# (fault, check): each check returns (exit code, what gscsim says, kept as promised, outcome)
FAULTS: list[tuple[str, Callable]] = [
    ("a trial file truncated by a crash", _damaged_store("truncated")),
    ("a trial file replaced by valid JSON of another kind", _damaged_store("other json")),
    ("a trial file of random bytes", _damaged_store("random bytes")),
    ("temporary files left by a killed run", _damaged_store("tmp")),
    ("the summary deleted after the run", _damaged_store("summary")),
    ("the manifest deleted after the run", _damaged_store("manifest")),
    ("a results folder moved after the run", _damaged_store("moved")),
    ("a second run on the same output folder while one holds it", _second_run),
    ("another scenario pointed at a used output folder", _other_scenario),
    ("a trial whose encoder raises", _fault_in_plugin("raise")),
    ("a trial whose encoder returns a tensor", _fault_in_plugin("tensor")),
    ("a trial whose encoder exceeds the budget", _fault_in_plugin("over")),
    ("a trial whose decoder returns 8-bit pixels", _fault_in_plugin("uint8")),
    ("a trial whose decoder returns NaN", _fault_in_plugin("nan")),
    ("a point the transceiver refuses", _fault_in_plugin("refuse")),
    ("Ctrl-C during the run", _fault_in_plugin("interrupt")),
    ("a transceiver that raises when built", _fault_in_plugin("build")),
    ("a plugin module with a syntax error", _syntax_error),
    ("a checkpoint retrained after the run", _checkpoint_changed("retrained")),
    ("a checkpoint deleted after the run", _checkpoint_changed("deleted")),
    ("a file where the plots folder goes", _plots_blocked),
    ("the disk full while a trial is written", _write_error),
]


def main_cases(out: Path) -> int:
    rows, bad = [], 0
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        (tmp / "a_file").write_text("")
        (tmp / "bad_profile").write_text("just a sentence")
        (tmp / "empty").mkdir()
        Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(tmp / "img.png")
        Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp / "small.png")
        Image.fromarray((np.arange(256, dtype=np.uint16).reshape(16, 16) * 257)).save(
            tmp / "deep.png")
        (tmp / "txt.txt").write_text("not an image")
        (tmp / "ber.yaml").write_text("name: b\nchains: []\nsnr_db: [1]\nchainz: 1\n")
        ok = scenario_file(tmp, "ok", {"output": str(tmp / "done")})
        main(["run", str(ok), "--quiet", "--no-plots"])
        used = scenario_file(tmp, "other", {"name": "other", "output": str(tmp / "used")})
        main(["run", str(used), "--quiet", "--no-plots"])
        values = {"tmp": str(tmp), "img": str(tmp / "img.png"), "small": str(tmp / "small.png"),
                  "deep": str(tmp / "deep.png"), "txt": str(tmp / "txt.txt"),
                  "ber": str(tmp / "ber.yaml"), "ok": str(ok)}
        for i, (what, change) in enumerate(SCENARIO_CASES):
            path = scenario_file(tmp, f"s{i}", change)
            command = "run" if "output" in change else "validate"
            code, said = run_cli([command, str(path)] + (["--quiet"] if command == "run" else []))
            rows.append(("scenario", what, code, said))
        for i, (what, text) in enumerate(FILE_CASES):
            path = tmp / f"f{i}.yaml"
            path.write_text(text)
            rows.append(("file", what, *run_cli(["validate", str(path)])))
        for what, argv in CLI_CASES:
            rows.append(("command", what, *run_cli([a.format(**values) for a in argv])))
        rows = [(kind, what, code, said.replace(str(tmp), "TMP"))
                for kind, what, code, said in rows]
        faults = []
        for what, check in FAULTS:
            code, said, kept, outcome = check(tmp)
            faults.append((what, code, said.replace(str(tmp), "TMP"), kept, outcome))
    for _, _, code, said in rows:
        bad += code not in (0, 1, 2) or "TRACEBACK" in said
    lines = ["# Bad input, case by case", "",
             "Made by `python benchmarks/bad_inputs.py`: each case run through the command line,",
             "with its exit code and the first line gscsim prints (0: a run that is correct as",
             "given; 1: an error in the run; 2: an error in the input; 130: interrupted). The",
             "faults at the end are injected into real runs and their aftermath checked.", "",
             f"{len(rows)} cases, {bad} ending in a traceback or an unexpected exit.", "",
             "| # | kind | case | exit | what gscsim says |", "|---|---|---|---|---|"]
    for i, (kind, what, code, said) in enumerate(rows, 1):
        said = said.replace("|", "\\|")
        lines.append(f"| {i} | {kind} | {what} | {code} | {said} |")
    failed = sum(not kept or code not in (0, 1, 2, 130) or "TRACEBACK" in said
                 for _, code, said, kept, _ in faults)
    bad += failed
    lines += ["", f"## Faults ({len(faults)})", "",
              "Each fault injected into a real run (a two-transceiver, two-SNR sweep: four "
              "trials), then checked: `as promised` says whether the files left match the "
              "outcome column (no finished trial lost, nothing recomputed that was intact).", "",
              f"{len(faults)} faults, {failed} not as promised.", "",
              "| # | fault | exit | what gscsim says | outcome | as promised |",
              "|---|---|---|---|---|---|"]
    for i, (what, code, said, kept, outcome) in enumerate(faults, 1):
        said = said.replace("|", "\\|")
        lines.append(f"| {i} | {what} | {code} | {said} | {outcome} | {'yes' if kept else 'NO'} |")
    lines.append("")
    out.write_text("\n".join(lines))
    print(f"{len(rows)} cases and {len(faults)} faults, {bad} bad; table in {out}")
    return 1 if bad else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="docs/bad_inputs.md")
    os.environ.setdefault("MPLBACKEND", "Agg")
    raise SystemExit(main_cases(Path(parser.parse_args().out)))
