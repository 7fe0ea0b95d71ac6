"""What an index is built with: the settings that change its units or its vectors.

``IndexConfig`` has no defaults on purpose: ``service.settings.Settings`` is the one place that says
what Sourcier uses by default (``Settings().index_config()``), so a default can never differ between
the service and the index. ``LEGACY_SETTINGS`` is not a default either: it is what an index older
than a setting was built with, for reading the manifests of such indexes.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class IndexConfig:
    """Everything that changes the vectors or the units: an index is only valid for the config it was built with."""

    model: str
    chunk_chars: int
    chunk_overlap: int
    index_type: str  # "flat" (exact) or "hnsw" (approximate, for very large corpora)
    runtime: str  # "onnx-int8", "onnx" or "torch": int8 vectors differ from fp32 ones
    dims: int | None  # Matryoshka truncation; None keeps the model's full size
    token_dims: int  # size of each sentence token vector kept for late interaction (index.tokens); 0: none


# What an index older than a setting was built with: the manifests of the first indexes recorded no
# runtime (they were torch) and no dims (full size). Never a default for a new index.
LEGACY_SETTINGS = {
    "chunk_chars": 600,
    "chunk_overlap": 1,
    "index_type": "flat",
    "runtime": "torch",
    "dims": None,
    "token_dims": 0,
}
