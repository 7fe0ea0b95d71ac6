from dataclasses import replace

import pytest
from fastapi.testclient import TestClient

from corpus.load import load
from index.build import build
from service.settings import Settings
from service.startup import answerer_for
from service.web.app import create_app
from tests.conftest import FIXTURES, SEED, make_answerer


@pytest.fixture
def client(encoder, config):
    index = build(load([SEED, FIXTURES]), encoder, config)
    answerer = make_answerer(index, encoder, threshold=0.3, base_url="http://test")
    app = create_app(Settings(), loader=lambda settings: answerer)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        test_client.index = index
        yield test_client


def assert_error(response, status, code):
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == code and body["error"]["message"]


def test_post_and_get_ask_return_the_same_verbatim_contract(client):
    post = client.post("/api/ask", json={"question": "nerf tibial du mollet", "top_k": 2})
    get = client.get("/api/ask", params={"q": "nerf tibial du mollet", "top_k": 2})
    assert post.status_code == get.status_code == 200
    body = post.json()
    assert set(body) == {
        "question",
        "answered",
        "answer",
        "alternatives",
        "passages",
        "reason",
        "took_ms",
        "index_version",
        "support",
        "confident",
        "known",
    }
    assert body["answered"] and body["index_version"] == client.index.version

    def without_time(b):
        return {k: v for k, v in b.items() if k != "took_ms"}

    assert without_time(body) == without_time(get.json())
    answer = body["answer"]
    assert set(answer["citation"]) == {"doc_id", "title", "section", "start", "end", "url"}
    text = client.index.articles[answer["citation"]["doc_id"]].text
    assert text[answer["citation"]["start"] : answer["citation"]["end"]] == answer["text"]
    for passage in body["passages"]:
        assert set(passage) == {"doc_id", "title", "section", "start", "end", "text", "score"}
        assert client.index.articles[passage["doc_id"]].text[passage["start"] : passage["end"]] == passage["text"]


@pytest.mark.parametrize(
    "payload, code",
    [
        ({"question": ""}, "empty_question"),
        ({"question": "   "}, "empty_question"),
        ({"question": "é" * 501}, "question_too_long"),
        ({"question": 12}, "invalid_request"),
        ({"question": None}, "invalid_request"),
        ({}, "invalid_request"),
        ({"question": ["a"]}, "invalid_request"),
        ({"question": "ok", "top_k": 0}, "invalid_top_k"),
        ({"question": "ok", "top_k": 1000}, "invalid_top_k"),
        ({"question": "ok", "top_k": "beaucoup"}, "invalid_request"),
        ({"question": "ok", "top_k": True}, "invalid_request"),  # found by the schema fuzzer: true is not 1
    ],
)
def test_bad_questions_get_the_json_error_shape(client, payload, code):
    assert_error(client.post("/api/ask", json=payload), 422, code)


def test_bad_bodies_and_methods_get_the_json_error_shape(client):
    assert_error(
        client.post("/api/ask", content=b"\xff\xfe\x00", headers={"content-type": "application/json"}),
        400,
        "invalid_body",
    )
    assert_error(
        client.post("/api/ask", content="pas du json", headers={"content-type": "application/json"}),
        422,
        "invalid_request",
    )
    assert_error(client.get("/api/ask"), 422, "empty_question")
    assert_error(client.get("/api/ask", params={"q": "ok", "top_k": "x"}), 422, "invalid_request")
    assert_error(client.delete("/api/ask"), 405, "method_not_allowed")
    assert_error(client.get("/api/nulle-part"), 404, "not_found")


def test_articles_api_and_unknown_article(client):
    body = client.get("/api/articles/guide-coeur").json()
    assert body["title"] == "Le cœur et l’effort" and body["url"] == "https://exemple.fr/guide-coeur"
    assert [s["title"] for s in body["sections"]][1:] == ["Pourquoi le cœur s’accélère ?", "Récupération"]
    assert_error(client.get("/api/articles/inconnu"), 404, "unknown_article")
    assert_error(client.get("/articles/inconnu"), 404, "unknown_article")
    assert_error(client.get("/api/articles/..%2F..%2Fetc%2Fpasswd"), 404, "unknown_article")
    assert_error(client.get("/api/articles/%2E%2E"), 404, "unknown_article")


