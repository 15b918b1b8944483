"""Turn a Hugging Face sequence-classification checkpoint into a Triton model repository entry.

What the export writes for others to read (the serving metadata, the drift profile) is defined in ``contract``.
"""
