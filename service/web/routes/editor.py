"""The editors' pages: coverage of the articles by real traffic (``/editor/coverage`` as a page,
``/api/editor/coverage`` as JSON), built by ``service.coverage`` from the query log and votes.

Editors' pages show what readers asked, so they sit behind a token (setting ``editor_token``), sent as
``Authorization: Bearer <token>`` (scripts) or given once in the form of ``/editor/login`` (browsers),
which sets a session cookie (HttpOnly, SameSite=Strict, Secure over HTTPS, 8 hours). Never in the URL:
a query string lands in proxies' access logs and in the browser's history. The cookie holds an expiry
and an HMAC of it keyed by the token, never the token, so changing the token ends every session.
Comparisons are in constant time. With no token configured the pages do not exist (404, like any
unknown address, and they are left out of the OpenAPI schema); with a missing or wrong token or an
expired session they answer 401 and nothing else.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from html import escape
from typing import Annotated
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from service.core.answer import Answerer
from service.coverage.page import CSP
from service.coverage.questions import CoverageError, period
from service.coverage.render import render_html
from service.coverage.report import Options, Report, coverage_from_log
from service.settings import Settings
from service.storage import Store
from service.storage.querylog import QueryLog
from service.web.deps import AnswererDep, DatabaseDep, QueryLogDep, SettingsDep
from service.web.errors import APIError
from service.web.schemas import ErrorOut

# The report page sorts, filters and folds with its inline script and style: its policy (the report's own
# <meta> one, which allows exactly those by hash) replaces the one service.web.guard gives the other pages.
PRIVATE = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": f"{CSP}; base-uri 'none'; frame-ancestors 'none'",
}

router = APIRouter(tags=["editor"])


def editor_secret(settings: Settings) -> bytes:
    return settings.editor_token.get_secret_value().encode() if settings.editor_token else b""


COOKIE = "sourcier_editor"
SESSION_SECONDS = 8 * 3600
REFUSED = "Accès réservé aux éditeurs : jeton manquant ou invalide (connectez-vous sur /editor/login)."


def session(secret: bytes, expires: int) -> str:
    """The cookie's value: its expiry and an HMAC of it keyed by the token."""
    return f"{expires}.{hmac.new(secret, f'editor session {expires}'.encode(), hashlib.sha256).hexdigest()}"


def _session_ok(secret: bytes, cookie: str) -> bool:
    expires, _, _ = cookie.partition(".")
    if not expires.isdigit():
        return hmac.compare_digest(cookie.encode(), session(secret, 0).encode())  # same work, always refused
    return hmac.compare_digest(cookie.encode(), session(secret, int(expires)).encode()) and int(expires) > time.time()


def _secret(settings: Settings) -> bytes:
    secret = editor_secret(settings)
    if not secret:
        raise StarletteHTTPException(404)
    return secret


def _refused() -> StarletteHTTPException:
    return StarletteHTTPException(401, REFUSED, headers={"WWW-Authenticate": "Bearer"})


def authorize(request: Request, settings: SettingsDep) -> None:
    """Let the request through with the right bearer token or a live session cookie."""
    secret = _secret(settings)
    header = request.headers.get("authorization", "")
    if header[:7].lower() == "bearer ":
        if hmac.compare_digest(header[7:].strip().encode(), secret):
            return
    elif _session_ok(secret, request.cookies.get(COOKIE, "")):
        return
    raise _refused()


Editor = Annotated[None, Depends(authorize)]


def report(
    answerer: Answerer, db: Store, query_log: QueryLog | None, settings: Settings, since: str | None, until: str | None
) -> Report:
    """The report on the stored log, after this process's queued lines (a second at most) are written."""
    if query_log is not None:
        query_log.flush(timeout=1.0)
    try:
        start, end = period(since, until)
    except CoverageError as exc:
        raise APIError(422, "invalid_period", str(exc)) from exc
    return coverage_from_log(answerer, db, start, end, Options.from_settings(settings))


@router.get("/api/editor/coverage", response_model=Report)
def coverage_json(
    answerer: AnswererDep,
    db: DatabaseDep,
    query_log: QueryLogDep,
    settings: SettingsDep,
    _: Editor,
    since: str | None = None,
    until: str | None = None,
) -> JSONResponse:
    return JSONResponse(report(answerer, db, query_log, settings, since, until).to_dict(), headers=PRIVATE)


@router.get("/editor/coverage", response_class=HTMLResponse)
def coverage_page(
    answerer: AnswererDep,
    db: DatabaseDep,
    query_log: QueryLogDep,
    settings: SettingsDep,
    _: Editor,
    since: str | None = None,
    until: str | None = None,
) -> HTMLResponse:
    result = report(answerer, db, query_log, settings, since, until)
    first_day = result.summary["period"]["since"][:10]
    last_day = until or time.strftime("%Y-%m-%d", time.gmtime())
    everything = f"/api/editor/coverage?since={quote(first_day)}&until={quote(last_day)}"
    form = (
        f'<form method="get" action="/editor/coverage"><label>Du <input type="date" name="since" '
        f'value="{escape(first_day)}"></label> <label>au <input type="date" name="until" '
        f'value="{escape(last_day)}"></label> <button type="submit">Afficher</button></form>'
        f'<a href="{escape(everything)}">Tout le rapport en JSON</a>'
        '<form method="post" action="/editor/logout"><button type="submit">Se déconnecter</button></form>'
    )
    return HTMLResponse(render_html(result, controls=form), headers=PRIVATE)


LOGIN_PAGE = """<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>Sourcier — éditeurs</title></head>
<body><h1>Espace des éditeurs</h1><form method="post" action="/editor/login">
<label>Jeton <input type="password" name="token" autocomplete="current-password" required></label>
<button type="submit">Se connecter</button></form></body></html>"""


@router.get("/editor/login", response_class=HTMLResponse)
def login_page(settings: SettingsDep) -> HTMLResponse:
    _secret(settings)
    return HTMLResponse(LOGIN_PAGE, headers=PRIVATE)


LOGIN_FORM = {  # read by hand (parse_qs): the body, described for the OpenAPI schema
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {"type": "object", "properties": {"token": {"type": "string"}}, "required": ["token"]}
            }
        },
    }
}


@router.post(
    "/editor/login",
    response_class=RedirectResponse,
    status_code=303,
    responses={401: {"model": ErrorOut}},
    openapi_extra=LOGIN_FORM,
)
async def login(request: Request, settings: SettingsDep) -> RedirectResponse:
    """The token from the form (the request body, never the URL) → the session cookie."""
    secret = _secret(settings)
    given = parse_qs((await request.body()).decode("utf-8", "replace")).get("token", [""])[0]
    if not hmac.compare_digest(given.encode("utf-8", "replace"), secret):
        raise _refused()
    response = RedirectResponse("/editor/coverage", status_code=303, headers=PRIVATE)
    expires = int(time.time()) + SESSION_SECONDS
    response.set_cookie(
        COOKIE,
        session(secret, expires),
        max_age=SESSION_SECONDS,
        path="/",
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )
    return response


@router.post("/editor/logout", response_class=RedirectResponse, status_code=303)
def logout(settings: SettingsDep) -> RedirectResponse:
    _secret(settings)
    response = RedirectResponse("/editor/login", status_code=303, headers=PRIVATE)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return response
