"""The build: cut articles into units, embed what is new, index the vectors.

Units are sentences, pairs of adjacent sentences of one paragraph, and chunks; beside them the
headings (titles, section titles), embedded *as questions* to be matched with the reader's. Each unit is
embedded with its section title (``sentence_input``, ``pair_input``, ``chunk_input``) and known by the hash of
that input (``text_hash``): a rebuild reuses the vector of every input whose hash it already has
(``cache``, from ``vector_cache`` or ``index.store.reusable_vectors``), so adding one article embeds
only it. Sentences are embedded with their token vectors when the settings keep them (``index.tokens``),
from the same model call. Nothing here touches the disk: ``index.store`` saves the result.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass

import numpy as np

from corpus.chunk import UNITS_VERSION, Chunk, Heading, Sentence, chunks, headings, pairs, sentences
from corpus.load import Article
from index.config import IndexConfig
from index.encoder import Encoder, ModelInfo, TokenEncoder
from index.manifest import FORMAT, BuildStats, CorpusStats, Manifest
from index.search import Index, make_faiss
from index.tokens import Tokens, quantize

log = logging.getLogger(__name__)


def sentence_input(article: Article, sentence: Sentence) -> str:
    """What is embedded for a sentence: its section title gives the context a bare sentence lacks."""
    body = article.text[sentence.start : sentence.end]
    return body if sentence.section == article.title else f"{sentence.section}\n{body}"


def pair_input(article: Article, first: Sentence, second: Sentence) -> str:
    body = article.text[first.start : second.end]
    return body if first.section == article.title else f"{first.section}\n{body}"


def chunk_input(article: Article, chunk: Chunk) -> str:
    body = article.text[chunk.start : chunk.end]
    return body if chunk.section == article.title else f"{chunk.section}\n{body}"


def text_hash(title: str, text: str) -> str:
    return hashlib.sha256(f"{title}\x00{text}".encode()).hexdigest()[:24]


def corpus_hash(articles: Iterable[Article]) -> str:
    digest = hashlib.sha256()
    for article in articles:
        record = [article.doc_id, article.title, article.url, article.text]
        digest.update(json.dumps(record, ensure_ascii=False).encode())
    return digest.hexdigest()


@dataclass
class _Reading:
    """What a build needs to keep the sentences' token vectors: each input's sentence length (its tokens
    are those of its last ``bodies[i]`` characters), the kept ones by input hash, their size."""

    encoder: TokenEncoder
    bodies: list[int]
    cache: dict[str, tuple[np.ndarray, np.ndarray]]
    dims: int


def _embed(
    encoder: Encoder,
    items: list[tuple[str, str]],
    cache: dict[str, np.ndarray],
    progress: bool,
    what: str,
    reading: _Reading | None = None,
) -> tuple[np.ndarray, list[str], int]:
    """Vectors for ``(title, text)`` items, embedding only those whose hash is not in ``cache``; with
    ``reading``, their token vectors too, from the same model call (an item is embedded again when its
    vector or its token vectors are not kept)."""
    hashes = [text_hash(title, text) for title, text in items]
    missing = sorted(
        {h: i for i, h in enumerate(hashes) if h not in cache or (reading and h not in reading.cache)}.values()
    )
    if missing:
        log.info("embedding %d new %s (%d reused)", len(missing), what, len(items) - len(missing))
        texts, titles = [items[i][1] for i in missing], [items[i][0] for i in missing]
        if reading is None:
            vectors = encoder.encode_documents(texts, titles, progress=progress)
        else:
            keep = [reading.bodies[i] for i in missing]
            vectors, states = reading.encoder.encode_document_tokens(texts, titles, keep, progress)
            for i, tokens in zip(missing, states):
                reading.cache[hashes[i]] = quantize(tokens, reading.dims)
        for i, vector in zip(missing, vectors):
            cache[hashes[i]] = vector
    return _stacked(cache, hashes, encoder.dims), hashes, len(missing)


def _stacked(cache: dict[str, np.ndarray], hashes: list[str], dims: int) -> np.ndarray:
    """The vectors of ``hashes`` from ``cache``, one row each (an empty matrix of ``dims`` columns for none)."""
    matrix = np.stack([cache[h] for h in hashes]) if hashes else np.zeros((0, dims), dtype=np.float32)
    return matrix.astype(np.float32)


def question_hash(text: str) -> str:
    """The key of a text embedded as a question (another prompt: never the same vector as a document's)."""
    return text_hash("\x01query", text)


def _embed_questions(
    encoder: Encoder, texts: list[str], cache: dict[str, np.ndarray]
) -> tuple[np.ndarray, list[str], int]:
    """Vectors of ``texts`` embedded as questions (the known questions), reusing those in ``cache``."""
    hashes = [question_hash(text) for text in texts]
    missing = sorted({h: i for i, h in enumerate(hashes) if h not in cache}.values())
    if missing:
        log.info("embedding %d new headings as questions (%d reused)", len(missing), len(texts) - len(missing))
        for i, vector in zip(missing, encoder.encode_queries([texts[i] for i in missing])):
            cache[hashes[i]] = vector
    return _stacked(cache, hashes, encoder.dims), hashes, len(missing)


def _units(articles: list[Article], config: IndexConfig) -> tuple[list[Sentence], list[tuple[int, int]], list[Chunk]]:
    """Every sentence, pair (positions in the sentence list) and chunk of ``articles``, in order."""
    all_sentences: list[Sentence] = []
    all_pairs: list[tuple[int, int]] = []
    all_chunks: list[Chunk] = []
    for article in articles:
        sents = sentences(article)
        offset = len(all_sentences)
        all_pairs.extend((offset + i, offset + j) for i, j in pairs(article, sents))
        all_sentences.extend(sents)
        all_chunks.extend(chunks(article, sents, config.chunk_chars, config.chunk_overlap))
    return all_sentences, all_pairs, all_chunks


def _version(c_hash: str, config: IndexConfig, model: ModelInfo) -> str:
    """The index version: changes with the corpus, the unit rules, the settings and the model's files,
    runtime and size, i.e. whenever a search could give another result."""
    source = json.dumps([c_hash, UNITS_VERSION, asdict(config), model.file_hashes, model.runtime, model.dims])
    return hashlib.sha256(source.encode()).hexdigest()[:12]


def build(
    articles: list[Article],
    encoder: Encoder,
    config: IndexConfig,
    cache: dict[str, np.ndarray] | None = None,
    progress: bool = False,
    token_cache: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
) -> Index:
    """Cut, embed and index ``articles``. ``cache`` maps input hashes to vectors already computed
    (from the previous index), ``token_cache`` sentence hashes to their kept token vectors; both are
    updated with the new ones. Token vectors are kept when ``config.token_dims`` asks for them and the
    encoder gives them (a test's fake encoder may not: its index then has none)."""
    cache = {} if cache is None else cache
    token_cache = {} if token_cache is None else token_cache
    started = time.perf_counter()
    all_sentences, all_pairs, all_chunks = _units(articles, config)
    by_id = {a.doc_id: a for a in articles}
    sentence_items = [(by_id[s.doc_id].title, sentence_input(by_id[s.doc_id], s)) for s in all_sentences]
    chunk_items = [(by_id[c.doc_id].title, chunk_input(by_id[c.doc_id], c)) for c in all_chunks]
    pair_items = [
        (
            by_id[all_sentences[i].doc_id].title,
            pair_input(by_id[all_sentences[i].doc_id], all_sentences[i], all_sentences[j]),
        )
        for i, j in all_pairs
    ]
    reading = None
    if config.token_dims and isinstance(encoder, TokenEncoder):
        bodies = [s.end - s.start for s in all_sentences]
        reading = _Reading(encoder, bodies, token_cache, config.token_dims)
    s_vectors, s_hashes, s_new = _embed(encoder, sentence_items, cache, progress, "sentences", reading)
    tokens = None if reading is None else Tokens.pack([token_cache[h] for h in s_hashes], config.token_dims)
    p_vectors, p_hashes, p_new = _embed(encoder, pair_items, cache, progress, "pairs")
    c_vectors, c_hashes, c_new = _embed(encoder, chunk_items, cache, progress, "chunks")
    all_headings: list[Heading] = [h for article in articles for h in headings(article)]
    h_vectors, h_hashes, h_new = _embed_questions(encoder, [h.text for h in all_headings], cache)
    model = encoder.info()
    c_hash = corpus_hash(articles)
    embedded = s_new + p_new + c_new + h_new
    total = len(s_hashes) + len(p_hashes) + len(c_hashes) + len(h_hashes)
    manifest = Manifest(
        FORMAT,
        UNITS_VERSION,
        _version(c_hash, config, model),
        time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        model,
        config,
        CorpusStats(
            hash=c_hash,
            articles=len(articles),
            sentences=len(all_sentences),
            pairs=len(all_pairs),
            chunks=len(all_chunks),
            tokens=0 if tokens is None else len(tokens.codes),
            headings=len(all_headings),
        ),
        BuildStats(round(time.perf_counter() - started, 2), embedded, total - embedded),
    )
    return Index(
        manifest,
        by_id,
        all_sentences,
        all_chunks,
        s_vectors,
        c_vectors,
        all_pairs,
        p_vectors,
        s_hashes,
        c_hashes,
        p_hashes,
        all_headings,
        h_vectors,
        h_hashes,
        make_faiss(s_vectors, config.index_type),
        make_faiss(c_vectors, config.index_type),
        tokens,
    )


def token_cache(index: Index) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Sentence hash → its kept token vectors, for reuse by the next build (empty without tokens)."""
    if index.tokens is None:
        return {}
    return {h: index.tokens.of(pos) for pos, h in enumerate(index.sentence_hashes)}


def vector_cache(index: Index) -> dict[str, np.ndarray]:
    """Input hash → vector, for reuse by the next build."""
    cache = dict(zip(index.sentence_hashes, index.sentence_vectors))
    cache.update(zip(index.pair_hashes, index.pair_vectors))
    cache.update(zip(index.chunk_hashes, index.chunk_vectors))
    cache.update(zip(index.heading_hashes, index.heading_vectors))
    return cache
