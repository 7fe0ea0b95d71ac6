"""The real EmbeddingGemma on the seed article: right sentences, verbatim, abstention."""

import pytest
from fastapi.testclient import TestClient

from corpus.load import load
from index import fetch as fetch_mod
from index import model as model_mod
from index.build import build
from service.core import Answerer
from service.settings import Settings
from service.web.app import create_app
from tests.conftest import SEED

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def real():
    settings = Settings()
    encoder = model_mod.SentenceTransformerEncoder(fetch_mod.resolve(settings.model, settings.model_cache))
    index = build(load([SEED]), encoder, settings.index_config())
    return Answerer(index, encoder, settings.answer_config()).warm_up()


# (question as readers type it, a piece of the sentence that answers it)
ANSWERABLE = [
    ("Quel nerf innerve le mollet ?", "devient le nerf tibial de la jambe, qui innerve ensuite le muscle du mollet"),
    ("tendon dachile", "se connecte au tendon d’Achille"),
    ("c'est quoi le muscle gastrocnemien", "s’appelle le muscle gastrocnémien"),
    ("où s'attache le haut du muscle du mollet", "Le haut du muscle se fixe derrière le genou"),
    ("cause la plus frequente contraction mollet", "La cause la plus fréquente d’une contraction musculaire"),
    ("traitement lysat plaquettaire", "lysat plaquettaire épidural"),
    (
        "comment on injecte les facteurs de croissance",
        "guidage d’image précis pour injecter des facteurs de croissance",
    ),
    ("hernie discale S1 pression sur le nerf", "hernie discale, par exemple au niveau S1"),
    ("comment s'appelle la contraction involontaire en termes medicaux", "fasciculer est la terminologie médicale"),
    ("pourquoi étirer son mollet", "il aide à protéger le muscle des dommages"),
    ("injection de cellules souches quand le disque est abimé", "injection de cellules souches spécialement cultivées"),
    ("d'où part la branche nerveuse du mollet", "commence tout le long de la colonne vertébrale inférieure"),
]

UNANSWERABLE = [
    "Comment réinitialiser mon mot de passe ?",
    "Quel temps fera-t-il demain à Lyon ?",
    "Quels sont vos délais de livraison ?",
    "recette de la tarte aux pommes",
]


def verbatim(answerer, result):
    for answer in ([result.answer] if result.answer else []) + result.alternatives:
        c = answer.citation
        assert answerer.index.articles[c.doc_id].text[c.start : c.end] == answer.text
    for passage in result.passages:
        assert answerer.index.articles[passage.doc_id].text[passage.start : passage.end] == passage.text


@pytest.mark.parametrize("question, expected", ANSWERABLE)
def test_real_questions_land_in_the_right_sentence(real, question, expected):
    result = real.answer(question)
    verbatim(real, result)
    assert result.answered, result.reason
    assert expected in result.answer.text
    assert len(result.answer.text) < 450


@pytest.mark.parametrize("question", UNANSWERABLE)
def test_off_topic_questions_abstain(real, question):
    result = real.answer(question)
    verbatim(real, result)
    assert not result.answered and result.answer is None and result.reason


def test_boilerplate_is_never_returned(real):
    result = real.answer("laisser un commentaire adresse e-mail publiée", top_k=10)
    texts = [a.text for a in ([result.answer] if result.answer else []) + result.alternatives]
    texts += [p.text for p in result.passages]
    assert not any("Laisser un commentaire" in t or "ne sera pas publiée" in t for t in texts)


def test_api_with_the_real_model(real):
    app = create_app(Settings(), loader=lambda settings: real)
    with TestClient(app) as client:
        body = client.get("/api/ask", params={"q": "quel nerf innerve le mollet"}).json()
        assert body["answered"] and "nerf tibial" in body["answer"]["text"]
        c = body["answer"]["citation"]
        page = client.get(c["url"].replace("http://127.0.0.1:8000", "")).text
        assert '<mark id="passage">' in page
        assert client.get("/api/health").json()["model"] == "embeddinggemma-300m"
