"""Make sure the index in a folder is current: keep it when it is, rebuild and save it when not.

``sourcier build`` and the evaluation both need "the index of these articles with these settings",
built only when the corpus or the settings changed and, when rebuilt, re-embedding only new inputs.
The encoder may be given as a function that loads it, called only when something must be embedded:
``sourcier build`` on an up-to-date index then reads one manifest instead of loading a model.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from corpus.load import Article
from index import store
from index.build import build, corpus_hash
from index.config import IndexConfig
from index.encoder import Encoder
from index.manifest import Manifest, StoreError, check_compatible, read_manifest
from index.search import Index

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Ensured:
    """The current index's manifest; the index itself unless it was kept without being loaded
    (``load_current=False``); and whether it was built now."""

    manifest: Manifest
    index: Index | None
    built: bool


def ensure(
    folder: Path,
    articles: list[Article],
    config: IndexConfig,
    encoder: Encoder | Callable[[], Encoder],
    force: bool = False,
    progress: bool = False,
    load_current: bool = True,
) -> Ensured:
    """The index of ``articles`` at ``folder``, rebuilt unless the one there is compatible with
    ``config`` and was built from the same corpus (and ``force`` is not set).

    ``encoder`` is an encoder, or a function returning one, called only to rebuild. Given an encoder,
    the index kept must also have been made by its model, runtime and size, and is loaded with those
    checks; given a function, only the manifest is checked before the encoder exists. A kept index is
    loaded (every file checked against its hash) unless ``load_current`` is False: then ``index`` is
    None and the manifest alone says what is there. A rebuild reuses the vectors of unchanged inputs.
    """
    folder = Path(folder)
    identity = _identity(encoder) if isinstance(encoder, Encoder) else (None, None, None)
    try:
        manifest = read_manifest(folder)
        check_compatible(manifest, config, *identity)
        if manifest.corpus.hash == corpus_hash(articles) and not force:
            if not load_current:
                return Ensured(manifest, None, built=False)
            index = store.load(folder, config, identity[0], identity[1], runtime=identity[2])
            return Ensured(index.manifest, index, built=False)
    except StoreError as exc:
        log.info("the index at %s will be rebuilt (%s)", folder, exc)
    if not isinstance(encoder, Encoder):
        encoder = encoder()
    cache = store.reusable_vectors(folder, encoder.name, encoder.runtime, encoder.dims)
    tokens = store.reusable_tokens(folder, encoder.name, encoder.runtime, encoder.dims, config.token_dims)
    index = build(articles, encoder, config, cache=cache, progress=progress, token_cache=tokens)
    store.save(index, folder)
    return Ensured(index.manifest, index, built=True)


def _identity(encoder: Encoder) -> tuple[str, int, str]:
    """What an index must have been made with to be searched with ``encoder``: model name, dims, runtime."""
    return encoder.name, encoder.dims, encoder.runtime
