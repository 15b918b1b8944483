"""``python -m gateway``: run the gateway with uvicorn, configured from ``GATEWAY_*`` variables."""

import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path

import uvicorn

from gateway.logs import log_config
from gateway.settings import Settings


def prepare_multiprocess_metrics(workers: int) -> None:
    """Give the workers a fresh shared folder for their metric samples (see ``gateway.metrics``).

    Must happen before any worker imports prometheus_client; stale files from an earlier run would
    otherwise be summed into the new counters.
    """
    if workers == 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return
    folder = Path(os.environ.get("PROMETHEUS_MULTIPROC_DIR") or tempfile.mkdtemp(prefix="gateway-metrics-"))
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)


def main() -> None:
    settings = Settings()
    prepare_multiprocess_metrics(settings.workers)
    # uvicorn re-raises SIGTERM once its graceful shutdown is done; a finished shutdown is a clean exit (0),
    # which is what Kubernetes and process supervisors expect of a pod that was asked to stop.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    uvicorn.run(
        "gateway.api.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_config=log_config(settings.log_level),
        access_log=False,
        # Behind a load balancer the socket peer is the balancer: believe X-Forwarded-For only from the
        # listed proxies, so quotas keyed by address see the caller (GATEWAY_FORWARDED_ALLOW_IPS).
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        timeout_graceful_shutdown=10,
    )


if __name__ == "__main__":
    main()
