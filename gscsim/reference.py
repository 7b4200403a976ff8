"""Reference tables generated from the pydantic models themselves: the scenario file's fields
and each plugin's options (name, type, default, meaning), as Markdown for the docs pages and as
plain text for `gscsim list NAME`. `python -m gscsim.reference` rewrites the generated regions
of the docs pages; a test fails when a page is stale, so they cannot drift from the code."""
from __future__ import annotations

import re
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from gscsim import registry


def type_name(annotation: Any) -> str:
    """A reader's name for a field's type: `int`, `list[float]`, `'a' | 'b'`, `X | None`."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Literal:
        return " | ".join(repr(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(type_name(a) for a in args)
    if origin is typing.Annotated:
        return type_name(args[0])
    if origin is not None:
        inner = ", ".join(type_name(a) for a in args)
        return f"{getattr(origin, '__name__', str(origin))}[{inner}]"
    if annotation is type(None):
        return "None"
    return getattr(annotation, "__name__", str(annotation))


def default_text(info: FieldInfo) -> str:
    """The default as YAML would spell it, or `required`."""
    if info.is_required():
        return "required"
    if info.default_factory is not None:
        value = info.default_factory()
    else:
        value = info.default
    if value is PydanticUndefined:
        return "required"
    if isinstance(value, BaseModel):
        return "(see below)"
    return "null" if value is None else repr(value)


def _nested(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models a field's type refers to (documented in sections of their own)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for a in typing.get_args(annotation) for m in _nested(a)]


def rows(model: type[BaseModel]) -> list[tuple[str, str, str, str]]:
    """(field, type, default, meaning) for every field of `model`, in declaration order."""
    return [(name, type_name(info.annotation), default_text(info),
             " ".join((info.description or "").split()))
            for name, info in model.model_fields.items()]


def markdown_table(model: type[BaseModel]) -> str:
    """A Markdown table of `model`'s fields (a line saying there are none if so)."""
    table = rows(model)
    if not table:
        return "No options.\n"
    lines = ["| field | type | default | meaning |", "|---|---|---|---|"]
    for name, kind, default, meaning in table:
        meaning = meaning.replace("<", "&lt;").replace(">", "&gt;")     # not HTML tags
        cells = [f"`{name}`", f"`{kind}`", f"`{default}`", meaning]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def scenario_reference() -> str:
    """Every section of the scenario file: the top-level fields, then each nested model."""
    from gscsim.run.scenario import Scenario

    out, seen, queue = [], set(), [("scenario file (top level)", Scenario)]
    while queue:
        title, model = queue.pop(0)
        if model in seen:
            continue
        seen.add(model)
        doc = " ".join((model.__doc__ or "").split())
        out += [f"## {title}", ""] + ([doc, ""] if doc else []) + [markdown_table(model)]
        for name, info in model.model_fields.items():
            for nested in _nested(info.annotation):
                if nested not in seen:
                    queue.append((f"`{name}` ({nested.__name__})", nested))
    return "\n".join(out)


def plugin_reference(kind: str) -> str:
    """One section per registered plugin of `kind`: its summary line and options table."""
    out = []
    for name in sorted(registry.available(kind)):
        cls = registry.resolve(kind, name)
        out += [f"### `{name}`", "", cls.summary(), "", markdown_table(cls.Options)]
    return "\n".join(out)


def options_text(name: str) -> str:
    """`gscsim list NAME`: the plugin's kind, summary and options with types, defaults and
    meanings, as plain text. Raises registry.PluginError for an unknown name."""
    for kind in registry.KINDS:
        if name in registry.available(kind):
            cls = registry.resolve(kind, name)
            lines = [f"{name} ({kind[:-1]}): {cls.summary()}", ""]
            table = rows(cls.Options)
            if not table:
                return "\n".join(lines + ["no options"])
            width = max(len(r[0]) for r in table)
            for field, kind_, default, meaning in table:
                lines.append(f"  {field:{width}s}  {kind_}, default {default}")
                if meaning:
                    lines.append(f"  {'':{width}s}  {meaning}")
            return "\n".join(lines)
    known = sorted(n for kind in registry.KINDS for n in registry.available(kind))
    raise registry.PluginError(f"no plugin named '{name}'; known: {', '.join(known)}")


# ------------------------------------------------- the generated regions of the docs pages

REGION = re.compile(r"(<!-- gscsim:(scenario|plugins|options) ?([\w-]*) -->\n)(.*?)"
                    r"(<!-- /gscsim -->)", re.S)


def _generated(kind: str, argument: str) -> str:
    if kind == "scenario":
        return scenario_reference()
    if kind == "plugins":
        return plugin_reference(argument)
    for group in registry.KINDS:
        if argument in registry.available(group):
            return markdown_table(registry.resolve(group, argument).Options)
    raise registry.PluginError(f"docs: <!-- gscsim:options {argument} --> names no plugin")


def refresh(text: str) -> str:
    """`text` with every region between `<!-- gscsim:scenario -->`, `<!-- gscsim:plugins
    KIND -->` or `<!-- gscsim:options NAME -->` and `<!-- /gscsim -->` regenerated."""
    return REGION.sub(lambda m: m.group(1) + "\n" + _generated(m.group(2), m.group(3)).strip()
                      + "\n\n" + m.group(5), text)


def refresh_docs(docs: Path, check: bool = False) -> list[Path]:
    """Regenerate the regions of every Markdown page under `docs` (with `check`, only report);
    return the pages that were (or would be) changed."""
    changed = []
    for page in sorted(Path(docs).rglob("*.md")):
        text = page.read_text(encoding="utf-8")
        fresh = refresh(text)
        if fresh != text:
            changed.append(page)
            if not check:
                page.write_text(fresh, encoding="utf-8")
    return changed


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(
        description="Regenerate the reference tables in the docs pages from the code.")
    parser.add_argument("docs", nargs="?", default="docs")
    parser.add_argument("--check", action="store_true", help="only list stale pages; exit 1")
    args = parser.parse_args()
    stale = refresh_docs(Path(args.docs), check=args.check)
    for page in stale:
        print(("stale: " if args.check else "regenerated: ") + str(page))
    raise SystemExit(1 if args.check and stale else 0)
