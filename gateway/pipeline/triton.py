"""The one place that talks to Triton: pooled async HTTP client, binary tensors, errors translated.

Every failure leaves this module as a ``GatewayError`` with the status the client should see, so
nothing above it needs to know about aiohttp or tritonclient exceptions.
"""

import asyncio
import logging
import time

import aiohttp
import numpy as np
import tritonclient.http.aio as triton_http
from tritonclient.utils import InferenceServerException

from contract.metadata import ServingMetadata
from gateway import metrics
from gateway.errors import (
    GatewayError,
    InferenceFailed,
    InferenceTimeout,
    ModelMismatch,
    ModelUnavailable,
    Overloaded,
)
from gateway.settings import Settings

logger = logging.getLogger("gateway.pipeline.triton")

SUPPORTED_INPUTS = ("input_ids", "attention_mask")
# What Triton says when the model is unloaded or still loading (HTTP 400, not 503).
MODEL_GONE_SIGNS = ("unknown model", "not found", "no available versions", "not ready")


def translate_triton_error(error: InferenceServerException, retry_after_s: int) -> GatewayError:
    """Map Triton's answer to what our client should do: back off (429), retry later (503), or give up."""
    message = error.message() or ""
    lowered = message.lower()
    if "exceeds maximum queue size" in lowered:
        return Overloaded(f"Triton's queue is full: {message}", headers={"Retry-After": str(retry_after_s)})
    if "timeout" in lowered or "timed out" in lowered:
        return InferenceTimeout(f"Triton did not run the request within the deadline: {message}")
    if error.status() == "503" or any(sign in lowered for sign in MODEL_GONE_SIGNS):
        return ModelUnavailable(
            f"the model is not available on Triton: {message}", headers={"Retry-After": str(retry_after_s)}
        )
    return InferenceFailed(f"Triton failed to run the model: {message}")


class TritonModel:
    """One served model version on one Triton; one instance (and connection pool) per worker."""

    def __init__(self, settings: Settings, metadata: ServingMetadata, version: str) -> None:
        self.settings = settings
        self.metadata = metadata
        self.version = version
        self.client = triton_http.InferenceServerClient(
            settings.triton_url,
            conn_limit=settings.triton_connections,
            # Outlasts the call's own backstop (see infer), so that one is what ends a hung call.
            conn_timeout=settings.triton_backstop_s + 5,
        )
        self.verified = False

    def _unavailable(self, message: str) -> ModelUnavailable:
        return ModelUnavailable(message, headers={"Retry-After": str(self.settings.retry_after_s)})

    async def verify(self) -> None:
        """Check that Triton serves the model the export described; raise ``ModelMismatch`` if not.

        Names, types and the number of labels must agree, or the gateway would feed the wrong
        tensors or mislabel the logits.
        """
        served = await self.client.get_model_metadata(self.metadata.model_name, model_version=self.version)
        problems = []
        inputs = {tensor["name"]: tensor["datatype"] for tensor in served["inputs"]}
        if set(inputs) != set(self.metadata.input_names):
            problems.append(f"Triton's inputs are {sorted(inputs)}, the export wrote {self.metadata.input_names}")
        if unsupported := set(self.metadata.input_names) - set(SUPPORTED_INPUTS):
            problems.append(f"the gateway cannot build inputs {sorted(unsupported)}")
        if any(datatype != self.metadata.input_dtype for datatype in inputs.values()):
            problems.append(f"Triton's input types are {inputs}, expected {self.metadata.input_dtype}")
        outputs = {tensor["name"]: tensor["shape"] for tensor in served["outputs"]}
        shape = outputs.get(self.metadata.output_name)
        if shape is None or shape[-1] != len(self.metadata.labels):
            problems.append(
                f"Triton's output {self.metadata.output_name} has shape {shape}, "
                f"expected {len(self.metadata.labels)} logits for labels {self.metadata.labels}"
            )
        if problems:
            raise ModelMismatch(
                f"model {self.metadata.model_name!r} version {self.version} on {self.settings.triton_url} "
                "does not match its serving metadata: " + "; ".join(problems)
            )
        self.verified = True

    async def ready(self) -> tuple[bool, str | None]:
        """Whether requests can be served now, and why not."""
        try:
            async with asyncio.timeout(self.settings.readiness_timeout_s):
                if not await self.client.is_model_ready(self.metadata.model_name, self.version):
                    return False, f"Triton reports model {self.metadata.model_name!r} version {self.version} not ready"
                if not self.verified:
                    await self.verify()
        except ModelMismatch as mismatch:
            return False, str(mismatch)
        except (aiohttp.ClientError, OSError, TimeoutError, InferenceServerException) as error:
            return False, f"Triton at {self.settings.triton_url} unreachable: {type(error).__name__} {error}"
        return True, None

    async def infer(self, input_ids: np.ndarray, attention_mask: np.ndarray, deadline: float) -> np.ndarray:
        """Logits for one padded batch (one shape); ``deadline`` is when its last caller stops waiting.

        Triton gets the time left as the request's queue timeout, so where its config honours it a request
        that could only start too late is dropped there instead of using the model for an answer nobody
        waits for. Once sent, the call waits for Triton's answer past ``deadline`` (callers already had
        their 504 from the coalescer): HTTP cannot cancel a request Triton runs, so giving up at the
        deadline would only free the caller's call slot for more work while Triton still computes this
        one. Only ``GATEWAY_TRITON_BACKSTOP_S`` ends a call Triton never answers.
        """
        if not self.verified:
            ready, reason = await self.ready()
            if not ready:
                raise self._unavailable(reason or "model not ready")
        time_left_s = deadline - asyncio.get_running_loop().time()
        if time_left_s <= 0:
            raise InferenceTimeout(f"the {self.settings.triton_timeout_s:g} s deadline passed before Triton was called")
        tensors = {"input_ids": input_ids, "attention_mask": attention_mask}
        inputs = []
        for name in self.metadata.input_names:
            infer_input = triton_http.InferInput(name, list(tensors[name].shape), self.metadata.input_dtype)
            infer_input.set_data_from_numpy(tensors[name], binary_data=True)
            inputs.append(infer_input)
        outputs = [triton_http.InferRequestedOutput(self.metadata.output_name, binary_data=True)]

        started = time.perf_counter()
        outcome = "ok"
        try:
            async with asyncio.timeout(self.settings.triton_backstop_s):
                result = await self.client.infer(
                    self.metadata.model_name,
                    inputs,
                    model_version=self.version,
                    outputs=outputs,
                    timeout=int(time_left_s * 1_000_000),
                )
        except TimeoutError as error:
            outcome = "timeout"
            raise InferenceTimeout(
                f"Triton did not answer within {self.settings.triton_backstop_s:g} s (GATEWAY_TRITON_BACKSTOP_S)"
            ) from error
        except (aiohttp.ClientError, OSError) as error:
            outcome = "unreachable"
            self.verified = False  # Triton may come back with another model; check again
            raise self._unavailable(f"Triton at {self.settings.triton_url} unreachable: {error}") from error
        except InferenceServerException as error:
            translated = translate_triton_error(error, self.settings.retry_after_s)
            outcome = translated.error_type
            raise translated from error
        finally:
            metrics.TRITON_LATENCY.labels(bucket=str(input_ids.shape[1]), outcome=outcome).observe(
                time.perf_counter() - started
            )
        return result.as_numpy(self.metadata.output_name)

    async def close(self) -> None:
        await self.client.close()
