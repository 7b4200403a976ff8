"""Procedural 3-D scenes with exact depth, instance masks, scene graphs and captions."""
