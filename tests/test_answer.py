import pytest

from corpus.load import load
from index.build import build
from service.core import Answerer, QuestionError, passage_url
from service.core.lexical import asks_quantity
from service.core.question import check_question
from service.settings import Settings
from tests.conftest import FIXTURES, make_answerer

LIMITS = Settings().limits()

QUESTIONS = [
    "Quel nerf innerve le mollet ?",
    "tendon dachile",
    "mollet qui tremble pourquoi",
    "hernie discale S1",
    "lysat plaquettaire épidural",
    "cellules souches",
    "crampe la nuit",
    "Dr. Centeno vidéo",
    "QUEL EST LE MUSCLE DU MOLLET",
    "nerf tibial blessé 🦵",
    "l’œil",
    "x" * 500,
]


def assert_verbatim(index, result):
    for answer in ([result.answer] if result.answer else []) + result.alternatives:
        c = answer.citation
        article = index.articles[c.doc_id]
        assert article.text[c.start : c.end] == answer.text
        assert c.title == article.title
    for passage in result.passages:
        assert index.articles[passage.doc_id].text[passage.start : passage.end] == passage.text


@pytest.mark.parametrize("question", QUESTIONS)
def test_every_answer_and_passage_is_verbatim_with_its_citation(answerer, question):
    result = answerer.answer(question, top_k=3)
    assert_verbatim(answerer.index, result)
    assert result.answered == (result.answer is not None)
    assert len(result.passages) <= 3 and len(result.alternatives) <= 2


def test_answers_come_from_the_matching_sentence(answerer):
    result = answerer.answer("innervation du muscle du mollet nerf", top_k=3)
    assert result.answered
    assert "innervation" in result.answer.text or "nerf" in result.answer.text
    assert result.answer.citation.url.startswith("http://test/articles/contractions-muscle-mollet?start=")
    assert result.index_version == answerer.index.version and result.took_ms >= 0


def test_abstains_below_the_threshold_with_a_reason(seed_index, encoder):
    strict = make_answerer(seed_index, encoder, threshold=0.99)
    result = strict.answer("Comment réinitialiser mon mot de passe ?")
    assert not result.answered and result.answer is None and result.alternatives == []
    assert "seuil" in result.reason and result.passages  # closest passages stay as leads


def test_alternatives_do_not_overlap_the_answer(answerer):
    result = answerer.answer("contraction du muscle du mollet", top_k=5)
    spans = [(a.citation.start, a.citation.end) for a in [result.answer, *result.alternatives]]
    for i, (s1, e1) in enumerate(spans):
        for s2, e2 in spans[i + 1 :]:
            assert e1 <= s2 or e2 <= s1


def test_multi_format_corpus_answers_verbatim_with_emoji_offsets(encoder, config):
    index = build(load([FIXTURES]), encoder, config)
    answerer = make_answerer(index, encoder, threshold=0.0, base_url="http://test")
    for question in ["farine T65 mie", "casque obligatoire vélo", "cœur sang accélère", "balise img onerror"]:
        result = answerer.answer(question)
        assert result.answered
        assert_verbatim(index, result)
    bread = answerer.answer("farine T65 mie blanche")
    assert bread.answer.text.endswith("🍞.")
    velo = answerer.answer("casque obligatoire vélo adultes")
    assert velo.answer.citation.url.startswith("https://exemple.fr/velo#:~:text=")


def test_empty_index_abstains(encoder, config, tmp_path):
    path = tmp_path / "titre.txt"
    path.write_text("Juste un titre\n", encoding="utf-8")
    answerer = make_answerer(build(load([path]), encoder, config), encoder, threshold=0.1)
    result = answerer.answer("une question")
    assert not result.answered and "aucun article" in result.reason


@pytest.mark.parametrize(
    "question, top_k, code",
    [
        ("", 3, "empty_question"),
        ("   \n\t", 3, "empty_question"),
        ("a" * 501, 3, "question_too_long"),
        (None, 3, "invalid_question"),
        (42, 3, "invalid_question"),
        ("ok\x00", 3, "invalid_question"),
        ("ok", 0, "invalid_top_k"),
        ("ok", 21, "invalid_top_k"),
        ("ok", True, "invalid_top_k"),
        ("ok", "3", "invalid_top_k"),
    ],
)
def test_check_question_refuses_bad_input_in_french(question, top_k, code):
    with pytest.raises(QuestionError) as caught:
        check_question(question, top_k, LIMITS)
    assert caught.value.code == code and caught.value.message


