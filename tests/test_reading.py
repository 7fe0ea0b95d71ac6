"""Reading (late interaction): the sentences' token vectors kept in the index, checked on load and reused
by the next build, and the answer chosen among the best candidates by score + weight × MaxSim, while
abstention still decides on the best score without it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from corpus.load import load
from index import store
from index.build import build, token_cache, vector_cache
from index.encoder import TokenEncoder
from index.manifest import StoreError
from index.tokens import Tokens, quantize, question_vectors
from tests.conftest import FAKE_CONFIG, FIXTURES, SEED, FakeEncoder, FakeTokenEncoder, make_answerer

QUESTIONS = [
    "Pourquoi mon mollet se contracte-t-il tout seul ?",
    "Quel nerf innerve le mollet ?",
    "Le magnésium aide-t-il contre les crampes ?",
    "Combien de battements par minute au repos ?",
    "Faut-il consulter un médecin ?",
]


@pytest.fixture(scope="module")
def read_index():
    return build(load([SEED, FIXTURES]), FakeTokenEncoder(), FAKE_CONFIG)


def test_a_build_keeps_every_sentences_token_vectors(read_index):
    tokens = read_index.tokens
    assert isinstance(FakeTokenEncoder(), TokenEncoder) and not isinstance(FakeEncoder(), TokenEncoder)
    assert tokens is not None and tokens.consistent(len(read_index.sentences))
    assert tokens.dims == FAKE_CONFIG.token_dims and read_index.manifest.corpus.tokens == len(tokens.codes) > 0
    # Each sentence's rows are its own words (the section title in its input is not read).
    pos = next(i for i, s in enumerate(read_index.sentences) if s.section != read_index.articles[s.doc_id].title)
    s = read_index.sentences[pos]
    words = read_index.articles[s.doc_id].text[s.start : s.end].split()
    assert len(tokens.of(pos)[0]) <= len(words)
    # An encoder without token vectors builds an index without them: answers are then the bi-encoder's.
    plain = build(load([SEED]), FakeEncoder(), FAKE_CONFIG)
    assert plain.tokens is None and plain.manifest.corpus.tokens == 0


def test_int8_token_vectors_keep_maxsim(read_index):
    rng = np.random.default_rng(1)
    sentence = rng.standard_normal((12, 256)).astype(np.float32)
    question = rng.standard_normal((5, 256)).astype(np.float32)
    exact_s, exact_q = question_vectors(sentence, 128), question_vectors(question, 128)
    exact = float((exact_q @ exact_s.T).max(axis=1).mean())
    tokens = Tokens.pack([quantize(sentence, 128)], 128)
    assert tokens.maxsim(exact_q, 0) == pytest.approx(exact, abs=0.01)
    assert tokens.maxsim(exact_q[:0], 0) == 0.0
    empty = Tokens.pack([quantize(sentence[:0], 128)], 128)
    assert empty.consistent(1) and empty.maxsim(exact_q, 0) == 0.0


def test_token_vectors_are_saved_hashed_and_checked_on_load(tmp_path, read_index):
    folder = store.save(read_index, tmp_path / "index")
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert {"tokens.npy", "token_scales.npy", "token_offsets.npy"} <= set(manifest["files"])
    assert manifest["corpus"]["tokens"] == len(read_index.tokens.codes)
    loaded = store.load(folder, FAKE_CONFIG)
    assert np.array_equal(np.asarray(loaded.tokens.codes), read_index.tokens.codes)
    assert np.array_equal(loaded.tokens.offsets, read_index.tokens.offsets)
    codes = np.load(folder / "tokens.npy")
    codes[0, 0] = codes[0, 0] + 1 if codes[0, 0] < 127 else 0
    np.save(folder / "tokens.npy", codes)
    with pytest.raises(StoreError, match="tokens.npy does not match its hash"):
        store.load(folder, FAKE_CONFIG)


def test_a_rebuild_reuses_token_vectors_and_embeds_only_new_sentences(tmp_path, read_index):
    encoder = FakeTokenEncoder()
    articles = load([SEED, FIXTURES])
    again = build(articles, encoder, FAKE_CONFIG, cache=vector_cache(read_index), token_cache=token_cache(read_index))
    assert encoder.calls == [] and np.array_equal(again.tokens.codes, read_index.tokens.codes)
    assert again.version == read_index.version
    # From disk (index.ensure's path): the saved index's tokens are reused for the unchanged sentences.
    folder = store.save(build(load([SEED]), FakeTokenEncoder(), FAKE_CONFIG), tmp_path / "index")
    reused = store.reusable_tokens(folder, encoder.name, encoder.runtime, encoder.dims, FAKE_CONFIG.token_dims)
    assert len(reused) == len(store.load(folder).sentences)
    assert store.reusable_tokens(folder, encoder.name, encoder.runtime, encoder.dims, 64) == {}
    grown = build(
        articles,
        encoder,
        FAKE_CONFIG,
        cache=store.reusable_vectors(folder, encoder.name, encoder.runtime, encoder.dims),
        token_cache=reused,
    )
    seed_sentences = len(store.load(folder).sentences)
    assert encoder.calls[0] == len(grown.sentences) - seed_sentences  # only the fixtures' sentences
    assert np.array_equal(grown.tokens.codes, read_index.tokens.codes)


def test_reading_chooses_among_the_best_and_abstention_keeps_its_score(read_index):
    """The hand ranking: reading re-orders the best READER_CANDIDATES only."""
    encoder = FakeTokenEncoder()
    off = make_answerer(read_index, encoder, threshold=0.1, reader_weight=0.0, ranking="hand")
    on = make_answerer(read_index, encoder, threshold=0.1, reader_weight=0.5, ranking="hand")
    strong = make_answerer(read_index, encoder, threshold=0.1, reader_weight=100.0, ranking="hand")
    changed = 0
    for question in QUESTIONS:
        plain, read, most = (a.explain(question).candidates for a in (off, on, strong))
        assert plain.support == read.support == most.support == plain.ranked[0].score
        assert all(c.reading is None for c in plain.ranked)
        n = on.config.reader_candidates
        assert {c.pos for c in read.ranked[:n]} == {c.pos for c in plain.ranked[:n]}
        assert all(c.reading is not None for c in read.ranked[:n]) and all(c.reading is None for c in read.ranked[n:])
        assert most.ranked[0].reading == max(c.reading for c in most.ranked[:n])
        changed += read.ranked[0].pos != plain.ranked[0].pos
        result = on.answer(question)
        if result.answered:
            answer, article = result.answer, read_index.articles[result.answer.citation.doc_id]
            assert article.text[answer.citation.start : answer.citation.end] == answer.text
            assert answer.score >= 0.1 and all(alt.score >= 0.1 for alt in result.alternatives)
    assert changed, "reading changed no answer: the test does not exercise it"


def test_the_learned_ranking_reads_every_candidate_and_keeps_the_support(read_index):
    encoder = FakeTokenEncoder()
    plain = make_answerer(read_index, encoder, threshold=0.1, reader_weight=0.0)
    learned = make_answerer(read_index, encoder, threshold=0.1)
    for question in QUESTIONS:
        found = learned.explain(question).candidates
        assert found.support == plain.explain(question).candidates.support
        assert all(c.reading is not None and c.rank is not None for c in found.ranked)


def test_reading_never_answers_with_a_candidate_under_the_threshold(read_index):
    encoder = FakeTokenEncoder()
    question = QUESTIONS[0]
    scores = sorted(
        (c.score for c in make_answerer(read_index, encoder, 0.0).explain(question).candidates.ranked), reverse=True
    )
    threshold = (scores[0] + scores[1]) / 2  # only the best candidate clears it
    result = make_answerer(read_index, encoder, threshold=threshold, reader_weight=100.0).answer(question)
    assert result.answered and result.answer.score == pytest.approx(scores[0], abs=1e-4) and not result.alternatives
    assert (
        not make_answerer(read_index, encoder, threshold=scores[0] + 0.01, reader_weight=100.0)
        .answer(question)
        .answered
    )


def test_an_index_without_tokens_is_answered_without_reading():
    index = build(load([SEED]), FakeEncoder(), FAKE_CONFIG)
    answerer = make_answerer(index, FakeTokenEncoder(), threshold=0.1)
    assert all(c.reading is None for c in answerer.explain(QUESTIONS[1]).candidates.ranked)
