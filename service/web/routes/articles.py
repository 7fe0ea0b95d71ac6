"""The articles: ``/api/articles/{id}`` as JSON, ``/articles/{id}`` as a page that highlights a
cited passage (``?start=&end=``) — where a citation link opens when the corpus has no URL."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from service.web.deps import AnswererDep, SiteDep, find_article
from service.web.pages import article_page
from service.web.schemas import ArticleOut

router = APIRouter(tags=["articles"])


@router.get("/api/articles/{doc_id:path}", response_model=ArticleOut)
def get_article(doc_id: str, answerer: AnswererDep) -> dict[str, Any]:
    article = find_article(answerer, doc_id)
    return {
        "id": article.doc_id,
        "title": article.title,
        "text": article.text,
        "url": article.url,
        "sections": [{"title": s.title, "start": s.start, "end": s.end} for s in article.sections],
    }


@router.get("/articles/{doc_id:path}", response_class=HTMLResponse)
def show_article(doc_id: str, served: SiteDep, start: int | None = None, end: int | None = None) -> HTMLResponse:
    article = find_article(served.answerer, doc_id)
    return HTMLResponse(article_page(article, start, end, home=served.site.prefix + "/"))
