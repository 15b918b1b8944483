"""The HTTP front door: tokenize, pad to length buckets, infer on Triton, answer with labels and scores.

Request path, one module each: ``routes`` (HTTP) -> ``service`` (the pipeline) -> ``tokenization``
(text to bucketed tensors) -> ``triton`` (the inference call) -> ``postprocess`` (logits to labels).
"""

__version__ = "0.1.0"
