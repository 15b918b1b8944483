"""Run the real ``tritonserver`` 2.51 binary that ships in the ``nvidia-pytriton`` wheel, on CPU.

Only the binary and its Python backend are used, never PyTriton's Python API: the server reads our
own model repository exactly as the official container would, with ``--model-config-name=cpu``
selecting the CPU config.
"""
