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

from service.coverage.page import CSP
from service.coverage.questions import CoverageError, period
from service.coverage.render import render_html
from service.coverage.report import Options, Report, coverage_from_log
from service.settings import Settings
from service.storage import Store
from service.storage.querylog import QueryLog
from service.storage.records import DEFAULT_SITE
from service.web.deps import DatabaseDep, QueryLogDep, Served, SiteDep
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
REFUSED = "Accès réservé aux éditeurs : jeton manquant ou invalide (connectez-vous sur {login})."


def session(secret: bytes, expires: int, site: str = DEFAULT_SITE) -> str:
    """The cookie's value: its expiry and an HMAC of it and of the site, keyed by the site's token (so a
    session opens one site's pages, even where two sites were given the same token)."""
    mac = hmac.new(secret, f"editor session {site} {expires}".encode(), hashlib.sha256).hexdigest()
    return f"{expires}.{mac}"


def cookie_name(served: Served) -> str:
    """One cookie per site (each under its own path), so that an editor of two sites keeps both sessions."""
    return COOKIE if not served.site.prefix else f"{COOKIE}_{served.site.id.replace('-', '_')}"


def _session_ok(secret: bytes, cookie: str, site: str) -> bool:
    expires, _, _ = cookie.partition(".")
    if not expires.isdigit():
        return hmac.compare_digest(cookie.encode(), session(secret, 0, site).encode())  # same work, always refused
    fresh = int(expires) > time.time()
    return hmac.compare_digest(cookie.encode(), session(secret, int(expires), site).encode()) and fresh


def _secret(settings: Settings) -> bytes:
    secret = editor_secret(settings)
    if not secret:
        raise StarletteHTTPException(404)
    return secret


def _refused(served: Served) -> StarletteHTTPException:
    """401, naming the site's login page."""
    message = REFUSED.format(login=f"{served.site.prefix}/editor/login")
    return StarletteHTTPException(401, message, headers={"WWW-Authenticate": "Bearer"})


def authorize(request: Request, served: SiteDep) -> None:
    """Let the request through with the site's bearer token or a live session cookie of the site."""
    secret = _secret(served.site.settings)
    header = request.headers.get("authorization", "")
    if header[:7].lower() == "bearer ":
        if hmac.compare_digest(header[7:].strip().encode(), secret):
            return
    elif _session_ok(secret, request.cookies.get(cookie_name(served), ""), served.site.id):
        return
    raise _refused(served)


Editor = Annotated[None, Depends(authorize)]


def report(served: Served, db: Store, query_log: QueryLog | None, since: str | None, until: str | None) -> Report:
    """The report on the site's stored log, after this process's queued lines (a second at most) are written."""
    if query_log is not None:
        query_log.flush(timeout=1.0)
    try:
        start, end = period(since, until)
    except CoverageError as exc:
        raise APIError(422, "invalid_period", str(exc)) from exc
    options = Options.from_settings(served.site.settings)
    return coverage_from_log(served.answerer, db, start, end, options, site=served.site.id)


@router.get("/api/editor/coverage", response_model=Report)
def coverage_json(
    served: SiteDep,
    db: DatabaseDep,
    query_log: QueryLogDep,
    _: Editor,
    since: str | None = None,
    until: str | None = None,
) -> JSONResponse:
    return JSONResponse(report(served, db, query_log, since, until).to_dict(), headers=PRIVATE)


@router.get("/editor/coverage", response_class=HTMLResponse)
def coverage_page(
    served: SiteDep,
    db: DatabaseDep,
    query_log: QueryLogDep,
    _: Editor,
    since: str | None = None,
    until: str | None = None,
) -> HTMLResponse:
    result = report(served, db, query_log, since, until)
    prefix = served.site.prefix
    first_day = result.summary["period"]["since"][:10]
    last_day = until or time.strftime("%Y-%m-%d", time.gmtime())
    everything = f"{prefix}/api/editor/coverage?since={quote(first_day)}&until={quote(last_day)}"
    form = (
        f'<form method="get" action="{escape(prefix)}/editor/coverage"><label>Du <input type="date" name="since" '
        f'value="{escape(first_day)}"></label> <label>au <input type="date" name="until" '
        f'value="{escape(last_day)}"></label> <button type="submit">Afficher</button></form>'
        f'<a href="{escape(everything)}">Tout le rapport en JSON</a>'
        f'<form method="post" action="{escape(prefix)}/editor/logout">'
        '<button type="submit">Se déconnecter</button></form>'
    )
    return HTMLResponse(render_html(result, controls=form), headers=PRIVATE)


LOGIN_PAGE = """<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>Sourcier — éditeurs</title></head>
<body><h1>Espace des éditeurs{site}</h1><form method="post" action="{prefix}/editor/login">
<label>Jeton <input type="password" name="token" autocomplete="current-password" required></label>
<button type="submit">Se connecter</button></form></body></html>"""


@router.get("/editor/login", response_class=HTMLResponse)
def login_page(served: SiteDep) -> HTMLResponse:
    _secret(served.site.settings)
    site = f" — {escape(served.site.id)}" if served.site.prefix else ""
    return HTMLResponse(LOGIN_PAGE.format(site=site, prefix=escape(served.site.prefix)), headers=PRIVATE)


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
async def login(request: Request, served: SiteDep) -> RedirectResponse:
    """The token from the form (the request body, never the URL) → the site's session cookie."""
    secret = _secret(served.site.settings)
    given = parse_qs((await request.body()).decode("utf-8", "replace")).get("token", [""])[0]
    if not hmac.compare_digest(given.encode("utf-8", "replace"), secret):
        raise _refused(served)
    response = RedirectResponse(f"{served.site.prefix}/editor/coverage", status_code=303, headers=PRIVATE)
    expires = int(time.time()) + SESSION_SECONDS
    response.set_cookie(
        cookie_name(served),
        session(secret, expires, served.site.id),
        max_age=SESSION_SECONDS,
        path=served.site.prefix + "/",
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )
    return response


@router.post("/editor/logout", response_class=RedirectResponse, status_code=303)
def logout(served: SiteDep) -> RedirectResponse:
    _secret(served.site.settings)
    response = RedirectResponse(f"{served.site.prefix}/editor/login", status_code=303, headers=PRIVATE)
    response.delete_cookie(cookie_name(served), path=served.site.prefix + "/", httponly=True, samesite="strict")
    return response
