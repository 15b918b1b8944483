"""Hypothesis settings and the window length the property tests share, fast tier and slow alike."""

from hypothesis import settings

PURE = settings(max_examples=100, deadline=None, database=None)
# The model maximum the pure batch-plan properties and the real tokenizer's property both cut windows to.
MAX_LENGTH = 64
