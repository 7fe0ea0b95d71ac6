"""The learned ranking: articles first, by a logistic model over what each candidate article has; then
the answer inside the article.

A hand-weighted sum chosen on one corpus ranks Wikipedia well and FAQ sites badly: on a help centre whose
pages exist once per sector ("… — Coiffure (IDCC 2596)"), the closest sentence is found in every copy and
only the page's *title* — its known question — tells the right one; on Wikipedia titles are names and
the closest passage decides. So the article of the answer is chosen by a model fitted on several corpora
at once and checked leave-one-corpus-out over the signals of each candidate article (``SIGNALS``: its
best score's margin to the best of all, its share of the nearest sentences, how close its known
questions — title, headings — come to the reader's, as a margin to the best article's, and whether they
are phrased as questions, its best reading's margin); then, inside it, the answer is the candidate with
the best ``score + reader_weight × reading`` (the rule measured on seed and piaf). ``python -m
eval.ranking --write`` fits it and writes its card, ``ranker.md`` (the variants, the data split, the
leave-one-corpus-out scores).

The fitted model is ``ranker.json``: the signals it reads, their centring and scaling, the coefficients.
It is read here with plain numpy (no pickle, no scikit-learn at run time) and refused when its hash is not
the one below: a model changed by hand or by a half-finished fit never ranks answers silently. A re-fit
prints the new hash to put here.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from index.search import Index
from service.core.results import Candidate

RANKER_FILE = Path(__file__).resolve().parent / "ranker.json"
RANKER_SHA256 = "7789e4b3840dfdfc749c1791b8e7d9a71ccd6400d5818e26a59b433cd31fb3e8"

# The signals of a candidate article (``signals`` computes them all; a model reads some).
SIGNALS = (
    "article_gap",  # the article's best score - the best score of all candidates (0 for the best article)
    "article_share",  # share of the question's nearest sentences that come from the article
    "known_article",  # the best cosine of the question with the article's known questions (title, headings)
    "known_gap",  # known_article - the best known-question cosine of all candidate articles
    "known_is_question",  # the article's best-matching known question is phrased as a question
    "known_question_article",  # known_article when that known question is phrased as one, else 0 (FAQ titles)
    "known_question_gap",  # known_gap when it is phrased as a question, else 0
    "reading_gap",  # the article's best reading - the best reading of all candidates
)


class RankerError(RuntimeError):
    """The ranking model is missing, damaged, changed since it was fitted, or for other features."""


@dataclass(frozen=True)
class Ranker:
    """A logistic model over some ``SIGNALS`` (``features``, in that order): ``((x - mean) / scale) @ coef +
    intercept`` ranks the candidate articles (higher: better)."""

    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float

    def score(self, rows: np.ndarray) -> np.ndarray:
        """The model's log-odds of each row (one article's ``features``) being the question's article."""
        return ((np.asarray(rows, dtype=np.float64) - self.mean) / self.scale) @ self.coef + self.intercept

    def to_dict(self) -> dict[str, object]:
        return {
            "features": list(self.features),
            "mean": [round(float(v), 8) for v in self.mean],
            "scale": [round(float(v), 8) for v in self.scale],
            "coef": [round(float(v), 8) for v in self.coef],
            "intercept": round(float(self.intercept), 8),
        }

    @classmethod
    def from_dict(cls, model: dict[str, Any]) -> Ranker:
        features = tuple(model["features"])
        arrays = [np.asarray(model[name], dtype=np.float64) for name in ("mean", "scale", "coef")]
        unknown = [name for name in features if name not in SIGNALS]
        if unknown or not features or any(a.shape != (len(features),) for a in arrays) or not np.all(arrays[1] > 0):
            raise RankerError(f"the ranking model reads other signals ({', '.join(features)}): re-fit it")
        return cls(features, arrays[0], arrays[1], arrays[2], float(model["intercept"]))


def file_hash(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def load(path: Path = RANKER_FILE) -> Ranker:
    """The shipped model (or a file that claims to be it), checked against the hash it was fitted with."""
    try:
        if file_hash(path) != RANKER_SHA256:
            raise RankerError(
                f"{path} does not match the hash it was fitted with (changed or damaged): "
                "restore it or re-fit with python -m eval.ranking"
            )
        return Ranker.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise RankerError(f"cannot read the ranking model {path} ({exc})") from exc


def signals(
    index: Index, scored: list[Candidate], nearest: list[tuple[int, float]], heading_scores: np.ndarray
) -> dict[str, dict[str, float]]:
    """Each candidate article's ``SIGNALS``, by article id: what the model reads of the candidates (their
    scores and readings), of the nearest sentences and of the known questions' cosines."""
    best: dict[str, float] = {}
    reading: dict[str, float] = {}
    for c in scored:
        doc = index.sentences[c.pos].doc_id
        best[doc] = max(best.get(doc, -math.inf), c.score)
        reading[doc] = max(reading.get(doc, -math.inf), c.reading or 0.0)
    share: dict[str, float] = {}
    for pos, _ in nearest:
        doc = index.sentences[pos].doc_id
        share[doc] = share.get(doc, 0.0) + 1 / len(nearest)
    known: dict[str, tuple[float, bool]] = {}
    for doc in best:
        rows = index.headings_of.get(doc, [])
        row = max(rows, key=lambda r: heading_scores[r]) if rows else None
        known[doc] = (float(heading_scores[row]), index.headings[row].question) if row is not None else (0.0, False)
    top_score, top_reading = max(best.values()), max(reading.values())
    top_known = max(k for k, _ in known.values())
    signals = {}
    for doc in best:
        value, question = known[doc]
        signals[doc] = {
            "article_gap": best[doc] - top_score,
            "article_share": share.get(doc, 0.0),
            "known_article": value,
            "known_gap": value - top_known,
            "known_is_question": float(question),
            "known_question_article": value if question else 0.0,
            "known_question_gap": value - top_known if question else 0.0,
            "reading_gap": reading[doc] - top_reading,
        }
    return signals
