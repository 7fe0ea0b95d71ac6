"""``/api/health``: what is served (model, runtime, index version and size, the abstention threshold and
where it comes from), for probes and operators."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from service.web.deps import AnswererDep
from service.web.schemas import HealthOut

router = APIRouter(tags=["health"])


@router.get("/api/health", response_model=HealthOut)
def health(answerer: AnswererDep) -> dict[str, Any]:
    index = answerer.index
    corpus, model = index.manifest.corpus, index.manifest.model
    return {
        "status": "ok",
        "model": model.name,
        "runtime": model.runtime,
        "index_version": index.version,
        "articles": corpus.articles,
        "sentences": corpus.sentences,
        "chunks": corpus.chunks,
        "threshold": answerer.threshold,
        "threshold_from": "index" if answerer.abstention is not None else "setting",
    }
