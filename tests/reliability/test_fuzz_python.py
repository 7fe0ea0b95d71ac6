"""Bad input to the Python API (hypothesis, FakeEncoder): the question check, the answer path and the
corpus loaders either give a valid result or their own clear error, never anything else."""

from __future__ import annotations

import json
import tempfile
from dataclasses import replace
from pathlib import Path

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, assume, given, settings

from corpus.chunk import chunks, sentences
from corpus.load import SUFFIXES, CorpusError, load, load_file
from index.build import build
from service.core import Answerer, QuestionError
from service.core.question import check_question
from service.settings import Settings
from tests.conftest import FAKE_CONFIG, FIXTURES, SEED, FakeEncoder, make_answerer

LIMITS = Settings().limits()

pytestmark = pytest.mark.reliability

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)
CODES = {"invalid_question", "empty_question", "question_too_long", "invalid_top_k"}
ENCODER = FakeEncoder()
CONFIG = replace(FAKE_CONFIG, runtime="torch")
INDEX = build(load([SEED, FIXTURES]), ENCODER, CONFIG)
ANSWERER = make_answerer(INDEX, ENCODER, threshold=0.3, base_url="http://test")
ANYTHING = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.binary(max_size=20),
    st.text(max_size=600),
    st.lists(st.text(max_size=5), max_size=3),
)
FRENCHISH = st.text(
    alphabet=st.characters(codec="utf-8") | st.sampled_from(list("nerf tibial mollet éèàç’«» ?.\n")),
    min_size=1,
    max_size=500,
)


def check_result(result, question: str, top_k: int, answerer: Answerer = ANSWERER) -> None:
    index = answerer.index
    assert result.question == question and result.index_version == index.version
    assert result.answered == (result.answer is not None)
    answers = ([result.answer] if result.answer else []) + result.alternatives
    assert len(answers) <= top_k and len(result.passages) <= top_k
    for answer in answers:
        c = answer.citation
        assert index.articles[c.doc_id].text[c.start : c.end] == answer.text and answer.text.strip()
    if result.answer:
        assert result.answer.score >= answerer.threshold - 1e-4  # scores are rounded to 4 places
    for passage in result.passages:
        assert index.articles[passage.doc_id].text[passage.start : passage.end] == passage.text
    if not result.answered:
        assert result.reason


@given(question=ANYTHING, top_k=ANYTHING | st.integers(-5, 30))
@FUZZ
def test_check_question_gives_a_clean_question_or_a_french_error(question, top_k):
    try:
        clean, k = check_question(question, top_k, LIMITS)
    except QuestionError as exc:
        assert exc.code in CODES and exc.message
        return
    assert k == top_k and isinstance(clean, str) and clean == clean.strip() and 0 < len(clean) <= 500
    assert isinstance(top_k, int) and 1 <= top_k <= 20
    assert not any(ord(ch) < 32 and ch not in "\t\n\r" for ch in clean)


@given(question=FRENCHISH, top_k=st.integers(1, 20))
@FUZZ
def test_every_accepted_question_gets_a_verbatim_result(question, top_k):
    try:
        result = ANSWERER.answer(question, top_k)  # checks the question as the API hands it over
    except QuestionError:
        assume(False)
    check_result(result, question.strip(), top_k)


def _write(folder: Path, suffix: str, data: bytes) -> Path:
    path = folder / f"article{suffix}"
    path.write_bytes(data)
    return path


def check_articles(articles) -> None:
    """Loaded articles are well formed, and cut into units whose offsets lie inside their text."""
    for article in articles:
        assert article.doc_id and article.title.strip() and article.text.strip()
        for section in article.sections:
            assert 0 <= section.start <= section.body_start <= section.end <= len(article.text)
        for span in article.excluded:
            assert 0 <= span.start < span.end <= len(article.text)
        units = sentences(article)
        for unit in [*units, *chunks(article, units, 600, 1)]:
            assert 0 <= unit.start < unit.end <= len(article.text)
            assert article.text[unit.start : unit.end].strip()


MARKUP = st.sampled_from(
    [
        "<p>",
        "</p>",
        "<h2>",
        "</h2>",
        "<script>",
        "</script>",
        "<main>",
        "<article>",
        "# ",
        "## ",
        "---\ntitle: T\n---\n",
        "**",
        "[a](b)",
        "&amp;",
        "&#0;",
        "<!--",
        "-->",
        "\n\n",
        "Une phrase. ",
        "M. Dupont arrive. ",
        "<title>T</title>",
        "\x00",
        "\r\n",
        "é",
        "😀",
    ]
)


@given(
    suffix=st.sampled_from([s for s in SUFFIXES if s != ".jsonl"]),
    data=st.one_of(
        st.binary(max_size=2000),
        st.lists(MARKUP | st.text(max_size=30), max_size=40).map(lambda p: "".join(p).encode("utf-8")),
    ),
)
@FUZZ
def test_any_article_file_loads_cleanly_or_is_refused_by_name(suffix, data):
    with tempfile.TemporaryDirectory() as folder:
        path = _write(Path(folder), suffix, data)
        try:
            articles = load_file(path)
        except CorpusError as exc:
            assert path.name in str(exc)
            return
        check_articles(articles)


LINE = st.one_of(
    st.fixed_dictionaries(
        {"id": st.text(max_size=8), "title": st.text(max_size=20), "text": st.text(max_size=200)},
        optional={"url": st.none() | st.text(max_size=10) | st.integers()},
    ).map(json.dumps),
    st.text(max_size=40),
    st.just("{}"),
    st.just("[]"),
    st.just(""),
)


@given(lines=st.lists(LINE, min_size=1, max_size=6))
@FUZZ
def test_any_jsonl_file_loads_cleanly_or_names_its_bad_line(lines):
    with tempfile.TemporaryDirectory() as folder:
        path = _write(Path(folder), ".jsonl", "\n".join(lines).encode("utf-8"))
        try:
            articles = load([path])
        except CorpusError as exc:
            message = str(exc)
            assert path.name in message or "no articles" in message
            return
        check_articles(articles)
        assert len({a.doc_id for a in articles}) == len(articles)


@given(
    parts=st.lists(MARKUP | st.text(max_size=40), min_size=1, max_size=30), question=st.text(min_size=1, max_size=60)
)
@settings(max_examples=40, deadline=None, database=None)
def test_an_index_of_any_loadable_article_answers_verbatim(parts, question):
    with tempfile.TemporaryDirectory() as folder:
        path = _write(Path(folder), ".md", "".join(parts).encode("utf-8"))
        try:
            articles = load([path])
        except CorpusError:
            assume(False)
        answerer = make_answerer(build(articles, ENCODER, CONFIG), ENCODER, threshold=0.0)
        try:
            result = answerer.answer(question, 3)
        except QuestionError:
            assume(False)
        check_result(result, question.strip(), 3, answerer)
