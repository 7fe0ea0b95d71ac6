"""The index manifest: what an index was built from and with, typed, and the checks made on it.

``manifest.json`` is the one file read before anything else: by ``sourcier build`` (is the index up
to date?), by every load (was it built like this service would build it?), by the hot reload (did
the version change?) and by ``reusable_vectors`` (which vectors can a rebuild keep?). Its JSON is the
on-disk contract, so ``Manifest.to_dict()`` writes exactly the keys, order and values this code has
always written, and ``Manifest.from_dict()`` reads every manifest it ever wrote: keys that older
indexes lack are filled in (``settings.runtime``/``dims`` from ``LEGACY_SETTINGS``; ``corpus.pairs``
stays None, an index without pairs). A manifest missing a key that every version wrote is damaged.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from corpus.chunk import UNITS_VERSION
from index.config import LEGACY_SETTINGS, IndexConfig
from index.encoder import ModelInfo

FORMAT = 2
MANIFEST = "manifest.json"


class StoreError(RuntimeError):
    """The index folder is missing, damaged or was built differently; the message says what to run."""


@dataclass(frozen=True, kw_only=True)
class CorpusStats:
    """The corpus an index was built from: its hash (see ``index.build.corpus_hash``) and its counts."""

    hash: str
    articles: int
    sentences: int
    pairs: int | None = None  # None: an index of format 1, which had no pairs
    chunks: int
    tokens: int = 0  # sentence token vectors kept (index.tokens); 0: none, the answers are the bi-encoder's
    headings: int = 0  # titles and section titles embedded as questions (the site's known questions)


@dataclass(frozen=True)
class BuildStats:
    """How the last build went: its time and how many inputs it embedded or took from the previous index."""

    seconds: float
    embedded: int
    reused: int


@dataclass(frozen=True)
class Manifest:
    format: int
    units_version: int
    version: str  # a hash of corpus, unit rules, settings, model files, runtime and dims
    created_at: str
    model: ModelInfo
    settings: IndexConfig
    corpus: CorpusStats
    build: BuildStats
    files: dict[str, str] | None = field(default=None)  # SHA-256 of each file; None until saved
    # How this corpus scores questions it cannot answer, measured by the answering core when the index
    # is built (``service.core.abstention``); opaque here. None: an index older than the measurement.
    abstention: dict[str, Any] | None = field(default=None)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of ``manifest.json``."""
        corpus = {key: value for key, value in asdict(self.corpus).items() if value is not None}
        record = {
            "format": self.format,
            "units_version": self.units_version,
            "version": self.version,
            "created_at": self.created_at,
            "model": self.model.to_dict(),
            "settings": asdict(self.settings),
            "corpus": corpus,
            "build": asdict(self.build),
        }
        if self.files is not None:
            record["files"] = dict(self.files)
        if self.abstention is not None:
            record["abstention"] = dict(self.abstention)
        return record

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> Manifest:
        """The manifest of a ``manifest.json`` object; KeyError, TypeError or ValueError when it is not one."""
        if not isinstance(record, dict):
            raise TypeError(f"a JSON object is expected, not {type(record).__name__}")
        corpus, files = record["corpus"], record.get("files")
        return cls(
            record["format"],
            record["units_version"],
            record["version"],
            record["created_at"],
            ModelInfo.from_dict(record["model"]),
            _settings(record["settings"]),
            CorpusStats(
                hash=corpus["hash"],
                articles=corpus["articles"],
                sentences=corpus["sentences"],
                pairs=corpus.get("pairs"),
                chunks=corpus["chunks"],
                tokens=corpus.get("tokens", 0),
                headings=corpus.get("headings", 0),
            ),
            BuildStats(**{f.name: record["build"][f.name] for f in fields(BuildStats)}),
            None if files is None else dict(files),
            record.get("abstention"),
        )


def _settings(recorded: dict[str, Any]) -> IndexConfig:
    """The settings an index was built with: those it recorded, and for a setting newer than the index,
    the value every index had before it (``LEGACY_SETTINGS``). The model was always recorded."""
    values = LEGACY_SETTINGS | recorded
    return IndexConfig(**{f.name: values[f.name] for f in fields(IndexConfig)})  # type: ignore[arg-type]  # JSON values, checked against the config by check_compatible


def read_manifest(folder: Path) -> Manifest:
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise StoreError(f"no index at {folder} (manifest.json missing): run `sourcier build`")
    try:
        return Manifest.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise StoreError(f"{path} is damaged ({exc}): run `sourcier build` to rebuild the index") from exc
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        what = f"no {exc}" if isinstance(exc, KeyError) else str(exc)
        raise StoreError(f"{path} is damaged ({what}): run `sourcier build` to rebuild the index") from exc


def write_manifest(manifest: Manifest, folder: Path) -> None:
    (Path(folder) / MANIFEST).write_text(
        json.dumps(manifest.to_dict(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )


def check_compatible(
    manifest: Manifest,
    config: IndexConfig,
    model_name: str | None = None,
    dims: int | None = None,
    runtime: str | None = None,
) -> None:
    """Refuse an index built with another model, runtime or settings. ``runtime`` is the encoder's
    exact runtime string (library version and precision), compared with the one that built the index."""
    problems = []
    if manifest.format != FORMAT:
        problems.append(f"format {manifest.format} != {FORMAT}")
    if manifest.units_version != UNITS_VERSION:
        problems.append(f"sentence/chunk rules {manifest.units_version} != {UNITS_VERSION}")
    built = asdict(manifest.settings)
    for key, want in asdict(config).items():
        if (have := built[key]) != want:
            problems.append(f"setting {key}: index has {have!r}, configured {want!r}")
    model = manifest.model
    if model_name is not None and model.name != model_name:
        problems.append(f"model: index has {model.name!r}, configured {model_name!r}")
    if dims is not None and model.dims != dims:
        problems.append(f"dims: index has {model.dims}, encoder gives {dims}")
    if runtime is not None and model.runtime != runtime:
        problems.append(f"runtime: index built with {model.runtime!r}, encoder runs {runtime!r}")
    if problems:
        raise StoreError(
            "the index was built differently: " + "; ".join(problems) + " — run `sourcier build` to rebuild it"
        )
