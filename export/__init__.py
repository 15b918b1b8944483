"""Turn a Hugging Face sequence-classification checkpoint into a Triton model repository entry.

Importing this package must stay cheap (no torch): the gateway imports ``export.metadata``.
"""
