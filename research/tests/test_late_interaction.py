"""The late-interaction experiment (eval/late_interaction.py) on a tiny PIAF sample with the fake encoder
and word-hash token vectors: alpha 0 is the service's own answer, MaxSim is a mean of best cosines, and
the table chooses alpha on the other sets only."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import numpy as np
import pytest

from eval.sets import piaf_set
from index.build import build
from index.tokens import question_vectors
from research.late_interaction import (
    CANDIDATES,
    VARIANTS,
    Asked,
    gather,
    hit_rate,
    maxsim,
    report,
    restore,
    save,
    stored,
)
from service.core import Answerer
from service.settings import Settings
from tests.conftest import FAKE_CONFIG, FakeEncoder, FakeTokenEncoder


class WordStates:
    """One unit vector per word, from its hash: the same word in question and sentence matches exactly."""

    def _vectors(self, text: str) -> np.ndarray:
        rows = []
        for word in text.lower().split():
            seed = int.from_bytes(hashlib.sha256(word.encode()).digest()[:4], "little")
            vector = np.random.default_rng(seed).standard_normal(16)
            rows.append(vector / np.linalg.norm(vector))
        return np.array(rows, dtype=np.float32)

    def question(self, text: str) -> np.ndarray:
        return self._vectors(text)

    def sentence(self, text: str, title: str, body: int) -> np.ndarray:
        return self._vectors(text[len(text) - body :])


@pytest.fixture(scope="module")
def asked():
    eval_set = piaf_set(articles_limit=4)
    index = build(eval_set.articles, FakeEncoder(), FAKE_CONFIG)
    answerer = Answerer(index, FakeEncoder(), Settings().answer_config(threshold=0.0)).warm_up()
    return answerer, eval_set, gather(eval_set, answerer, WordStates()).asked


def test_alpha_zero_is_the_service_answer_and_maxsim_is_bounded(asked):
    answerer, eval_set, rows = asked
    answerable = [q for q in eval_set.questions if q.answerable and q.answers]
    assert len(rows) == len(answerable) > 20
    assert all(1 <= len(a.score) <= CANDIDATES and a.maxsim.shape == (len(a.score), len(VARIANTS) + 1) for a in rows)
    assert all(np.all(np.abs(a.maxsim[:, :-1]) <= 1.0 + 1e-6) for a in rows)
    assert all(np.isnan(a.maxsim[:, -1]).all() for a in rows)  # the fake encoder's index has no token vectors
    # gather keeps the service's order: candidate 0 is the one the service answers with.
    first = answerable[0]
    assert rows[0].score[0] == pytest.approx(answerer.explain(first.question).candidates.ranked[0].score)
    assert hit_rate(rows, 0.0) == pytest.approx(np.mean([a.hit[0] for a in rows]))
    # A question word found verbatim in a sentence gives it a best cosine of 1 for that word.
    assert max(float(a.maxsim[:, :-1].max()) for a in rows) > 0.2


def test_alpha_is_chosen_on_the_other_sets():
    # On "a" MaxSim finds the answer, on "b" it misleads: each set's chosen alpha comes from the other.
    sims = np.array([[0.1] * len(VARIANTS), [0.9] * len(VARIANTS)])
    helps = Asked(np.array([0.5, 0.4]), sims, np.array([False, True]), np.array([3, 4]))
    misleads = Asked(np.array([0.5, 0.4]), sims, np.array([True, False]), np.array([3, 4]))
    lines = report({"a": [helps] * 3, "b": [misleads] * 3})
    assert lines[2] == "| 768 | a (3) | 0.000 | 1.000 | 0.15 → 1.000 | 0.0 → 0.000 |"
    assert lines[3] == "| 768 | b (3) | 1.000 | 0.000 | 0.0 → 1.000 | 0.15 → 0.000 |"
    assert len(lines) == 2 + 2 * len(VARIANTS)


def test_stored_token_vectors_are_unit_length_and_int8_rounding_stays_close():
    rng = np.random.default_rng(0)
    states = rng.standard_normal((7, 768)).astype(np.float32)
    states /= np.linalg.norm(states, axis=1, keepdims=True)
    for dims, int8 in VARIANTS.values():
        kept = stored(states, dims, int8)
        assert kept.shape == (7, dims)
        exact = stored(states, dims, False)
        assert np.allclose(np.linalg.norm(exact, axis=1), 1.0, atol=1e-5)
        assert np.all(np.sum(kept * exact, axis=1) > 0.99)
    assert maxsim(states[:2], states).tolist() == pytest.approx([1.0] * len(VARIANTS), abs=1e-3)


def test_a_kept_set_comes_back_as_it_was(tmp_path):
    eval_set = piaf_set(articles_limit=2)
    index = build(eval_set.articles, FakeEncoder(), FAKE_CONFIG)
    answerer = Answerer(index, FakeEncoder(), Settings().answer_config(threshold=0.0)).warm_up()
    gathered = gather(eval_set, answerer, WordStates())
    save(tmp_path / "set.npz", gathered)
    back = restore(tmp_path / "set.npz")
    assert len(back.asked) == len(gathered.asked) and back.sentences.keys() == gathered.sentences.keys()
    for a, b in zip(gathered.asked, back.asked):
        assert all(
            np.array_equal(getattr(a, f), getattr(b, f), equal_nan=f == "maxsim")
            for f in ("score", "maxsim", "hit", "positions")
        )
    assert all(np.array_equal(a, b) for a, b in zip(gathered.questions, back.questions))
    assert all(np.array_equal(gathered.sentences[p], back.sentences[p]) for p in gathered.sentences)


def test_served_reading_is_the_index_maxsim_the_service_uses():
    eval_set = piaf_set(articles_limit=2)
    encoder = FakeTokenEncoder()
    index = build(eval_set.articles, encoder, FAKE_CONFIG)
    answerer = Answerer(index, encoder, replace(Settings().answer_config(threshold=0.0), reader_weight=0.0)).warm_up()
    gathered = gather(eval_set, answerer, None)
    first = next(q for q in eval_set.questions if q.answerable and q.answers)
    served = question_vectors(encoder.encode_query_tokens(first.question)[1], index.tokens.dims)
    row = gathered.asked[0]
    assert row.maxsim[:, -1].tolist() == pytest.approx([index.tokens.maxsim(served, p) for p in row.positions])
    assert np.isnan(row.maxsim[:, :-1]).all() and not gathered.sentences
    lines = report({"a": gathered.asked})
    assert len(lines) == 3 and lines[2].startswith("| as served | a (")
