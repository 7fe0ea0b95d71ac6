"""What a refresh needs to remember of the last fetch (``crawl.json`` beside the index), and the article
id a page's URL gives."""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from urllib.parse import unquote, urlsplit

from corpus.load import CorpusError, slug

STATE_VERSION = 1
_PAGE_SUFFIX = re.compile(r"\.(html?|php|aspx?|jsp)$", re.IGNORECASE)


def url_article_id(url: str) -> str:
    """A page's article id from its URL's path: each part slugged like ``corpus.load.slug`` and joined by
    "/", a trailing ``.html``/``.htm``/``.php`` dropped and a trailing ``index`` page named by its folder
    (``/guides/Arrêt%20maladie.html`` → ``guides/arret-maladie``, ``/guides/index.html`` → ``guides``); the
    home page is ``index``. The host, the query string and the fragment are not part of it: two URLs that
    differ only there give the same id, which the crawl reports as a ``duplicate`` rather than guess."""
    path = unquote(urlsplit(url).path)
    parts = [part for part in path.split("/") if part]
    if parts:
        parts[-1] = _PAGE_SUFFIX.sub("", parts[-1])
        if parts[-1].lower() == "index":
            parts.pop()
    return "/".join(slug(part) for part in parts if part) or "index"


@dataclass
class StateEntry:
    """One URL as last fetched. ``lastmod`` is the sitemap's ``<lastmod>`` (WordPress: ``modified_gmt``);
    ``links`` are the same-host links found on the page, kept so that a crawl can go past a 304."""

    article_id: str
    etag: str | None = None
    last_modified: str | None = None
    sha256: str | None = None
    lastmod: str | None = None
    url: str | None = None  # the article's URL (canonical, else final) when it differs from the key
    links: list[str] = field(default_factory=list)


@dataclass
class CrawlState:
    """Per requested URL, what the last fetch saw; ``source`` is the site address it was made for."""

    source: str = ""
    entries: dict[str, StateEntry] = field(default_factory=dict)

    def get(self, url: str) -> StateEntry | None:
        return self.entries.get(url)

    @classmethod
    def load(cls, path: Path) -> CrawlState:
        """The state saved at ``path``; an empty one when the file does not exist (a first fetch)."""
        path = Path(path)
        if not path.exists():
            return cls()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("version") != STATE_VERSION:
                raise ValueError(f"version {data.get('version')!r}, expected {STATE_VERSION}")
            known = {f.name for f in fields(StateEntry)}
            entries = {
                url: StateEntry(**{k: v for k, v in entry.items() if k in known})
                for url, entry in data["pages"].items()
            }
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise CorpusError(f"{path}: unreadable crawl state ({exc}); delete it to fetch every page again") from exc
        return cls(str(data.get("source", "")), entries)

    def save(self, path: Path) -> None:
        """Written to a temporary file in the same folder, then renamed over ``path``: never half a file."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {
            "version": STATE_VERSION,
            "source": self.source,
            "pages": {url: asdict(entry) for url, entry in sorted(self.entries.items())},
        }
        fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle, ensure_ascii=False, indent=1)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
