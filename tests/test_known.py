"""The site's known questions (titles and headings embedded as questions), the learned ranking and the
confident flag, with the fake encoder."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from corpus.chunk import headings, is_question
from corpus.load import Article, Section
from index import store
from index.build import build, vector_cache
from service.core import ranking
from service.core.ranking import SIGNALS, Ranker, RankerError
from tests.conftest import FAKE_CONFIG, FakeEncoder, make_answerer

GUIDE = "Introduction générale.\nCongés payés\nLe salarié acquiert des congés payés chaque mois. 🌴"
FAQ = [
    Article(
        "essai",
        "Peut-on renouveler la période d’essai ?",
        "La période d'essai peut être renouvelée une fois, par un écrit signé. Elle ne peut pas l'être deux fois.",
    ),
    Article(
        "preavis",
        "Quelle est la durée du préavis en cas de démission ?",
        "Le préavis de démission dure un mois pour un employé. Il est de trois mois pour un cadre.",
    ),
    Article(
        "guide",
        "Guide du salarié",
        GUIDE,
        [Section("Guide du salarié", 0, 23, 0), Section("Congés payés", 23, len(GUIDE), 36)],
    ),
]


@pytest.fixture
def faq_index():
    return build(FAQ, FakeEncoder(), FAKE_CONFIG)


@pytest.mark.parametrize(
    ("heading", "question"),
    [
        ("Le préavis peut-il être réduit ? — Secteur du bâtiment (accord 123)", True),
        ("Comment déclarer un accident", True),
        ("Qu’est-ce qu’un CDD", True),
        ("Y a-t-il un délai", True),
        ("Je n’arrive plus à me connecter", True),
        ("J’ai perdu mon mot de passe", True),
        ("Jetons un coup d’œil au mollet", False),
        ("Biographie", False),
        ("Les pièces jointes", False),
        ("", False),
    ],
)
def test_a_heading_is_a_question_when_it_reads_as_the_reader_s(heading, question):
    assert is_question(heading) is question


def test_headings_are_the_title_then_each_section_title_marked_when_a_question():
    assert [(h.section, h.text, h.question) for h in headings(FAQ[0])] == [
        (None, "Peut-on renouveler la période d’essai ?", True)
    ]
    assert [(h.section, h.text, h.question) for h in headings(FAQ[2])] == [
        (None, "Guide du salarié", False),
        ("Congés payés", "Congés payés", False),
    ]


def test_headings_are_embedded_as_questions_saved_and_reused(faq_index, tmp_path):
    encoder = FakeEncoder()
    assert len(faq_index.headings) == 4 and faq_index.manifest.corpus.headings == 4
    expected = encoder.encode_queries([h.text for h in faq_index.headings])
    assert np.allclose(faq_index.heading_vectors, expected)
    store.save(faq_index, tmp_path / "index")
    loaded = store.load(tmp_path / "index", FAKE_CONFIG)
    assert loaded.headings == faq_index.headings
    assert np.allclose(loaded.heading_vectors, faq_index.heading_vectors)
    again = FakeEncoder()
    build(FAQ, again, FAKE_CONFIG, cache=vector_cache(loaded))
    assert again.calls == []  # every sentence, pair, chunk and heading reused


def test_a_damaged_heading_file_is_refused(faq_index, tmp_path):
    store.save(faq_index, tmp_path / "index")
    with open(tmp_path / "index" / "headings.jsonl", "a", encoding="utf-8") as handle:
        handle.write(json.dumps({"doc_id": "x", "section": None, "text": "Œuf ?", "question": True}) + "\n")
    with pytest.raises(store.StoreError, match="headings.jsonl"):
        store.load(tmp_path / "index", FAKE_CONFIG)


def test_a_question_close_to_a_title_names_it_and_is_answered_from_its_article(faq_index):
    answerer = make_answerer(faq_index, FakeEncoder(), threshold=0.1, known_question=0.5)
    result = answerer.answer("peut on renouveler la période d'essai ?")
    assert result.known is not None and result.known.doc_id == "essai" and result.known.question
    assert result.answer is not None and result.answer.citation.doc_id == "essai"
    assert result.passages[0].doc_id == "essai"
    text = FAQ[0].text
    assert text[result.answer.citation.start : result.answer.citation.end] == result.answer.text


def test_no_known_question_under_the_setting(faq_index):
    answerer = make_answerer(faq_index, FakeEncoder(), threshold=0.1, known_question=0.99)
    assert answerer.answer("combien de congés payés par mois ?").known is None


def test_confident_only_when_the_support_clears_the_threshold_by_the_margin(faq_index):
    question = "Le préavis de démission dure combien pour un employé ?"
    support = make_answerer(faq_index, FakeEncoder(), threshold=0.0).answer(question).support
    assert support is not None
    sure = make_answerer(faq_index, FakeEncoder(), threshold=support - 0.05, confident_margin=0.04).answer(question)
    unsure = make_answerer(faq_index, FakeEncoder(), threshold=support - 0.05, confident_margin=0.06).answer(question)
    assert sure.answered and sure.confident
    assert unsure.answered and not unsure.confident and unsure.answer == sure.answer
    refused = make_answerer(faq_index, FakeEncoder(), threshold=support + 0.01).answer(question)
    assert not refused.answered and not refused.confident


def test_suggestions_are_the_closest_known_questions_each_once(faq_index):
    answerer = make_answerer(faq_index, FakeEncoder(), threshold=0.1)
    found = answerer.suggest("préavis démission", 2)
    assert found[0].doc_id == "preavis" and found[0].text == FAQ[1].title
    assert len(found) <= 2 and len({q.text for q in found}) == len(found)
    assert found == sorted(found, key=lambda q: -q.score)


def _by(name: str, sign: float = 1.0) -> Ranker:
    """A model that ranks articles by one signal."""
    return Ranker((name,), np.zeros(1), np.ones(1), np.array([sign]), 0.0)


def test_the_learned_ranking_puts_the_model_s_first_article_first_then_score_and_reading(faq_index):
    from service.core import Answerer

    encoder = FakeEncoder()
    config = replace(make_answerer(faq_index, encoder, threshold=-1.0).config, ranking="learned")
    question = "peut on renouveler la période d'essai ?"
    best = Answerer(faq_index, encoder, config, _by("article_gap")).warm_up().explain(question).candidates
    worst = Answerer(faq_index, encoder, config, _by("article_gap", -1.0)).warm_up().explain(question).candidates
    doc = faq_index.sentences[best.ranked[0].pos].doc_id
    assert doc == "essai" and faq_index.sentences[worst.ranked[0].pos].doc_id != "essai"
    assert best.support == worst.support == max(c.score for c in best.ranked)  # abstention's number, unchanged
    for found in (best, worst):
        assert all(len(c.features) == len(SIGNALS) and c.rank is not None for c in found.ranked)
        ranks = [c.rank for c in found.ranked]
        assert ranks == sorted(ranks, reverse=True)  # articles in the model's order
        first = [c for c in found.ranked if c.rank == found.ranked[0].rank]
        keys = [c.score + config.reader_weight * (c.reading or 0.0) for c in first]
        assert keys == sorted(keys, reverse=True)  # inside an article: score + reading


def test_the_shipped_model_loads_and_a_changed_one_is_refused(tmp_path):
    shipped = ranking.load()
    assert set(shipped.features) <= set(SIGNALS)
    changed = tmp_path / "ranker.json"
    record = json.loads(ranking.RANKER_FILE.read_text(encoding="utf-8"))
    record["coef"][0] += 1.0
    changed.write_text(json.dumps(record), encoding="utf-8")
    with pytest.raises(RankerError, match="hash"):
        ranking.load(changed)
    record["features"] = ["an_unknown_signal"] + record["features"][1:]
    with pytest.raises(RankerError, match="other signals"):
        Ranker.from_dict(record)
