"""Where a checkpoint comes from: a local folder (known by a digest of its files) or a hub id.

Standard library and huggingface_hub's constants only, so that ``python -m export`` can decide in a
second, before torch is imported, whether an existing export can be kept and whether the hub is in reach.
"""

import functools
import hashlib
import os
import urllib.error
import urllib.request
from pathlib import Path

from huggingface_hub import constants, try_to_load_from_cache

from export.errors import ExportError

# Long enough for a slow link to answer, short enough that an offline `make run` says so within seconds.
HUB_PROBE_TIMEOUT_S = 3.0
DIGEST_CHUNK_BYTES = 1 << 20


def is_local(source: str) -> bool:
    """A folder on disk (existing, or written like a path), as opposed to a hub id such as ``org/name``."""
    if Path(source).expanduser().exists():
        return True
    return source.startswith(("/", "./", "../", "~")) or os.sep in source.rstrip(os.sep).split(os.sep, 2)[-1]


def checkpoint_digest(folder: Path) -> str:
    """SHA-256 over every file of a checkpoint folder (relative names and contents; hidden entries skipped).

    Two folders with the same files have the same digest wherever they are, and a retrained checkpoint
    saved over the old one does not.
    """
    digest = hashlib.sha256()
    files = sorted(
        path
        for path in folder.rglob("*")
        if path.is_file() and not any(part.startswith(".") for part in path.relative_to(folder).parts)
    )
    for path in files:
        digest.update(path.relative_to(folder).as_posix().encode("utf-8") + b"\0")
        with path.open("rb") as stream:
            while chunk := stream.read(DIGEST_CHUNK_BYTES):
                digest.update(chunk)
    return digest.hexdigest()


@functools.cache
def hub_reachable() -> bool:
    """Whether the Hugging Face hub answers within a few seconds (never, with ``HF_HUB_OFFLINE=1``).

    Asked once, up front: transformers would otherwise retry every file for over a minute, logging each
    attempt, before it gives up.
    """
    if constants.HF_HUB_OFFLINE:
        return False
    try:
        with urllib.request.urlopen(
            urllib.request.Request(constants.ENDPOINT, method="HEAD"), timeout=HUB_PROBE_TIMEOUT_S
        ):
            return True
    except urllib.error.HTTPError:
        return True  # it answered, if only with an error status
    except (urllib.error.URLError, OSError):
        return False


def in_hub_cache(model_id: str) -> bool:
    """Whether an earlier download left the model's config in the local hub cache."""
    try:
        return isinstance(try_to_load_from_cache(model_id, "config.json"), str)
    except ValueError:  # not a valid hub id
        return False


def require_hub_or_cache(model_id: str) -> bool:
    """Whether to load ``model_id`` from the local hub cache only; ``ExportError`` when neither is there."""
    if hub_reachable():
        return False
    if in_hub_cache(model_id):
        return True
    raise ExportError(
        f"cannot reach the Hugging Face hub to download {model_id!r}, and it is not in the local cache. "
        "Pass a local checkpoint folder instead: make run MODEL=/path/to/checkpoint (python -m export --model /path)"
    )
