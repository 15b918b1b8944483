"""Helpers of the gateway tests that test modules import (conftest modules cannot be imported by name)."""

import dataclasses
from pathlib import Path

from localtriton.server import TritonServer
from support import MAX_BODY_BYTES, MAX_TEXT_CHARS, MAX_TEXTS


def gateway_settings(triton_url: str, repository: Path, model: str, **overrides: str) -> dict[str, str]:
    return {
        "GATEWAY_TRITON_URL": triton_url,
        "GATEWAY_MODEL_REPOSITORY": str(repository),
        "GATEWAY_MODEL_NAME": model,
        "GATEWAY_WORKERS": "1",
        "GATEWAY_MAX_TEXTS_PER_REQUEST": str(MAX_TEXTS),
        "GATEWAY_MAX_TEXT_CHARS": str(MAX_TEXT_CHARS),
        "GATEWAY_MAX_BODY_BYTES": str(MAX_BODY_BYTES),
        "GATEWAY_RATE_LIMIT": "",  # tests that want a quota set one
        "GATEWAY_CACHE_SIZE": "0",  # every request reaches Triton, unless a test turns the cache on
        **overrides,
    }


def restart(server: TritonServer) -> TritonServer:
    """The same server again, on the same ports, as after a crash and a restart."""
    return TritonServer(dataclasses.replace(server.options)).start(ready_timeout_s=120)
