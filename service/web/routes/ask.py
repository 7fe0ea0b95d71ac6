"""``/api/ask``: the reader's question in, the core's answer out (and a line handed to the query log when
``query_log`` is on: written in the background, so a slow or absent store never delays an answer)."""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Query

from service.core.answer import Answerer
from service.core.cite import heading_url
from service.core.results import KnownQuestion, Result
from service.storage import LoggedQuery
from service.storage.querylog import QueryLog
from service.web.deps import QueryLogDep, Served, SiteDep
from service.web.guard import QUESTION, guarded
from service.web.schemas import AskRequest, AskResponse

router = APIRouter(tags=["ask"])


def logged(result: Result, site: str) -> LoggedQuery:
    """The query log's line for one question asked of ``site``."""
    answer = result.answer if result.answered else None
    citation = answer.citation if answer else None
    return LoggedQuery(
        result.question,
        result.answered,
        answer.score if answer else None,
        citation.doc_id if citation else None,
        citation.start if citation else None,
        citation.end if citation else None,
        time.time(),
        result.index_version,
        site,
    )


def known_body(answerer: Answerer, known: KnownQuestion) -> dict[str, Any]:
    """A known question as the API gives it: with the link that opens its article at the heading, so
    that the widget (and any client) can lead the reader there without building URLs itself."""
    article = answerer.index.articles.get(known.doc_id)
    url = heading_url(answerer.config.base_url, article, known.section) if article is not None else ""
    return {**asdict(known), "url": url}


def result_body(answerer: Answerer, result: Result) -> dict[str, Any]:
    """The ``/api/ask`` body of a result; ``sourcier ask --json`` prints the same."""
    body = asdict(result)
    body["known"] = known_body(answerer, result.known) if result.known is not None else None
    return body


def ask(served: Served, query_log: QueryLog | None, question: str, top_k: int | None) -> dict[str, Any]:
    answerer = served.answerer  # read once: a hot reload may swap it while this question is answered
    result = answerer.answer(question, top_k)
    if query_log is not None:
        query_log.record(logged(result, served.site.id))
    return result_body(answerer, result)


@router.post("/api/ask", response_model=AskResponse, openapi_extra=guarded(QUESTION))
def ask_post(body: AskRequest, served: SiteDep, query_log: QueryLogDep) -> dict[str, Any]:
    return ask(served, query_log, body.question, body.top_k)


@router.get("/api/ask", response_model=AskResponse, openapi_extra=guarded(QUESTION))
def ask_get(
    served: SiteDep,
    query_log: QueryLogDep,
    q: Annotated[str, Query(description="La question.")] = "",
    top_k: Annotated[int | None, Query(description="Nombre de passages ; par défaut SOURCIER_TOP_K.")] = None,
) -> dict[str, Any]:
    return ask(served, query_log, q, top_k)
