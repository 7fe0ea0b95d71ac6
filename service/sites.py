"""The sites one Sourcier serves: read from the sites file (setting ``sites_file``), checked at start.

With no sites file, Sourcier serves one site, ``default``, from the settings alone, at the root
(``/api/ask``) — exactly as before sites existed. With one, every site is a table of the TOML file::

    [sites.aide]
    url = "https://aide.exemple.fr/"          # or corpus = ["articles/aide"], or wordpress = "https://…"
    origins = ["https://aide.exemple.fr"]     # who may call its API from a browser (CORS)
    editor_token_env = "AIDE_EDITOR_TOKEN"    # or editor_token = "…": its editors' pages
    top_k = 3                                 # any of PER_SITE

and is served under ``/sites/<id>/`` (``/sites/aide/api/ask``). What is shared: the process, the
model (loaded once), the settings not in ``PER_SITE`` and the store (each row names its site). What is
per site: its index folder and crawl state (``<data_dir>/sites/<id>/index``), its abstention
threshold (measured on its own index), its citation base URL, origins, editors' token, rate limit
and the PER_SITE settings. A mistake in the file stops the start with the file, the line and what is
wrong, before anything is loaded.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from service.settings import Settings
from service.storage.records import DEFAULT_SITE

SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")
# Settings a site may set for itself: how it answers and who may call it. The rest (the model, the
# chunking, the store…) is the process's: one model serves every site, so what shapes an index is shared.
PER_SITE = frozenset(
    {
        "threshold",
        "abstain_deviations",
        "abstain_floor",
        "top_k",
        "max_top_k",
        "max_question_chars",
        "confident_margin",
        "known_question",
        "rate_limit",
        "rate_burst",
        "widget_examples",
        "query_log",
        "fetch_max_pages",
        "fetch_max_depth",
        "site_min_kept",
    }
)
SITE_KEYS = frozenset(
    {
        "corpus",
        "url",
        "wordpress",
        "crawl",
        "include",
        "exclude",
        "public_url",
        "origins",
        "editor_token",
        "editor_token_env",
        "index_dir",
    }
)


class SitesError(ValueError):
    """The sites file cannot be used; the message names the file, the line and the fault."""


@dataclass(frozen=True)
class Source:
    """Where a site's articles come from: files (``corpus``), a website (``url``) or a WordPress site."""

    kind: str  # "corpus", "url" or "wordpress"
    corpus: tuple[Path, ...] = ()
    url: str = ""
    crawl: bool = False
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    def describe(self) -> str:
        if self.kind == "corpus":
            return " ".join(str(p) for p in self.corpus)
        return f"{self.kind} {self.url}" + (" (crawl)" if self.crawl else "")


@dataclass(frozen=True)
class Site:
    """One served site: its id, its settings (the process's, with its own over them), where its articles
    come from and the path its routes live under ("" for the single default site)."""

    id: str
    settings: Settings
    source: Source
    prefix: str = ""


def site_prefix(site_id: str) -> str:
    return f"/sites/{site_id}"


def load_sites(settings: Settings) -> dict[str, Site]:
    """The served sites, by id: the sites file's, or the one ``default`` site of the settings."""
    if settings.sites_file is None:
        source = Source("corpus", tuple(settings.corpus))
        return {DEFAULT_SITE: Site(DEFAULT_SITE, settings, source)}
    return read_sites(settings.sites_file, settings)


def read_sites(path: Path, settings: Settings) -> dict[str, Site]:
    """Every site of the file at ``path``, checked; raises SitesError at the first fault."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SitesError(f"{path}: cannot read the sites file: {exc}") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:  # its message ends "(at line N, column M)" or "(at end of document)"
        found = re.search(r"at line (\d+)", str(exc))
        line = int(found.group(1)) if found else max(1, len(text.splitlines()))
        raise SitesError(f"{path}:{line}: not valid TOML: {exc}") from exc
    lines = text.splitlines()
    unknown = sorted(set(data) - {"sites"})
    if unknown:
        raise SitesError(f"{path}:{_line(lines, unknown[0])}: unknown top-level key {unknown[0]!r} (only [sites.<id>])")
    tables = data.get("sites")
    if not isinstance(tables, dict) or not tables:
        raise SitesError(f"{path}:1: no site: declare at least one [sites.<id>] table")
    sites: dict[str, Site] = {}
    for site_id, entry in tables.items():
        where = _Where(path, lines, site_id)
        if not SLUG.match(site_id):
            raise where.error(
                None, f"site id {site_id!r}: lowercase letters, digits and '-' (at most 40, not at either end)"
            )
        if not isinstance(entry, dict):
            raise where.error(None, f"sites.{site_id} must be a table ([sites.{site_id}])")
        site = _site(site_id, entry, settings, path.parent, where)
        same = next((other for other in sites.values() if other.settings.index_dir == site.settings.index_dir), None)
        if same is not None:  # two sites building into one folder would overwrite each other's index
            raise where.error("index_dir", f"index_dir {site.settings.index_dir} is site {same.id!r}'s too")
        sites[site_id] = site
    return sites


@dataclass(frozen=True)
class _Where:
    """Finds the line of a site's table, or of one of its keys, for the error messages."""

    path: Path
    lines: list[str]
    site_id: str

    def line(self, key: str | None) -> int:
        header = re.compile(rf"^\s*\[\s*sites\s*\.\s*[\"']?{re.escape(self.site_id)}[\"']?\s*\]")
        start = next((i for i, text in enumerate(self.lines) if header.match(text)), None)
        if start is None:
            return _line(self.lines, self.site_id)
        if key is not None:
            for i in range(start + 1, len(self.lines)):
                if self.lines[i].lstrip().startswith("["):
                    break
                if re.match(rf"^\s*{re.escape(key)}\s*=", self.lines[i]):
                    return i + 1
        return start + 1

    def error(self, key: str | None, message: str) -> SitesError:
        return SitesError(f"{self.path}:{self.line(key)}: site {self.site_id!r}: {message}")


