"""Python-backend model that sleeps, then answers neutral logits (see config.pbtxt)."""

import json
import time

import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args: dict) -> None:
        config = json.loads(args["model_config"])
        self.sleep_s = float(config["parameters"]["SLEEP_S"]["string_value"])

    def execute(self, requests: list) -> list:
        time.sleep(self.sleep_s)
        responses = []
        for request in requests:
            batch = pb_utils.get_input_tensor_by_name(request, "input_ids").as_numpy().shape[0]
            logits = pb_utils.Tensor("logits", np.zeros((batch, 2), dtype=np.float32))
            responses.append(pb_utils.InferenceResponse(output_tensors=[logits]))
        return responses
