"""The playground: one static page where a person tries the public API from a browser.

The page is read once at import and served as it is; it calls only the public endpoints, with
relative URLs, so it works wherever the gateway is mounted.
"""

import base64
import hashlib
import re
from importlib import resources

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

PAGE = resources.files("gateway.api").joinpath("static/playground.html").read_text(encoding="utf-8")


def _inline_hashes(page: str, tag: str) -> str:
    """CSP source expressions allowing exactly the page's inline ``<tag>`` blocks, and nothing injected later."""
    blocks = re.findall(rf"<{tag}>(.*?)</{tag}>", page, flags=re.DOTALL)
    digests = (base64.b64encode(hashlib.sha256(block.encode("utf-8")).digest()).decode("ascii") for block in blocks)
    return " ".join(f"'sha256-{digest}'" for digest in digests)


# The page needs nothing beyond itself and same-origin API calls; the policy makes the browser enforce that.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        f"default-src 'none'; script-src {_inline_hashes(PAGE, 'script')}; style-src {_inline_hashes(PAGE, 'style')}; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

router = APIRouter()


@router.get("/playground", response_class=HTMLResponse, include_in_schema=False)
async def playground() -> HTMLResponse:
    """A page to type texts and see labels, score bars and latency; it uses only the public API."""
    return HTMLResponse(PAGE, headers=SECURITY_HEADERS)
