"""The reader experiment's data split and training loop (eval/query_adapter.py), on a tiny PIAF sample with
the fake encoder: no evaluation set's article is trained on, epoch 0 is the service's own ranking, and the
same seed gives the same run."""

from __future__ import annotations

import pytest

from eval.sets import PIAF_CI_ARTICLES, load_set, piaf_set, piaf_training
from index.build import build
from research.query_adapter import Recipe, fit, gather, split
from service.core import Answerer
from service.settings import Settings
from tests.conftest import FAKE_CONFIG, FakeEncoder

TINY = Recipe(hidden=8, epochs=2, learning_rate=1e-2, batch=8, seed=3)


def test_the_training_split_never_holds_an_evaluated_article():
    corpus, validation = piaf_training()
    trained = {q.doc_id for q in corpus.questions}
    piaf_ci = load_set("piaf-ci")
    evaluated = {q.doc_id for q in piaf_ci.questions} | set(piaf_ci.held_out) | set(load_set("piaf").held_out)
    assert trained.isdisjoint(evaluated)
    assert validation < trained and 0.15 < len(validation) / len(trained) < 0.25
    assert {a.doc_id for a in corpus.articles} == trained
    assert len(trained) + PIAF_CI_ARTICLES == len({q.doc_id for q in load_set("piaf").questions})


@pytest.fixture(scope="module")
def tiny():
    eval_set = piaf_set(articles_limit=4)
    index = build(eval_set.articles, FakeEncoder(), FAKE_CONFIG)
    answerer = Answerer(index, FakeEncoder(), Settings().answer_config(threshold=0.0)).warm_up()
    docs = sorted({q.doc_id for q in eval_set.questions if q.answerable})
    train, validation = split(eval_set.questions, gather(eval_set.questions, answerer), {docs[0]})
    return answerer, eval_set, train, validation


def test_epoch_zero_is_the_service_ranking_and_training_is_reproducible(tiny):
    answerer, _, train, validation = tiny
    assert train and validation and all(a.target.shape == a.answer_hit.shape for a in train + validation)
    history = fit(train, validation, answerer.index.sentence_vectors, answerer.index.chunk_vectors, 0.7, TINY)
    assert [row["epoch"] for row in history] == [0, 1, 2] and history[0]["loss"] is None
    # Before any step the adapter is the identity: hit@1 is that of the service's own answer (gather keeps
    # the service's order, so candidate 0 is the one it answers with).
    for name, asked in (("train", train), ("validation", validation)):
        assert history[0][name] == pytest.approx(sum(a.answer_hit[0] for a in asked) / len(asked), abs=1e-4)
    assert all(row["loss"] > 0 for row in history[1:])
    again = fit(train, validation, answerer.index.sentence_vectors, answerer.index.chunk_vectors, 0.7, TINY)
    assert again == history
