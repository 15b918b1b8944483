"""Every gateway option, read once from ``GATEWAY_*`` environment variables."""

from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Typed configuration; each field's description is the trade-off it controls."""

    model_config = SettingsConfigDict(env_prefix="GATEWAY_", frozen=True)

    triton_url: str = Field("127.0.0.1:8000", description="Triton HTTP endpoint, host:port.")
    model_name: str = Field("sentiment", description="Triton model to serve.")
    model_repository: Path = Field(
        Path("model_repository"),
        description="Folder with <model_name>/<version>/serving_metadata.json and tokenizer/ written by the export.",
    )
    model_version: int | None = Field(
        None,
        description="Version to serve; default the highest in the repository. Pinned so tokenizer and model agree.",
    )

    host: str = Field("127.0.0.1", description="Listen address; 0.0.0.0 in a container.")
    port: int = Field(8080, ge=1, le=65535)
    workers: int = Field(2, ge=1, description="uvicorn worker processes; about one per core the gateway may use.")
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    max_texts_per_request: int = Field(
        256, ge=1, description="Texts per batch call; a low limit refuses clients rather than have one hog the GPU."
    )
    max_text_chars: int = Field(
        20_000, ge=1, description="Characters per text, checked before tokenizing so huge strings cost nothing."
    )
    max_body_bytes: int = Field(
        2_000_000, ge=1024, description="Request body size; larger bodies get 413 before they are read in full."
    )
    length_buckets: tuple[int, ...] = Field(
        (16, 32, 64, 128, 256, 512),
        description="Token lengths inputs are padded to. Few buckets merge more requests in Triton's batcher; "
        "many buckets waste less compute on padding.",
    )
    triton_timeout_s: float = Field(
        10.0,
        gt=0,
        description="Deadline of a request's inference, waiting for a batch included: the gateway answers 504 when "
        "it passes and drops the request's rows still queued. Triton gets the time left too, which it honours only "
        "where its config sets a queue policy (ours do not: it stalls Triton 2.51's batcher).",
    )
    triton_backstop_s: float = Field(
        60.0,
        gt=0,
        description="How long the gateway waits for Triton to answer a call whose callers have all been answered "
        "504: the call keeps its slot until Triton answers, so abandoned work cannot pile up at Triton; only a "
        "Triton that hangs for this long frees the slot without an answer. At least GATEWAY_TRITON_TIMEOUT_S.",
    )
    window_stride: int = Field(
        128,
        ge=0,
        description="Tokens each sliding window overlaps the previous one by (long_text=windows): context for "
        "words cut at a window's edge, at the cost of scoring them twice.",
    )
    neutral_threshold: float | None = Field(
        None,
        ge=0,
        le=1,
        description="Server default of the neutral band: with a two-label model, a winning score under it is "
        "answered NEUTRAL. A confidence band, not a trained class. Unset: off.",
    )
    coverage: float = Field(
        0.9,
        gt=0,
        lt=1,
        description="v2: the share of texts whose true label the prediction set should hold (split conformal, "
        "from the export's calibration). Higher: fewer misses, more answers unsure (two labels, NEUTRAL).",
    )
    unsupported_language: Literal["flag", "refuse"] = Field(
        "flag",
        description="v2, a text in a language the model was not trained for: `flag` scores it with "
        "language.supported false; `refuse` answers 422 unsupported_language, naming the language.",
    )
    explain_max_words: int = Field(
        64,
        ge=1,
        description="v2 explain: words explained per text, each one more model row; a longer text is refused "
        "with 422 rather than multiply one request's cost unseen.",
    )
    cache_size: int = Field(
        10_000, ge=0, description="Answers kept per worker in the in-process cache; 0 turns caching off."
    )
    cache_ttl_s: float = Field(3600, gt=0, description="How long a cached answer is served (memory and Redis).")
    drift_window: int = Field(
        2000, ge=10, description="Recent texts per worker whose profile is compared with the reference (PSI)."
    )
    drift_min_texts: int = Field(
        500, ge=1, description="Texts needed in the window before PSI is reported; fewer make it noise."
    )
    batch_calls_in_flight: int = Field(
        2,
        ge=1,
        description="Triton calls a worker keeps open while the next batches fill, full ones included: this is "
        "what bounds Triton's queue. Two: one runs while the next is ready behind it, so Triton never waits for "
        "the network hop; fewer calls give fuller batches, more help only when Triton has idle instances.",
    )
    interactive_max_tokens: int = Field(
        512,
        ge=0,
        description="Padded tokens up to which a request is interactive (a single text of up to 512 tokens, a few "
        "short ones); bigger ones (batches, windows) are bulk. Bulk calls leave a worker's last call slot to "
        "interactive ones and the two lanes take turns, so small requests keep their latency beside bulk work.",
    )
    bulk_call_s: float = Field(
        0.01,
        gt=0,
        description="Seconds of Triton work one bulk call carries while interactive requests are about, at the "
        "rate the worker's bulk calls drain, and at least half of the last interactive call (Hugging Face TEI's "
        "max_batch_tokens, sized in time so it fits a CPU and a GPU alike). A bulk request is cut into such "
        "calls, at least one row each: a single text that reaches Triton behind bulk work waits for a short one.",
    )
    bulk_alone_call_s: float = Field(
        0.25,
        gt=0,
        description="Seconds of Triton work one bulk call carries once the worker has had no interactive request "
        "for 1 s: bigger calls run more efficiently (on a CPU, 1-row calls halve throughput), and the first "
        "single text to come back waits behind one of them at most.",
    )
    idle_trim_s: float = Field(
        1.0,
        ge=0,
        description="Seconds a worker must have been idle, after work, before it hands the memory its requests "
        "freed back to the system (glibc malloc_trim, off the event loop); 0: never, RSS then stays near its peak.",
    )
    triton_connections: int = Field(64, ge=1, description="Pooled HTTP connections to Triton per worker.")
    readiness_timeout_s: float = Field(1.0, gt=0, description="How long /readyz waits for Triton before saying 503.")
    retry_after_s: int = Field(1, ge=0, description="Retry-After sent with 503 and overload answers.")

    api_key_hashes: str = Field(
        "",
        description="Comma-separated hex SHA-256 digests of accepted API keys (`python -m gateway.api.auth hash KEY`). "
        "Empty: authentication off, for local use.",
    )
    public_paths: str = Field(
        "/healthz,/readyz,/metrics,/playground",
        description="Comma-separated paths open without a key and never rate limited (the playground page itself "
        "is static; its API calls carry the key typed into it).",
    )
    rate_limit: str = Field(
        "100/minute",
        description="Quota per API key (per client address when keys are off), in the `limits` library's notation; "
        "empty disables. In memory it is per worker; set REDIS_URL to share it across workers and replicas.",
    )
    redis_url: str | None = Field(
        None, validation_alias="REDIS_URL", description="Redis for shared rate limits, e.g. redis://host:6379/0."
    )
    max_tokens_held: int = Field(
        524_288,
        ge=512,
        description="Padded tokens (windows included) each lane of a worker holds at once, queued or at Triton; a "
        "request that would go over it is refused with 429 overloaded (the interactive lane, requests of at most "
        "GATEWAY_INTERACTIVE_MAX_TOKENS, never comes near it). Four full batches of 512-token rows by default: "
        "enough to keep Triton's batches full, little enough that a burst cannot pile up minutes of work.",
    )
    max_tokens_per_request: int = Field(
        262_144,
        ge=512,
        description="Padded tokens one request may cost (413 over it); at most GATEWAY_MAX_TOKENS_HELD, so any "
        "request within the limits can be admitted by an idle worker.",
    )
    max_windows_per_text: int = Field(
        16,
        ge=1,
        description="Windows one text may need with long_text=windows (422 over it): a text of 16 windows is "
        "about 6,000 tokens with the default stride.",
    )
    max_in_flight: int = Field(
        128,
        ge=1,
        description="Requests processed at once per worker; beyond it 429 at once. Low enough that a full "
        "gateway still answers within the deadline, high enough to keep Triton's batches full.",
    )

    rollout_file: Path | None = Field(
        None,
        description="The rollout state every worker follows while serving (contract.rollout: champion, challenger, "
        "shadow or canary share), re-read within a second of a change; written only by the rollout verbs. Unset or "
        "absent: serve GATEWAY_MODEL_VERSION (or the highest exported) alone.",
    )
    shadow_max_in_flight: int = Field(
        4,
        ge=1,
        description="Shadow requests (texts also scored by the challenger, off the response path) one worker "
        "scores at once; beyond it, and whenever answering work waits for a Triton call, shadow work is shed.",
    )

    forwarded_allow_ips: str = Field(
        "127.0.0.1",
        description="Comma-separated addresses or CIDR ranges of proxies whose X-Forwarded-For and "
        "X-Forwarded-Proto are believed (uvicorn's forwarded_allow_ips). The caller's address, and so the quota "
        "without keys, comes from the rightmost address no proxy in this list added. Behind an AWS load "
        "balancer: the VPC CIDR, never '*', which would let any caller choose its own address.",
    )

    @model_validator(mode="after")
    def _buckets_ascending(self) -> "Settings":
        if list(self.length_buckets) != sorted(set(self.length_buckets)) or self.length_buckets[0] < 2:
            raise ValueError("length_buckets must be distinct, ascending and at least 2 (room for [CLS] and [SEP])")
        return self

    @model_validator(mode="after")
    def _request_fits_the_budget(self) -> "Settings":
        if self.max_tokens_per_request > self.max_tokens_held:
            raise ValueError("max_tokens_per_request must not exceed max_tokens_held, or such a request never fits")
        return self

    @model_validator(mode="after")
    def _backstop_outlasts_the_deadline(self) -> "Settings":
        if self.triton_backstop_s < self.triton_timeout_s:
            raise ValueError("triton_backstop_s must be at least triton_timeout_s, or calls end before their callers")
        return self

    @cached_property
    def accepted_key_digests(self) -> frozenset[str]:
        return frozenset(digest.strip().lower() for digest in self.api_key_hashes.split(",") if digest.strip())

    @cached_property
    def public_path_set(self) -> frozenset[str]:
        return frozenset(path.strip() for path in self.public_paths.split(",") if path.strip())
