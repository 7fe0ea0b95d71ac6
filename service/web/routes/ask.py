"""``/api/ask``: the reader's question in, the core's answer out (and a line in the query log when
``query_log`` is on; a failed write loses that line, never the reader's answer)."""

from __future__ import annotations

import logging
import sqlite3
import time
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Query

from service.core.answer import Answerer
from service.core.question import check_question
from service.core.results import Result
from service.db import Database, LoggedQuery
from service.settings import Settings
from service.web.deps import AnswererDep, DatabaseDep, SettingsDep
from service.web.schemas import AskRequest, AskResponse

log = logging.getLogger(__name__)
router = APIRouter(tags=["ask"])


def log_result(db: Database, result: Result) -> None:
    """Record one asked question in the query log."""
    answer = result.answer if result.answered else None
    citation = answer.citation if answer else None
    try:
        db.log_query(
            LoggedQuery(
                result.question,
                result.answered,
                answer.score if answer else None,
                citation.doc_id if citation else None,
                citation.start if citation else None,
                citation.end if citation else None,
                time.time(),
                result.index_version,
            )
        )
    except sqlite3.Error:
        log.exception("query log: could not record a question")


def ask(answerer: Answerer, db: Database, settings: Settings, question: str, top_k: int | None) -> dict[str, Any]:
    top_k = settings.top_k if top_k is None else top_k
    question = check_question(question, top_k, answerer.config.limits)
    result = answerer.answer(question, top_k)
    if settings.query_log:
        log_result(db, result)
    return asdict(result)


@router.post("/api/ask", response_model=AskResponse)
def ask_post(body: AskRequest, answerer: AnswererDep, db: DatabaseDep, settings: SettingsDep) -> dict[str, Any]:
    return ask(answerer, db, settings, body.question, body.top_k)


@router.get("/api/ask", response_model=AskResponse)
def ask_get(
    answerer: AnswererDep,
    db: DatabaseDep,
    settings: SettingsDep,
    q: Annotated[str, Query(description="La question.")] = "",
    top_k: Annotated[int | None, Query(description="Nombre de passages ; par défaut SOURCIER_TOP_K.")] = None,
) -> dict[str, Any]:
    return ask(answerer, db, settings, q, top_k)
