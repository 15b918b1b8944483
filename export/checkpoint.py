"""Load a sequence-classification checkpoint from the hub or a local folder, with errors a user can act on."""

import os
from dataclasses import dataclass
from pathlib import Path

from transformers import (
    AutoConfig,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    PretrainedConfig,
    PreTrainedModel,
    PreTrainedTokenizerFast,
)

from export.errors import ExportError
from export.source import is_local, require_hub_or_cache


@dataclass
class Checkpoint:
    """A loaded classifier with its fast tokenizer."""

    source: str
    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerFast

    @property
    def labels(self) -> list[str]:
        id2label = self.model.config.id2label
        return [id2label[i] for i in range(len(id2label))]

    @property
    def max_length(self) -> int:
        return int(self.model.config.max_position_embeddings)


def _check_local(path: Path) -> None:
    if not path.exists():
        raise ExportError(f"checkpoint path {path} does not exist")
    if not path.is_dir():
        raise ExportError(f"checkpoint path {path} is not a folder (expected config.json and weights inside)")
    if not os.access(path, os.R_OK | os.X_OK) or not os.access(path / "config.json", os.R_OK):
        raise ExportError(f"checkpoint folder {path} is not readable, or has no readable config.json")


def _load_config(source: str, local_files_only: bool) -> PretrainedConfig:
    try:
        return AutoConfig.from_pretrained(source, local_files_only=local_files_only)
    except OSError as error:
        raise ExportError(f"cannot load {source!r}: {str(error).splitlines()[0]}") from error
    except ValueError as error:
        raise ExportError(f"{source!r} is not a transformers checkpoint: {error}") from error


def load_checkpoint(source: str) -> Checkpoint:
    """Load model and tokenizer, refusing anything that is not a sequence classifier.

    The architecture is checked before the weights load: ``AutoModelForSequenceClassification`` would
    otherwise happily put a randomly initialised head on a plain encoder and export garbage.
    """
    local_files_only = True
    if is_local(source):
        local = Path(source).expanduser()
        _check_local(local)
        source = str(local)
    else:
        local_files_only = require_hub_or_cache(source)

    config = _load_config(source, local_files_only)
    architectures = config.architectures or []
    if not any(name.endswith("ForSequenceClassification") for name in architectures):
        raise ExportError(
            f"{source!r} is not a sequence classifier (architectures: {architectures or 'none'}); "
            "export a checkpoint fine-tuned for text classification"
        )
    try:
        model = AutoModelForSequenceClassification.from_pretrained(
            source, config=config, local_files_only=local_files_only
        )
        tokenizer = AutoTokenizer.from_pretrained(source, use_fast=True, local_files_only=local_files_only)
    except OSError as error:
        raise ExportError(f"cannot load weights or tokenizer of {source!r}: {str(error).splitlines()[0]}") from error
    if not tokenizer.is_fast:
        raise ExportError(f"{source!r} has no fast tokenizer (tokenizer.json); the gateway needs one")
    model.eval()
    return Checkpoint(source=source, model=model, tokenizer=tokenizer)
