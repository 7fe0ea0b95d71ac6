"""The index in memory: the units, their vectors, the FAISS indexes searched, and the lookups answers need.

``index.build`` makes an ``Index`` from articles and ``index.store`` saves and loads one; neither
step is hidden in the constructor. The FAISS indexes in particular are passed in, never made here:
a build makes them from its vectors with ``make_faiss``, a load reads the saved ones (an HNSW graph
built again would not be the one saved, and building it is the slow part of a load that needs none).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import faiss
import numpy as np

from corpus.chunk import Chunk, Heading, Sentence
from corpus.load import Article
from index.manifest import Manifest
from index.tokens import Tokens


def make_faiss(vectors: np.ndarray, index_type: str) -> Any:
    """A FAISS inner-product index of ``vectors``: ``flat`` (exact) or ``hnsw`` (approximate, for very
    large corpora)."""
    dims = vectors.shape[1]
    index: Any
    if index_type == "flat":
        index = faiss.IndexFlatIP(dims)
    elif index_type == "hnsw":
        index = faiss.IndexHNSWFlat(dims, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        index.hnsw.efSearch = 128
    else:
        raise ValueError(f"unknown index type {index_type!r} (use 'flat' or 'hnsw')")
    if len(vectors):
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


@dataclass
class Index:
    """Sentences, pairs of adjacent sentences and chunks, in the same order as their vectors and hashes.

    ``pairs`` are positions in ``sentences`` (first, second); pair vectors are only compared with the
    question next to a chosen sentence, never searched, so they have no FAISS index.

    The lookups ``pair_at``, ``sentence_pos`` and ``chunks_of_sentence`` are computed in
    ``__post_init__``: they follow from the units alone, every answer needs them, and computing them
    whenever an Index is made (built or loaded) keeps them from ever disagreeing with the units.
    """

    manifest: Manifest
    articles: dict[str, Article]
    sentences: list[Sentence]
    chunks: list[Chunk]
    sentence_vectors: np.ndarray
    chunk_vectors: np.ndarray
    pairs: list[tuple[int, int]]
    pair_vectors: np.ndarray
    sentence_hashes: list[str]
    chunk_hashes: list[str]
    pair_hashes: list[str]
    # the articles' titles and section titles, embedded as questions (the site's known questions)
    headings: list[Heading]
    heading_vectors: np.ndarray = field(repr=False)
    heading_hashes: list[str]
    sentence_faiss: Any = field(repr=False)
    chunk_faiss: Any = field(repr=False)
    tokens: Tokens | None = field(default=None, repr=False)  # sentence token vectors, for reading

    def __post_init__(self) -> None:
        self.pair_at = {first: row for row, (first, _) in enumerate(self.pairs)}  # first sentence → pair row
        # Sentence position of each (doc_id, index), and the chunks each sentence belongs to.
        self.sentence_pos = {(s.doc_id, s.index): i for i, s in enumerate(self.sentences)}
        self.chunks_of_sentence: dict[int, list[int]] = {}
        for c_pos, chunk in enumerate(self.chunks):
            for s_index in range(chunk.first, chunk.last + 1):
                pos = self.sentence_pos[(chunk.doc_id, s_index)]
                self.chunks_of_sentence.setdefault(pos, []).append(c_pos)
        # the chunk that opens each section, and each article (section None): where a heading's answer starts
        self.opening_chunk: dict[tuple[str, str | None], int] = {}
        for c_pos, chunk in enumerate(self.chunks):
            self.opening_chunk.setdefault((chunk.doc_id, None), c_pos)
            self.opening_chunk.setdefault((chunk.doc_id, chunk.section), c_pos)
        self.headings_of: dict[str, list[int]] = {}  # doc_id → its headings' rows, title first
        for row, heading in enumerate(self.headings):
            self.headings_of.setdefault(heading.doc_id, []).append(row)

    @property
    def version(self) -> str:
        return self.manifest.version

    def search_chunks(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        return _search(self.chunk_faiss, query, k)

    def search_sentences(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        return _search(self.sentence_faiss, query, k)

    def heading_scores(self, query: np.ndarray) -> np.ndarray:
        """The question's cosine with every known question (a site has a few per page: no ANN needed)."""
        return self.heading_vectors @ np.asarray(query, dtype=np.float32)


def _search(index: Any, query: np.ndarray, k: int) -> list[tuple[int, float]]:
    k = min(k, index.ntotal)
    if k <= 0:
        return []
    scores, ids = index.search(np.asarray(query, dtype=np.float32).reshape(1, -1), k)
    return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]
