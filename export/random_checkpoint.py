"""Build DistilBERT classifiers with seeded random weights, for tests and benchmarks.

The hub cannot be reached on every machine, and speed does not depend on what the weights are:
a model built from the real ``config.json`` with random weights ("shape-true") runs exactly as
fast as the trained one. ``tiny`` builds a 2-layer, 32-wide model that exports in seconds, for
tests where only the plumbing matters.

    python -m export.random_checkpoint --tokenizer ../shared/models/distilbert-base-uncased-finetuned-sst-2-english \
        --config-from ../shared/models/distilbert-base-uncased-finetuned-sst-2-english --out build/shape-true
"""

import argparse
import shutil
from pathlib import Path

import torch
from transformers import DistilBertConfig, DistilBertForSequenceClassification

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json")
LABELS = {0: "NEGATIVE", 1: "POSITIVE"}


def tiny_config(max_position_embeddings: int = 512) -> DistilBertConfig:
    return DistilBertConfig(
        dim=32,
        hidden_dim=64,
        n_layers=2,
        n_heads=2,
        max_position_embeddings=max_position_embeddings,
        id2label=LABELS,
        label2id={label: index for index, label in LABELS.items()},
        architectures=["DistilBertForSequenceClassification"],
    )


def build_random_checkpoint(
    out_dir: Path, tokenizer_dir: Path, config: DistilBertConfig | None = None, seed: int = 0
) -> Path:
    """Save a seeded random classifier plus ``tokenizer_dir``'s tokenizer files into ``out_dir``."""
    config = config or tiny_config()
    config.architectures = ["DistilBertForSequenceClassification"]
    torch.manual_seed(seed)
    model = DistilBertForSequenceClassification(config)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    for name in TOKENIZER_FILES:
        if (tokenizer_dir / name).exists():
            shutil.copyfile(tokenizer_dir / name, out_dir / name)
    return out_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokenizer", type=Path, required=True, help="folder with tokenizer.json and friends")
    parser.add_argument("--config-from", type=Path, help="folder whose config.json to copy (default: tiny)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    config = DistilBertConfig.from_pretrained(args.config_from) if args.config_from else None
    print(build_random_checkpoint(args.out, args.tokenizer, config, args.seed))


if __name__ == "__main__":
    main()
