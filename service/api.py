"""The HTTP API and the article pages (FastAPI). The model and index load once, in the lifespan.

Every non-2xx response has one shape: ``{"error": {"code": str, "message": str}}``.
"""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from dataclasses import asdict
from typing import Annotated, Any, AsyncIterator, Callable

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from service.answer import Answerer, QuestionError, check_question, load_answerer
from service.db import Database
from service.guard import Guard, JSONErrorCORS
from service.pages import article_page
from service.reload import IndexReloader
from service.settings import Settings, get_settings

log = logging.getLogger(__name__)


class AskRequest(BaseModel):
    question: str = Field(..., description="La question du lecteur, en français.")
    top_k: int = Field(3, description="Nombre de passages (et de réponses) à renvoyer.")


class CitationOut(BaseModel):
    doc_id: str
    title: str
    section: str | None
    start: int
    end: int
    url: str


class AnswerOut(BaseModel):
    text: str
    score: float
    citation: CitationOut


class PassageOut(BaseModel):
    doc_id: str
    title: str
    section: str | None
    start: int
    end: int
    text: str
    score: float


class AskResponse(BaseModel):
    question: str
    answered: bool
    answer: AnswerOut | None
    alternatives: list[AnswerOut]
    passages: list[PassageOut]
    reason: str | None
    took_ms: float
    index_version: str


class SectionOut(BaseModel):
    title: str
    start: int
    end: int


class ArticleOut(BaseModel):
    id: str
    title: str
    text: str
    url: str | None
    sections: list[SectionOut]


class HealthOut(BaseModel):
    status: str
    model: str
    runtime: str
    index_version: str
    articles: int
    sentences: int
    chunks: int


class ErrorBody(BaseModel):
    code: str
    message: str


class ErrorOut(BaseModel):
    error: ErrorBody


class APIError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


_ERRORS = {400: "invalid_body", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
           413: "payload_too_large", 429: "too_many_requests", 503: "unavailable"}

Loader = Callable[[Settings], Answerer]


def create_app(settings: Settings | None = None, loader: Loader = load_answerer) -> FastAPI:
    """The application; ``loader`` builds the Answerer at start-up (tests pass a fake one)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.answerer = loader(settings)
        app.state.db = Database(settings.data_dir / "sourcier.db")
        log.info("index %s loaded", app.state.answerer.index.version)
        reloader = IndexReloader(app.state, settings)
        reloader.start()
        try:
            yield
        finally:
            await reloader.stop()
            app.state.db.close()

    app = FastAPI(title="Sourcier", version="0.1.0", lifespan=lifespan,
                  description="Réponses mot pour mot, avec leur source, tirées des articles.",
                  responses={code: {"model": ErrorOut} for code in (400, 404, 413, 422, 429, 503)})
    app.add_middleware(Guard, max_body_bytes=settings.max_body_bytes, rate_per_minute=settings.rate_limit,
                       burst=settings.rate_burst, max_inflight=settings.max_inflight)
    if settings.cors_origins:  # outside the guard, so that its refusals carry the CORS headers too
        app.add_middleware(JSONErrorCORS, allow_origins=settings.cors_origins, allow_methods=["GET", "POST"],
                           allow_headers=["Content-Type"])

    @app.exception_handler(APIError)
    async def api_error(request: Request, exc: APIError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message)

    @app.exception_handler(QuestionError)
    async def question_error(request: Request, exc: QuestionError) -> JSONResponse:
        return error_response(422, exc.code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        details = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in exc.errors())
        return error_response(422, "invalid_request", f"Requête invalide — {details}")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else "Erreur"
        if exc.status_code == 400:
            message = "Le corps de la requête est illisible : envoyez du JSON en UTF-8."
        elif exc.status_code == 404 and message == "Not Found":
            message = "Cette adresse n'existe pas."
        elif exc.status_code == 405:
            message = "Méthode non autorisée pour cette adresse."
        return error_response(exc.status_code, _ERRORS.get(exc.status_code, "http_error"), message,
                              getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s", request.url.path)
        return error_response(500, "internal_error", "Erreur interne : la requête n'a pas pu être traitée.")

    def ask(request: Request, question: str, top_k: int) -> dict[str, Any]:
        answerer: Answerer = request.app.state.answerer
        question = check_question(question, top_k, settings.max_question_chars, settings.max_top_k)
        result = answerer.answer(question, top_k)
        if settings.query_log:
            from service.editor import log_result

            log_result(request.app.state.db, result)
        return asdict(result)

    @app.post("/api/ask", response_model=AskResponse)
    def ask_post(body: AskRequest, request: Request) -> dict[str, Any]:
        return ask(request, body.question, body.top_k)

    @app.get("/api/ask", response_model=AskResponse)
    def ask_get(request: Request, q: Annotated[str, Query(description="La question.")] = "",
                top_k: int = 3) -> dict[str, Any]:
        return ask(request, q, top_k)

    def find_article(request: Request, doc_id: str):
        article = request.app.state.answerer.index.articles.get(doc_id)
        if article is None:
            raise APIError(404, "unknown_article", f"Article inconnu : {doc_id!r}.")
        return article

    @app.get("/api/articles/{doc_id}", response_model=ArticleOut)
    def get_article(doc_id: str, request: Request) -> dict[str, Any]:
        article = find_article(request, doc_id)
        return {"id": article.doc_id, "title": article.title, "text": article.text, "url": article.url,
                "sections": [{"title": s.title, "start": s.start, "end": s.end} for s in article.sections]}

    @app.get("/articles/{doc_id}", response_class=HTMLResponse)
    def show_article(doc_id: str, request: Request, start: int | None = None, end: int | None = None) -> HTMLResponse:
        article = find_article(request, doc_id)
        return HTMLResponse(article_page(article, start, end))

    @app.get("/api/health", response_model=HealthOut)
    def health(request: Request) -> dict[str, Any]:
        answerer: Answerer = request.app.state.answerer
        corpus = answerer.index.manifest.corpus
        model = answerer.index.manifest.model
        return {"status": "ok", "model": model.name, "runtime": model.runtime,
                "index_version": answerer.index.version, "articles": corpus.articles,
                "sentences": corpus.sentences, "chunks": corpus.chunks}

    from service.widget import widget_router  # here: service.widget imports APIError from this module

    app.include_router(widget_router(settings))

    from service.editor import editor_router  # here: service.editor imports APIError from this module
    app.include_router(editor_router(settings))
    return app
