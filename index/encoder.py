"""What every embedding model offers the index and the service, and the errors and hashes they share.

This module imports nothing of Sourcier: ``index.fetch`` (the pinned model files), ``index.model``
(torch) and ``index.onnx`` (ONNX Runtime) all build on it, so none of them needs another's internals
and no two of them import each other.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np


class ModelError(RuntimeError):
    """The model cannot be fetched, verified or loaded; the message says what to do."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True, kw_only=True)
class ModelInfo:
    """Where an encoder came from, recorded as the ``model`` of the index manifest.

    ``path`` and ``file_hashes`` are None for an encoder without model files (the tests' fake one):
    the manifest then records only name, runtime and dims, as it always has for such encoders.
    The field order is the manifest's key order.
    """

    name: str
    path: str | None = None
    file_hashes: dict[str, str] | None = None
    runtime: str
    dims: int

    def to_dict(self) -> dict[str, Any]:
        return {
            key: value
            for key, value in (
                ("name", self.name),
                ("path", self.path),
                ("file_hashes", self.file_hashes),
                ("runtime", self.runtime),
                ("dims", self.dims),
            )
            if value is not None
        }

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> ModelInfo:
        return cls(
            name=record["name"],
            path=record.get("path"),
            file_hashes=record.get("file_hashes"),
            runtime=record["runtime"],
            dims=record["dims"],
        )


def unit_rows(rows: np.ndarray) -> np.ndarray:
    """Each row scaled to unit length, in float32 (a zero row stays zero): token vectors, cut or not."""
    rows = np.asarray(rows, dtype=np.float32)
    return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)


@runtime_checkable
class Encoder(Protocol):
    """What the index and the service need from an embedding model.

    ``runtime`` is the exact runtime string (library version and precision): vectors of two runtimes
    differ, so an index records it and is only searched with the runtime that built it. ``info()``
    is what the index manifest records about the model.
    """

    name: str
    dims: int
    runtime: str

    def encode_queries(self, texts: list[str]) -> np.ndarray: ...

    def encode_documents(self, texts: list[str], titles: list[str], progress: bool = False) -> np.ndarray: ...

    def info(self) -> ModelInfo: ...


@runtime_checkable
class TokenEncoder(Encoder, Protocol):
    """An encoder that also gives token vectors (late interaction, ``index.tokens``), from the same model
    call as the text's vector: reading costs no second pass, neither per question nor per build.

    Token vectors are unit length, in the sentence vectors' space (the model's Dense layers applied to
    each token), for the text's own tokens only: not the prompt, title, section or special tokens.
    """

    def encode_query_tokens(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """The question's vector (as ``encode_queries``) and its token vectors."""
        ...

    def encode_document_tokens(
        self, texts: list[str], titles: list[str], keep: list[int], progress: bool = False
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """The documents' vectors (as ``encode_documents``) and the token vectors of the last
        ``keep[i]`` characters of each text (the sentence after its section title)."""
        ...
