"""The FastAPI application: it only assembles — the lifespan that loads the model and every site's index
once, the guard and CORS middleware, the error handlers and one router per resource.

One site (no sites file): the routes at the root, as always. Several (``service.sites``): each route
under ``/sites/{site}/``, where ``deps.get_served`` finds the site, and ``/api/health`` for them all."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import APIRouter, Depends, FastAPI

from service.core.answer import Answerer
from service.settings import Settings, get_settings
from service.sites import Site, load_sites
from service.startup import shared_loader
from service.storage import open_store
from service.storage.querylog import QueryLog
from service.web.access import AccessLog
from service.web.deps import Served, site_parameter
from service.web.errors import install_handlers
from service.web.guard import CORS_OPTIONS, SITE_PATH, Guard, JSONErrorCORS, SiteCORS, policy_paths
from service.web.reload import IndexReloader, start_watching, stop_watching
from service.web.routes import articles, ask, editor, feedback, health, suggest, widget
from service.web.routes.editor import editor_secret
from service.web.schemas import ErrorOut
from service.web.widget import widget_script

log = logging.getLogger(__name__)

Loader = Callable[[Settings], Answerer]


def create_app(settings: Settings | None = None, loader: Loader | None = None) -> FastAPI:
    """The application; ``loader`` builds each site's Answerer at start-up from the site's settings (by
    default one encoder shared by every site; tests pass a fake one). A bad sites file raises here."""
    settings = settings or get_settings()
    sites = load_sites(settings)
    several = settings.sites_file is not None
    load = loader or shared_loader()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.sites = {
            site_id: Served(site, load(site.settings), widget_script(site.settings.widget_examples))
            for site_id, site in sites.items()
        }
        app.state.root_site = None if several else next(iter(app.state.sites.values()))
        app.state.db = open_store(settings)
        logging_sites = any(site.settings.query_log for site in sites.values())
        app.state.query_log = QueryLog(app.state.db) if logging_sites else None
        for site_id, served in app.state.sites.items():
            log.info("site %s: index %s loaded", site_id, served.answerer.index.version)
        log.info("votes%s in %s", " and the query log" if logging_sites else "", app.state.db.name)
        reloaders = [IndexReloader(served, served.site.settings) for served in app.state.sites.values()]
        start_watching(reloaders)
        try:
            yield
        finally:
            await stop_watching(reloaders)
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
    install_handlers(app)
    editors = any(editor_secret(site.settings) for site in sites.values())
    if not editors:
        log.info("editors' pages disabled: set SOURCIER_EDITOR_TOKEN (or a site's editor_token) to enable them")
    if several:  # /api/health for them all; the {site} of every route, declared once (deps.get_served reads it)
        app.include_router(health.sites_router)
        site_path = Depends(site_parameter(list(sites)))
        app.include_router(_site_routes(editors), prefix=SITE_PATH, dependencies=[site_path])
    else:
        app.include_router(_site_routes(editors))
    app.add_middleware(
        Guard,
        max_body_bytes=settings.max_body_bytes,
        rate_per_minute=settings.rate_limit,
        burst=settings.rate_burst,
        max_inflight=settings.max_inflight,
        paths=policy_paths(app.openapi()),  # each route declares its own limits
        site_rates={site_id: (s.settings.rate_limit, s.settings.rate_burst) for site_id, s in sites.items()},
    )
    _add_cors(app, settings, sites, several)
    app.add_middleware(AccessLog, mode=settings.access_log)  # outermost: it sees every answer, refusals too
    return app


def _site_routes(editors: bool) -> APIRouter:
    """Every route of a site, under the root (one site) or ``/sites/{site}`` (several)."""
    router = APIRouter()
    for module in (ask, suggest, articles, health, feedback, widget):
        router.include_router(module.router)
    router.include_router(editor.router, include_in_schema=editors)
    return router


def _add_cors(app: FastAPI, settings: Settings, sites: dict[str, Site], several: bool) -> None:
    """CORS outside the guard, so that its refusals carry the CORS headers too: the settings' origins for
    one site, each site's own origins for several."""
    if several:
        app.add_middleware(SiteCORS, origins={site_id: site.settings.cors_origins for site_id, site in sites.items()})
    elif settings.cors_origins:
        app.add_middleware(JSONErrorCORS, allow_origins=settings.cors_origins, **CORS_OPTIONS)
