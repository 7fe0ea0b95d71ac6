"""The widget's routes with the fake encoder: /widget.js caching, feedback storage, the demo page."""

import json
import re

import pytest
from fastapi.testclient import TestClient

from corpus.load import load
from index.build import build
from service.settings import Settings
from service.web.app import create_app
from service.web.widget import CONFIG_TOKEN, WIDGET_FILE, widget_script
from tests.conftest import FIXTURES, SEED, make_answerer
from tests.test_api import assert_error


def make_client(encoder, config, **settings):
    index = build(load([SEED, FIXTURES]), encoder, config)
    answerer = make_answerer(index, encoder, threshold=0.3, base_url="http://test")
    app = create_app(Settings(**settings), loader=lambda s: answerer)
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def client(encoder, config):
    with make_client(encoder, config) as test_client:
        yield test_client


def served_config(script: str) -> dict:
    line = next(line for line in script.splitlines() if "const CONFIG = " in line)
    return json.loads(line.split("const CONFIG = ", 1)[1].rstrip(";"))


def test_widget_js_is_served_with_its_config_version_and_cache_headers(client):
    response = client.get("/widget.js")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/javascript; charset=utf-8"
    version = response.headers["x-sourcier-widget-version"]
    assert response.headers["etag"] == f'"{version}"' and response.headers["cache-control"] == "public, max-age=300"
    body = response.text
    assert CONFIG_TOKEN not in body
    assert served_config(body) == {"examples": Settings().widget_examples}
    pinned = client.get("/widget.js", params={"v": version})
    assert pinned.headers["cache-control"] == "public, max-age=31536000, immutable" and pinned.text == body
    unchanged = client.get("/widget.js", headers={"If-None-Match": f'"{version}"'})
    assert unchanged.status_code == 304 and not unchanged.content


def test_widget_version_follows_the_configured_examples():
    first = widget_script(["Quel nerf innerve le mollet ?"])
    second = widget_script(["Où s’attache le mollet ?"])
    assert first.version != second.version
    assert served_config(second.body.decode("utf-8")) == {"examples": ["Où s’attache le mollet ?"]}
    assert WIDGET_FILE.read_text(encoding="utf-8").count(CONFIG_TOKEN) == 1


def test_demo_page_embeds_the_widget_over_escaped_articles(client):
    page = client.get("/").text
    version = client.get("/widget.js").headers["x-sourcier-widget-version"]
    assert f'<script src="/widget.js?v={version}" defer></script>' in page
    assert '<div class="demo-search" data-sourcier></div>' in page
    assert "Sécurité &amp; pièges" in page and 'href="/articles/piege"' in page
    assert "<script>alert" not in page and "<img" not in page
    assert "&lt;script src=&quot;http://127.0.0.1:8000/widget.js&quot;" in page


def test_the_served_widget_says_how_sure_and_asks_the_service_for_suggestions(client):
    """What the browser tests drive, present in what is served: the three outcomes' labels, the known
    question, and suggestions fetched from this service only (the API origin), never elsewhere."""
    body = client.get("/widget.js").text
    for label in ("Réponse trouvée", "À vérifier : passage le plus proche", "Pas de réponse", "Question proche : "):
        assert label in body
    assert "${BASE}/api/suggest?" in body and 'role: "group"' in body
    assert sorted(set(re.findall(r"fetch\(`([^`?]*)", body))) == [
        "${BASE}/api/ask",
        "${BASE}/api/feedback",
        "${BASE}/api/suggest",
    ]
    assert "http://" not in body.split("*/", 1)[1] and "https://" not in body.split("*/", 1)[1]


def feedback_body(client, **changes):
    answer = client.post("/api/ask", json={"question": "nerf tibial du mollet"}).json()["answer"]
    c = answer["citation"]
    body = {"question": "nerf tibial du mollet", "doc_id": c["doc_id"], "start": c["start"], "end": c["end"], "vote": 1}
    return {**body, **changes}


def test_feedback_is_stored_without_anything_about_the_reader(client):
    body = feedback_body(client, question="  nerf tibial du mollet 😀 ", vote=-1)
    response = client.post("/api/feedback", json=body)
    assert response.status_code == 201, response.text
    assert "set-cookie" not in response.headers
    stored = client.app.state.db.feedback()
    assert len(stored) == 1
    row = stored[0]
    assert (row.question, row.doc_id, row.start, row.end, row.vote) == (
        "nerf tibial du mollet 😀",
        body["doc_id"],
        body["start"],
        body["end"],
        -1,
    )
    assert (
        row.created_at == response.json()["created_at"]
        and row.index_version == client.app.state.sites["default"].answerer.index.version
    )
    assert response.json()["id"] >= 1


@pytest.mark.parametrize(
    "changes, status, code",
    [
        ({"vote": 0}, 422, "invalid_request"),
        ({"vote": "oui"}, 422, "invalid_request"),
        ({"question": ""}, 422, "empty_question"),
        ({"question": "é" * 501}, 422, "question_too_long"),
        ({"doc_id": "inconnu"}, 404, "unknown_article"),
        ({"start": 10, "end": 10}, 422, "invalid_citation"),
        ({"end": 10**7}, 422, "invalid_citation"),
        ({"start": -1}, 422, "invalid_request"),
        ({"ip": "10.0.0.1"}, 422, "invalid_request"),
    ],
)
def test_bad_feedback_gets_the_json_error_shape(client, changes, status, code):
    assert_error(client.post("/api/feedback", json=feedback_body(client, **changes)), status, code)
    assert client.app.state.db.feedback() == []


def test_cors_allow_list_covers_the_widget_calls(encoder, config):
    with make_client(encoder, config, cors_origins=["https://aide.exemple.fr"]) as client:
        allowed = client.options(
            "/api/feedback",
            headers={
                "Origin": "https://aide.exemple.fr",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == "https://aide.exemple.fr"
        suggested = client.get("/api/suggest", params={"q": "mollet"}, headers={"Origin": "https://aide.exemple.fr"})
        assert suggested.status_code == 200  # a simple GET: no preflight, the allow-list answers it
        assert suggested.headers["access-control-allow-origin"] == "https://aide.exemple.fr"
        other = client.post("/api/ask", json={"question": "mollet"}, headers={"Origin": "https://autre.exemple"})
        assert other.status_code == 200 and "access-control-allow-origin" not in other.headers
