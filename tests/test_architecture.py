"""The import rules of tests/check_imports.py hold for the source, and the checker finds what
it is meant to find."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import check_imports  # noqa: E402


def test_the_source_follows_the_import_rules():
    assert check_imports.violations() == []


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name in ("gscsim", "baselines", "channels"):
        (root / name).mkdir(parents=True, exist_ok=True)
        (root / name / "__init__.py").write_text("")
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_the_checker_finds_cycles_hidden_in_functions_and_backward_arrows(tmp_path):
    root = _tree(tmp_path, {
        "gscsim/a.py": "def f():\n    from gscsim import b\n",
        "gscsim/b.py": "from . import a\n",
        "gscsim/training/__init__.py": "",
        "gscsim/training/loop.py": "X = 1\n",
        "gscsim/fam/__init__.py": "",
        "gscsim/fam/zoo.py": "from gscsim.training.loop import X\n",
        "gscsim/fam/train.py": "from gscsim.fam.zoo import *\n",
        "gscsim/uses_rival.py": "def g():\n    import gscsim.baselines.rival.model\n",
        "baselines/rival/__init__.py": "",
        "baselines/rival/model.py": "",
        "baselines/rival/transceiver.py": "from gscsim.baselines.rival.model import M\n",
    })
    found = check_imports.violations(root)
    assert "import cycle: gscsim.a <-> gscsim.b" in found
    assert "gscsim.fam.zoo imports the training module gscsim.training.loop" in found
    assert ("gscsim.uses_rival imports the baseline model file gscsim.baselines.rival.model"
            in found)
    assert len(found) == 3          # the trainer and the baseline's own transceiver are fine
