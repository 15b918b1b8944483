"""Which version folder of a model is served: the one asked for, or the highest the export wrote.

A version counts only once its ``serving_metadata.json`` exists: the export writes it last, so a folder
that an export is still filling, or one left by a failed export, is never picked.
"""

from pathlib import Path

from contract.metadata import METADATA_FILENAME


class NoServedVersion(LookupError):
    """No exported version under the repository; the message names the folder and what to run."""


def resolve_version(repository: Path, model_name: str, version: int | None = None) -> tuple[Path, str]:
    """The version folder to serve and its name."""
    model_dir = repository / model_name
    if version is not None:
        candidates = [model_dir / str(version)]
    else:
        candidates = sorted(
            (path for path in model_dir.glob("[0-9]*") if path.name.isdigit()), key=lambda path: int(path.name)
        )
    candidates = [path for path in candidates if (path / METADATA_FILENAME).exists()]
    if not candidates:
        raise NoServedVersion(f"no {METADATA_FILENAME} for model {model_name!r} under {model_dir}")
    return candidates[-1], candidates[-1].name
