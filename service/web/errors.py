"""The one JSON error shape of every non-2xx answer: ``{"error": {"code": str, "message": str}}``.

``envelope`` builds it (the middleware, the handlers and ``sourcier ask --json`` all use it);
``APIError`` is what a route raises; ``install_handlers`` turns every failure — ours, FastAPI's
validation, Starlette's HTTP errors and anything unexpected — into that shape with a French message.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from service.core.question import QuestionError
from service.storage import StoreUnavailable

log = logging.getLogger(__name__)

CODES = {
    400: "invalid_body",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    429: "too_many_requests",
    503: "unavailable",
}


class APIError(Exception):
    """A refusal a route raises: its status, a stable code and a French message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def envelope(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def envelope_bytes(code: str, message: str) -> bytes:
    """The envelope as a response body, for the ASGI middleware that answers before FastAPI."""
    return json.dumps(envelope(code, message), ensure_ascii=False).encode("utf-8")


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(envelope(code, message), status_code=status, headers=headers)


def _http_message(exc: StarletteHTTPException) -> str:
    message = exc.detail if isinstance(exc.detail, str) else "Erreur"
    if exc.status_code == 400:
        return "Le corps de la requête est illisible : envoyez du JSON en UTF-8."
    if exc.status_code == 404 and message == "Not Found":
        return "Cette adresse n'existe pas."
    if exc.status_code == 405:
        return "Méthode non autorisée pour cette adresse."
    return message


def install_handlers(app: FastAPI) -> None:
    """Every exception the app can meet, answered in the one error shape."""

    @app.exception_handler(APIError)
    async def api_error(request: Request, exc: APIError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message)

    @app.exception_handler(QuestionError)
    async def question_error(request: Request, exc: QuestionError) -> JSONResponse:
        return error_response(422, exc.code, exc.message)

    @app.exception_handler(StoreUnavailable)
    async def store_unavailable(request: Request, exc: StoreUnavailable) -> JSONResponse:
        log.warning("store unavailable on %s: %s", request.url.path, exc)
        return error_response(
            503,
            "store_unavailable",
            "Le service ne peut pas enregistrer ni lire ces données pour l'instant : réessayez dans un moment.",
            {"Retry-After": "5"},
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        details = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in exc.errors())
        return error_response(422, "invalid_request", f"Requête invalide — {details}")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_response(
            exc.status_code, CODES.get(exc.status_code, "http_error"), _http_message(exc), getattr(exc, "headers", None)
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s", request.url.path)
        return error_response(500, "internal_error", "Erreur interne : la requête n'a pas pu être traitée.")
