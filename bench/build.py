"""Benchmark 4: index build — passages/s for the seed article and the 480 PIAF articles, against the
encoder's bare batch throughput on the same inputs, and the incremental rebuild after one article
changed (which must embed only that article's passages)."""

from __future__ import annotations

import json
import random
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.common import PIAF_ARTICLES, SEED, WORK, bench_settings
from corpus.chunk import chunks, pairs, sentences
from corpus.load import load
from index import store
from index.build import build, chunk_input, pair_input, sentence_input, token_cache, vector_cache
from index.search import Index

BARE_SAMPLE = 2000  # inputs timed bare: a fixed random sample of the PIAF build's inputs


@dataclass
class BuildRow:
    corpus: str
    articles: int
    passages: int  # sentences + pairs + chunks embedded
    build_s: float  # cut, embed, index
    save_s: float
    passages_per_s: float


@dataclass
class BuildResult:
    runtime: str
    dims: int
    rows: list[BuildRow]
    bare_passages_per_s: float
    build_vs_bare: float
    incremental_s: float  # load the previous index, rebuild reusing its vectors, save
    incremental_embedded: int
    changed_article_passages: int
    incremental_vs_full: float


def index_folder(corpus: str, runtime: str, dims: int | None) -> Path:
    return WORK / f"index-{corpus}-{runtime}-{dims or 'full'}"


def _inputs(articles: list) -> list[tuple[str, str]]:
    """(title, text) of every sentence, pair and chunk, as the index embeds them."""
    config = bench_settings().index_config()
    items = []
    for article in articles:
        sents = sentences(article)
        items += [(article.title, sentence_input(article, s)) for s in sents]
        items += [(article.title, pair_input(article, sents[i], sents[j])) for i, j in pairs(article, sents)]
        items += [
            (article.title, chunk_input(article, c))
            for c in chunks(article, sents, config.chunk_chars, config.chunk_overlap)
        ]
    return items


def _build(name: str, articles: list, encoder, config) -> tuple[BuildRow, Index]:  # noqa: ANN001
    started = time.perf_counter()
    index = build(articles, encoder, config)
    built = time.perf_counter() - started
    started = time.perf_counter()
    store.save(index, index_folder(name, config.runtime, config.dims))
    saved = time.perf_counter() - started
    embedded = index.manifest.build.embedded
    return BuildRow(name, len(articles), embedded, round(built, 2), round(saved, 2), round(embedded / built, 1)), index


def _changed_corpus(folder: Path) -> tuple[list, str]:
    """The PIAF articles with one of them edited (a sentence added), loaded like any corpus."""
    records = [json.loads(line) for line in PIAF_ARTICLES.read_text(encoding="utf-8").splitlines() if line.strip()]
    changed = records[len(records) // 2]
    changed["text"] += "\n\nCet article a été mis à jour : une phrase a été ajoutée pour le banc d'essai."
    path = folder / "articles.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return load([path]), changed["id"]


def run(runtime: str, dims: int | None = None) -> BuildResult:
    settings = bench_settings(runtime=runtime, dims=dims)
    encoder, config = settings.load_encoder(), settings.index_config()
    seed_row, _ = _build("seed", load([SEED]), encoder, config)
    piaf = load([PIAF_ARTICLES])
    piaf_row, piaf_index = _build("piaf-480", piaf, encoder, config)
    sample = random.Random(0).sample(_inputs(piaf), BARE_SAMPLE)
    started = time.perf_counter()
    encoder.encode_documents([t for _, t in sample], [title for title, _ in sample])
    bare = BARE_SAMPLE / (time.perf_counter() - started)
    with tempfile.TemporaryDirectory() as tmp:
        changed, changed_id = _changed_corpus(Path(tmp))
        started = time.perf_counter()
        previous = store.load(
            index_folder("piaf-480", runtime, dims), config, encoder.name, encoder.dims, runtime=encoder.runtime
        )
        incremental = build(changed, encoder, config, cache=vector_cache(previous), token_cache=token_cache(previous))
        store.save(incremental, WORK / "index-piaf-480-incremental")
        seconds = time.perf_counter() - started
    own = len(_inputs([a for a in changed if a.doc_id == changed_id]))
    full = piaf_row.build_s + piaf_row.save_s
    return BuildResult(
        encoder.runtime,
        encoder.dims,
        [seed_row, piaf_row],
        round(bare, 1),
        round(piaf_row.passages_per_s / bare, 3),
        round(seconds, 2),
        incremental.manifest.build.embedded,
        own,
        round(seconds / full, 4),
    )