def _line(lines: list[str], word: str) -> int:
    return next((i + 1 for i, text in enumerate(lines) if word in text), 1)


def _strings(entry: dict[str, Any], key: str, where: _Where) -> tuple[str, ...]:
    value = entry.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise where.error(key, f"{key} must be a list of strings")
    return tuple(value)


def _text(entry: dict[str, Any], key: str, where: _Where) -> str:
    value = entry.get(key, "")
    if not isinstance(value, str):
        raise where.error(key, f"{key} must be a string")
    return value


def _source(entry: dict[str, Any], folder: Path, where: _Where) -> Source:
    given = [key for key in ("corpus", "url", "wordpress") if key in entry]
    if len(given) != 1:
        raise where.error(
            None, 'give exactly one source: corpus = [files…], url = "https://…" or wordpress = "https://…"'
        )
    kind = given[0]
    crawl = entry.get("crawl", False)
    if not isinstance(crawl, bool):
        raise where.error("crawl", "crawl must be true or false")
    include, exclude = _strings(entry, "include", where), _strings(entry, "exclude", where)
    for pattern in (*include, *exclude):
        try:
            re.compile(pattern)
        except re.error as exc:
            raise where.error("include" if pattern in include else "exclude", f"bad regex {pattern!r}: {exc}") from exc
    if kind == "corpus":
        if crawl or include or exclude:
            raise where.error("corpus", "crawl, include and exclude go with url or wordpress")
        paths = _strings(entry, "corpus", where)
        if not paths:
            raise where.error("corpus", "corpus lists no file or folder")
        return Source("corpus", tuple((folder / p).resolve() for p in paths))
    url = _text(entry, kind, where)
    if not re.match(r"^https?://[^/\s]+", url):
        raise where.error(kind, f"{kind} must be an http(s) URL, not {url!r}")
    return Source(kind, url=url, crawl=crawl, include=include, exclude=exclude)


def _site(site_id: str, entry: dict[str, Any], settings: Settings, folder: Path, where: _Where) -> Site:
    unknown = sorted(set(entry) - SITE_KEYS - PER_SITE)
    if unknown:
        raise where.error(
            unknown[0],
            f"unknown key {unknown[0]!r}; a site has {', '.join(sorted(SITE_KEYS))} "
            f"and may set {', '.join(sorted(PER_SITE))}",
        )
    source = _source(entry, folder, where)
    origins = _strings(entry, "origins", where)
    token = _text(entry, "editor_token", where)
    token_env = _text(entry, "editor_token_env", where)
    if token and token_env:
        raise where.error("editor_token", "editor_token or editor_token_env, not both")
    if token_env:
        token = os.environ.get(token_env, "")
        if not token:
            raise where.error("editor_token_env", f"the environment variable {token_env} is unset or empty")
    index_dir = entry.get("index_dir")
    if index_dir is not None and not isinstance(index_dir, str):
        raise where.error("index_dir", "index_dir must be a string")
    public_url = _text(entry, "public_url", where) or settings.public_url.rstrip("/") + site_prefix(site_id)
    overrides: dict[str, Any] = {key: entry[key] for key in PER_SITE if key in entry}
    overrides |= {
        "index_dir": (folder / index_dir).resolve() if index_dir else settings.data_dir / "sites" / site_id / "index",
        "corpus": list(source.corpus) or settings.corpus,
        "public_url": public_url,
        "cors_origins": list(origins),
        "editor_token": token or None,
        "sites_file": None,
    }
    values = {name: getattr(settings, name) for name in Settings.model_fields} | overrides
    try:
        site_settings = Settings.model_validate(values)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = str(first["loc"][0]) if first["loc"] else None
        raise where.error(key if key in entry else None, f"{key}: {first['msg']}") from exc
    return Site(site_id, site_settings, source, site_prefix(site_id))
