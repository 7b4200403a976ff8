"""Baseline transceivers (installed as `gscsim.baselines`)."""
