"""/docs and /redoc in a real headless chromium that may reach nothing but the gateway: they must still render.

They live with the playground's tests because these fixtures drive Debian's chromium; the pages are the
gateway's (``gateway.api.app`` serves Swagger UI and ReDoc from the fastapi-offline package).
"""

import pytest
from playwright.sync_api import Page, Route, expect
from support import GatewayProcess

pytestmark = pytest.mark.slow

RENDER_TIMEOUT_MS = 30_000
OPERATIONS = ["/v1/sentiment", "/v1/sentiment/batch", "/healthz", "/readyz", "/metrics"]


class Offline:
    """Lets through only requests to the gateway; records what else the page tried to load."""

    def __init__(self, page: Page, gateway: GatewayProcess) -> None:
        self.prefix = gateway.url + "/"
        self.blocked: list[tuple[str, str]] = []  # (resource type, url)
        self.errors: list[str] = []
        page.route("**/*", self._route)
        page.on("pageerror", lambda error: self.errors.append(str(error)))

    def _route(self, route: Route) -> None:
        if route.request.url.startswith(self.prefix):
            route.continue_()
        else:
            self.blocked.append((route.request.resource_type, route.request.url))
            route.abort("internetdisconnected")


@pytest.fixture
def offline(page: Page, playground_gateway: GatewayProcess) -> Offline:
    return Offline(page, playground_gateway)


def test_swagger_ui_renders_every_operation_offline(
    page: Page, playground_gateway: GatewayProcess, offline: Offline
) -> None:
    response = page.goto(playground_gateway.url + "/docs")
    assert response is not None and response.status == 200
    paths = page.locator(".opblock .opblock-summary-path")
    expect(paths.first).to_be_visible(timeout=RENDER_TIMEOUT_MS)
    assert set(OPERATIONS) <= set(paths.all_inner_texts())
    assert offline.blocked == [] and offline.errors == []


def test_redoc_renders_every_operation_offline(
    page: Page, playground_gateway: GatewayProcess, offline: Offline
) -> None:
    response = page.goto(playground_gateway.url + "/redoc")
    assert response is not None and response.status == 200
    # ReDoc shows each operation's summary in its side menu and as a heading in the body.
    expect(page.get_by_role("heading", name="Classify One")).to_be_visible(timeout=RENDER_TIMEOUT_MS)
    expect(page.get_by_role("heading", name="Classify Batch")).to_be_visible()
    # ReDoc's "API docs by Redocly" credit links its logo from a CDN: only that image may be missing.
    assert [url for kind, url in offline.blocked if kind != "image"] == []
    assert offline.errors == []
