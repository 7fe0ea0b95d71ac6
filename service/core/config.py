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
    are also what a calibrated threshold was fitted with: see ``service.core.calibration``."""

    threshold: float
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

    def scoring(self) -> dict[str, float | int]:
        """The settings a threshold depends on, by their setting names."""
        return {
            "sentence_weight": self.sentence_weight,
            "lexical_weight": self.lexical_weight,
            "chunk_candidates": self.chunk_candidates,
            "sentence_candidates": self.sentence_candidates,
            "pair_margin": self.pair_margin,
            "pair_length_cost": self.pair_length_cost,
            "number_penalty": self.number_penalty,
        }
