"""research/explore.py and research/reading_abstention.py recompute what the service does; if they
drifted from it, their comparisons would mean nothing."""

from __future__ import annotations

import numpy as np
import pytest

from corpus.load import load
from eval.metrics import Span, contains_gold
from eval.sets import load_set
from index.build import build
from research.explore import gather
from research.reading_abstention import auc, signals
from tests.conftest import FAKE_CONFIG, FIXTURES, SEED, FakeTokenEncoder, make_answerer

QUESTIONS = [
    "Pourquoi mon mollet se contracte-t-il tout seul ?",
    "Quel nerf innerve le mollet ?",
    "Le magnésium aide-t-il contre les crampes ?",
]


def test_explore_recomputes_the_services_own_choice(encoder, seed_index):
    """explore's "current" choice must be the service's answer (without abstention), question by question."""
    seed = load_set("seed")
    answerer = make_answerer(seed_index, encoder, threshold=0.3)
    asked = gather(seed, answerer)
    assert len(asked) == len(seed.questions)
    hits = 0
    for q, a in zip(seed.questions, asked):
        best = max(a.units, key=lambda u: u.score)
        served = answerer.explain(q.question, top_k=1).result.answer
        assert served is not None and served.score == round(best.score, 4), q.id
        c = served.citation
        served_hit = contains_gold(Span(c.doc_id, c.start, c.end, served.text), q)
        assert best.answer_gold == served_hit, q.id
        assert best.answer_length == len(served.text), q.id
        hits += served_hit
    assert hits > 10  # the comparison ran on questions the fake encoder answers


def test_the_abstention_signals_of_reading():
    """Its signals are the candidates' own, and its AUC counts pairs."""
    index = build(load([SEED, FIXTURES]), FakeTokenEncoder(), FAKE_CONFIG)
    answerer = make_answerer(index, FakeTokenEncoder(), threshold=0.1, reader_weight=0.5)
    for question in QUESTIONS:
        support, read, maxsim = signals(answerer, question)
        found = answerer.explain(question).candidates
        best = found.ranked[0]  # reading's choice: the best of score + 0.5 × MaxSim
        assert best.reading is not None
        assert support == found.support and read == pytest.approx(best.score + 0.5 * best.reading)
        assert maxsim == max(c.reading or 0.0 for c in found.ranked[: answerer.config.reader_candidates])
    assert auc(np.array([0.9, 0.8]), np.array([0.1, 0.85])) == 0.75
    assert auc(np.array([0.5]), np.array([0.5])) == 0.5
