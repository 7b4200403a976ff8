"""The docs: the site builds in strict mode (broken links, missing pages and anchors fail), the
README stays a short user guide, and every `gscsim` command the README and the docs show parses
with the real command line, names files that exist and scenarios that validate; the cheap ones
run here as written."""
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from gscsim.cli import build_parser, main

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md"] + sorted((REPO / "docs").rglob("*.md"))
# Words in commands that stand for the reader's own files or hosts.
PLACEHOLDERS = {"FILE", "NAME", "OUTPUT", "REF.png", "DIST.png", "tcp://HOST:8786", "TRANSCEIVER"}


def shown_commands() -> list[tuple[Path, str]]:
    """Every `gscsim ...` line inside a ```bash block of the README and the docs pages."""
    found = []
    for page in PAGES:
        inside = False
        for line in page.read_text(encoding="utf-8").splitlines():
            if line.startswith("```"):
                inside = line.strip() in ("```bash", "```sh", "```console")
                continue
            if inside:
                for part in re.split(r"\s*&&\s*", line.split("  #")[0].strip()):
                    if part.startswith("gscsim "):
                        found.append((page, part))
    return found


def test_the_site_builds_strictly(tmp_path):
    pytest.importorskip("mkdocs")
    pytest.importorskip("material")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d",
                           str(tmp_path / "site")], cwd=REPO, capture_output=True, text=True,
                          env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    reference = (tmp_path / "site" / "reference" / "scenario" / "index.html").read_text()
    assert "keep_frames" in reference and "stream_snr_db" in reference


def test_the_generated_reference_is_up_to_date():
    from gscsim.reference import refresh_docs

    stale = refresh_docs(REPO / "docs", check=True)
    assert not stale, f"stale generated tables in {stale}: run `python -m gscsim.reference`"


def test_readme_is_a_short_user_guide():
    lines = (REPO / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) < 300
    for topic in ("## The two commands", "scenario", "gscsim ber", "Adding a transceiver",
                  "Result files", "docs/"):
        assert any(topic in line for line in lines), topic


def test_the_shown_commands_exist_as_written():
    commands = shown_commands()
    assert len(commands) > 25
    parser = build_parser()
    configs = {p.stem for p in REPO.rglob("configs/*.yaml")}
    for page, command in commands:
        argv = shlex.split(command)[1:]
        if any(word in PLACEHOLDERS or word.startswith("results/NAME") for word in argv):
            continue
        try:
            args = parser.parse_args(argv)
        except SystemExit:
            pytest.fail(f"{page.name}: `{command}` does not parse")
        for word in argv:
            if word.endswith((".yaml", ".ipynb", ".py")):
                assert (REPO / word).exists(), f"{page.name}: `{command}` names a missing {word}"
        if args.command in ("run", "validate"):
            for scenario in [args.scenario] if args.command == "run" else args.scenario:
                assert main(["validate", "--schema-only", str(REPO / scenario)]) == 0
        if args.command == "train":
            assert args.config in configs, f"{page.name}: `{command}`: no config {args.config}"


def test_the_cheap_commands_run_as_written(monkeypatch, capsys):
    monkeypatch.chdir(REPO)
    cheap = {"list", "validate"}
    ran = 0
    for _, command in shown_commands():
        argv = shlex.split(command)[1:]
        if argv[0] in cheap and not any(w in PLACEHOLDERS for w in argv):
            schema_only = ["--schema-only"] if argv[0] == "validate" else []
            assert main(argv[:1] + schema_only + argv[1:]) == 0, command
            ran += 1
    assert ran >= 2
    capsys.readouterr()


def test_the_readme_transceiver_runs_from_a_scenario_beside_it(tmp_path, tiny_scenario):
    from gscsim.io import read_csv

    text = (REPO / "README.md").read_text(encoding="utf-8")
    code = text.split("## Adding a transceiver")[1].split("```python\n")[1].split("```")[0]
    (tmp_path / "half_pixels.py").write_text(code)
    tiny_scenario |= {"transceivers": [{"name": "half_pixels:HalfPixels"}],
                      "channels": [{"name": "awgn"}],
                      "sweep": {"snr_db": [0, 20], "cbr": ["1/8", "1/48"]},
                      "output": str(tmp_path / "out")}
    import yaml

    (tmp_path / "s.yaml").write_text(yaml.safe_dump(tiny_scenario))
    assert main(["run", str(tmp_path / "s.yaml"), "--quiet", "--no-plots"]) == 0
    rows = {(r["snr_db"], r["cbr"]): r for r in read_csv(tmp_path / "out" / "summary.csv")}
    assert rows[(20.0, 0.125)]["psnr"] > rows[(0.0, 0.125)]["psnr"] + 5 > 15
    assert rows[(20.0, 0.125)]["achieved_cbr"] == pytest.approx(0.125)
    assert "smallest CBR it serves is 0.125" in rows[(0.0, 1 / 48)]["refused"]
