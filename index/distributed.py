"""A build's embedding on a Ray cluster: ``sourcier build --ray ADDRESS`` (the ``ray`` extra).

Only ``encode_documents`` (and ``encode_document_tokens``, for the sentences' token vectors) leaves the
machine: the texts go in batches to a pool of Ray actors, each of which loads the encoder once (one model
load per actor, one thread each) and embeds every text alone, exactly as a local build does; the results
come back in order and the driver writes the index itself. Since a text's vector does not depend on its
batch or its neighbours (``index/onnx.py``), the index is byte for byte the one a local build writes
(tested). An actor whose model files, runtime or size differ from the driver's is refused before
anything is embedded: its vectors would not be this index's.
Every node needs Sourcier installed at the same versions; each fetches and verifies the model itself.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from index.encoder import Encoder, ModelInfo, TokenEncoder

log = logging.getLogger(__name__)

BATCH = 32  # texts per call: enough to amortise a call, small enough to keep every actor busy


class Embedder:
    """One encoder on a Ray worker (wrapped by ``ray.remote`` at run time: ray is imported lazily)."""

    def __init__(self, model: str, model_cache: str, runtime: str, dims: int | None) -> None:
        from index import fetch
        from index import model as model_mod

        self.encoder = model_mod.load_encoder(fetch.resolve(model, Path(model_cache)), runtime, dims, threads=1)

    def identity(self) -> tuple[Any, ...]:
        return _identity(self.encoder.info())

    def embed(self, texts: list[str], titles: list[str]) -> np.ndarray:
        return self.encoder.encode_documents(texts, titles)

    def embed_with_tokens(self, texts: list[str], titles: list[str], keep: list[int]) -> tuple[Any, ...]:
        if not isinstance(self.encoder, TokenEncoder):
            raise RuntimeError(f"the encoder {self.encoder.runtime} gives no token vectors")
        return self.encoder.encode_document_tokens(texts, titles, keep)


def _identity(info: ModelInfo) -> tuple[Any, ...]:
    """What must be equal for two encoders to give the same vectors (the path may differ per machine)."""
    return info.name, tuple(sorted((info.file_hashes or {}).items())), info.runtime, info.dims


class RayEncoder:
    """The local encoder for questions, a pool of Ray actors for a build's passages."""

    def __init__(
        self,
        local: Encoder,
        address: str,
        model: str,
        model_cache: str,
        runtime: str,
        dims: int | None,
        workers: int = 0,
    ) -> None:
        import ray

        self.local = local
        self.name, self.dims, self.runtime = local.name, local.dims, local.runtime
        ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False, ignore_reinit_error=True)
        cpus = int(ray.cluster_resources().get("CPU", 1))
        self.workers = workers or max(1, cpus)
        remote = ray.remote(num_cpus=1)(Embedder)
        self.actors: list[Any] = [remote.remote(model, model_cache, runtime, dims) for _ in range(self.workers)]
        wanted = _identity(local.info())
        for got in ray.get([actor.identity.remote() for actor in self.actors]):
            if tuple(got) != wanted:
                self.close()
                raise RuntimeError(f"a Ray worker's encoder differs from this machine's: {got} != {wanted}")
        log.info("Ray: %d encoder actors on %s (%d CPUs in the cluster)", self.workers, address, cpus)

    def info(self) -> ModelInfo:
        return self.local.info()

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self.local.encode_queries(texts)

    def encode_query_tokens(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        if not isinstance(self.local, TokenEncoder):
            raise RuntimeError(f"the encoder {self.runtime} gives no token vectors")
        return self.local.encode_query_tokens(text)

    def encode_documents(self, texts: list[str], titles: list[str], progress: bool = False) -> np.ndarray:
        """Vectors in input order, embedded on the cluster's actors."""
        if not texts:
            return np.zeros((0, self.dims), dtype=np.float32)
        parts = self._map(lambda actor, a, b: actor.embed.remote(texts[a:b], titles[a:b]), len(texts), progress)
        return np.concatenate(parts).astype(np.float32)

    def encode_document_tokens(
        self, texts: list[str], titles: list[str], keep: list[int], progress: bool = False
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Vectors and token vectors in input order, embedded on the cluster's actors."""
        if not texts:
            return np.zeros((0, self.dims), dtype=np.float32), []
        parts = self._map(
            lambda actor, a, b: actor.embed_with_tokens.remote(texts[a:b], titles[a:b], keep[a:b]), len(texts), progress
        )
        return np.concatenate([v for v, _ in parts]).astype(np.float32), [t for _, tokens in parts for t in tokens]

    def _map(self, call: Any, total: int, progress: bool) -> list[Any]:
        """``call(actor, start, end)`` on batches of ``BATCH`` texts over the actors, results in order."""
        from ray.util import ActorPool
        from tqdm import tqdm

        spans = [(i, min(i + BATCH, total)) for i in range(0, total, BATCH)]
        pool = ActorPool(self.actors[: self.workers])  # a benchmark may use fewer than it started
        parts = []
        with tqdm(total=total, desc="embedding (Ray)", unit="passage", disable=not progress) as bar:
            for (a, b), part in zip(spans, pool.map(lambda actor, span: call(actor, *span), spans)):
                parts.append(part)  # ActorPool.map yields in submission order
                bar.update(b - a)
        return parts

    def close(self) -> None:
        import ray

        ray.shutdown()
