"""The cross-encoder experiment's data (eval/cross_encoder.py): candidates in the order the service reads
them into, training pairs of a right and a wrong sentence, and hit@1 of a re-ranking."""

from __future__ import annotations

import numpy as np

from corpus.load import load
from index.build import build
from research.cross_encoder import Question, hit_rate, questions_of, training_pairs
from research.late_interaction import Asked
from tests.conftest import FAKE_CONFIG, SEED, FakeEncoder


def test_candidates_follow_the_service_order_and_pairs_need_a_right_and_a_wrong():
    index = build(load([SEED]), FakeEncoder(), FAKE_CONFIG)

    def text(pos: int) -> str:
        s = index.sentences[pos]
        return index.articles[s.doc_id].text[s.start : s.end]

    # scores 0.5, 0.4, 0.3 but reading (last column, × 0.5) puts the third first
    asked = Asked(
        np.array([0.5, 0.4, 0.3]), np.array([[0.0], [0.0], [1.0]]), np.array([False, True, False]), np.array([0, 1, 2])
    )
    (q,) = questions_of([asked], ["une question"], index)
    assert q.sentences == [text(2), text(0), text(1)] and q.hits.tolist() == [False, False, True]
    assert q.base.tolist() == [0.8, 0.5, 0.4]
    assert training_pairs([q]) == [("une question", text(1), text(2))]
    all_right = Question("q", ["a", "b"], np.array([0.5, 0.4]), np.array([True, True]))
    assert training_pairs([all_right]) == []


def test_hit_rate_reranks_the_first_candidates_only():
    q = Question("q", ["a", "b", "c"], np.array([0.5, 0.4, 0.3]), np.array([False, True, False]))
    assert hit_rate([q], [np.array([0.0, 0.0])], 1.0) == 0.0  # the service's first
    assert hit_rate([q], [np.array([0.0, 0.2])], 1.0) == 1.0  # 0.4 + 0.2 > 0.5
    assert hit_rate([q], [np.array([0.0, 0.05])], 1.0) == 0.0
    assert hit_rate([q], [np.array([0.0, 0.05])], 100.0) == 1.0  # the cross-encoder alone
