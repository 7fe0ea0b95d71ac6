"""Shared fixtures: a tiny deterministic encoder (no model download) and small corpora."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from corpus.load import load
from corpus.text import normalize
from index.build import build
from index.config import IndexConfig
from index.encoder import ModelInfo
from index.search import Index
from service.core import Answerer
from service.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "corpus" / "articles" / "contractions-muscle-mollet.txt"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def make_answerer(index: Index, encoder: Any, threshold: float, base_url: str = "", **scoring: Any) -> Answerer:
    """An Answerer with the settings' defaults, the given threshold, base URL and scoring overrides
    (``pair_margin=1.0``, ``number_penalty=0.0``...)."""
    config = replace(Settings().answer_config(threshold), base_url=base_url, **scoring)
    return Answerer(index, encoder, config).warm_up()


class FakeEncoder:
    """Hashed character trigrams of the normalised words: texts that share words get close
    vectors, so retrieval behaves sensibly in unit tests without the real model."""

    name = "fake-trigram"
    runtime = "numpy"

    def __init__(self, dims: int = 256) -> None:
        self.dims = dims
        self.calls: list[int] = []

    def _vector(self, text: str) -> np.ndarray:
        vector = np.zeros(self.dims, dtype=np.float32)
        for word in normalize(text).split():
            padded = f" {word} "
            for i in range(len(padded) - 2):
                bucket = int.from_bytes(hashlib.blake2b(padded[i : i + 3].encode(), digest_size=4).digest(), "little")
                vector[bucket % self.dims] += 1.0
        norm = np.linalg.norm(vector)
        return vector / norm if norm else vector

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return np.stack([self._vector(t) for t in texts])

    def encode_documents(self, texts: list[str], titles: list[str], progress: bool = False) -> np.ndarray:
        self.calls.append(len(texts))
        return np.stack([self._vector(t) for t in texts]) if texts else np.zeros((0, self.dims), np.float32)

    def info(self) -> ModelInfo:
        return ModelInfo(name=self.name, runtime=self.runtime, dims=self.dims)  # no model files to record


class FakeTokenEncoder(FakeEncoder):
    """The fake encoder with token vectors (``index.encoder.TokenEncoder``): one trigram vector per word
    of the kept text, so a question word found in a sentence matches one of its tokens exactly."""

    def _tokens(self, text: str) -> np.ndarray:
        rows = [v for v in (self._vector(word) for word in normalize(text).split()) if v.any()]
        return np.array(rows, dtype=np.float32) if rows else np.zeros((0, self.dims), dtype=np.float32)

    def encode_query_tokens(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        return self._vector(text), self._tokens(text)

    def encode_document_tokens(
        self, texts: list[str], titles: list[str], keep: list[int], progress: bool = False
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        vectors = self.encode_documents(texts, titles)
        return vectors, [self._tokens(text[len(text) - kept :]) for text, kept in zip(texts, keep)]


# The settings the tests build with (explicit: IndexConfig has no defaults; Settings holds the service's).
FAKE_CONFIG = IndexConfig(
    model=FakeEncoder.name,
    chunk_chars=600,
    chunk_overlap=1,
    index_type="flat",
    runtime="onnx-int8",
    dims=None,
    token_dims=128,
)


@pytest.fixture(autouse=True)
def isolated_data_dir(tmp_path, monkeypatch):
    """Every test writes its SQLite databases under its own temporary folder."""
    monkeypatch.setenv("SOURCIER_DATA_DIR", str(tmp_path / "data"))


@pytest.fixture
def encoder() -> FakeEncoder:
    return FakeEncoder()


@pytest.fixture
def config() -> IndexConfig:
    return FAKE_CONFIG


@pytest.fixture
def seed_articles():
    return load([SEED])


@pytest.fixture
def seed_index(seed_articles, encoder, config):
    return build(seed_articles, encoder, config)


@pytest.fixture
def answerer(seed_index, encoder) -> Answerer:
    return make_answerer(seed_index, encoder, threshold=0.3, base_url="http://test")


@pytest.fixture(scope="session")
def postgres_server():
    """One real PostgreSQL server for the session (tests/postgres.py); each test takes a new database."""
    from tests.postgres import PostgresServer

    server = PostgresServer()
    server.start()
    yield server
    server.remove()


@pytest.fixture
def site():
    """A French help site served on loopback (tests/website.py), for the site-fetching tests."""
    from tests.website import Website

    with Website() as website:
        yield website.build_help_site()
