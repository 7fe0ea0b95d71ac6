"""Abuse, in process (FakeEncoder): body size limit, per-client rate limit, overload, security
headers, CORS allow-list, the editors' token, path traversal through ``doc_id``."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient

from service.web.guard import PAGE_CSP, RateLimiter
from service.web.routes import editor
from tests.conftest import FakeEncoder
from tests.reliability.conftest import assert_error_shape, assert_verbatim, fake_app_client

pytestmark = pytest.mark.reliability

ASK = {"question": "nerf tibial du mollet"}
TOKEN = "jeton-des-editeurs-0123456789"


class CountingEncoder(FakeEncoder):
    """Counts the questions that reach the encoder; optionally holds them until released."""

    def __init__(self, hold: threading.Event | None = None) -> None:
        super().__init__()
        self.hold = hold
        self.asked = 0

    def encode_queries(self, texts):
        self.asked += 1
        if self.hold is not None:
            assert self.hold.wait(30), "the test never released the encoder"
        return super().encode_queries(texts)


def test_body_over_the_limit_is_refused_before_parsing(corpus_index):
    encoder = CountingEncoder()
    with fake_app_client(corpus_index, encoder, max_body_bytes=2048) as client:
        declared = client.post(
            "/api/ask", content=b'{"question": "' + b"a" * 5000 + b'"}', headers={"content-type": "application/json"}
        )
        assert assert_error_shape(declared, 413)["code"] == "payload_too_large"

        def stream():  # no Content-Length: counted while it is read
            yield b'{"question": "'
            for _ in range(100):
                yield b"b" * 1000
            yield b'"}'

        streamed = client.post("/api/ask", content=stream(), headers={"content-type": "application/json"})
        assert assert_error_shape(streamed, 413)["code"] == "payload_too_large"
        feedback = client.post(
            "/api/feedback", content=b"[" + b"1," * 2000 + b"1]", headers={"content-type": "application/json"}
        )
        assert_error_shape(feedback, 413)
        assert encoder.asked == 0
        padded = b'{"question": "nerf tibial du mollet"' + b" " * 1900 + b"}"  # just under the limit
        ok = client.post("/api/ask", content=padded, headers={"content-type": "application/json"})
        assert ok.status_code == 200 and encoder.asked == 1
        assert_verbatim(ok.json(), corpus_index.articles)


def test_rate_limit_per_client_address_with_retry_after(corpus_index):
    with fake_app_client(corpus_index, rate_limit=60, rate_burst=3) as client:
        statuses = [client.post("/api/ask", json=ASK).status_code for _ in range(3)]
        limited = client.get("/api/ask", params={"q": "nerf"})
        assert statuses == [200, 200, 200]
        assert assert_error_shape(limited, 429)["code"] == "too_many_requests"
        assert limited.headers["retry-after"] == "1"  # one token a second at 60 per minute
        assert_error_shape(client.post("/api/feedback", json={}), 429)  # votes share the reader's bucket
        assert_error_shape(client.get("/api/suggest", params={"q": "nerf"}), 429)  # and suggestions too
        assert client.get("/api/health").status_code == 200  # pages and health are not limited
        other = TestClient(client.app, client=("203.0.113.7", 4000), raise_server_exceptions=False)
        assert other.post("/api/ask", json=ASK).status_code == 200  # another address has its own bucket
        time.sleep(1.05)
        assert client.post("/api/ask", json=ASK).status_code == 200  # refilled


def test_rate_limiter_refills_and_keeps_a_bounded_table():
    now = [0.0]
    limiter = RateLimiter(per_minute=30, burst=2, max_clients=3, clock=lambda: now[0])
    assert [limiter.wait("a"), limiter.wait("a")] == [0.0, 0.0]
    assert limiter.wait("a") == pytest.approx(2.0)  # 30 per minute: a token every 2 s
    now[0] = 1.0
    assert limiter.wait("a") == pytest.approx(1.0)
    now[0] = 2.0
    assert limiter.wait("a") == 0.0
    for client in ("b", "c", "d", "e"):
        limiter.wait(client)
    assert list(limiter.buckets) == ["c", "d", "e"]  # the least recently seen are forgotten


def test_rate_limit_zero_turns_it_off(corpus_index):
    with fake_app_client(corpus_index, rate_limit=0, rate_burst=1) as client:
        assert {client.post("/api/ask", json=ASK).status_code for _ in range(30)} == {200}


def test_overload_is_refused_at_once_with_retry_after(corpus_index):
    hold = threading.Event()
    encoder = CountingEncoder(hold)
    with fake_app_client(corpus_index, encoder, max_inflight=2, rate_limit=0) as client:
        with ThreadPoolExecutor(2) as pool:
            running = [pool.submit(client.post, "/api/ask", json=ASK) for _ in range(2)]
            deadline = time.monotonic() + 10
            while encoder.asked < 2 and time.monotonic() < deadline:
                time.sleep(0.01)
            assert encoder.asked == 2
            refused = client.post("/api/ask", json=ASK)
            assert assert_error_shape(refused, 503)["code"] == "overloaded"
            assert refused.headers["retry-after"] == "1"
            suggested = client.get("/api/suggest", params={"q": "nerf"})  # suggestions encode a text too
            assert assert_error_shape(suggested, 503)["code"] == "overloaded"
            assert client.get("/api/health").status_code == 200  # only questions are bounded
            hold.set()
            assert [f.result(timeout=10).status_code for f in running] == [200, 200]
        assert client.post("/api/ask", json=ASK).status_code == 200  # the slots were given back
        assert encoder.asked == 3


def test_security_headers_on_every_response(corpus_index):
    with fake_app_client(corpus_index, editor_token=TOKEN) as client:
        responses = {
            path: client.get(path)
            for path in (
                "/",
                "/articles/piege",
                "/api/articles/piege",
                "/api/health",
                "/widget.js",
                "/nulle-part",
                "/docs",
            )
        }
        responses["ask"] = client.post("/api/ask", json=ASK)
        for name, response in responses.items():
            assert response.headers["x-content-type-options"] == "nosniff", name
            assert response.headers["referrer-policy"] == "no-referrer", name
            assert "server" not in response.headers, name
        for path in ("/", "/articles/piege"):
            assert responses[path].headers["content-security-policy"] == PAGE_CSP
        assert "script-src 'self'" in PAGE_CSP and "unsafe-inline" not in PAGE_CSP.split("style-src")[0]
        assert "content-security-policy" not in responses["/api/health"].headers
        report = client.get("/editor/coverage", headers={"Authorization": f"Bearer {TOKEN}"})
        assert report.status_code == 200  # the report's inline sorting script keeps its own policy
        assert report.headers["content-security-policy"] == editor.PRIVATE["Content-Security-Policy"]
        assert report.headers.get_list("referrer-policy") == ["no-referrer"]


def test_cors_allow_list(corpus_index):
    allowed, other = "https://aide.exemple.fr", "https://pirate.exemple"
    with fake_app_client(corpus_index, cors_origins=[allowed], rate_limit=60, rate_burst=2) as client:
        ok = client.post("/api/ask", json=ASK, headers={"Origin": allowed})
        assert ok.headers["access-control-allow-origin"] == allowed
        foreign = client.post("/api/ask", json=ASK, headers={"Origin": other})
        assert "access-control-allow-origin" not in foreign.headers  # the browser will not hand it over
        preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
        good = client.options("/api/ask", headers={"Origin": allowed, **preflight})
        assert good.status_code == 200 and good.headers["access-control-allow-origin"] == allowed
        bad = client.options("/api/ask", headers={"Origin": other, **preflight})
        assert assert_error_shape(bad, 400)["code"] == "cors_refused"
        assert "access-control-allow-origin" not in bad.headers
        bad_header = client.options(
            "/api/ask",
            headers={
                "Origin": allowed,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "x-secret",
            },
        )
        assert_error_shape(bad_header, 400)
        limited = client.post("/api/ask", json=ASK, headers={"Origin": allowed})
        assert limited.status_code == 429  # the third in a burst of 2 ...
        assert limited.headers["access-control-allow-origin"] == allowed  # ... readable by the widget


@pytest.mark.parametrize("given", ["", "x", TOKEN[:-1], TOKEN + "x", TOKEN.upper(), "é" * 30, TOKEN[:5] * 9])
def test_editor_token_compared_in_constant_time_and_nothing_leaks(corpus_index, monkeypatch, given):
    calls = []
    real = editor.hmac.compare_digest
    monkeypatch.setattr(editor.hmac, "compare_digest", lambda a, b: calls.append((a, b)) or real(a, b))
    with fake_app_client(corpus_index, editor_token=TOKEN, query_log=True) as client:
        client.post("/api/ask", json={"question": "question privée sur le mollet"})
        bodies = set()
        for path in ("/api/editor/coverage", "/editor/coverage"):
            by_query = client.get(path, params={"token": given})
            by_header = client.get(path, headers={"Authorization": f"Bearer {given}"} if given.isascii() else {})
            for response in (by_query, by_header):
                assert_error_shape(response, 401)
                assert "privée" not in response.text and TOKEN not in response.text
                assert response.headers["www-authenticate"] == "Bearer"
                bodies.add(response.content)
        assert len(bodies) == 1  # the same answer whatever was wrong with the token
        # Every comparison is with the token (a bearer header) or with a session value (no header: the cookie).
        assert calls and all(b == TOKEN.encode() or b.startswith(b"0.") for _, b in calls)
        assert client.get("/api/editor/coverage", params={"token": TOKEN}).status_code == 401  # never in the URL
        assert client.get("/api/editor/coverage", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200


@pytest.mark.parametrize(
    "doc_id",
    [
        "..%2F..%2Fetc%2Fpasswd",
        "%2E%2E",
        ".%2e",
        "%2e%2e%2f%2e%2e%2fpyproject.toml",
        "..%5C..%5Cpyproject.toml",
        "%00",
        "contractions-muscle-mollet%00.txt",
        "%2Fetc%2Fpasswd",
        "file:%2F%2F%2Fetc%2Fpasswd",
        "~root",
    ],
)
def test_no_path_traversal_through_doc_id(corpus_index, doc_id):
    with fake_app_client(corpus_index) as client:
        for path in (f"/api/articles/{doc_id}", f"/articles/{doc_id}"):
            response = client.get(path)
            assert response.status_code == 404, (path, response.status_code)
            assert_error_shape(response)
            assert "root:" not in response.text and "[project]" not in response.text
        vote = client.post(
            "/api/feedback",
            json={"question": "q", "doc_id": doc_id.replace("%2F", "/"), "start": 0, "end": 5, "vote": 1},
        )
        assert assert_error_shape(vote, 404)["code"] == "unknown_article"


def test_each_route_declares_its_own_limits_and_they_follow_it():
    """The guard's paths come from the routes' declarations: the served app's, and a route declared under
    any new path is limited the same way (renaming a route cannot drop its limit)."""
    from fastapi import FastAPI

    from service.settings import Settings
    from service.web.app import create_app
    from service.web.guard import QUESTION, READER, Guard, guarded, policy_paths

    served = policy_paths(create_app(Settings()).openapi())
    assert served == {QUESTION: {"/api/ask", "/api/suggest"}, READER: {"/api/feedback"}}
    toy = FastAPI()

    @toy.get("/api/v2/question-renommee", openapi_extra=guarded(QUESTION))
    def renamed() -> dict[str, bool]:
        return {"ok": True}

    @toy.get("/libre")
    def free() -> dict[str, bool]:
        return {"ok": True}

    toy.add_middleware(
        Guard, max_body_bytes=1024, rate_per_minute=1, burst=2, max_inflight=4, paths=policy_paths(toy.openapi())
    )
    with TestClient(toy) as client:
        assert [client.get("/api/v2/question-renommee").status_code for _ in range(3)] == [200, 200, 429]
        assert {client.get("/libre").status_code for _ in range(5)} == {200}
    assert "x-sourcier-guard" in str(toy.openapi()["paths"]["/api/v2/question-renommee"])
    with pytest.raises(ValueError):
        guarded("gratuit")
