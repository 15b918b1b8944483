"""Baselines the benchmark compares against; nothing here is part of the served product."""
