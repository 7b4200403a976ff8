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
import io
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import yaml
from PIL import Image

from gscsim.cli import main

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
FAULTS = [
    "a trial file truncated by a crash", "a trial file replaced by valid JSON of another kind",
    "a trial file of random bytes", "temporary files left by a killed run",
    "a second run on the same output folder while one holds it",
    "a trial whose transceiver raises", "a trial whose encoder returns a tensor",
    "a trial whose decoder returns 8-bit pixels", "a trial whose decoder returns NaN",
    "a trial whose encoder exceeds the budget", "a transceiver that raises when built",
    "a plugin module with a syntax error", "a checkpoint deleted after the run",
    "a checkpoint retrained after the run", "Ctrl-C during the run",
    "a point the transceiver refuses", "the summary deleted after the run",
    "the manifest deleted after the run", "the plots folder made read-only",
    "a results folder moved after the run",
]


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
    text = (err.getvalue().strip() or out.getvalue().strip()).splitlines()
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
    for _, _, code, said in rows:
        bad += code not in (0, 1, 2) or "TRACEBACK" in said
    lines = ["# Bad input, case by case", "",
             "Made by `python benchmarks/bad_inputs.py`: each case run through the command line,",
             "with its exit code and the first line gscsim prints (0: a run that is correct as",
             "given; 1: an error in the run; 2: an error in the input). The faults are tested",
             "in `tests/test_bad_input.py` and `tests/test_runner.py`, listed at the end.", "",
             f"{len(rows)} cases, {bad} ending in a traceback or an unexpected exit.", "",
             "| # | kind | case | exit | what gscsim says |", "|---|---|---|---|---|"]
    for i, (kind, what, code, said) in enumerate(rows, 1):
        said = said.replace("|", "\\|")
        lines.append(f"| {i} | {kind} | {what} | {code} | {said} |")
    lines += ["", f"## Faults ({len(FAULTS)})", ""] + [f"- {f}" for f in FAULTS] + [""]
    out.write_text("\n".join(lines))
    print(f"{len(rows)} cases, {bad} bad; table in {out}")
    return 1 if bad else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="docs/bad_inputs.md")
    os.environ.setdefault("MPLBACKEND", "Agg")
    raise SystemExit(main_cases(Path(parser.parse_args().out)))
