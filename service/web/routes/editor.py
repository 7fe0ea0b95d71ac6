"""The editors' pages: coverage of the articles by real traffic (``/editor/coverage`` as a page,
``/api/editor/coverage`` as JSON), built by ``service.coverage`` from the query log and votes.

Editors' pages show what readers asked, so they sit behind a token (setting ``editor_token``),
sent as ``Authorization: Bearer <token>`` or a ``token`` query parameter and compared in constant
time. With no token configured they do not exist (404, like any unknown address, and they are left
out of the OpenAPI schema); with a missing or wrong token they answer 401 and nothing else.
"""

from __future__ import annotations

import hmac
import time
from html import escape
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from service.core.answer import Answerer
from service.coverage.questions import CoverageError, period
from service.coverage.render import render_html
from service.coverage.report import Options, Report, coverage_from_log
from service.db import Database
from service.settings import Settings
from service.web.deps import AnswererDep, DatabaseDep, SettingsDep
from service.web.errors import APIError

# The report page sorts its tables with an inline script: its policy (the same as the report's own
# <meta> one) replaces the stricter one service.web.guard gives the other HTML pages.
PRIVATE = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
}

router = APIRouter(tags=["editor"])


def editor_secret(settings: Settings) -> bytes:
    return settings.editor_token.get_secret_value().encode() if settings.editor_token else b""


def authorize(request: Request, settings: SettingsDep, token: str | None = None) -> str | None:
    """The token given in the query string (to keep it in the page's form), after checking."""
    secret = editor_secret(settings)
    if not secret:
        raise StarletteHTTPException(404)
    header = request.headers.get("authorization", "")
    given = header[7:].strip() if header[:7].lower() == "bearer " else (token or "")
    if not hmac.compare_digest(given.encode(), secret):
        raise StarletteHTTPException(
            401, "Accès réservé aux éditeurs : jeton manquant ou invalide.", headers={"WWW-Authenticate": "Bearer"}
        )
    return token


Token = Annotated[str | None, Depends(authorize)]


def report(answerer: Answerer, db: Database, settings: Settings, since: str | None, until: str | None) -> Report:
    try:
        start, end = period(since, until)
    except CoverageError as exc:
        raise APIError(422, "invalid_period", str(exc)) from exc
    return coverage_from_log(answerer, db, start, end, Options.from_settings(settings))


@router.get("/api/editor/coverage", response_model=Report)
def coverage_json(
    answerer: AnswererDep,
    db: DatabaseDep,
    settings: SettingsDep,
    _: Token,
    since: str | None = None,
    until: str | None = None,
) -> JSONResponse:
    return JSONResponse(report(answerer, db, settings, since, until).to_dict(), headers=PRIVATE)


@router.get("/editor/coverage", response_class=HTMLResponse)
def coverage_page(
    answerer: AnswererDep,
    db: DatabaseDep,
    settings: SettingsDep,
    token: Token,
    since: str | None = None,
    until: str | None = None,
) -> HTMLResponse:
    result = report(answerer, db, settings, since, until)
    first_day = result.summary["period"]["since"][:10]
    last_day = until or time.strftime("%Y-%m-%d", time.gmtime())
    hidden = f'<input type="hidden" name="token" value="{escape(token, quote=True)}">' if token else ""
    form = (
        f'<form method="get" action="/editor/coverage">Du <input type="date" name="since" '
        f'value="{escape(first_day)}"> au <input type="date" name="until" '
        f'value="{escape(last_day)}"> {hidden}'
        f'<button type="submit">Afficher</button></form>'
    )
    return HTMLResponse(render_html(result, controls=form), headers=PRIVATE)
