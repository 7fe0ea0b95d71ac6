"""Typed dependencies of the routes. The answerer is read from ``app.state`` once per request, so a
request is answered from the index it started with even when a hot reload swaps in a new one."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from corpus.load import Article
from service.core.answer import Answerer
from service.settings import Settings
from service.storage import Store
from service.storage.querylog import QueryLog
from service.web.errors import APIError
from service.web.widget import WidgetScript


def get_answerer(request: Request) -> Answerer:
    answerer: Answerer = request.app.state.answerer
    return answerer


def find_article(answerer: Answerer, doc_id: str) -> Article:
    """The served index's article ``doc_id``, or the 404 ``unknown_article`` (articles and feedback)."""
    article = answerer.index.articles.get(doc_id)
    if article is None:
        raise APIError(404, "unknown_article", f"Article inconnu : {doc_id!r}.")
    return article


def get_db(request: Request) -> Store:
    db: Store = request.app.state.db
    return db


def get_query_log(request: Request) -> QueryLog | None:
    """The query log's writer, or None when ``query_log`` is off."""
    query_log: QueryLog | None = request.app.state.query_log
    return query_log


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_widget(request: Request) -> WidgetScript:
    script: WidgetScript = request.app.state.widget
    return script


AnswererDep = Annotated[Answerer, Depends(get_answerer)]
DatabaseDep = Annotated[Store, Depends(get_db)]
QueryLogDep = Annotated[QueryLog | None, Depends(get_query_log)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
WidgetDep = Annotated[WidgetScript, Depends(get_widget)]
