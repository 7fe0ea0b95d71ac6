"""The README's promise in every log: a real ``sourcier serve`` (fake-encoder CLI) logs JSON lines, and by
default no reader's address and no question — neither from ``GET /api/ask?q=…`` nor from a refusal —
until an operator asks for the full access log."""

from __future__ import annotations

import json

import httpx
import pytest

from service.web.access import JsonFormatter

pytestmark = [pytest.mark.reliability]

QUESTION = "Quelle crème pour l’œdème du mollet de Zoé ? 🦵"


def _ask_every_way(url: str) -> None:
    assert httpx.get(f"{url}/api/ask", params={"q": QUESTION}, timeout=10).status_code == 200
    assert httpx.post(f"{url}/api/ask", json={"question": QUESTION}, timeout=10).status_code == 200
    assert httpx.post(f"{url}/api/ask", json={"question": QUESTION * 40}, timeout=10).status_code == 422
    assert httpx.get(f"{url}/nowhere", params={"token": "secret-in-url"}, timeout=10).status_code == 404


def _records(log: str) -> list[dict]:
    lines = [line for line in log.splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is JSON, uvicorn's too
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records)
    return records


@pytest.mark.slow
def test_by_default_the_log_holds_no_address_and_no_question(served):
    server = served(rate_limit="0")
    _ask_every_way(server.url)
    server.stop()
    log = server.log()
    records = _records(log)
    access = [r for r in records if r["logger"] == "sourcier.access"]
    assert [(r["method"], r["path"], r["status"]) for r in access if r["path"] != "/api/health"] == [
        ("GET", "/api/ask", 200),
        ("POST", "/api/ask", 200),
        ("POST", "/api/ask", 422),
        ("GET", "/nowhere", 404),
    ]
    assert all("client" not in r and "query" not in r for r in access)
    for secret in ("Zoé", "crème", "%C3%A9", "q=", "secret-in-url", "127.0.0.1:"):
        assert all(secret not in json.dumps(r, ensure_ascii=False) for r in access), secret
    assert "Zo%C3%A9" not in log and "Zoé" not in log and "secret-in-url" not in log
    assert not any(r["logger"] == "uvicorn.access" for r in records)


@pytest.mark.slow
def test_the_full_access_log_is_an_operators_choice(served):
    server = served(rate_limit="0", access_log="full")
    _ask_every_way(server.url)
    server.stop()
    access = [r for r in _records(server.log()) if r["logger"] == "sourcier.access"]
    asked = next(r for r in access if r["method"] == "GET" and r["path"] == "/api/ask")
    assert asked["client"].startswith("127.0.0.1:") and "q=" in asked["query"]
    assert any(r["query"] == "token=secret-in-url" for r in access)


def test_off_logs_no_request(served_in_process):
    records = served_in_process("off")
    assert not [r for r in records if r.name == "sourcier.access"]
    assert [r for r in served_in_process("paths") if r.name == "sourcier.access"]


@pytest.fixture
def served_in_process(corpus_index, caplog):
    from tests.reliability.conftest import fake_app_client

    def run(mode: str) -> list:
        caplog.clear()
        with caplog.at_level("INFO", logger="sourcier.access"), fake_app_client(corpus_index, access_log=mode) as c:
            c.get("/api/ask", params={"q": QUESTION})
        return list(caplog.records)

    return run


def test_json_lines_carry_the_access_fields_and_exceptions():
    import logging
    import sys

    record = logging.LogRecord("sourcier.access", logging.INFO, __file__, 1, "%s %s", ("GET", "/x"), None)
    record.path, record.status = "/x", 200
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "GET /x" and line["path"] == "/x" and line["status"] == 200
    try:
        raise ValueError("œ ’ é")
    except ValueError:
        failed = logging.LogRecord("sourcier", logging.ERROR, __file__, 1, "boom", (), sys.exc_info())
    line = json.loads(JsonFormatter().format(failed))
    assert line["level"] == "error" and "ValueError: œ ’ é" in line["exception"]
