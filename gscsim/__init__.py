"""gscsim: a link-level, physical-layer-first simulator for generative semantic communication."""

__version__ = "0.1.0"
