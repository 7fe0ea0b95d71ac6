"""Request and response models of the HTTP API (separate from the core's records, so the wire
format is stated in one place and documented in the OpenAPI schema)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class AskRequest(BaseModel):
    question: str = Field(..., description="La question du lecteur, en français.")
    # strict: the schema says integer, so "3" or true is refused (422) rather than read as 3 or 1; the
    # query string of GET /api/ask, where everything is text, takes digits
    top_k: Annotated[int, Field(strict=True)] | None = Field(
        None, description="Nombre de passages (et de réponses) à renvoyer ; par défaut le réglage SOURCIER_TOP_K."
    )


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


class KnownQuestionOut(BaseModel):
    """A title or heading of the site, read as a question the site already answers."""

    doc_id: str = Field(..., description="L'article du titre ou de l'intertitre.")
    title: str = Field(..., description="Le titre de l'article.")
    section: str | None = Field(..., description="L'intertitre ; null : le titre de l'article lui-même.")
    text: str = Field(..., description="La question connue, telle que le site l'écrit.")
    question: bool = Field(..., description="true : le site l'écrit comme une question (« … ? »), comme une FAQ.")
    score: float = Field(..., description="La similarité (cosinus) entre cette question et celle du lecteur.")
    url: str = Field(..., description="Le lien qui ouvre l'article à cet intertitre (ou l'article).")


class AskResponse(BaseModel):
    question: str
    answered: bool = Field(..., description="true : une réponse est donnée (sûre ou à vérifier, voir confident).")
    answer: AnswerOut | None
    alternatives: list[AnswerOut]
    passages: list[PassageOut]
    reason: str | None
    took_ms: float
    index_version: str
    support: float | None = Field(None, description="Le meilleur score, comparé au seuil d'abstention.")
    confident: bool = Field(
        ...,
        description="true : réponse sûre (le score dépasse le seuil d'au moins SOURCIER_CONFIDENT_MARGIN) ; "
        "false avec answered : le passage le plus proche, à vérifier, plutôt qu'une réponse certaine.",
    )
    known: KnownQuestionOut | None = Field(
        ..., description="La question du site (titre ou intertitre) proche de celle du lecteur, s'il y en a une."
    )


class SuggestionsOut(BaseModel):
    suggestions: list[KnownQuestionOut] = Field(
        ..., description="Les questions connues du site les plus proches du début de question, la plus proche d'abord."
    )


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
    threshold: float  # the score under which answers abstain
    threshold_from: str  # "index": measured on its corpus (the default); "setting": SOURCIER_THRESHOLD


class SiteHealthOut(BaseModel):
    index_version: str
    articles: int
    sentences: int
    chunks: int
    threshold: float
    threshold_from: str
    url: str  # where the site's routes live (``/sites/<id>``)


class SitesHealthOut(BaseModel):
    """``/api/health`` of a process serving several sites: the shared model, then each site."""

    status: str
    model: str
    runtime: str
    sites: dict[str, SiteHealthOut]


class FeedbackRequest(BaseModel):
    """A reader's vote on one answer: the question, the cited passage and the vote, nothing else."""

    model_config = ConfigDict(extra="forbid")

    question: str = Field(..., description="La question posée.")
    doc_id: str = Field(..., description="L'article de la réponse.")
    start: int = Field(..., ge=0, description="Début de la réponse (caractères, points de code).")
    end: int = Field(..., ge=1, description="Fin de la réponse (exclue).")
    vote: Literal[-1, 1] = Field(..., description="1 : la réponse a aidé ; -1 : elle n'a pas aidé.")


class FeedbackResponse(BaseModel):
    id: int
    created_at: float


class ErrorBody(BaseModel):
    code: str
    message: str


class ErrorOut(BaseModel):
    error: ErrorBody
