"""The help widget's side of the service: ``/widget.js`` (cacheable, versioned), readers' votes
(``POST /api/feedback``) and the demo page at ``/`` that embeds the widget over the articles.

The widget itself is one plain file, ``service/static/widget.js``; the service fills in its
configuration (example questions) when serving it, and its version is the hash of what is served.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Literal

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field

from corpus.load import Article
from service.answer import check_question
from service.api import APIError
from service.db import Feedback
from service.pages import STYLE, article_text_html
from service.settings import Settings

WIDGET_FILE = Path(__file__).resolve().parent / "static" / "widget.js"
CONFIG_TOKEN = "__SOURCIER_CONFIG__"
SHORT_CACHE = "public, max-age=300"  # the plain /widget.js URL picks up a new version within minutes
LONG_CACHE = "public, max-age=31536000, immutable"  # /widget.js?v=VERSION never changes
DEMO_FULL_ARTICLES = 3  # the demo page shows the text of the first few articles, and lists them all


class FeedbackRequest(BaseModel):
    """A reader's vote on one answer: the question, the cited passage and the vote, nothing else."""

    model_config = ConfigDict(extra="forbid")

    question: str = Field(..., description="La question posée.")
    doc_id: str = Field(..., description="L'article de la réponse.")
    start: int = Field(..., ge=0, description="Début de la réponse (caractères, points de code).")
    end: int = Field(..., ge=1, description="Fin de la réponse (exclue).")
    vote: Literal[-1, 1] = Field(..., description="1 : la réponse a aidé ; -1 : elle n'a pas aidé.")


class FeedbackResponse(BaseModel):
    id: int
    created_at: float


@dataclass(frozen=True)
class WidgetScript:
    body: bytes
    version: str


def widget_script(settings: Settings) -> WidgetScript:
    """The widget as served: the static file with its configuration filled in."""
    config = json.dumps({"examples": settings.widget_examples})
    source = WIDGET_FILE.read_text(encoding="utf-8")
    if CONFIG_TOKEN not in source:
        raise ValueError(f"{WIDGET_FILE} has no {CONFIG_TOKEN} placeholder")
    body = source.replace(CONFIG_TOKEN, config, 1).encode("utf-8")
    return WidgetScript(body, hashlib.sha256(body).hexdigest()[:12])


def demo_page(articles: list[Article], script_src: str, public_url: str) -> str:
    """The product on one page: the widget inline above the articles, then their text."""
    listing = "".join(f'<li><a href="/articles/{escape(a.doc_id, quote=True)}">{escape(a.title)}</a></li>'
                      for a in articles)
    texts = "".join(f'<article><div class="text">{article_text_html(a)}</div>'
                    f'<p class="muted"><a href="/articles/{escape(a.doc_id, quote=True)}">Ouvrir l’article</a>'
                    f"</p></article><hr>" for a in articles[:DEMO_FULL_ARTICLES])
    snippet = (f'<script src="{public_url.rstrip("/")}/widget.js" data-sourcier-api="{public_url.rstrip("/")}" '
               "defer></script>")
    return (
        "<!doctype html>\n<html lang=\"fr\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
        f"<title>Sourcier — démonstration</title><style>{STYLE}"
        ".demo-search{margin:0 0 2rem}hr{border:0;border-top:1px solid #d9dde6;margin:2rem 0}"
        "code{font-size:.85rem;overflow-wrap:anywhere}</style></head>"
        "<body><main><h1>Sourcier</h1>"
        "<p>Posez une question sur les articles ci-dessous : la réponse est une phrase copiée mot pour mot "
        "de l’article, avec sa source. Raccourcis : <kbd>/</kbd> ou <kbd>Ctrl</kbd>+<kbd>K</kbd>.</p>"
        "<div class=\"demo-search\" data-sourcier></div>"
        f"<nav aria-label=\"Articles\"><h2>Articles</h2><ul>{listing}</ul></nav><hr>{texts}"
        f"<p class=\"muted\">Sur votre site, une seule ligne : <code>{escape(snippet)}</code></p>"
        f"</main><script src=\"{escape(script_src, quote=True)}\" defer></script></body></html>\n"
    )


def widget_router(settings: Settings) -> APIRouter:
    """The widget's routes; the answerer and database come from ``app.state`` as in ``service.api``."""
    router = APIRouter()
    script = widget_script(settings)

    @router.get("/widget.js", include_in_schema=False)
    def get_widget(request: Request, v: str | None = None) -> Response:
        etag = f'"{script.version}"'
        headers = {"ETag": etag, "Cache-Control": LONG_CACHE if v == script.version else SHORT_CACHE,
                   "X-Sourcier-Widget-Version": script.version, "X-Content-Type-Options": "nosniff"}
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=headers)
        return Response(script.body, media_type="text/javascript; charset=utf-8", headers=headers)

    @router.post("/api/feedback", response_model=FeedbackResponse, status_code=201)
    def post_feedback(body: FeedbackRequest, request: Request) -> FeedbackResponse:
        question = check_question(body.question, max_chars=settings.max_question_chars)
        index = request.app.state.answerer.index
        article = index.articles.get(body.doc_id)
        if article is None:
            raise APIError(404, "unknown_article", f"Article inconnu : {body.doc_id!r}.")
        if not body.start < body.end <= len(article.text):
            raise APIError(422, "invalid_citation", "Les positions de la réponse ne correspondent pas à l'article.")
        item = Feedback(question, body.doc_id, body.start, body.end, body.vote, time.time(), index.version)
        row = request.app.state.db.add_feedback(item)
        return FeedbackResponse(id=row, created_at=item.created_at)

    @router.get("/", response_class=HTMLResponse)
    def home(request: Request) -> HTMLResponse:
        articles = list(request.app.state.answerer.index.articles.values())
        return HTMLResponse(demo_page(articles, f"/widget.js?v={script.version}", settings.public_url))

    return router
