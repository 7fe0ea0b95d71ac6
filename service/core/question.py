"""Checking a question before it costs anything: ``Answerer.answer`` checks every question it is given, so
the API, the CLI and the coverage reports refuse the same ones the same way."""

from __future__ import annotations

from service.core.config import Limits


class QuestionError(ValueError):
    """A question that cannot be asked; ``code`` is stable, ``message`` is French for the reader."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def check_question(question: object, top_k: object, limits: Limits) -> tuple[str, int]:
    """The stripped question and ``top_k``, or a QuestionError saying in French what is wrong with either."""
    stripped = check_text(question, limits)
    if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= limits.max_top_k:
        raise QuestionError("invalid_top_k", f"top_k doit être un entier entre 1 et {limits.max_top_k}.")
    return stripped, top_k


def check_text(question: object, limits: Limits) -> str:
    """The stripped text of a question (asked, voted on, or being typed), or a QuestionError."""
    if not isinstance(question, str):
        raise QuestionError("invalid_question", "La question doit être un texte.")
    stripped = question.strip()
    if not stripped:
        raise QuestionError("empty_question", "La question est vide : écrivez une question.")
    if len(stripped) > limits.max_question_chars:
        raise QuestionError(
            "question_too_long",
            f"La question dépasse {limits.max_question_chars} caractères ({len(stripped)}) : raccourcissez-la.",
        )
    if any(ord(ch) < 32 and ch not in "\t\n\r" for ch in stripped) or any(
        0xD800 <= ord(ch) <= 0xDFFF for ch in stripped
    ):
        raise QuestionError("invalid_question", "La question contient des caractères invalides.")
    return stripped
