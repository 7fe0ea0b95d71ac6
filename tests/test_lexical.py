import pytest

from corpus.load import load
from index.build import build
from service.core.lexical import asks_quantity, has_number
from tests.conftest import make_answerer


@pytest.mark.parametrize(
    "question, expected",
    [
        ("Combien coûte un lysat plaquettaire ?", True),
        ("cb de seances faut il", True),
        ("En quelle annee est né Centeno ?", True),
        ("En quelle année la loi a-t-elle été votée ?", True),
        ("Quelle dose d’ibuprofène prendre ?", True),
        ("QUEL ÂGE a-t-il ?", True),
        ("Quel nerf innerve le mollet ?", False),
        ("Quelle est la cause des contractions ? 🦵", False),
        ("Où se fixe le muscle ?", False),
    ],
)
def test_asks_quantity(question, expected):
    assert asks_quantity(question) is expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("en 1987", True),
        ("42,5 % des œuvres", True),
        ("trois séances", True),
        ("(niveau sacrum 1)", True),
        ("des centaines de patients", True),
        ("le nerf S1 du dos", False),
        ("un muscle du mollet", False),
        ("la dose d’ibuprofène 💊", False),
    ],
)
def test_has_number(text, expected):
    assert has_number(text) is expected


def lysat_index(tmp_path, encoder, config, price: str):
    path = tmp_path / "lysat.md"
    path.write_text(
        "# Le lysat plaquettaire\n\nLe lysat plaquettaire épidural coûte cher, disent les patients "
        f"du cabinet.\n\nLe lysat plaquettaire épidural se paie {price} la séance.\n",
        encoding="utf-8",
    )
    return build(load([path]), encoder, config)


QUESTION = "Combien coûte le lysat plaquettaire épidural ?"


def test_a_quantity_question_prefers_the_sentence_that_states_a_number(tmp_path, encoder, config):
    index = lysat_index(tmp_path, encoder, config, "400 euros")
    checked = make_answerer(index, encoder, threshold=0.0, pair_margin=1.0).answer(QUESTION)
    unchecked = make_answerer(index, encoder, threshold=0.0, pair_margin=1.0, number_penalty=0.0).answer(QUESTION)
    assert checked.answer.text == "Le lysat plaquettaire épidural se paie 400 euros la séance."
    assert unchecked.answer.text.startswith("Le lysat plaquettaire épidural coûte cher")
    assert checked.answer.score < unchecked.answer.score  # the check never raises a score


def test_abstention_says_when_the_question_asks_a_number_the_article_does_not_give(tmp_path, encoder, config):
    index = lysat_index(tmp_path, encoder, config, "un bon prix")
    result = make_answerer(index, encoder, threshold=0.9).answer(QUESTION)
    assert not result.answered and "demande un nombre" in result.reason
    result = make_answerer(index, encoder, threshold=0.9).answer("Qu'est-ce qu'un lysat plaquettaire épidural ?")
    assert not result.answered and "seuil" in result.reason and "demande un nombre" not in result.reason
