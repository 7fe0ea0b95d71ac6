"""The query log and the editors' coverage page, end to end through the API (fake encoder)."""

import json
import sqlite3
import time

import pytest
from fastapi.testclient import TestClient

from service import cli
from service import startup as startup_mod
from service.core import Answerer
from service.settings import Settings
from service.storage import Feedback, StoreUnavailable
from service.web.app import create_app
from service.web.routes import editor
from tests.conftest import make_answerer
from tests.test_api import assert_error

TOKEN = "jeton-editeur-s3cret"
ASKED = [
    "nerf tibial du mollet",
    "Comment réinitialiser mon mot de passe ?",
    "crampe la nuit",
    "J'ai oublié mon mot de passe",
    "<b>gras</b> mot de passe perdu",
]


def make_client(answerer, **settings):
    app = create_app(Settings(**settings), loader=lambda s: answerer)
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def strict(seed_index, encoder) -> Answerer:
    return make_answerer(seed_index, encoder, threshold=0.4, base_url="http://test")


@pytest.fixture
def client(strict):
    with make_client(strict, query_log=True, editor_token=TOKEN, cluster_similarity=0.3) as test_client:
        yield test_client


def ask_all(client) -> list[dict]:
    bodies = [client.post("/api/ask", json={"question": q}).json() for q in ASKED[:3]]
    bodies += [client.get("/api/ask", params={"q": q}).json() for q in ASKED[3:]]
    assert client.post("/api/ask", json={"question": ""}).status_code == 422  # refused: not logged
    return bodies


