"""The harness leaves no Triton process behind: a tritonserver SIGKILLed mid-load orphans its Python-backend
stubs (each holds a model instance and shared memory), and stopping that server must end them too."""

import threading
import time
from http.client import HTTPException
from pathlib import Path

import numpy as np
import psutil
import pytest
import tritonclient.http as triton_http
from localtriton.server import TritonServer
from support import TINY_MODEL_NAME
from tritonclient.utils import InferenceServerException

pytestmark = pytest.mark.slow

STUB = "triton_python_backend_stub"


def running(pids: set[int]) -> set[int]:
    """Those of ``pids`` still running; a zombie has ended, it only waits for its parent to reap it."""
    alive = set()
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.add(pid)
        except psutil.NoSuchProcess:
            continue
    return alive


def keep_busy(url: str, stop: threading.Event) -> None:
    """Inference calls one after another until ``stop``, so the stubs are executing when Triton dies."""
    client = triton_http.InferenceServerClient(url, network_timeout=5)
    inputs = []
    for name in ("input_ids", "attention_mask"):
        infer_input = triton_http.InferInput(name, [8, 128], "INT64")
        infer_input.set_data_from_numpy(np.ones((8, 128), dtype=np.int64))
        inputs.append(infer_input)
    while not stop.is_set():
        try:
            client.infer(TINY_MODEL_NAME, inputs)
        # Triton is killed under it (a refused or reset socket, or a closed one mid-response: geventhttpclient's
        # HTTPConnectionClosed is an http.client.HTTPException); only the load matters here.
        except (InferenceServerException, OSError, HTTPException):
            time.sleep(0.05)


def test_no_python_backend_stub_outlives_a_triton_killed_under_load(
    own_triton: TritonServer, model_repository: Path
) -> None:
    assert own_triton.process is not None
    stubs = {
        child.pid for child in psutil.Process(own_triton.process.pid).children(recursive=True) if child.name() == STUB
    }
    stop = threading.Event()
    loaders = [
        threading.Thread(target=keep_busy, args=(f"127.0.0.1:{own_triton.options.http_port}", stop)) for _ in range(4)
    ]
    for loader in loaders:
        loader.start()
    time.sleep(1.0)
    own_triton.process.kill()  # SIGKILL: Triton cannot stop its stubs
    own_triton.process.wait()
    stop.set()
    for loader in loaders:
        loader.join()
    orphaned = running(stubs)
    own_triton.stop()
    deadline = time.monotonic() + 2
    while running(stubs) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert stubs, "the test models run on the Python backend: there should be stubs to watch"
    assert not running(stubs), f"stubs {sorted(running(stubs))} outlived their Triton (orphaned: {sorted(orphaned)})"
