"""The serving metadata file: everything the gateway needs to tokenize for and decode a model.

It is written by the export as ``<name>/<version>/serving_metadata.json`` beside ``model.onnx``,
with the tokenizer files in ``<name>/<version>/tokenizer/``. Keeping it per version means a new
model version can change its labels or tokenizer without the gateway mixing the two.
Standard library only, so the gateway can read it without the export's heavy dependencies.

Fields:
  schema_version  bumped when a field changes meaning; readers refuse versions they do not know
  model_name      the Triton model name
  source          the checkpoint it was exported from (hub id or local path)
  source_digest   SHA-256 of a local checkpoint folder's files (empty for a hub id): tells a re-export apart
  max_length      the most tokens the model accepts (position embeddings); longer text is truncated
  input_names     ONNX/Triton input tensor names, in the order the model declares them
  input_dtype     Triton datatype of every input (INT64)
  output_name     the logits tensor
  labels          label of each logit, in id order (from the checkpoint's ``id2label``)
  tokenizer_dir   folder with the fast tokenizer's files, relative to this file
  pad_token_id    the id the gateway pads with, up to its length bucket
  precision       fp32, or int8 when exported with --quantize int8 (a CPU deployment variant)
  max_batch_size  Triton's ``max_batch_size`` in every config the export writes (it refuses a config that
                  differs); the gateway splits larger requests
  supported_languages  ISO 639-1 codes of the languages the model was trained for (v2's ``language.supported``);
                  ["en"] for the English SST-2 models, and for metadata written before the field existed
  calibration     the temperature and conformal scores fitted with --calibration-data (``contract.calibration``),
                  or null: v2 then answers the raw softmax with ``calibrated: false``

The last two were added without a schema_version bump: they have defaults, so older files still read.
"""

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from contract.calibration import Calibration

METADATA_FILENAME = "serving_metadata.json"
SCHEMA_VERSION = 1


@dataclass(frozen=True)
class ServingMetadata:
    """What a served model version needs at the gateway."""

    model_name: str
    source: str
    max_length: int
    labels: list[str]
    source_digest: str = ""
    input_names: list[str] = field(default_factory=lambda: ["input_ids", "attention_mask"])
    input_dtype: str = "INT64"
    output_name: str = "logits"
    tokenizer_dir: str = "tokenizer"
    pad_token_id: int = 0
    precision: str = "fp32"
    # 256: sized for a GPU (export/triton_config.py says why); CPU configs share it.
    max_batch_size: int = 256
    supported_languages: list[str] = field(default_factory=lambda: ["en"])
    calibration: Calibration | None = None
    schema_version: int = SCHEMA_VERSION

    def write(self, version_dir: Path) -> Path:
        path = version_dir / METADATA_FILENAME
        path.write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")
        return path

    @classmethod
    def read(cls, version_dir: Path) -> "ServingMetadata":
        path = version_dir / METADATA_FILENAME
        fields = json.loads(path.read_text(encoding="utf-8"))
        if fields.get("schema_version") != SCHEMA_VERSION:
            raise ValueError(f"{path}: schema_version {fields.get('schema_version')!r}, expected {SCHEMA_VERSION}")
        if fields.get("calibration") is not None:
            fields["calibration"] = Calibration.from_dict(fields["calibration"])
        return cls(**fields)
