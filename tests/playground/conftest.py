"""Fixtures of the playground tests: real gateways in front of the session's real Triton, and Debian's chromium.

Chromium is the distribution's (/usr/bin/chromium), driven by Playwright for Python: `playwright install`
downloads browsers and is never needed here.
"""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import (
    REAL_MODEL_NAME,
    REPO_ROOT,
    TINY_MODEL_NAME,
    GatewayProcess,
    RunningTriton,
    gateway_settings,
    start_gateway,
)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
API_KEY = "playground-test-key"
# The playground page must be reachable without a key even when keys are on.
PUBLIC_PATHS = "/healthz,/readyz,/metrics,/playground"


@pytest.fixture(scope="session", autouse=True)
def chromium_installed() -> None:
    """Fail (never skip) before any server starts: a missing browser is a set-up fault to fix."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} not found; the playground tests drive Debian's chromium. "
            "Install it with: apt-get update && apt-get install -y chromium",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Where screenshots go: $TEST_ARTIFACTS_DIR, else results/test-artifacts (git-ignored) in the repository."""
    directory = Path(os.environ.get("TEST_ARTIFACTS_DIR") or REPO_ROOT / "results" / "test-artifacts")
    directory.mkdir(parents=True, exist_ok=True)
    return directory


@pytest.fixture(scope="module")
def playground_gateway(triton: RunningTriton, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    """The real SST-2 model, so the labels on the page mean something."""
    settings = gateway_settings(triton.http_url, triton.repository, REAL_MODEL_NAME)
    process = start_gateway(settings, tmp_path_factory.mktemp("playground-gateway") / "gateway.log")
    yield process
    process.stop()


@pytest.fixture(scope="module")
def keyed_gateway(triton: RunningTriton, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    """The tiny model behind API keys, with the playground page public."""
    from gateway.api.auth import digest

    settings = gateway_settings(
        triton.http_url,
        triton.repository,
        TINY_MODEL_NAME,
        GATEWAY_API_KEY_HASHES=digest(API_KEY),
        GATEWAY_PUBLIC_PATHS=PUBLIC_PATHS,
    )
    process = start_gateway(settings, tmp_path_factory.mktemp("playground-keyed-gateway") / "gateway.log")
    yield process
    process.stop()


@pytest.fixture(scope="session")
def api_key() -> str:
    return API_KEY


@pytest.fixture(scope="module")
def playwright_driver() -> Iterator[object]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("Playwright for Python is not installed: .venv/bin/pip install playwright", pytrace=False)
    with sync_playwright() as driver:
        yield driver


@pytest.fixture
def page(playwright_driver, tmp_path: Path) -> Iterator[object]:
    """A page in a fresh headless chromium profile, 1000x800."""
    context = playwright_driver.chromium.launch_persistent_context(
        tmp_path / "chromium-profile",
        executable_path=str(CHROMIUM),
        headless=True,
        args=CHROMIUM_FLAGS,
        viewport={"width": 1000, "height": 800},
    )
    try:
        yield context.pages[0] if context.pages else context.new_page()
    finally:
        context.close()
