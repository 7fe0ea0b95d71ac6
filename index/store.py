"""Save and load the search index: one folder, readable without this code.

On disk: ``manifest.json`` (``index.manifest``: model, settings, corpus hash, counts, file hashes),
``articles.jsonl``, ``sentences.jsonl``, ``pairs.jsonl``, ``chunks.jsonl``, ``headings.jsonl`` (offsets
or texts, and the hash of each embedded input), ``sentences.faiss`` / ``chunks.faiss`` (searched),
``pairs.npy`` (only compared with the question next to a chosen sentence, never searched) and
``headings.npy`` (the titles and section titles embedded as questions, compared with every
question); with sentence token vectors, ``index.tokens``' three ``.npy`` files. No pickle. A save writes a
temporary folder and renames it into place, so a crash never leaves a half index where the service
looks. A load checks everything before trusting it: the manifest against the configuration, every
file against its hash, the counts against each other. Building is ``index.build``; deciding whether
to build is ``index.ensure``.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from corpus.chunk import Chunk, Heading, Sentence
from corpus.load import Article, Section
from corpus.text import Span
from index.config import IndexConfig
from index.encoder import sha256_file
from index.manifest import MANIFEST, StoreError, check_compatible, read_manifest, write_manifest
from index.search import Index
from index.tokens import FILES as TOKEN_FILES
from index.tokens import Tokens

log = logging.getLogger(__name__)

FILES = (
    "articles.jsonl",
    "sentences.jsonl",
    "pairs.jsonl",
    "chunks.jsonl",
    "sentences.faiss",
    "pairs.npy",
    "chunks.faiss",
    "headings.jsonl",
    "headings.npy",
)


def _write_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _article_record(article: Article) -> dict[str, Any]:
    return {
        "id": article.doc_id,
        "title": article.title,
        "url": article.url,
        "source": article.source,
        "sections": [asdict(s) for s in article.sections],
        "excluded": [list(s) for s in article.excluded],
        "text": article.text,
    }


def _article_from(record: dict[str, Any]) -> Article:
    return Article(
        record["id"],
        record["title"],
        record["text"],
        [Section(**s) for s in record["sections"]],
        record["url"],
        record["source"],
        [Span(*s) for s in record["excluded"]],
    )


def save(index: Index, folder: Path) -> Path:
    """Write ``index`` to ``folder`` atomically (a complete new folder replaces the old one); the
    manifest, with the hash of every file, becomes ``index.manifest``."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.tmp-", dir=folder.parent))
    try:
        _write_jsonl(tmp / "articles.jsonl", (_article_record(a) for a in index.articles.values()))
        _write_jsonl(
            tmp / "sentences.jsonl", ({**asdict(s), "hash": h} for s, h in zip(index.sentences, index.sentence_hashes))
        )
        _write_jsonl(
            tmp / "pairs.jsonl",
            (
                {
                    "doc_id": index.sentences[i].doc_id,
                    "first": index.sentences[i].index,
                    "last": index.sentences[j].index,
                    "start": index.sentences[i].start,
                    "end": index.sentences[j].end,
                    "hash": h,
                }
                for (i, j), h in zip(index.pairs, index.pair_hashes)
            ),
        )
        _write_jsonl(tmp / "chunks.jsonl", ({**asdict(c), "hash": h} for c, h in zip(index.chunks, index.chunk_hashes)))
        np.save(tmp / "pairs.npy", np.ascontiguousarray(index.pair_vectors, dtype=np.float32), allow_pickle=False)
        _write_jsonl(
            tmp / "headings.jsonl", ({**asdict(h), "hash": k} for h, k in zip(index.headings, index.heading_hashes))
        )
        np.save(tmp / "headings.npy", np.ascontiguousarray(index.heading_vectors, dtype=np.float32), allow_pickle=False)
        faiss.write_index(index.sentence_faiss, str(tmp / "sentences.faiss"))
        faiss.write_index(index.chunk_faiss, str(tmp / "chunks.faiss"))
        names = list(FILES)
        if index.tokens is not None:
            index.tokens.save(tmp)
            names += TOKEN_FILES
        manifest = replace(index.manifest, files={name: sha256_file(tmp / name) for name in names})
        write_manifest(manifest, tmp)
        index.manifest = manifest
        _swap(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("index %s saved to %s", index.version, folder)
    return folder


def record_abstention(folder: Path, version: str, abstention: dict[str, Any]) -> bool:
    """Store the answering core's abstention measurement in the manifest of the index ``version`` at
    ``folder``, atomically (a new manifest file replaces the old); False when another index is there now.
    The manifest alone changes: the index's version and files stay what they were."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    if manifest.version != version:
        return False
    tmp = Path(tempfile.mkdtemp(prefix=".manifest-", dir=folder))
    try:
        write_manifest(replace(manifest, abstention=abstention), tmp)
        os.replace(tmp / MANIFEST, folder / MANIFEST)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return True


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


def load(
    folder: Path,
    config: IndexConfig | None = None,
    model_name: str | None = None,
    dims: int | None = None,
    verify_files: bool = True,
    runtime: str | None = None,
) -> Index:
    """Load and check an index folder: manifest compatibility, file hashes, counts."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    if config is not None:
        check_compatible(manifest, config, model_name, dims, runtime)
    with_tokens = "tokens.npy" in (manifest.files or {})
    for name in FILES + (TOKEN_FILES if with_tokens else ()):
        path = folder / name
        if not path.is_file():
            raise StoreError(f"{path} is missing: run `sourcier build` to rebuild the index")
        if verify_files and sha256_file(path) != (manifest.files or {}).get(name):
            raise StoreError(
                f"{path} does not match its hash in the manifest (damaged or tampered): "
                "run `sourcier build` to rebuild the index"
            )
    try:
        articles = {a.doc_id: a for a in map(_article_from, _read_jsonl(folder / "articles.jsonl"))}
        sent_records = _read_jsonl(folder / "sentences.jsonl")
        pair_records = _read_jsonl(folder / "pairs.jsonl")
        chunk_records = _read_jsonl(folder / "chunks.jsonl")
        pair_vectors = np.load(folder / "pairs.npy", allow_pickle=False)
        heading_records = _read_jsonl(folder / "headings.jsonl")
        heads = [Heading(**{k: r[k] for k in ("doc_id", "section", "text", "question")}) for r in heading_records]
        heading_vectors = np.load(folder / "headings.npy", allow_pickle=False)
        sentence_faiss = faiss.read_index(str(folder / "sentences.faiss"))
        chunk_faiss = faiss.read_index(str(folder / "chunks.faiss"))
        tokens = Tokens.load(folder) if with_tokens else None
    except (RuntimeError, ValueError, KeyError, TypeError, OSError) as exc:
        raise StoreError(f"the index at {folder} is damaged ({exc}): run `sourcier build`") from exc
    if (
        sentence_faiss.ntotal != len(sent_records)
        or chunk_faiss.ntotal != len(chunk_records)
        or pair_vectors.shape != (len(pair_records), sentence_faiss.d)
        or heading_vectors.shape != (len(heading_records), sentence_faiss.d)
        or (tokens is not None and not tokens.consistent(len(sent_records)))
        or (tokens is not None and len(tokens.codes) != manifest.corpus.tokens)
    ):
        raise StoreError(
            f"the index at {folder} is inconsistent (vector and record counts differ): run `sourcier build`"
        )
    sents = [Sentence(**{k: r[k] for k in ("doc_id", "index", "start", "end", "section")}) for r in sent_records]
    chks = [
        Chunk(**{k: r[k] for k in ("doc_id", "index", "start", "end", "section", "first", "last")})
        for r in chunk_records
    ]
    position = {(s.doc_id, s.index): i for i, s in enumerate(sents)}
    try:
        pair_pos = [(position[(r["doc_id"], r["first"])], position[(r["doc_id"], r["last"])]) for r in pair_records]
    except KeyError as exc:
        raise StoreError(
            f"the index at {folder} is inconsistent (a pair names an unknown sentence {exc}): run `sourcier build`"
        ) from exc
    return Index(
        manifest,
        articles,
        sents,
        chks,
        _vectors(sentence_faiss),
        _vectors(chunk_faiss),
        pair_pos,
        pair_vectors,
        [r["hash"] for r in sent_records],
        [r["hash"] for r in chunk_records],
        [r["hash"] for r in pair_records],
        heads,
        heading_vectors,
        [r["hash"] for r in heading_records],
        sentence_faiss,
        chunk_faiss,
        tokens,
    )


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
    model = manifest.model
    if (model.name, model.runtime, model.dims) != (model_name, runtime, dims):
        return {}
    cache: dict[str, np.ndarray] = {}
    files = manifest.files or {}
    for records_name, vectors_name in (
        ("sentences.jsonl", "sentences.faiss"),
        ("pairs.jsonl", "pairs.npy"),
        ("chunks.jsonl", "chunks.faiss"),
        ("headings.jsonl", "headings.npy"),
    ):
        paths = folder / records_name, folder / vectors_name
        if not all(path.is_file() and sha256_file(path) == files.get(path.name) for path in paths):
            continue
        try:
            records = _read_jsonl(paths[0])
            vectors = (
                np.load(paths[1], allow_pickle=False)
                if vectors_name.endswith(".npy")
                else _vectors(faiss.read_index(str(paths[1])))
            )
        except (RuntimeError, ValueError, OSError, json.JSONDecodeError):
            continue
        if len(records) == len(vectors) and all("hash" in r for r in records):
            cache.update(zip((r["hash"] for r in records), vectors))
    return cache


def indexed_articles(folder: Path) -> dict[str, Article]:
    """The articles of the index at ``folder`` as they were indexed, by id, when its ``articles.jsonl``
    matches its manifest's hash; else none. A site refresh takes the pages that did not change from here
    instead of fetching and extracting them again."""
    path = Path(folder) / "articles.jsonl"
    try:
        manifest = read_manifest(path.parent)
        if not path.is_file() or sha256_file(path) != (manifest.files or {}).get(path.name):
            return {}
        return {a.doc_id: a for a in map(_article_from, _read_jsonl(path))}
    except (StoreError, ValueError, KeyError, TypeError, OSError, json.JSONDecodeError):
        return {}


def reusable_tokens(
    folder: Path, model_name: str, runtime: str, dims: int, token_dims: int
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Sentence hash → kept token vectors from the index at ``folder`` when the same model, runtime,
    size and token size made them (as ``reusable_vectors``); damaged or foreign files give nothing."""
    folder = Path(folder)
    try:
        manifest = read_manifest(folder)
    except StoreError:
        return {}
    model, files = manifest.model, manifest.files or {}
    if (model.name, model.runtime, model.dims, manifest.settings.token_dims) != (model_name, runtime, dims, token_dims):
        return {}
    paths = [folder / "sentences.jsonl"] + [folder / name for name in TOKEN_FILES]
    if not all(path.is_file() and sha256_file(path) == files.get(path.name) for path in paths):
        return {}
    try:
        records = _read_jsonl(paths[0])
        tokens = Tokens.load(folder)
    except (RuntimeError, ValueError, OSError, json.JSONDecodeError):
        return {}
    if not tokens.consistent(len(records)) or not all("hash" in r for r in records):
        return {}
    return {r["hash"]: tokens.of(pos) for pos, r in enumerate(records)}