def test_check_question_strips_and_accepts_500_characters():
    assert LIMITS.max_question_chars == 500  # the default setting
    assert check_question("  Pourquoi ?  ", 3, LIMITS) == ("Pourquoi ?", 3)
    assert check_question("é" * 500, 3, LIMITS) == ("é" * 500, 3)


def test_answer_checks_the_raw_question_and_resolves_top_k(answerer):
    """The one public call: what the API, the CLI and coverage hand it as the reader typed it."""
    with pytest.raises(QuestionError) as caught:
        answerer.answer("   ")
    assert caught.value.code == "empty_question"
    with pytest.raises(QuestionError) as caught:
        answerer.answer("Quel nerf ?", top_k=LIMITS.max_top_k + 1)
    assert caught.value.code == "invalid_top_k"
    result = answerer.answer("  Quel nerf innerve le mollet ?  ")
    assert result.question == "Quel nerf innerve le mollet ?"
    assert len(result.passages) == min(answerer.config.top_k, len(answerer.index.chunks))


def test_an_answerer_answers_only_once_warmed_up(seed_index, encoder):
    cold = Answerer(seed_index, encoder, Settings().answer_config(threshold=0.3))
    assert cold.overlap is None and cold.abstention is None  # the constructor only stores
    with pytest.raises(RuntimeError, match="warm_up"):
        cold.answer("Quel nerf innerve le mollet ?")
    assert cold.warm_up() is cold and cold.warm_up().answer("Quel nerf innerve le mollet ?").answered


def test_passage_url_escapes_ids(seed_index):
    article = seed_index.articles["contractions-muscle-mollet"]
    assert (
        passage_url("http://h/", article, 1, 5) == "http://h/articles/contractions-muscle-mollet?start=1&end=5#passage"
    )


@pytest.mark.parametrize(
    "question", ["tendon achille talon", "lysat plaquettaire", "nerf tibial blessé", "crampe nuit"]
)
def test_the_first_passage_holds_the_answer(answerer, question):
    result = answerer.answer(question, top_k=3)
    assert result.answered
    first, answer = result.passages[0], result.answer.citation
    assert first.doc_id == answer.doc_id and first.start <= answer.start and answer.end <= first.end
    assert len({(p.start, p.end) for p in result.passages}) == len(result.passages) <= 3


def test_a_two_part_question_gets_the_pair_and_a_one_part_question_one_sentence(seed_index, encoder):
    answerer = make_answerer(seed_index, encoder, threshold=0.0)
    index = seed_index
    first, second = next(
        (i, j) for i, j in index.pairs if all(index.sentences[k].end - index.sentences[k].start > 80 for k in (i, j))
    )
    article = index.articles[index.sentences[first].doc_id]
    one, two = (article.text[index.sentences[k].start : index.sentences[k].end] for k in (first, second))
    both = answerer.answer(f"{one} {two}")
    assert both.answer.text == article.text[index.sentences[first].start : index.sentences[second].end]
    alone = answerer.answer(one)
    assert alone.answer.text == one


@pytest.mark.parametrize("question", ["Quel nerf innerve le mollet ?", "Combien de crampes par nuit ?"])
def test_candidates_are_ranked_by_the_score_their_signals_make(answerer, question):
    """Each candidate's score is its sentence's and best chunk's cosines, its lexical overlap and the number
    penalty, recomputed here from the index itself."""
    explained = answerer.explain(question)
    found, index, config = explained.candidates, answerer.index, answerer.config
    scores = [c.score for c in found.ranked]
    assert scores == sorted(scores, reverse=True) and found.support == scores[0]
    weights = answerer.overlap.weights(question)
    for c in found.ranked:
        own = float(index.sentence_vectors[c.pos] @ found.query)
        chunk = max(float(index.chunk_vectors[k] @ found.query) for k in index.chunks_of_sentence[c.pos])
        unnumbered = asks_quantity(question) and not answerer.numbered[c.pos]
        expected = (
            config.sentence_weight * own
            + (1 - config.sentence_weight) * chunk
            + config.lexical_weight * answerer.overlap.share(weights, c.pos)
            - (config.number_penalty if unnumbered else 0.0)
        )
        assert c.score == pytest.approx(expected) and c.first <= c.pos <= c.last
    assert asks_quantity(question) == found.needs_number
    best = explained.result.answer
    top = found.ranked[0]
    first, last = answerer.index.sentences[top.first], answerer.index.sentences[top.last]
    assert best.score == round(top.score, 4) and (best.citation.start, best.citation.end) == (first.start, last.end)
