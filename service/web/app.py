"""The FastAPI application: it only assembles — the lifespan that loads the model and index once,
the guard and CORS middleware, the error handlers and one router per resource."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI

from service.core.answer import Answerer
from service.settings import Settings, get_settings
from service.startup import load_answerer
from service.storage import open_store
from service.storage.querylog import QueryLog
from service.web.access import AccessLog
from service.web.errors import install_handlers
from service.web.guard import Guard, JSONErrorCORS, policy_paths
from service.web.reload import IndexReloader
from service.web.routes import articles, ask, editor, feedback, health, suggest, widget
from service.web.routes.editor import editor_secret
from service.web.schemas import ErrorOut
from service.web.widget import widget_script

log = logging.getLogger(__name__)

Loader = Callable[[Settings], Answerer]


def create_app(settings: Settings | None = None, loader: Loader = load_answerer) -> FastAPI:
    """The application; ``loader`` builds the Answerer at start-up (tests pass a fake one)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.answerer = loader(settings)
        app.state.db = open_store(settings)
        app.state.query_log = QueryLog(app.state.db) if settings.query_log else None
        log.info(
            "index %s loaded; votes%s in %s",
            app.state.answerer.index.version,
            " and the query log" if settings.query_log else "",
            app.state.db.name,
        )
        reloader = IndexReloader(app.state, settings)
        reloader.start()
        try:
            yield
        finally:
            await reloader.stop()
            if app.state.query_log:
                app.state.query_log.close()
            app.state.db.close()

    app = FastAPI(
        title="Sourcier",
        version="0.1.0",
        lifespan=lifespan,
        description="Réponses mot pour mot, avec leur source, tirées des articles.",
        responses={code: {"model": ErrorOut} for code in (400, 404, 413, 422, 429, 503)},
    )
    app.state.settings = settings
    app.state.widget = widget_script(settings.widget_examples)
    install_handlers(app)
    for module in (ask, suggest, articles, health, feedback, widget):
        app.include_router(module.router)
    editors = bool(editor_secret(settings))
    if not editors:
        log.info("editors' pages disabled: set SOURCIER_EDITOR_TOKEN to enable /editor/coverage")
    app.include_router(editor.router, include_in_schema=editors)
    app.add_middleware(
        Guard,
        max_body_bytes=settings.max_body_bytes,
        rate_per_minute=settings.rate_limit,
        burst=settings.rate_burst,
        max_inflight=settings.max_inflight,
        paths=policy_paths(app.openapi()),  # each route declares its own limits
    )
    if settings.cors_origins:  # outside the guard, so that its refusals carry the CORS headers too
        app.add_middleware(
            JSONErrorCORS,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type"],
        )
    app.add_middleware(AccessLog, mode=settings.access_log)  # outermost: it sees every answer, refusals too
    return app
