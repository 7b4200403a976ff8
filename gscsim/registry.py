"""The plugin registry, fed by Python entry-point groups.

Built-ins register in setup.cfg exactly as a third-party package would. A scenario may also name
a plugin as "module:Class" (a module importable from the scenario's folder or sys.path), which is
how a user tries a transceiver written in one file before packaging it.
"""
from __future__ import annotations

import importlib
import sys
from functools import lru_cache
from importlib.metadata import entry_points
from pathlib import Path

from gscsim.plugins import Channel, Dataset, Metric, Plugin, Transceiver

KINDS: dict[str, type[Plugin]] = {
    "transceivers": Transceiver,
    "channels": Channel,
    "datasets": Dataset,
    "metrics": Metric,
}


class PluginError(LookupError):
    """A plugin name that cannot be resolved, with the list of known names."""


def group(kind: str) -> str:
    return f"gscsim.{kind}"


@lru_cache(maxsize=None)
def _entry_points(kind: str) -> dict:
    return {ep.name: ep for ep in entry_points(group=group(kind))}


def available(kind: str) -> dict[str, str]:
    """{name: "module:attr"} of every installed plugin of `kind`."""
    return {name: ep.value for name, ep in _entry_points(kind).items()}


def resolve(kind: str, name: str, search_dir: Path | None = None) -> type[Plugin]:
    """The plugin class registered as `name`, or named by a "module:Class" reference."""
    base = KINDS[kind]
    known = available(kind)
    if name in known:
        obj = _entry_points(kind)[name].load()
    elif ":" in name:
        obj = _load_reference(name, search_dir)
    else:
        listing = ", ".join(sorted(known)) or "(none installed)"
        raise PluginError(
            f"unknown {kind[:-1]} '{name}'; known: {listing} "
            f"(or give a 'module:Class' reference to your own class)"
        )
    if not (isinstance(obj, type) and issubclass(obj, base)):
        raise PluginError(f"'{name}' is not a subclass of gscsim.plugins.{base.__name__}")
    return obj


def _load_reference(reference: str, search_dir: Path | None) -> object:
    module_name, _, attr = reference.partition(":")
    if search_dir is not None and str(search_dir) not in sys.path:
        sys.path.insert(0, str(search_dir))
    try:
        module = importlib.import_module(module_name)
    except Exception as err:           # ImportError, or the module's own error (SyntaxError...)
        raise PluginError(f"cannot import module '{module_name}' of '{reference}': "
                          f"{type(err).__name__}: {err}") from err
    try:
        return getattr(module, attr)
    except AttributeError:
        raise PluginError(f"module '{module_name}' has no attribute '{attr}'") from None
