"""The torch encoder (sentence-transformers) and ``load_encoder``, which picks the runtime.

Fetching and verifying the model files is ``index.fetch``; the encoder contract is ``index.encoder``.
The ONNX encoder is imported only when asked for, so the torch path never loads onnxruntime.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from index.encoder import Encoder, ModelError, ModelInfo, unit_rows
from index.fetch import SLIM, model_hashes


class SentenceTransformerEncoder:
    """EmbeddingGemma (or any sentence-transformers model) with its query/document prompts.

    Documents are encoded as ``title: {title} | text: {text}``, the model's own document format,
    so the article title conditions every passage. Vectors are L2-normalised, optionally truncated
    to ``dims`` (Matryoshka) and renormalised. Each text is run alone (batches of one), as in the
    ONNX encoder, so that its vector never depends on the texts embedded with it.
    """

    def __init__(self, name_or_path: str, dims: int | None = None) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer  # heavy: imported only when loading

        if (Path(name_or_path) / SLIM).exists():
            raise ModelError(f"{name_or_path} keeps only its ONNX export (slim): use SOURCIER_RUNTIME=onnx-int8")
        self.path = name_or_path
        self.model = SentenceTransformer(name_or_path, device="cpu", truncate_dim=dims)
        dims_found = self.model.get_embedding_dimension()
        if dims_found is None:
            raise ModelError(f"{name_or_path}: the model does not state its embedding size")
        self.dims = int(dims_found)
        self.name = Path(name_or_path).name if Path(name_or_path).exists() else name_or_path
        import torch

        self.runtime = f"torch-{torch.__version__}-fp32-alone"
        self._has_document_prompt = "document" in (self.model.prompts or {})

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        # No progress bar: sentence-transformers shows one whenever logging is at INFO, as `sourcier serve`'s
        # is, and the served log must stay one JSON object per line.
        vectors = self.model.encode_query(
            texts, batch_size=1, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        return np.asarray(vectors, dtype=np.float32)

    def encode_documents(self, texts: list[str], titles: list[str], progress: bool = False) -> np.ndarray:
        if self._has_document_prompt:
            inputs = [f"title: {title or 'none'} | text: {text}" for text, title in zip(texts, titles)]
        else:
            inputs = list(texts)
        vectors = self.model.encode(
            inputs,
            prompt="",
            batch_size=1,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.asarray(vectors, dtype=np.float32)

    def encode_query_tokens(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        prompt = (self.model.prompts or {}).get("query") or ""
        return self._with_tokens(prompt + text, len(text))

    def encode_document_tokens(
        self, texts: list[str], titles: list[str], keep: list[int], progress: bool = False
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        from tqdm import tqdm

        vectors = np.zeros((len(texts), self.dims), dtype=np.float32)
        tokens = []
        for row, (text, title, kept) in enumerate(
            tqdm(list(zip(texts, titles, keep)), desc="embedding", unit="passage", disable=not progress)
        ):
            full = f"title: {title or 'none'} | text: {text}" if self._has_document_prompt else text
            vectors[row], states = self._with_tokens(full, kept)
            tokens.append(states)
        return vectors, tokens

    def _with_tokens(self, text: str, keep: int) -> tuple[np.ndarray, np.ndarray]:
        """The text's vector and the unit token vectors of its last ``keep`` characters, one forward pass."""
        import torch

        encoded = self.model.tokenizer(text, return_offsets_mapping=True, return_tensors="pt")
        offsets = encoded.pop("offset_mapping")[0].tolist()
        skip = len(text) - keep
        rows = [i for i, (start, end) in enumerate(offsets) if end > start and end > skip]
        with torch.inference_mode():
            out = self.model.forward(dict(encoded))
            states = out["token_embeddings"][0]
            for module in self.model:
                if type(module).__name__ == "Dense":
                    states = module.activation_function(module.linear(states))
        vector = out["sentence_embedding"][0, : self.dims].numpy()
        return (vector / np.linalg.norm(vector)).astype(np.float32), unit_rows(states[rows].numpy())

    def info(self) -> ModelInfo:
        folder = Path(self.path)
        hashes = model_hashes(folder) if folder.is_dir() else {}
        return ModelInfo(
            name=self.name,
            path=str(folder.resolve()) if folder.exists() else self.path,
            file_hashes=hashes,
            runtime=self.runtime,
            dims=self.dims,
        )


RUNTIMES = ("torch", "onnx", "onnx-int8")


def load_encoder(model_path: str, runtime: str = "torch", dims: int | None = None, threads: int = 0) -> Encoder:
    """The encoder for a runtime setting: ``torch`` (sentence-transformers, fp32), ``onnx`` (ONNX
    Runtime, fp32) or ``onnx-int8`` (ONNX Runtime, dynamic int8); ``dims`` truncates (Matryoshka)."""
    if runtime == "torch":
        return SentenceTransformerEncoder(model_path, dims=dims)
    if runtime not in RUNTIMES:
        raise ValueError(f"unknown runtime {runtime!r} (use {', '.join(RUNTIMES)})")
    from index.onnx import OnnxEncoder  # onnxruntime is imported only when asked for

    return OnnxEncoder(model_path, runtime, dims=dims, threads=threads)
