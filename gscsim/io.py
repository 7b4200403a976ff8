"""Everything gscsim reads from or writes to disk goes through here: atomic writes of text, JSON,
numpy arrays and torch objects; YAML files validated against a schema, with every problem
reported by field path; CSV tables; and the cache folder."""
from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, TypeVar

import yaml
from pydantic import BaseModel, ValidationError


def cache_dir() -> Path:
    """Where gscsim keeps what it computes or fetches once (FID reference features, rendered
    scene splits, downloaded data): $GSCSIM_CACHE, or ~/.cache/gscsim."""
    return Path(os.environ.get("GSCSIM_CACHE", Path.home() / ".cache" / "gscsim"))


# ---------------------------------------------------------------- atomic writes


@contextmanager
def atomic_file(path: Path) -> Iterator[Path]:
    """A temporary path beside `path` to write to; when the block ends it replaces `path`, so
    readers see the old file or the whole new one, never a part. On an error it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    umask = os.umask(0)                      # mkstemp makes the file private; results and
    os.umask(umask)                          # checkpoints get the usual permissions instead
    os.chmod(tmp, 0o666 & ~umask)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text(path: Path, text: str) -> None:
    """Write `text` to `path` atomically (see atomic_file), flushed to disk."""
    with atomic_file(path) as tmp, tmp.open("w", encoding="utf-8", newline="") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` atomically."""
    with atomic_file(path) as tmp:
        tmp.write_bytes(data)


def safe_name(text: str) -> str:
    """`text` as a file name: letters, digits and . _ - kept, anything else as -."""
    return "".join(c if c.isalnum() or c in "._-" else "-" for c in text) or "-"


def write_json(path: Path, obj: Any, indent: int | None = None) -> None:
    """`obj` as JSON (NaN and inf allowed), written atomically."""
    write_text(path, json.dumps(obj, allow_nan=True, indent=indent))


def save_torch(obj: Any, path: Path) -> None:
    """torch.save, atomically: a crash leaves the old file whole."""
    import torch

    with atomic_file(path) as tmp:
        torch.save(obj, tmp)


def save_numpy(array: Any, path: Path) -> None:
    """numpy.save, atomically."""
    import numpy as np

    with atomic_file(path) as tmp, tmp.open("wb") as handle:
        np.save(handle, array)


# ---------------------------------------------------------------- YAML with field errors


class ScenarioError(ValueError):
    """An input file that cannot be used; the message lists every problem with its field path,
    e.g. `scenarios/x.yaml: transceivers[0].name: unknown transceiver 'foo'; known: softcast`."""

    def __init__(self, source: str, problems: list[tuple[str, str]]):
        self.source, self.problems = source, problems
        lines = [f"  {path or '(top level)'}: {message}" for path, message in problems]
        noun = "problem" if len(problems) == 1 else "problems"
        super().__init__(f"{source}: {len(problems)} {noun}\n" + "\n".join(lines))


def field_path(loc: tuple) -> str:
    """A pydantic error location as a field path: ('links', 0, 'name') -> links[0].name."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def error_message(error: dict) -> str:
    """One pydantic error as a sentence for a user."""
    msg = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        return "unknown field (check its spelling)"
    if error["type"] == "missing":
        return "required field is missing"
    if "input" in error:
        return f"{msg} (got {error['input']!r})"
    return msg


def field_errors(err: ValidationError, prefix: str = "") -> list[tuple[str, str]]:
    """(field path, message) of every error in a pydantic ValidationError."""
    return [(prefix + field_path(e["loc"]) if e["loc"] else prefix.rstrip("."), error_message(e))
            for e in err.errors()]


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a mapping that repeats a key (PyYAML keeps the last)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"the key {key!r} appears twice", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


def read_yaml(path: Path) -> Any:
    """The parsed content of a YAML file (safe loading; a repeated key is an error); a missing,
    unreadable or malformed file is a ScenarioError."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(str(path), [("", "file not found")]) from None
    except (OSError, UnicodeDecodeError) as err:
        raise ScenarioError(str(path), [("", f"cannot read the file ({err})")]) from None
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as err:
        raise ScenarioError(str(path), [("", f"not valid YAML: {err}")]) from None


Schema = TypeVar("Schema", bound=BaseModel)


def validated(raw: Any, schema: type[Schema], source: str) -> Schema:
    """`raw` (parsed YAML) validated against `schema`; errors name `source` and each field."""
    try:
        return schema.model_validate(raw if raw is not None else {})
    except ValidationError as err:
        raise ScenarioError(source, field_errors(err)) from None


def load_yaml(path: str | Path, schema: type[Schema]) -> Schema:
    """Read a YAML file and validate it against `schema` (see validated)."""
    return validated(read_yaml(Path(path)), schema, str(path))


def shipped_config(name_or_path: str | Path, config_dir: Path) -> Path:
    """A config file path, or the name of a config shipped in `config_dir`."""
    path = Path(name_or_path)
    if path.exists() or path.suffix:
        return path
    shipped = config_dir / f"{name_or_path}.yaml"
    if not shipped.exists():
        names = sorted(p.stem for p in config_dir.glob("*.yaml"))
        raise FileNotFoundError(f"--config {name_or_path}: no such file, and no shipped config of "
                                f"that name (shipped: {', '.join(names)})")
    return shipped


# ---------------------------------------------------------------- CSV tables


def to_csv(rows: list[dict[str, Any]]) -> str:
    """Rows as CSV text; columns in order of first appearance, floats written exactly."""
    columns: list[str] = []
    for row in rows:
        columns += [c for c in row if c not in columns]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: _cell(row.get(c, "")) for c in columns})
    return buffer.getvalue()


def _cell(value: Any) -> Any:
    return repr(value) if isinstance(value, float) else value


def read_csv(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a gscsim CSV with numeric cells converted to float."""
    with open(path, newline="", encoding="utf-8") as handle:
        return [{k: _number(v) for k, v in row.items()} for row in csv.DictReader(handle)]


def tabulated(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows exactly as read_csv returns them once to_csv has written them: every row with
    every column ("" where it had none), numbers as floats. Lets a table in memory be used
    where the file would be read."""
    columns: list[str] = []
    for row in rows:
        columns += [c for c in row if c not in columns]
    return [{c: _number(str(_cell(row.get(c, "")))) for c in columns} for row in rows]


def _number(text: str) -> Any:
    try:
        return float(text)
    except ValueError:
        return text
