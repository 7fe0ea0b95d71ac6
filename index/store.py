"""Build, save and load the search index: sentences and chunks, their vectors, a manifest.

On disk (one folder, readable without this code):
``manifest.json`` (model, settings, corpus hash, counts, file hashes), ``articles.jsonl``,
``sentences.jsonl``, ``pairs.jsonl``, ``chunks.jsonl`` (offsets and the hash of each embedded
input), ``sentences.faiss`` / ``chunks.faiss`` (searched) and ``pairs.npy`` (only compared with the
question next to a chosen sentence, never searched). No pickle. A save writes a temporary folder and renames it
into place, so a crash never leaves a half index where the service looks. A rebuild reuses the
vectors of unchanged inputs (same embedded text → same hash), so adding one article embeds only it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable

import faiss
import numpy as np

from corpus.chunk import UNITS_VERSION, Chunk, Sentence, chunks, pairs, sentences
from corpus.load import Article, Section
from corpus.text import Span
from index.config import LEGACY_SETTINGS, IndexConfig
from index.encoder import Encoder, sha256_file

log = logging.getLogger(__name__)

FORMAT = 2
FILES = ("articles.jsonl", "sentences.jsonl", "pairs.jsonl", "chunks.jsonl", "sentences.faiss", "pairs.npy",
         "chunks.faiss")


class StoreError(RuntimeError):
    """The index folder is missing, damaged or was built differently; the message says what to run."""


@dataclass
class Index:
    manifest: dict[str, Any]
    articles: dict[str, Article]
    sentences: list[Sentence]
    chunks: list[Chunk]
    sentence_vectors: np.ndarray
    chunk_vectors: np.ndarray
    pairs: list[tuple[int, int]] = field(default_factory=list)  # positions in ``sentences`` of each pair
    pair_vectors: np.ndarray | None = None
    sentence_hashes: list[str] = field(default_factory=list)
    chunk_hashes: list[str] = field(default_factory=list)
    pair_hashes: list[str] = field(default_factory=list)
    sentence_faiss: Any = field(repr=False, default=None)
    chunk_faiss: Any = field(repr=False, default=None)

    def __post_init__(self) -> None:
        if self.sentence_faiss is None:
            self.sentence_faiss = _faiss_index(self.sentence_vectors, self.manifest["settings"]["index_type"])
        if self.chunk_faiss is None:
            self.chunk_faiss = _faiss_index(self.chunk_vectors, self.manifest["settings"]["index_type"])
        if self.pair_vectors is None:
            self.pair_vectors = np.zeros((0, self.sentence_vectors.shape[1]), dtype=np.float32)
        self.pair_at = {first: row for row, (first, _) in enumerate(self.pairs)}  # first sentence → pair row
        # Sentence position of each (doc_id, index), and the chunks each sentence belongs to.
        self.sentence_pos = {(s.doc_id, s.index): i for i, s in enumerate(self.sentences)}
        self.chunks_of_sentence: dict[int, list[int]] = {}
        for c_pos, chunk in enumerate(self.chunks):
            for s_index in range(chunk.first, chunk.last + 1):
                pos = self.sentence_pos[(chunk.doc_id, s_index)]
                self.chunks_of_sentence.setdefault(pos, []).append(c_pos)

    @property
    def version(self) -> str:
        return self.manifest["version"]

    def search_chunks(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        return _search(self.chunk_faiss, query, k)

    def search_sentences(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        return _search(self.sentence_faiss, query, k)


def _search(index: Any, query: np.ndarray, k: int) -> list[tuple[int, float]]:
    k = min(k, index.ntotal)
    if k <= 0:
        return []
    scores, ids = index.search(np.asarray(query, dtype=np.float32).reshape(1, -1), k)
    return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]


def _faiss_index(vectors: np.ndarray, index_type: str) -> Any:
    dims = vectors.shape[1]
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


def sentence_input(article: Article, sentence: Sentence) -> str:
    """What is embedded for a sentence: its section title gives the context a bare sentence lacks."""
    body = article.text[sentence.start:sentence.end]
    return body if sentence.section == article.title else f"{sentence.section}\n{body}"


def pair_input(article: Article, first: Sentence, second: Sentence) -> str:
    body = article.text[first.start:second.end]
    return body if first.section == article.title else f"{first.section}\n{body}"


def chunk_input(article: Article, chunk: Chunk) -> str:
    body = article.text[chunk.start:chunk.end]
    return body if chunk.section == article.title else f"{chunk.section}\n{body}"


def text_hash(title: str, text: str) -> str:
    return hashlib.sha256(f"{title}\x00{text}".encode()).hexdigest()[:24]


def corpus_hash(articles: Iterable[Article]) -> str:
    digest = hashlib.sha256()
    for article in articles:
        record = [article.doc_id, article.title, article.url, article.text]
        digest.update(json.dumps(record, ensure_ascii=False).encode())
    return digest.hexdigest()


def _embed(encoder: Encoder, items: list[tuple[str, str]], cache: dict[str, np.ndarray],
           progress: bool, what: str) -> tuple[np.ndarray, list[str], int]:
    """Vectors for ``(title, text)`` items, embedding only those whose hash is not in ``cache``."""
    hashes = [text_hash(title, text) for title, text in items]
    missing = sorted({h: i for i, h in enumerate(hashes) if h not in cache}.values())
    if missing:
        log.info("embedding %d new %s (%d reused)", len(missing), what, len(items) - len(missing))
        vectors = encoder.encode_documents([items[i][1] for i in missing], [items[i][0] for i in missing],
                                           progress=progress)
        for i, vector in zip(missing, vectors):
            cache[hashes[i]] = vector
    dims = encoder.dims
    matrix = np.stack([cache[h] for h in hashes]) if hashes else np.zeros((0, dims), dtype=np.float32)
    return matrix.astype(np.float32), hashes, len(missing)


def build(articles: list[Article], encoder: Encoder, config: IndexConfig,
          cache: dict[str, np.ndarray] | None = None, progress: bool = False) -> Index:
    """Cut, embed and index ``articles``. ``cache`` maps input hashes to vectors already computed
    (from the previous index); it is updated with the new ones."""
    cache = {} if cache is None else cache
    started = time.perf_counter()
    all_sentences: list[Sentence] = []
    all_pairs: list[tuple[int, int]] = []
    all_chunks: list[Chunk] = []
    for article in articles:
        sents = sentences(article)
        offset = len(all_sentences)
        all_pairs.extend((offset + i, offset + j) for i, j in pairs(article, sents))
        all_sentences.extend(sents)
        all_chunks.extend(chunks(article, sents, config.chunk_chars, config.chunk_overlap))
    by_id = {a.doc_id: a for a in articles}
    sentence_items = [(by_id[s.doc_id].title, sentence_input(by_id[s.doc_id], s)) for s in all_sentences]
    chunk_items = [(by_id[c.doc_id].title, chunk_input(by_id[c.doc_id], c)) for c in all_chunks]
    pair_items = [(by_id[all_sentences[i].doc_id].title,
                   pair_input(by_id[all_sentences[i].doc_id], all_sentences[i], all_sentences[j])) for i, j in all_pairs]
    s_vectors, s_hashes, s_new = _embed(encoder, sentence_items, cache, progress, "sentences")
    p_vectors, p_hashes, p_new = _embed(encoder, pair_items, cache, progress, "pairs")
    c_vectors, c_hashes, c_new = _embed(encoder, chunk_items, cache, progress, "chunks")
    model = encoder.info().to_dict()
    c_hash = corpus_hash(articles)
    settings = asdict(config)
    version_source = json.dumps([c_hash, UNITS_VERSION, settings, model.get("file_hashes"), model["runtime"], model["dims"]])
    manifest = {
        "format": FORMAT,
        "units_version": UNITS_VERSION,
        "version": hashlib.sha256(version_source.encode()).hexdigest()[:12],
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "model": model,
        "settings": settings,
        "corpus": {"hash": c_hash, "articles": len(articles), "sentences": len(all_sentences),
                   "pairs": len(all_pairs), "chunks": len(all_chunks)},
        "build": {"seconds": round(time.perf_counter() - started, 2), "embedded": s_new + p_new + c_new,
                  "reused": len(s_hashes) + len(p_hashes) + len(c_hashes) - s_new - p_new - c_new},
    }
    return Index(manifest, by_id, all_sentences, all_chunks, s_vectors, c_vectors, all_pairs, p_vectors,
                 s_hashes, c_hashes, p_hashes)


def _write_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _article_record(article: Article) -> dict[str, Any]:
    return {"id": article.doc_id, "title": article.title, "url": article.url, "source": article.source,
            "sections": [asdict(s) for s in article.sections], "excluded": [list(s) for s in article.excluded],
            "text": article.text}


def _article_from(record: dict[str, Any]) -> Article:
    return Article(record["id"], record["title"], record["text"], [Section(**s) for s in record["sections"]],
                   record["url"], record["source"], [Span(*s) for s in record["excluded"]])


def save(index: Index, folder: Path) -> Path:
    """Write ``index`` to ``folder`` atomically (a complete new folder replaces the old one)."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.tmp-", dir=folder.parent))
    try:
        _write_jsonl(tmp / "articles.jsonl", (_article_record(a) for a in index.articles.values()))
        _write_jsonl(tmp / "sentences.jsonl",
                     ({**asdict(s), "hash": h} for s, h in zip(index.sentences, index.sentence_hashes)))
        _write_jsonl(tmp / "pairs.jsonl", ({"doc_id": index.sentences[i].doc_id, "first": index.sentences[i].index,
                                            "last": index.sentences[j].index, "start": index.sentences[i].start,
                                            "end": index.sentences[j].end, "hash": h}
                                           for (i, j), h in zip(index.pairs, index.pair_hashes)))
        _write_jsonl(tmp / "chunks.jsonl", ({**asdict(c), "hash": h} for c, h in zip(index.chunks, index.chunk_hashes)))
        np.save(tmp / "pairs.npy", np.ascontiguousarray(index.pair_vectors, dtype=np.float32), allow_pickle=False)
        faiss.write_index(index.sentence_faiss, str(tmp / "sentences.faiss"))
        faiss.write_index(index.chunk_faiss, str(tmp / "chunks.faiss"))
        manifest = {**index.manifest, "files": {name: sha256_file(tmp / name) for name in FILES}}
        (tmp / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        index.manifest = manifest
        _swap(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("index %s saved to %s", index.version, folder)
    return folder


def _swap(new: Path, folder: Path) -> None:
    """Put ``new`` at ``folder``; the old folder is moved aside first and removed after."""
    old = None
    if folder.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{folder.name}.old-", dir=folder.parent))
        os.rmdir(old)
        os.rename(folder, old)
    os.rename(new, folder)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def read_manifest(folder: Path) -> dict[str, Any]:
    path = Path(folder) / "manifest.json"
    if not path.is_file():
        raise StoreError(f"no index at {folder} (manifest.json missing): run `sourcier build`")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise StoreError(f"{path} is damaged ({exc}): run `sourcier build` to rebuild the index") from exc


def check_compatible(manifest: dict[str, Any], config: IndexConfig, model_name: str | None = None,
                     dims: int | None = None, runtime: str | None = None) -> None:
    """Refuse an index built with another model, runtime or settings. ``runtime`` is the encoder's
    exact runtime string (library version and precision), compared with the one that built the index."""
    problems = []
    if manifest.get("format") != FORMAT:
        problems.append(f"format {manifest.get('format')} != {FORMAT}")
    if manifest.get("units_version") != UNITS_VERSION:
        problems.append(f"sentence/chunk rules {manifest.get('units_version')} != {UNITS_VERSION}")
    built = manifest.get("settings", {})
    # An index older than a setting was built with that setting's value of the time (the model was
    # always recorded; an index without it is judged by its model record, checked below).
    legacy = LEGACY_SETTINGS | {"model": config.model}
    for key, want in asdict(config).items():
        if (have := built.get(key, legacy[key])) != want:
            problems.append(f"setting {key}: index has {have!r}, configured {want!r}")
    model = manifest.get("model", {})
    if model_name is not None and model.get("name") != model_name:
        problems.append(f"model: index has {model.get('name')!r}, configured {model_name!r}")
    if dims is not None and model.get("dims") != dims:
        problems.append(f"dims: index has {model.get('dims')}, encoder gives {dims}")
    if runtime is not None and model.get("runtime") != runtime:
        problems.append(f"runtime: index built with {model.get('runtime')!r}, encoder runs {runtime!r}")
    if problems:
        raise StoreError("the index was built differently: " + "; ".join(problems)
                          + " — run `sourcier build` to rebuild it")


def load(folder: Path, config: IndexConfig | None = None, model_name: str | None = None,
         dims: int | None = None, verify_files: bool = True, runtime: str | None = None) -> Index:
    """Load and check an index folder: manifest compatibility, file hashes, counts."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    if config is not None:
        check_compatible(manifest, config, model_name, dims, runtime)
    for name in FILES:
        path = folder / name
        if not path.is_file():
            raise StoreError(f"{path} is missing: run `sourcier build` to rebuild the index")
        if verify_files and sha256_file(path) != manifest.get("files", {}).get(name):
            raise StoreError(f"{path} does not match its hash in the manifest (damaged or tampered): "
                              "run `sourcier build` to rebuild the index")
    try:
        articles = {a.doc_id: a for a in map(_article_from, _read_jsonl(folder / "articles.jsonl"))}
        sent_records = _read_jsonl(folder / "sentences.jsonl")
        pair_records = _read_jsonl(folder / "pairs.jsonl")
        chunk_records = _read_jsonl(folder / "chunks.jsonl")
        pair_vectors = np.load(folder / "pairs.npy", allow_pickle=False)
        sentence_faiss = faiss.read_index(str(folder / "sentences.faiss"))
        chunk_faiss = faiss.read_index(str(folder / "chunks.faiss"))
    except (RuntimeError, ValueError, KeyError, TypeError, OSError) as exc:
        raise StoreError(f"the index at {folder} is damaged ({exc}): run `sourcier build`") from exc
    if (sentence_faiss.ntotal != len(sent_records) or chunk_faiss.ntotal != len(chunk_records)
            or pair_vectors.shape != (len(pair_records), sentence_faiss.d)):
        raise StoreError(f"the index at {folder} is inconsistent (vector and record counts differ): "
                          "run `sourcier build`")
    sents = [Sentence(**{k: r[k] for k in ("doc_id", "index", "start", "end", "section")}) for r in sent_records]
    chks = [Chunk(**{k: r[k] for k in ("doc_id", "index", "start", "end", "section", "first", "last")})
            for r in chunk_records]
    position = {(s.doc_id, s.index): i for i, s in enumerate(sents)}
    try:
        pair_pos = [(position[(r["doc_id"], r["first"])], position[(r["doc_id"], r["last"])]) for r in pair_records]
    except KeyError as exc:
        raise StoreError(f"the index at {folder} is inconsistent (a pair names an unknown sentence {exc}): "
                         "run `sourcier build`") from exc
    return Index(manifest, articles, sents, chks, _vectors(sentence_faiss), _vectors(chunk_faiss), pair_pos,
                 pair_vectors, [r["hash"] for r in sent_records], [r["hash"] for r in chunk_records],
                 [r["hash"] for r in pair_records], sentence_faiss, chunk_faiss)


def _vectors(index: Any) -> np.ndarray:
    if index.ntotal == 0:
        return np.zeros((0, index.d), dtype=np.float32)
    return index.reconstruct_n(0, index.ntotal)


def reusable_vectors(folder: Path, model_name: str, runtime: str, dims: int) -> dict[str, np.ndarray]:
    """Input hash → vector from the index at ``folder`` when the same model, runtime and size made it,
    whatever its unit rules, format or settings (a vector depends only on its input text), so a
    rebuild after such a change embeds only new inputs. Damaged or foreign files give nothing."""
    folder = Path(folder)
    try:
        manifest = read_manifest(folder)
    except StoreError:
        return {}
    model = manifest.get("model", {})
    if (model.get("name"), model.get("runtime"), model.get("dims")) != (model_name, runtime, dims):
        return {}
    cache: dict[str, np.ndarray] = {}
    files = manifest.get("files", {})
    for records_name, vectors_name in (("sentences.jsonl", "sentences.faiss"), ("pairs.jsonl", "pairs.npy"),
                                       ("chunks.jsonl", "chunks.faiss")):
        paths = folder / records_name, folder / vectors_name
        if not all(path.is_file() and sha256_file(path) == files.get(path.name) for path in paths):
            continue
        try:
            records = _read_jsonl(paths[0])
            vectors = (np.load(paths[1], allow_pickle=False) if vectors_name.endswith(".npy")
                       else _vectors(faiss.read_index(str(paths[1]))))
        except (RuntimeError, ValueError, OSError, json.JSONDecodeError):
            continue
        if len(records) == len(vectors) and all("hash" in r for r in records):
            cache.update(zip((r["hash"] for r in records), vectors))
    return cache


def vector_cache(index: Index) -> dict[str, np.ndarray]:
    """Input hash → vector, for reuse by the next build."""
    cache = dict(zip(index.sentence_hashes, index.sentence_vectors))
    cache.update(zip(index.pair_hashes, index.pair_vectors))
    cache.update(zip(index.chunk_hashes, index.chunk_vectors))
    return cache
