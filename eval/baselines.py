"""What a user would otherwise build, measured on the same questions and corpus in the same run.

- ``TutorialRAG``: the RAG tutorial recipe — 500-character chunks with 50 characters of overlap,
  embedded with the same model (its default document prompt), the top-1 chunk as the answer.
- ``BM25Sentences``: BM25 over single sentences with French stemming and accent folding
  (bm25s + PyStemmer), the top sentence as the answer.

Both return verbatim spans (slices of the article text), so faithfulness is scored the same way.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np

from corpus.chunk import sentences
from corpus.load import Article
from corpus.text import normalize
from eval.metrics import Prediction, Span
from index.build import text_hash
from index.encoder import Encoder

log = logging.getLogger(__name__)


def char_chunks(text: str, size: int = 500, overlap: int = 50) -> list[tuple[int, int]]:
    """Fixed windows of ``size`` characters, each starting ``size - overlap`` after the previous."""
    spans, start = [], 0
    while start < len(text):
        end = min(len(text), start + size)
        if text[start:end].strip():
            spans.append((start, end))
        if end == len(text):
            break
        start = end - overlap
    return spans


def cached_vectors(encoder: Encoder, texts: list[str], cache_file: Path | None, progress: bool = False) -> np.ndarray:
    """Embed ``texts`` as documents without a title, reusing vectors stored in ``cache_file``."""
    cache: dict[str, np.ndarray] = {}
    if cache_file is not None and cache_file.with_suffix(".json").is_file():
        keys = json.loads(cache_file.with_suffix(".json").read_text())
        cache = dict(zip(keys, np.load(cache_file.with_suffix(".npy"))))
    hashes = [text_hash("", t) for t in texts]
    missing = sorted({h: i for i, h in enumerate(hashes) if h not in cache}.values())
    if missing:
        vectors = encoder.encode_documents([texts[i] for i in missing], [""] * len(missing), progress=progress)
        cache.update(zip((hashes[i] for i in missing), vectors))
        if cache_file is not None:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            np.save(cache_file.with_suffix(".npy"), np.stack(list(cache.values())))
            cache_file.with_suffix(".json").write_text(json.dumps(list(cache)))
    return np.stack([cache[h] for h in hashes]).astype(np.float32)


class TutorialRAG:
    name = "tutorial-rag-500"

    def __init__(
        self, articles: list[Article], encoder: Encoder, cache_file: Path | None = None, progress: bool = False
    ) -> None:
        self.encoder = encoder
        self.spans = [Span(a.doc_id, s, e, a.text[s:e]) for a in articles for s, e in char_chunks(a.text)]
        self.vectors = cached_vectors(encoder, [s.text for s in self.spans], cache_file, progress)

    def predict(self, question_id: str, question: str) -> Prediction:
        started = time.perf_counter()
        query = self.encoder.encode_queries([question])[0]
        scores = self.vectors @ query
        top = np.argsort(-scores)[:10]
        passages = [self.spans[i] for i in top]
        return Prediction(
            question_id,
            passages[0] if passages else None,
            float(scores[top[0]]) if passages else 0.0,
            passages,
            time.perf_counter() - started,
            passages[0] if passages else None,
        )


class BM25Sentences:
    name = "bm25-sentences"

    def __init__(self, articles: list[Article]) -> None:
        import bm25s
        import Stemmer

        self._bm25s = bm25s
        self.stemmer = Stemmer.Stemmer("french")
        self.spans = [Span(a.doc_id, s.start, s.end, a.text[s.start : s.end]) for a in articles for s in sentences(a)]
        self.retriever = bm25s.BM25()
        tokens = bm25s.tokenize(
            [normalize(s.text) for s in self.spans], stopwords="fr", stemmer=self.stemmer, show_progress=False
        )
        self.retriever.index(tokens, show_progress=False)

    def predict(self, question_id: str, question: str) -> Prediction:
        started = time.perf_counter()
        tokens = self._bm25s.tokenize([normalize(question)], stopwords="fr", stemmer=self.stemmer, show_progress=False)
        k = min(10, len(self.spans))
        if not tokens.vocab or k == 0:
            return Prediction(question_id, None, 0.0, [], time.perf_counter() - started)
        ids, scores = self.retriever.retrieve(tokens, k=k, show_progress=False)
        passages = [self.spans[int(i)] for i in ids[0]]
        best = float(scores[0][0])
        answer = passages[0] if best > 0 else None
        return Prediction(question_id, answer, best, passages, time.perf_counter() - started, answer)
