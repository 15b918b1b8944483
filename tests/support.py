"""Small helpers shared by the test suites: free ports and the paths of shared assets."""

import os
import socket
from pathlib import Path

from localtriton.server import TritonOptions, TritonServer

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DIR = Path(os.environ.get("SHARED_DIR", REPO_ROOT.parent / "shared"))
DEFAULT_MODEL_FILES = SHARED_DIR / "models" / "distilbert-base-uncased-finetuned-sst-2-english"
STAND_IN_MODEL = SHARED_DIR / "models" / "sentiment-distilbert-sst2-minilm"
COMMITTED_REPOSITORY = REPO_ROOT / "model_repository"

TINY_MODEL_NAME = "sentiment"  # the committed configs' name, so they are checked against a real export
REAL_MODEL_NAME = "sentiment-sst2"


def free_port() -> int:
    """A port nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_triton(repository: Path, work_dir: Path) -> TritonServer:
    """A real tritonserver on free ports, ready when this returns."""
    options = TritonOptions(
        repository=repository,
        http_port=free_port(),
        grpc_port=free_port(),
        metrics_port=free_port(),
        work_dir=work_dir,
        exit_timeout_s=1,
    )
    return TritonServer(options).start(ready_timeout_s=120)
