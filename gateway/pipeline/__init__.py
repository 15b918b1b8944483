"""The inference pipeline behind the routes: cache -> tokenize -> bucket -> coalesce on Triton -> labels, and drift.

It knows nothing of HTTP: it takes texts and options and returns results, or raises a ``gateway.errors`` error.
"""
