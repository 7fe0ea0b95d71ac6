"""The ranking fit (eval.ranking) and the confident rule's choice (eval.confidence), on synthetic data."""

from __future__ import annotations

import numpy as np

from eval.abstention import Scores
from eval.confidence import choose, confident, leave_one_out
from eval.ranking import Asked, article_key, fit, learned_order, measure
from service.core.ranking import SIGNALS, Ranker
from service.settings import Settings


def _asked(seed: int, questions: int = 60) -> Asked:
    """Questions of 4 candidate articles of 2 candidates each; the right article stands out on
    known_question_gap (noise elsewhere), its first candidate holds the answer and scores higher."""
    rng = np.random.default_rng(seed)
    columns: dict[str, list] = {k: [] for k in ("signals", "score", "reading", "article", "contains", "right", "group")}
    for q in range(questions):
        right = rng.integers(4)
        for article in range(4):
            signals = rng.normal(0, 1, len(SIGNALS))
            signals[SIGNALS.index("known_question_gap")] += 2.5 if article == right else 0.0
            for c in range(2):
                columns["signals"].append(signals)
                columns["score"].append(0.6 if c == 0 else 0.5)
                columns["reading"].append(0.0)
                columns["article"].append(article)
                columns["contains"].append(int(article == right and c == 0))
                columns["right"].append(int(article == right))
                columns["group"].append(q)
    return Asked(
        np.asarray(columns["signals"]),
        np.asarray(columns["score"]),
        np.asarray(columns["reading"]),
        np.asarray(columns["article"]),
        np.asarray(columns["contains"]),
        np.asarray(columns["right"]),
        np.asarray(columns["group"]),
        np.ones(questions, dtype=np.int8),
        np.ones(questions, dtype=np.int8),
        np.zeros(questions),
        0.4,
    )


def test_a_fit_learns_the_signal_that_finds_the_article_and_transfers():
    settings = Settings()
    ranker = fit([_asked(1), _asked(2)], SIGNALS)
    assert isinstance(ranker, Ranker) and ranker.features == SIGNALS
    assert int(np.argmax(ranker.coef)) == SIGNALS.index("known_question_gap")
    held_out = _asked(3)
    learned = measure(held_out, learned_order(held_out, article_key(held_out, ranker), settings))
    by_chance = measure(held_out, learned_order(held_out, held_out.signals[:, SIGNALS.index("reading_gap")], settings))
    assert learned["doc@1"] > 0.8 > by_chance["doc@1"] + 0.4
    assert learned["hit@1"] == learned["doc@1"]  # inside the right article, the better score holds the answer
    reread = Ranker.from_dict(ranker.to_dict())
    rows = held_out.signals[:, [SIGNALS.index(name) for name in reread.features]]
    assert np.allclose(reread.score(rows), ranker.score(rows), atol=1e-5)


def test_a_fit_reads_only_its_signals():
    ranker = fit([_asked(1), _asked(2)], ("article_gap", "known_question_gap"))
    assert ranker.features == ("article_gap", "known_question_gap") and ranker.coef.shape == (2,)


def _scores(answerable: float, near: float, bank_mean: float) -> Scores:
    rng = np.random.default_rng(int(answerable * 100))
    return Scores(
        list(rng.normal(answerable, 0.05, 200)),
        list(rng.normal(near, 0.05, 100)) + [0.0] * 20,
        list(rng.normal(bank_mean, 0.03, 250)),
        list(rng.normal(bank_mean, 0.03, 50)),
        ["near_topic"] * 100 + ["off_domain"] * 20,
    )


def test_the_confident_margin_is_chosen_on_other_corpora_and_off_domain_questions_are_not_near_topic():
    settings = Settings(abstain_deviations=1.58, abstain_floor=0.31)
    corpora = {"a": _scores(0.70, 0.55, 0.35), "b": _scores(0.75, 0.60, 0.40), "c": _scores(0.72, 0.57, 0.37)}
    margin = choose([corpora["a"], corpora["b"]], "margin", settings)
    assert margin is not None and 0 < margin < 0.3
    rows = {(r["rule"], r["left_out"]): r for r in leave_one_out(corpora, list(corpora), settings)}
    left_out = rows[("margin", "c")]
    assert left_out["answerable"] >= 0.85 and left_out["unanswerable"] < 0.5
    shares = confident(corpora["c"], 0.3, threshold=0.3)
    assert shares["unanswerable"] == 1.0  # the 20 off-domain zeros are not near-topic questions
    assert shares["own_off_domain_abstain"] == 1.0  # they abstain
