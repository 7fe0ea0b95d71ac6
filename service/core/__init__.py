"""The answering core: question → verbatim, cited answer or a reasoned abstention. Nothing here
knows of HTTP; the web adapter (``service.web``), the CLI and ``eval/`` use only these names."""

from service.core.answer import Answerer
from service.core.cite import heading_url, passage_url, section_title
from service.core.config import AnswerConfig, Limits
from service.core.question import QuestionError, check_text
from service.core.results import Answer, Candidate, Candidates, Citation, Explanation, KnownQuestion, Passage, Result

__all__ = [
    "Answer",
    "AnswerConfig",
    "Answerer",
    "Candidate",
    "Candidates",
    "Citation",
    "Explanation",
    "KnownQuestion",
    "Limits",
    "Passage",
    "QuestionError",
    "Result",
    "check_text",
    "heading_url",
    "passage_url",
    "section_title",
]
