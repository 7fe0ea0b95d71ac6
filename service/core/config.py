"""The answering core's configuration: frozen, built from ``service.settings.Settings`` (the one
place defaults are written), so the core never reads the environment and never restates a default."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """What a question may be; the same bounds for the API, the CLI and the coverage reports."""

    max_question_chars: int
    max_top_k: int


@dataclass(frozen=True)
class AnswerConfig:
    """Everything that decides an answer. The scoring fields (weights, margins, candidate counts)
    are also what an index's abstention measurement was made with: other values measure it again.

    ``threshold`` None: each index's own, from its off-topic bank scores under the rule
    (``abstain_deviations``, ``abstain_floor``): see ``service.core.abstention``. A number: that
    threshold on every index (``SOURCIER_THRESHOLD``, or the evaluation's explicit one).
    """

    threshold: float | None
    abstain_deviations: float
    abstain_floor: float
    base_url: str
    top_k: int
    limits: Limits
    sentence_weight: float
    lexical_weight: float
    chunk_candidates: int
    sentence_candidates: int
    pair_margin: float
    pair_length_cost: float
    number_penalty: float
    reader_weight: float  # reading's weight in choosing among the best candidates; not in scoring(): see answer
    reader_candidates: int
    ranking: str  # "learned": the fitted model (service.core.ranking) orders the candidates; "hand": the score
    confident_margin: float  # an answer is confident when the support clears the threshold by this much
    known_question: float  # a known question (title, heading) "matched" from this cosine on

    def scoring(self) -> dict[str, float | int | str]:
        """The settings a threshold depends on, by their setting names (the learned ranking and the known
        questions add candidates from a matched heading's section, which can raise the best score)."""
        return {
            "ranking": self.ranking,
            "known_question": self.known_question,
            "sentence_weight": self.sentence_weight,
            "lexical_weight": self.lexical_weight,
            "chunk_candidates": self.chunk_candidates,
            "sentence_candidates": self.sentence_candidates,
            "pair_margin": self.pair_margin,
            "pair_length_cost": self.pair_length_cost,
            "number_penalty": self.number_penalty,
        }
