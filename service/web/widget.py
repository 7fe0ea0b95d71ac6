"""The help widget as served, and the demo page that embeds it over the articles.

The widget itself is one plain file, ``service/web/static/widget.js``; the service fills in its
configuration (example questions) when serving it, and its version is the hash of what is served.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from html import escape
from pathlib import Path
from urllib.parse import quote

from corpus.load import Article
from service.web.pages import STYLE, article_text_html

WIDGET_FILE = Path(__file__).resolve().parent / "static" / "widget.js"
CONFIG_TOKEN = "__SOURCIER_CONFIG__"
DEMO_FULL_ARTICLES = 3  # the demo page shows the text of the first few articles, and lists them all


@dataclass(frozen=True)
class WidgetScript:
    body: bytes
    version: str


def widget_script(examples: list[str]) -> WidgetScript:
    """The widget as served: the static file with its configuration filled in."""
    config = json.dumps({"examples": examples})
    source = WIDGET_FILE.read_text(encoding="utf-8")
    if CONFIG_TOKEN not in source:
        raise ValueError(f"{WIDGET_FILE} has no {CONFIG_TOKEN} placeholder")
    body = source.replace(CONFIG_TOKEN, config, 1).encode("utf-8")
    return WidgetScript(body, hashlib.sha256(body).hexdigest()[:12])


def _href(article: Article, prefix: str = "") -> str:
    """Sourcier's page of an article (an id may hold "/": a page of a static site's sub-folder)."""
    return escape(f"{prefix}/articles/" + quote(article.doc_id, safe="/"), quote=True)


def demo_page(articles: list[Article], script_src: str, public_url: str, site: str = "", prefix: str = "") -> str:
    """The product on one page: the widget inline above the articles, then their text. ``site`` and
    ``prefix``: the site's id and path when the process serves several (the widget tag names the site)."""
    listing = "".join(f'<li><a href="{_href(a, prefix)}">{escape(a.title)}</a></li>' for a in articles)
    texts = "".join(
        f'<article><div class="text">{article_text_html(a)}</div>'
        f'<p class="muted"><a href="{_href(a, prefix)}">Ouvrir l’article</a>'
        f"</p></article><hr>"
        for a in articles[:DEMO_FULL_ARTICLES]
    )
    api = public_url.rstrip("/")
    named = f' data-sourcier-site="{site}"' if site else ""
    snippet = f'<script src="{api}{prefix}/widget.js" data-sourcier-api="{api}"{named} defer></script>'
    return (
        '<!doctype html>\n<html lang="fr"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>Sourcier — démonstration</title><style>{STYLE}"
        ".demo-search{margin:0 0 2rem}hr{border:0;border-top:1px solid #d9dde6;margin:2rem 0}"
        "code{font-size:.85rem;overflow-wrap:anywhere}</style></head>"
        "<body><main><h1>Sourcier</h1>"
        "<p>Posez une question sur les articles ci-dessous : la réponse est une phrase copiée mot pour mot "
        "de l’article, avec sa source. Raccourcis : <kbd>/</kbd> ou <kbd>Ctrl</kbd>+<kbd>K</kbd>.</p>"
        '<div class="demo-search" data-sourcier></div>'
        f'<nav aria-label="Articles"><h2>Articles</h2><ul>{listing}</ul></nav><hr>{texts}'
        f'<p class="muted">Sur votre site, une seule ligne : <code>{escape(snippet)}</code></p>'
        f'</main><script src="{escape(script_src, quote=True)}"{named} defer></script></body></html>\n'
    )