def test_questions_asked_through_the_api_appear_for_editors_with_the_token(client):
    bodies = ask_all(client)
    assert any(b["answered"] for b in bodies) and not all(b["answered"] for b in bodies)
    response = client.get("/api/editor/coverage", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    report = response.json()
    assert [q["question"] for q in report["questions"]] == ASKED
    answerer = client.app.state.sites["default"].answerer
    for item, body in zip(report["questions"], bodies):
        assert (item["status"] != "uncovered") == body["answered"]
        if body["answered"]:
            assert item["answer"] == body["answer"]["text"] and item["citation"] == body["answer"]["citation"]
            assert item["score"] == body["answer"]["score"]
            weak_under = answerer.threshold + answerer.config.confident_margin  # only the score was logged
            assert (item["status"] == "weak") == (body["answer"]["score"] < weak_under)
        assert item["asked_at"] <= time.time()
    uncovered = [b["question"] for b in bodies if not b["answered"]]
    clustered = [m["question"] for c in report["clusters"] if c["kind"] == "uncovered" for m in c["members"]]
    assert sorted(clustered) == sorted(uncovered)
    assert sum(s["answered"] + s["weak"] for a in report["articles"] for s in a["sections"]) == len(bodies) - len(
        uncovered
    )

    logged_in = client.post("/editor/login", data={"token": TOKEN}, follow_redirects=False)
    assert logged_in.status_code == 303 and logged_in.headers["location"] == "/editor/coverage"
    page = client.get("/editor/coverage")  # the session cookie, no token anywhere
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "Comment réinitialiser mon mot de passe ?" in page.text
    assert "&lt;b&gt;gras&lt;/b&gt;" in page.text and "<b>gras</b>" not in page.text
    assert TOKEN not in page.text and 'name="token"' not in page.text  # the period form carries no token
    # the report's layout: the to-do and the weak answers first, then the articles' and the questions' tables
    order = [page.text.index(f'id="{part}"') for part in ("todo", "weak", "low-rated", "articles", "questions")]
    assert order == sorted(order) and page.text.count('<tr data-status="') == len(report["questions"])
    assert page.headers["content-security-policy"].startswith("default-src 'none'; style-src 'sha256-")
    link = page.text.split('href="/api/editor/coverage?')[1].split('"')[0].replace("&amp;", "&")
    whole = client.get(f"/api/editor/coverage?{link}")  # the same period, everything, with the session cookie
    assert whole.status_code == 200 and len(whole.json()["questions"]) == len(report["questions"])


@pytest.mark.parametrize(
    "headers, params",
    [
        ({}, {}),
        ({"Authorization": "Bearer faux"}, {}),
        ({}, {"token": "faux"}),
        ({"Authorization": f"Basic {TOKEN}"}, {}),
        ({}, {"token": ""}),
    ],
)
def test_without_the_right_token_editors_pages_reveal_nothing(client, headers, params):
    ask_all(client)
    for path in ("/api/editor/coverage", "/editor/coverage"):
        response = client.get(path, headers=headers, params=params)
        assert_error(response, 401, "unauthorized")
        assert response.headers["www-authenticate"] == "Bearer"
        assert "mot de passe" not in response.text and "mollet" not in response.text


def test_the_login_form_sets_a_strict_session_cookie_and_the_url_never_carries_the_token(strict):
    with make_client(strict, query_log=True, editor_token=TOKEN) as client:
        form = client.get("/editor/login")
        assert form.status_code == 200 and 'type="password"' in form.text and 'method="post"' in form.text
        assert client.get("/editor/coverage", params={"token": TOKEN}).status_code == 401
        wrong = client.post("/editor/login", data={"token": TOKEN + "x"}, follow_redirects=False)
        assert_error(wrong, 401, "unauthorized")
        assert editor.COOKIE not in wrong.headers.get("set-cookie", "")
        response = client.post("/editor/login", data={"token": TOKEN}, follow_redirects=False)
        cookie = response.headers["set-cookie"]
        assert cookie.startswith(f"{editor.COOKIE}=") and TOKEN not in cookie
        for flag in ("HttpOnly", "SameSite=strict", "Path=/", f"Max-Age={editor.SESSION_SECONDS}"):
            assert flag.lower() in cookie.lower(), flag
        assert "secure" not in cookie.lower()  # plain HTTP here; over HTTPS it is Secure (below)
        assert client.get("/api/editor/coverage").status_code == 200
        assert client.post("/editor/logout", follow_redirects=False).status_code == 303
        assert client.get("/api/editor/coverage").status_code == 401
    secret = TOKEN.encode()
    valid = editor.session(secret, int(time.time()) + 3600)
    altered = valid[:-1] + ("1" if valid.endswith("0") else "0")  # always another last digit
    for value in (
        editor.session(secret, int(time.time()) - 1),  # expired
        editor.session(b"another token", int(time.time()) + 3600),  # made with another token
        altered,
        TOKEN,
        "",
    ):
        with make_client(strict, editor_token=TOKEN) as client:
            client.cookies.set(editor.COOKIE, value)
            assert_error(client.get("/api/editor/coverage"), 401, "unauthorized")
    with make_client(strict, editor_token=TOKEN) as client:
        client.cookies.set(editor.COOKIE, editor.session(secret, int(time.time()) + 60))
        assert client.get("/editor/coverage").status_code == 200


def test_the_session_cookie_is_secure_over_https(strict):
    with make_client(strict, editor_token=TOKEN) as client:
        client.base_url = client.base_url.copy_with(scheme="https")
        response = client.post("/editor/login", data={"token": TOKEN}, follow_redirects=False)
        assert response.status_code == 303 and "secure" in response.headers["set-cookie"].lower()


def test_without_a_configured_token_editors_pages_do_not_exist(strict):
    with make_client(strict, query_log=True) as client:
        client.post("/api/ask", json={"question": "crampe la nuit"})
        for method, path in (("get", "/editor/login"), ("post", "/editor/login"), ("post", "/editor/logout")):
            assert_error(getattr(client, method)(path), 404, "not_found")
        for path in ("/api/editor/coverage", "/editor/coverage"):
            for params in ({}, {"token": ""}, {"token": "None"}):
                response = client.get(path, params=params, headers={"Authorization": "Bearer "})
                assert_error(response, 404, "not_found")
                assert "crampe" not in response.text
        assert "/editor" not in json.dumps(client.get("/openapi.json").json())


def test_the_query_log_is_off_by_default_and_keeps_no_address(strict):
    with make_client(strict, editor_token=TOKEN) as client:
        assert client.post("/api/ask", json={"question": "crampe la nuit"}).status_code == 200
        assert client.app.state.db.queries() == []
    with make_client(strict, query_log=True) as client:
        client.post("/api/ask", json={"question": "crampe la nuit"}, headers={"X-Forwarded-For": "203.0.113.9"})
        path = client.app.state.db.path
        assert client.app.state.query_log.flush()
        assert [q.question for q in client.app.state.db.queries()] == ["crampe la nuit"]
    rows = sqlite3.connect(path).execute("SELECT * FROM queries").fetchall()
    stored = json.dumps(rows)
    assert "testclient" not in stored and "203.0.113.9" not in stored


def test_a_failing_log_write_never_costs_the_reader_the_answer(client, monkeypatch):
    failures = []

    def broken(items):
        failures.append(len(items))
        raise StoreUnavailable("disk I/O error")

    monkeypatch.setattr(client.app.state.db, "log_queries", broken)
    response = client.post("/api/ask", json={"question": "nerf tibial du mollet"})
    assert response.status_code == 200 and response.json()["answered"]
    assert not client.app.state.query_log.flush(timeout=1) and failures  # tried, failed, still kept
    monkeypatch.undo()  # the store is back: the kept line is written
    assert client.app.state.query_log.flush(timeout=15)
    assert [q.question for q in client.app.state.db.queries()] == ["nerf tibial du mollet"]


def test_a_vote_the_store_cannot_take_is_a_503_never_a_false_201(client, monkeypatch):
    def broken(item):
        raise StoreUnavailable("database is locked")

    monkeypatch.setattr(client.app.state.db, "add_feedback", broken)
    vote = {"question": "crampe", "doc_id": "contractions-muscle-mollet", "start": 0, "end": 10, "vote": 1}
    response = client.post("/api/feedback", json=vote)
    assert_error(response, 503, "store_unavailable")
    assert response.headers["retry-after"] == "5"


def test_low_rated_answers_and_the_period_are_shown(client):
    ask_all(client)
    db = client.app.state.db
    now = time.time()
    db.add_feedback(Feedback("nerf tibial du mollet", "contractions-muscle-mollet", 0, 10, -1, now))
    db.add_feedback(Feedback("nerf tibial mollet ?", "contractions-muscle-mollet", 0, 10, -1, now))
    db.add_feedback(Feedback("crampe la nuit", "contractions-muscle-mollet", 0, 10, 1, now))
    auth = {"Authorization": f"Bearer {TOKEN}"}
    report = client.get("/api/editor/coverage", headers=auth).json()
    low = [c for c in report["clusters"] if c["kind"] == "low_rated"]
    assert [c["size"] for c in low] == [2] and report["summary"]["low_rated"] == 2
    assert "Réponses mal notées" in client.get("/editor/coverage", headers=auth).text
    old = client.get("/api/editor/coverage", headers=auth, params={"since": "2020-01-01", "until": "2020-01-31"})
    assert old.json()["questions"] == [] and old.json()["summary"]["period"]["since"].startswith("2020-01-01")
    assert_error(client.get("/api/editor/coverage", headers=auth, params={"since": "hier"}), 422, "invalid_period")
    assert_error(
        client.get("/editor/coverage", headers=auth, params={"since": "2025-02-01", "until": "2025-01-01"}),
        422,
        "invalid_period",
    )


@pytest.mark.parametrize("store", ["sqlite", "postgresql"])
def test_coverage_from_log_on_the_command_line_and_the_page_read_the_configured_store(
    store, strict, monkeypatch, tmp_path, capsys, request
):
    if store == "postgresql":
        url = request.getfixturevalue("postgres_server").new_database()
        monkeypatch.setenv("SOURCIER_DATABASE_URL", url)  # the service below and the command line
    with make_client(strict, query_log=True, editor_token=TOKEN) as client:
        assert client.app.state.db.name == store
        ask_all(client)
        page = client.get("/api/editor/coverage", headers={"Authorization": f"Bearer {TOKEN}"}).json()
        assert [q["question"] for q in page["questions"]] == ASKED  # the page waits for its own queued lines
        logged = client.app.state.db.queries()
    monkeypatch.setattr(startup_mod, "load_answerer", lambda s: strict)
    assert cli.main(["coverage", "--from-log", "--days", "1", "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert [q["question"] for q in report["questions"]] == [q.question for q in logged] == ASKED
    assert report["summary"]["source"] == "query log"
    assert "questions" in capsys.readouterr().out


def test_coverage_from_log_says_when_there_is_no_log(strict, monkeypatch, capsys):
    monkeypatch.setattr(startup_mod, "load_answerer", lambda s: strict)
    assert cli.main(["coverage", "--from-log"]) == 1
    assert "SOURCIER_QUERY_LOG" in capsys.readouterr().err