def test_article_page_highlights_the_cited_passage_and_escapes_everything(client):
    answer = client.post("/api/ask", json={"question": "balise img onerror texte"}).json()["answer"]
    assert answer["citation"]["doc_id"] == "piege"
    assert answer["citation"]["url"].startswith("https://exemple.fr/piege#:~:text=Une%20balise")
    page = client.get(
        "/articles/piege", params={"start": answer["citation"]["start"], "end": answer["citation"]["end"]}
    ).text
    assert '<mark id="passage">Une balise &lt;img src=x onerror=alert(2)&gt; reste du texte.' in page
    assert "<script>alert" not in page and "<img" not in page
    seed = client.get("/articles/contractions-muscle-mollet", params={"start": 10**6, "end": 10**6 + 5})
    assert seed.status_code == 200 and "<mark" not in seed.text


def test_health_reports_model_index_and_counts(client):
    body = client.get("/api/health").json()
    assert body["status"] == "ok" and body["model"] == "fake-trigram"
    assert body["index_version"] == client.index.version and body["articles"] == 5
    assert body["sentences"] == len(client.index.sentences)
    assert body["threshold"] == 0.3 and body["threshold_from"] == "setting"


def test_health_says_the_threshold_the_index_measured(seed_index, encoder):
    measured = answerer_for(seed_index, encoder, replace(Settings().answer_config(), threshold=None))
    with TestClient(create_app(Settings(), loader=lambda _: measured)) as test_client:
        body = test_client.get("/api/health").json()
    assert body["threshold_from"] == "index" and body["threshold"] == measured.abstention.threshold


def test_home_lists_articles_escaped(client):
    page = client.get("/").text
    assert "Sécurité &amp; pièges" in page and 'href="/articles/contractions-muscle-mollet"' in page


def test_the_top_k_setting_is_the_default_of_both_ask_routes(encoder, config, monkeypatch):
    monkeypatch.setenv("SOURCIER_TOP_K", "1")
    index = build(load([SEED]), encoder, config)
    answerer = make_answerer(index, encoder, threshold=0.0)
    with TestClient(create_app(Settings(), loader=lambda settings: answerer)) as client:
        post = client.post("/api/ask", json={"question": "nerf tibial du mollet"}).json()
        get = client.get("/api/ask", params={"q": "nerf tibial du mollet"}).json()
        asked = client.get("/api/ask", params={"q": "nerf tibial du mollet", "top_k": 4}).json()
    assert len(post["passages"]) == len(get["passages"]) == 1 and post["alternatives"] == []
    assert len(asked["passages"]) == 4


def test_a_static_site_export_is_served_with_ids_from_its_paths(tmp_path, encoder, config):
    """Folders of index.html (a static export): one article per page, its id its path, and every link
    Sourcier gives (citation, article page, demo page) opens that article."""
    pages = {
        "index.html": "<h1>Accueil</h1><p>Bienvenue sur l’aide : posez vos questions sur le cœur.</p>",
        "cœur/index.html": "<h1>Le cœur</h1><p>Le cœur bat plus vite à l’effort, jusqu’à 180 battements 🫀.</p>",
        "cœur/repos/index.html": "<h1>Au repos</h1><p>Au repos, le cœur bat de 60 à 80 fois par minute.</p>",
        "mollet/index.html": "<h1>Le mollet</h1><p>Le mollet se contracte quand le nerf tibial s'active.</p>",
    }
    for name, html in pages.items():
        (tmp_path / "site" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "site" / name).write_text(f"<html><body><main>{html}</main></body></html>", encoding="utf-8")
    articles = load([tmp_path / "site"])
    assert [a.doc_id for a in articles] == ["coeur", "coeur/repos", "index", "mollet"]
    index = build(articles, encoder, config)
    answerer = make_answerer(index, encoder, threshold=-1.0, base_url="http://test")
    app = create_app(Settings(), loader=lambda settings: answerer)
    with TestClient(app, raise_server_exceptions=False) as client:
        body = client.post("/api/ask", json={"question": "combien de battements au repos ?"}).json()
        citation = body["answer"]["citation"]
        assert citation["doc_id"] == "coeur/repos"
        link = client.get(citation["url"].removeprefix("http://test"))
        assert link.status_code == 200 and "60 à 80 fois" in link.text
        assert client.get("/api/articles/coeur/repos").json()["title"] == "Au repos"
        assert 'href="/articles/coeur/repos"' in client.get("/").text
        assert_error(client.get("/api/articles/coeur/absent"), 404, "unknown_article")


