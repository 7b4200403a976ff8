"""gscsim: a link-level, physical-layer-first simulator for generative semantic communication.

In Python: `gscsim.simulate(scenario)` runs a scenario (a YAML file or a dict) and
`gscsim.load(folder)` reads a finished run, both as `gscsim.api.Results` (pandas tables,
matplotlib figures, the HTML report). The command line is `gscsim` (gscsim.cli).
"""

__version__ = "0.1.0"

__all__ = ["Results", "load", "simulate"]


def __getattr__(name: str):
    """`simulate`, `load` and `Results` come from gscsim.api, imported on first use so that
    `import gscsim` stays light (pandas and the engine load only when asked for)."""
    if name in __all__:
        from gscsim import api

        return getattr(api, name)
    raise AttributeError(f"module 'gscsim' has no attribute {name!r}")
