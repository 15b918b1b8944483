"""HTTP to the running local stack: Triton's model-control and readiness API, the gateway's state, metrics and
per-version answers. Every call here is one request; the waiting and deciding is in rollout.verbs."""

VERSION_HEADER = "X-Model-Version"
# The same variable the client and its CLI read the key from (sentiment_client.API_KEY_ENV).
API_KEY_ENV = "SENTIMENT_API_KEY"


class StackError(RuntimeError):
    """The stack answered something a verb cannot go on with; the message is one line."""


def base_url(address: str) -> str:
    """``127.0.0.1:8000`` (the form GATEWAY_TRITON_URL takes) or a full URL."""
    return address.rstrip("/") if "://" in address else f"http://{address.rstrip('/')}"


class Stack:
    def __init__(self, gateway_url: str, triton_url: str, timeout_s: float = 10.0, api_key: str | None = None) -> None:
        self.gateway = base_url(gateway_url)
        self.triton = base_url(triton_url)
        self.timeout_s = timeout_s
        # The gateway's key, sent to the gateway only: GET / and the labelled set's batches need one once keys
        # are on (GATEWAY_API_KEY_HASHES), as in production; Triton is never sent it.
        self.gateway_headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}

    def _request(self, method: str, url: str, **options: object):  # -> httpx.Response
        # A fresh connection per call: uvicorn's workers share the listening socket, so successive calls on new
        # connections reach different workers, which is what "every worker reports the state" needs.
        import httpx  # here, not at the top: deploy.sh runs the EKS subcommands from a venv without it

        try:
            return httpx.request(method, url, timeout=self.timeout_s, **options)  # type: ignore[arg-type]
        except httpx.HTTPError as error:
            raise StackError(f"{method} {url}: {error.__class__.__name__}: {error}") from error

    def load_model(self, name: str) -> None:
        """Triton (explicit model-control mode) loads the model again with every version its config's policy
        names; a reload that succeeds replaces the loaded model without a gap in availability."""
        response = self._request("POST", f"{self.triton}/v2/repository/models/{name}/load", json={})
        if response.status_code != 200:
            message = response.json().get("error", response.text) if response.content else response.reason_phrase
            raise StackError(f"Triton refused to load {name}: {message}")

    def version_ready(self, name: str, version: str) -> bool:
        return self._request("GET", f"{self.triton}/v2/models/{name}/versions/{version}/ready").status_code == 200

    def rollout_report(self) -> dict:
        """``GET /``'s ``rollout`` block: champion, challenger, mode, percent, previous, error."""
        response = self._request("GET", f"{self.gateway}/", headers=self.gateway_headers)
        if response.status_code != 200:
            raise StackError(f"GET {self.gateway}/ answered {response.status_code}")
        report = response.json().get("rollout")
        if report is None:
            raise StackError(f"GET {self.gateway}/ reports no rollout state: this gateway predates issue 19")
        return report

    def metrics_text(self) -> str:
        response = self._request("GET", f"{self.gateway}/metrics", headers=self.gateway_headers)
        if response.status_code != 200:
            raise StackError(f"GET {self.gateway}/metrics answered {response.status_code}")
        return response.text

    def labels(self, texts: list[str], version: str) -> list[str]:
        """The labels ``version`` gives ``texts``, through the gateway's batch endpoint."""
        response = self._request(
            "POST",
            f"{self.gateway}/v1/sentiment/batch",
            json={"texts": texts},
            headers={**self.gateway_headers, VERSION_HEADER: version},
        )
        if response.status_code != 200:
            raise StackError(f"{VERSION_HEADER}: {version} answered {response.status_code}: {response.text}")
        results = response.json()["results"]
        answered = {result["model_version"] for result in results}
        if answered != {version}:
            raise StackError(f"asked version {version} with {VERSION_HEADER}, answered by {sorted(answered)}")
        return [result["label"] for result in results]
