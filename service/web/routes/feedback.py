"""``POST /api/feedback``: a reader's vote on an answer, checked against the served index and stored —
committed before the 201; a store that cannot take it now gets a 503 (``StoreUnavailable``), never a false 201."""

from __future__ import annotations

import time

from fastapi import APIRouter

from service.core.question import check_text
from service.storage import Feedback
from service.web.deps import DatabaseDep, SiteDep, find_article
from service.web.errors import APIError
from service.web.guard import READER, guarded
from service.web.schemas import FeedbackRequest, FeedbackResponse

router = APIRouter(tags=["feedback"])


@router.post("/api/feedback", response_model=FeedbackResponse, status_code=201, openapi_extra=guarded(READER))
def post_feedback(body: FeedbackRequest, served: SiteDep, db: DatabaseDep) -> FeedbackResponse:
    answerer = served.answerer
    question = check_text(body.question, answerer.config.limits)
    article = find_article(answerer, body.doc_id)
    if not body.start < body.end <= len(article.text):
        raise APIError(422, "invalid_citation", "Les positions de la réponse ne correspondent pas à l'article.")
    item = Feedback(
        question, body.doc_id, body.start, body.end, body.vote, time.time(), answerer.index.version, served.site.id
    )
    return FeedbackResponse(id=db.add_feedback(item), created_at=item.created_at)