def test_an_answer_is_confident_only_when_its_support_clears_the_threshold_by_the_margin(encoder, config):
    index = build(load([SEED, FIXTURES]), encoder, config)
    question = {"question": "nerf tibial du mollet"}
    for margin in (0.0, 0.1, 1.0):
        answerer = make_answerer(index, encoder, threshold=0.3, confident_margin=margin)
        with TestClient(create_app(Settings(), loader=lambda _, a=answerer: a)) as test_client:
            body = test_client.post("/api/ask", json=question).json()
        assert body["answered"] and body["confident"] == (body["support"] >= 0.3 + margin), margin
    with TestClient(create_app(Settings(), loader=lambda _: make_answerer(index, encoder, threshold=0.99))) as strict:
        abstained = strict.post("/api/ask", json=question).json()
    assert not abstained["answered"] and not abstained["confident"]


def test_a_question_the_site_asks_itself_is_named_with_a_link_to_its_heading(client):
    body = client.post("/api/ask", json={"question": "Pourquoi le cœur s’accélère ?"}).json()
    known = body["known"]
    assert set(known) == {"doc_id", "title", "section", "text", "question", "score", "url"}
    assert known["doc_id"] == "guide-coeur" and known["title"] == "Le cœur et l’effort"
    assert known["section"] == known["text"] == "Pourquoi le cœur s’accélère ?" and known["question"]
    assert known["score"] >= Settings().known_question
    assert known["url"].startswith("https://exemple.fr/guide-coeur#:~:text=Pourquoi%20le%20c%C5%93ur")  # its own site


def test_suggest_offers_the_sites_known_questions_with_links(client):
    response = client.get("/api/suggest", params={"q": "pourquoi le coeur"})
    assert response.status_code == 200
    suggestions = response.json()["suggestions"]
    assert 1 <= len(suggestions) <= 5 and set(response.json()) == {"suggestions"}
    first = suggestions[0]
    assert set(first) == {"doc_id", "title", "section", "text", "question", "score", "url"}
    assert first["text"] == "Pourquoi le cœur s’accélère ?" and first["url"].startswith(
        "https://exemple.fr/guide-coeur#"
    )
    assert [s["score"] for s in suggestions] == sorted((s["score"] for s in suggestions), reverse=True)
    assert len({s["text"] for s in suggestions}) == len(suggestions)
    for suggestion in suggestions:  # an article without a URL of its own opens on Sourcier's page, at the heading
        article = client.index.articles[suggestion["doc_id"]]
        if article.url is None and suggestion["section"] is not None:
            url = suggestion["url"].removeprefix("http://test")
            page = client.get(url)
            assert page.status_code == 200 and f'<mark id="passage">{suggestion["section"]}' in page.text
    assert len(client.get("/api/suggest", params={"q": "mollet", "k": 1}).json()["suggestions"]) == 1
    assert len(client.get("/api/suggest", params={"q": "mollet", "k": 10}).json()["suggestions"]) <= 10
    assert "/api/suggest" in client.get("/openapi.json").json()["paths"]


@pytest.mark.parametrize(
    "params, code",
    [
        ({}, "empty_question"),
        ({"q": "   "}, "empty_question"),
        ({"q": "é" * 501}, "question_too_long"),
        ({"q": "nerf\u0000"}, "invalid_question"),
        ({"q": "nerf", "k": 0}, "invalid_request"),
        ({"q": "nerf", "k": 11}, "invalid_request"),
        ({"q": "nerf", "k": "cinq"}, "invalid_request"),
    ],
)
def test_bad_suggestion_requests_get_the_json_error_shape(client, params, code):
    assert_error(client.get("/api/suggest", params=params), 422, code)
