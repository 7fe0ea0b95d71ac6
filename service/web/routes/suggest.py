"""``/api/suggest``: while the reader types, the site's own questions (titles and headings) closest to
what is typed so far, so that a reader can pick a question the site is known to answer instead of
guessing its words. Checked like a question, and guarded like ``/api/ask`` (it encodes the text too)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from service.web.deps import AnswererDep
from service.web.guard import QUESTION, guarded
from service.web.routes.ask import known_body
from service.web.schemas import SuggestionsOut

MAX_SUGGESTIONS = 10  # a list a reader scans while typing, not a search results page

router = APIRouter(tags=["ask"])


@router.get("/api/suggest", response_model=SuggestionsOut, openapi_extra=guarded(QUESTION))
def suggest(
    answerer: AnswererDep,
    q: Annotated[str, Query(description="Le début de la question du lecteur.")] = "",
    k: Annotated[int, Query(ge=1, le=MAX_SUGGESTIONS, description="Nombre de suggestions (1 à 10).")] = 5,
) -> dict[str, Any]:
    # the text is refused like a question (empty, too long…)
    return {"suggestions": [known_body(answerer, known) for known in answerer.suggest(q, k)]}
