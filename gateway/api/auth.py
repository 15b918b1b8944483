"""Optional API keys: only their SHA-256 digests are configured, compared in constant time, never logged.

``python -m gateway.api.auth hash KEY`` prints the digest to put in ``GATEWAY_API_KEY_HASHES``.
"""

import hashlib
import hmac
import sys

from gateway.errors import Unauthorized


def digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def presented_key(headers: dict[bytes, bytes]) -> str | None:
    """The key from ``Authorization: Bearer KEY`` or ``X-API-Key: KEY``, if any."""
    authorization = headers.get(b"authorization", b"").decode("latin-1")
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    api_key = headers.get(b"x-api-key", b"").decode("latin-1").strip()
    return api_key or None


class ApiKeyAuthenticator:
    """Checks a request's key against the configured digests."""

    def __init__(self, accepted_digests: frozenset[str]) -> None:
        self.accepted_digests = accepted_digests

    @property
    def enabled(self) -> bool:
        return bool(self.accepted_digests)

    def authenticate(self, headers: dict[bytes, bytes]) -> str:
        """The caller's identity (its key's digest); raises ``Unauthorized`` without a valid key.

        Every accepted digest is compared, with ``hmac.compare_digest``, so the time taken says
        nothing about how close a guess was or which key matched.
        """
        key = presented_key(headers)
        if key is None:
            raise Unauthorized("an API key is required: send 'Authorization: Bearer KEY' or 'X-API-Key: KEY'")
        candidate = digest(key)
        matched = False
        for accepted in self.accepted_digests:
            matched |= hmac.compare_digest(candidate, accepted)
        if not matched:
            raise Unauthorized("the API key is not valid")
        return candidate


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "hash":
        sys.exit("usage: python -m gateway.api.auth hash KEY")
    print(digest(sys.argv[2]))
