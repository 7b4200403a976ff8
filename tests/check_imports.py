"""The project's import rules, checked on the source (every import statement, including those
inside functions): `python tests/check_imports.py` prints each violation and exits 1.

1. No import cycle among gscsim's modules.
2. No transceiver, model, zoo or other non-training module imports a training module (the
   gscsim.training package, or a module whose name starts with `train`).
3. Nothing under gscsim/ imports a baseline's model file (gscsim.baselines.*.model): blocks that
   two families share live in gscsim.nn.
"""
from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# source folder -> the package name it installs as (setup.cfg package_dir)
SOURCES = {"gscsim": "gscsim", "baselines": "gscsim.baselines", "channels": "gscsim.channels"}


def modules(root: Path = ROOT) -> dict[str, Path]:
    """{module name: file} of every module of the installed packages."""
    out = {}
    for folder, package in SOURCES.items():
        for path in sorted((root / folder).rglob("*.py")):
            parts = list(path.relative_to(root / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join([package, *parts])] = path
    return out


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The gscsim modules that module `name` (at `path`) imports anywhere in its body."""
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            # `from pkg import sub` imports the submodule pkg.sub where there is one
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base
                       for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:       # a name inside a module -> the module
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def graph(root: Path = ROOT) -> dict[str, set[str]]:
    mods = modules(root)
    known = set(mods)
    return {name: imports(name, path, known) for name, path in mods.items()}


def is_training(module: str) -> bool:
    return (module == "gscsim.training" or module.startswith("gscsim.training.")
            or module.rpartition(".")[2].startswith("train"))


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected set of two or more modules (Tarjan), as sorted lists."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def violations(root: Path = ROOT) -> list[str]:
    edges = graph(root)
    out = [f"import cycle: {' <-> '.join(c)}" for c in cycles(edges)]
    for module, targets in sorted(edges.items()):
        for target in sorted(targets):
            if is_training(target) and not is_training(module):
                out.append(f"{module} imports the training module {target}")
            in_core = not module.startswith(("gscsim.baselines", "gscsim.channels"))
            if in_core and target.startswith("gscsim.baselines.") and target.endswith(".model"):
                out.append(f"{module} imports the baseline model file {target}")
    return out


if __name__ == "__main__":
    problems = violations()
    for line in problems:
        print(line)
    print(f"{len(problems)} import rule violations in {len(graph())} modules")
    sys.exit(1 if problems else 0)
