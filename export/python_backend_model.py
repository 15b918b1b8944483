"""Triton Python-backend model that runs ``model.onnx`` with ONNX Runtime on the CPU.

The export copies this file to ``<name>/<version>/model.py``. It exists because the native Triton
onnxruntime backend is not available outside NVIDIA's container; the CPU config
(``configs/cpu.pbtxt``) selects the Python backend, which loads this file, while the production
config on GPU uses ``backend: "onnxruntime"`` on the very same ``model.onnx``.

Triton's dynamic batcher hands ``execute`` a list of requests. Running them one by one would throw
the batching away, so same-shape requests are concatenated into one ONNX Runtime call and the
logits are split back per request.
"""

import json
import os
from pathlib import Path

import numpy as np
import onnxruntime as ort
import triton_python_backend_utils as pb_utils


def _parameter(model_config: dict, key: str, default: str) -> str:
    return model_config.get("parameters", {}).get(key, {}).get("string_value", default)


class TritonPythonModel:
    """Serve one ONNX classifier; the tensor names come from the model config."""

    def initialize(self, args: dict) -> None:
        model_config = json.loads(args["model_config"])
        self.input_names = [tensor["name"] for tensor in model_config["input"]]
        self.output_name = model_config["output"][0]["name"]

        options = ort.SessionOptions()
        # 0 means "one thread per core": a single instance batching on all cores beats several
        # instances competing for them, because batched matmuls use the cores better.
        intra_op_threads = int(_parameter(model_config, "intra_op_num_threads", "0"))
        options.intra_op_num_threads = intra_op_threads or (os.cpu_count() or 1)
        options.inter_op_num_threads = 1
        # "0": threads sleep between batches instead of spinning on cores the server's other threads need.
        spinning = _parameter(model_config, "intra_op_allow_spinning", "1")
        options.add_session_config_entry("session.intra_op.allow_spinning", spinning)
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL

        model_path = Path(args["model_repository"]) / args["model_version"] / "model.onnx"
        self.session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])

    def execute(self, requests: list) -> list:
        inputs = [
            [pb_utils.get_input_tensor_by_name(request, name).as_numpy() for name in self.input_names]
            for request in requests
        ]
        responses: list = [None] * len(requests)
        by_shape: dict[tuple, list[int]] = {}
        for index, tensors in enumerate(inputs):
            by_shape.setdefault(tensors[0].shape[1:], []).append(index)

        for indices in by_shape.values():
            feeds = {
                name: np.concatenate([inputs[i][position] for i in indices])
                for position, name in enumerate(self.input_names)
            }
            try:
                logits = self.session.run([self.output_name], feeds)[0]
            except Exception as error:  # report to the client instead of killing the stub
                for i in indices:
                    responses[i] = pb_utils.InferenceResponse(error=pb_utils.TritonError(str(error)))
                continue
            offsets = np.cumsum([0] + [inputs[i][0].shape[0] for i in indices])
            for i, start, end in zip(indices, offsets[:-1], offsets[1:], strict=True):
                output = pb_utils.Tensor(self.output_name, logits[start:end].astype(np.float32))
                responses[i] = pb_utils.InferenceResponse(output_tensors=[output])
        return responses
