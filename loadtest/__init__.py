"""Load tests, benchmarks and accuracy checks for the sentiment service.

``locustfile.py`` drives a running gateway for soak and capacity tests; ``bench`` measures every
layer of the stack against the in-process limit in one run; ``eval`` checks that the served
labels are the checkpoint's labels. They share one corpus loader (``corpus``).
"""
