"""Start the gateway (``python -m gateway``) on this machine, configured one way wherever it is started.

``make gateway``, the tests, the benchmarks and the soak all start it through ``spawn_gateway``, so a test
gateway and a benchmark gateway differ only in the settings each names.
"""

import os
import sys
from collections.abc import Mapping
from pathlib import Path

from localtriton.process import LOCALHOST, ServerProcess, free_port, spawn
from localtriton.server import TritonOptions

READY_PATH = "/readyz"
DEFAULT_TRITON_URL = f"{LOCALHOST}:{TritonOptions.http_port}"

# Every gateway started to be measured (a test, a benchmark, the soak) starts from these, and a caller that is
# about one of them turns it back on:
# - no quota and no keys: a test or a load generator is one client address, so a quota would turn a capacity
#   figure into a quota figure, and a test about answers into one about 429s;
# - no answer cache: corpora repeat, and the cache would answer where the model path is what is measured;
# - info logs, which tests read (a benchmark lowers them: logging is a cost of the benchmark, not of serving);
# - loopback only, whatever the caller's environment says.
MEASURED_SETTINGS = {
    "GATEWAY_HOST": LOCALHOST,
    "GATEWAY_RATE_LIMIT": "",
    "GATEWAY_API_KEY_HASHES": "",
    "GATEWAY_CACHE_SIZE": "0",
    "GATEWAY_LOG_LEVEL": "info",
}
# The gateway reads these from its environment, and a measured gateway must not inherit them: a shared Redis
# would carry quota and cache over from other runs, and another gateway's metrics folder would add its samples.
NOT_INHERITED_WHEN_MEASURED = ("REDIS_URL", "PROMETHEUS_MULTIPROC_DIR")


def gateway_settings(
    triton_url: str = DEFAULT_TRITON_URL,
    repository: Path = Path("model_repository"),
    model_name: str = "sentiment",
    workers: int = 1,
    *,
    measured: bool = True,
    rollout_file: Path | None = None,
    **overrides: str,
) -> dict[str, str]:
    """The ``GATEWAY_*`` variables of a gateway pointed at a Triton and a model, with ``overrides`` on top.

    A measured gateway starts from ``MEASURED_SETTINGS``; ``measured=False`` leaves every other option to the
    gateway's own defaults, as ``make gateway`` serves a user. ``rollout_file``: the rollout state it follows
    (champion, challenger, shadow or canary share; contract.rollout), absolute so any working directory reads it.
    """
    return {
        **(MEASURED_SETTINGS if measured else {}),
        "GATEWAY_TRITON_URL": triton_url,
        "GATEWAY_MODEL_REPOSITORY": str(repository.resolve()),
        "GATEWAY_MODEL_NAME": model_name,
        "GATEWAY_WORKERS": str(workers),
        **({"GATEWAY_ROLLOUT_FILE": str(rollout_file.resolve())} if rollout_file else {}),
        **overrides,
    }


def gateway_environment(
    settings: Mapping[str, str], port: int, measured: bool, base: Mapping[str, str] = os.environ
) -> dict[str, str]:
    """``base`` (less what a measured gateway must not inherit), then ``settings``, then the port."""
    environment = dict(base)
    if measured:
        for name in NOT_INHERITED_WHEN_MEASURED:
            environment.pop(name, None)
    environment.update({**settings, "GATEWAY_PORT": str(port)})
    return environment


def spawn_gateway(
    settings: Mapping[str, str],
    log_file: Path,
    *,
    port: int | None = None,
    measured: bool = True,
    cwd: Path | None = None,
    detached: bool = False,
) -> ServerProcess:
    """Start ``python -m gateway`` on ``port`` (default: a free one) without waiting for it.

    ``measured=False`` passes the caller's whole environment on (``REDIS_URL`` included), as ``make gateway`` does.
    """
    port = port or free_port()
    return spawn(
        "gateway",
        [sys.executable, "-m", "gateway"],
        port=port,
        log_file=log_file,
        env=gateway_environment(settings, port, measured),
        cwd=cwd,
        detached=detached,
    )


def start_gateway(
    settings: Mapping[str, str],
    log_file: Path,
    *,
    ready_path: str = READY_PATH,
    timeout_s: float = 60,
    cwd: Path | None = None,
) -> ServerProcess:
    """A measured gateway on a free port, returned once ``ready_path`` answers 200.

    ``ready_path="/healthz"`` only waits for the process, for a gateway whose Triton is meant to be away.
    """
    return spawn_gateway(settings, log_file, cwd=cwd).wait_ready(ready_path, timeout_s)
