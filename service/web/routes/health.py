"""``/api/health``: what is served (model, runtime, index version and size, the abstention threshold and
where it comes from), for probes and operators. With several sites, ``/sites/{site}/api/health`` says
it of one site and ``/api/health`` of the process: the one model, then every site."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from service.core.answer import Answerer
from service.web.deps import Served, SiteDep
from service.web.schemas import HealthOut, SitesHealthOut

router = APIRouter(tags=["health"])
sites_router = APIRouter(tags=["health"])


def index_health(answerer: Answerer) -> dict[str, Any]:
    corpus = answerer.index.manifest.corpus
    return {
        "index_version": answerer.index.version,
        "articles": corpus.articles,
        "sentences": corpus.sentences,
        "chunks": corpus.chunks,
        "threshold": answerer.threshold,
        "threshold_from": "index" if answerer.abstention is not None else "setting",
    }


@router.get("/api/health", response_model=HealthOut)
def health(served: SiteDep) -> dict[str, Any]:
    model = served.answerer.index.manifest.model
    return {"status": "ok", "model": model.name, "runtime": model.runtime, **index_health(served.answerer)}


@sites_router.get("/api/health", response_model=SitesHealthOut)
def sites_health(request: Request) -> dict[str, Any]:
    sites: dict[str, Served] = request.app.state.sites
    model = next(iter(sites.values())).answerer.index.manifest.model  # one model serves every site
    return {
        "status": "ok",
        "model": model.name,
        "runtime": model.runtime,
        "sites": {
            site_id: {**index_health(served.answerer), "url": served.site.prefix} for site_id, served in sites.items()
        },
    }
