"""The editors' side of the service: the query log, and coverage of the articles by real traffic
(``/editor/coverage`` as a page, ``/api/editor/coverage`` as JSON).

Editors' pages show what readers asked, so they sit behind a token (setting ``editor_token``),
sent as ``Authorization: Bearer <token>`` or a ``token`` query parameter and compared in constant
time. With no token configured they do not exist (404, like any unknown address); with a missing or
wrong token they answer 401 and nothing else.
"""

from __future__ import annotations

import hmac
import logging
import sqlite3
import time
from html import escape

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from eval.coverage import CoverageError, Options, Report, coverage_from_log, period
from eval.coverage_report import render_html
from service.answer import Result
from service.api import APIError
from service.db import Database, LoggedQuery
from service.settings import Settings

log = logging.getLogger(__name__)

# The report page sorts its tables with an inline script: its policy (the same as the report's own
# <meta> one) replaces the stricter one service.guard gives the other HTML pages.
PRIVATE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer",
           "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
                                      "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"}


def log_result(db: Database, result: Result) -> None:
    """Record one asked question in the query log. A failed write loses that log line, never the
    reader's answer."""
    answer = result.answer if result.answered else None
    citation = answer.citation if answer else None
    try:
        db.log_query(LoggedQuery(result.question, result.answered, answer.score if answer else None,
                                 citation.doc_id if citation else None, citation.start if citation else None,
                                 citation.end if citation else None, time.time(), result.index_version))
    except sqlite3.Error:
        log.exception("query log: could not record a question")


def editor_router(settings: Settings) -> APIRouter:
    """The editors' routes; without ``settings.editor_token`` they answer 404."""
    secret = settings.editor_token.get_secret_value().encode() if settings.editor_token else b""
    if not secret:
        log.info("editors' pages disabled: set SOURCIER_EDITOR_TOKEN to enable /editor/coverage")
    router = APIRouter(include_in_schema=bool(secret))

    def authorize(request: Request, token: str | None = None) -> str | None:
        """The token given in the query string (to keep it in the page's form), after checking."""
        if not secret:
            raise StarletteHTTPException(404)
        header = request.headers.get("authorization", "")
        given = header[7:].strip() if header[:7].lower() == "bearer " else (token or "")
        if not hmac.compare_digest(given.encode(), secret):
            raise StarletteHTTPException(401, "Accès réservé aux éditeurs : jeton manquant ou invalide.",
                                         headers={"WWW-Authenticate": "Bearer"})
        return token

    def report(request: Request, since: str | None, until: str | None) -> Report:
        try:
            start, end = period(since, until)
        except CoverageError as exc:
            raise APIError(422, "invalid_period", str(exc)) from exc
        return coverage_from_log(request.app.state.answerer, request.app.state.db, start, end,
                                 Options.from_settings(settings))

    @router.get("/api/editor/coverage", response_model=Report)
    def coverage_json(request: Request, since: str | None = None, until: str | None = None,
                      _: str | None = Depends(authorize)) -> JSONResponse:
        return JSONResponse(report(request, since, until).to_dict(), headers=PRIVATE)

    @router.get("/editor/coverage", response_class=HTMLResponse)
    def coverage_page(request: Request, since: str | None = None, until: str | None = None,
                      token: str | None = Depends(authorize)) -> HTMLResponse:
        result = report(request, since, until)
        first_day = result.summary["period"]["since"][:10]
        last_day = until or time.strftime("%Y-%m-%d", time.gmtime())
        hidden = f'<input type="hidden" name="token" value="{escape(token, quote=True)}">' if token else ""
        form = (f'<form method="get" action="/editor/coverage">Du <input type="date" name="since" '
                f'value="{escape(first_day)}"> au <input type="date" name="until" '
                f'value="{escape(last_day)}"> {hidden}'
                f'<button type="submit">Afficher</button></form>')
        return HTMLResponse(render_html(result, controls=form), headers=PRIVATE)

    return router
