"""Bad input to the API, in process (FakeEncoder): schemathesis on the OpenAPI description of every
endpoint, hypothesis on raw bodies and query strings, and the named nasty cases. Every response is a
valid answer or the documented error shape; never a 500; the app keeps answering afterwards."""

from __future__ import annotations

import atexit
import json
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

import hypothesis.strategies as st
import pytest
import schemathesis
from hypothesis import HealthCheck, example, given, settings
from schemathesis.specs.openapi.checks import (
    allow_header_conformance,
    content_type_conformance,
    positive_data_acceptance,
)

from corpus.load import load
from index.build import build
from service.settings import Settings
from service.web.app import create_app
from tests.conftest import FAKE_CONFIG, FIXTURES, SEED, FakeEncoder, make_answerer
from tests.reliability.conftest import assert_error_shape, assert_verbatim, fake_app_client

pytestmark = pytest.mark.reliability

TOKEN = "jeton-fuzz-0123456789abcdef"
INDEX = build(load([SEED, FIXTURES]), FakeEncoder(), replace(FAKE_CONFIG, runtime="torch"))
SCRATCH = Path(tempfile.mkdtemp(prefix="sourcier-fuzz-"))  # built at import: the per-test data folder is not set yet
atexit.register(shutil.rmtree, SCRATCH, True)
APP = create_app(
    Settings(editor_token=TOKEN, query_log=True, rate_limit=0, data_dir=SCRATCH, index_dir=SCRATCH),
    loader=lambda _: make_answerer(INDEX, FakeEncoder(), threshold=0.3, base_url="http://test"),
)
SCHEMA = schemathesis.openapi.from_asgi("/openapi.json", APP)
# Two sites in one process (service.sites): the same routes under /sites/{site}/, each site its own index.
SITES_FILE = SCRATCH / "sites.toml"
SITES_FILE.write_text(
    f'[sites.mollet]\ncorpus = ["{SEED}"]\neditor_token = "{TOKEN}"\n\n[sites.guide-2]\ncorpus = ["{FIXTURES}"]\n',
    encoding="utf-8",
)
SITE_INDEXES = {
    site: build(load(paths), FakeEncoder(), replace(FAKE_CONFIG, runtime="torch"))
    for site, paths in (("mollet", [SEED]), ("guide-2", [FIXTURES]))
}
SITES_APP = create_app(
    Settings(sites_file=SITES_FILE, query_log=True, rate_limit=0, data_dir=SCRATCH / "sites", index_dir=SCRATCH),
    loader=lambda site: make_answerer(SITE_INDEXES[site.index_dir.parent.name], FakeEncoder(), 0.3, "http://test"),
)
SITES_SCHEMA = schemathesis.openapi.from_asgi("/openapi.json", SITES_APP)
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), database=None)


def check_response(response, articles=INDEX.articles) -> None:
    """A valid /api/ask body or any other 2xx, or the error shape; never a server error."""
    assert response.status_code < 500, (response.status_code, response.text[:500])
    if response.status_code >= 400:
        assert_error_shape(response)
    elif "application/json" in str(response.headers.get("content-type", "")):  # schemathesis: a list
        body = response.json()
        if isinstance(body, dict) and "answered" in body:
            assert_verbatim(body, articles)


@SCHEMA.parametrize()
@FUZZ
def test_every_endpoint_against_its_openapi_description(case):
    editors = case.path.startswith(("/editor", "/api/editor"))  # fuzzed past the token (401s: test_guard)
    response = case.call(headers={"Authorization": f"Bearer {TOKEN}"} if editors else None)
    check_response(response)
    # Not checked: a 405's Allow header names the one route Starlette matched (GET or POST /api/ask); the
    # schema gives types only, while check_question refuses blank or over-long questions and control
    # characters with their own 422 codes, so "schema-valid" data may rightly be refused; and FastAPI
    # documents an HTML page's errors as text/html, while they are JSON (check_response checks them).
    excluded = [allow_header_conformance, positive_data_acceptance]
    if response.status_code >= 400:
        excluded.append(content_type_conformance)
    case.validate_response(response, excluded_checks=excluded)


@SITES_SCHEMA.parametrize()
@FUZZ
def test_every_sites_endpoint_against_its_openapi_description(case):
    """Each site's answers from its own articles only, whatever the fuzzed site, question or article."""
    editors = "/editor" in case.path
    response = case.call(headers={"Authorization": f"Bearer {TOKEN}"} if editors else None)
    site = (case.path_parameters or {}).get("site")
    check_response(response, SITE_INDEXES[site].articles if site in SITE_INDEXES else INDEX.articles)
    excluded = [allow_header_conformance, positive_data_acceptance]
    if response.status_code >= 400:
        excluded.append(content_type_conformance)
    case.validate_response(response, excluded_checks=excluded)


@given(
    body=st.one_of(
        st.binary(max_size=3000),
        st.text(max_size=3000).map(str.encode),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=50),
            lambda inner: (
                st.lists(inner, max_size=4)
                | st.dictionaries(
                    st.sampled_from(["question", "top_k", "doc_id", "start", "end", "vote", "x"]), inner, max_size=6
                )
            ),
            max_leaves=12,
        ).map(lambda v: json.dumps(v, allow_nan=True).encode()),
    ),
    path=st.sampled_from(["/api/ask", "/api/feedback"]),
    content_type=st.sampled_from(["application/json", "text/plain", "application/x-www-form-urlencoded", ""]),
)
@FUZZ
def test_raw_bodies_never_break_the_api(body, path, content_type):
    with fake_app_client(INDEX, rate_limit=0) as client:
        response = client.post(path, content=body, headers={"content-type": content_type} if content_type else {})
        check_response(response)


@given(q=st.text(max_size=700), top_k=st.one_of(st.integers(), st.text(max_size=20)))
@FUZZ
def test_query_strings_never_break_the_api(q, top_k):
    with fake_app_client(INDEX, rate_limit=0) as client:
        check_response(client.get("/api/ask", params={"q": q, "top_k": str(top_k)}))


@given(q=st.text(max_size=700), k=st.one_of(st.integers(), st.text(max_size=20)))
@FUZZ
def test_suggestion_query_strings_never_break_the_api(q, k):
    with fake_app_client(INDEX, rate_limit=0) as client:
        response = client.get("/api/suggest", params={"q": q, "k": str(k)})
        check_response(response)
        if response.status_code == 200:
            suggestions = response.json()["suggestions"]
            assert len(suggestions) <= int(k) and all(s["doc_id"] in INDEX.articles for s in suggestions)


BAD = {400, 422}  # unreadable body or invalid request: both in the error shape


@pytest.mark.parametrize(
    "body, status",
    [
        (b"", BAD),
        (b"   ", BAD),
        (b"\x00\x01\x02\xff", BAD),
        (b'{"question": "\xff\xfe"}', BAD),
        (b"\xef\xbb\xbf" + b'{"question": "nerf"}', BAD | {200}),
        (b'{"question": "   \\t\\n "}', BAD),
        (b'{"question": "nerf\\u0000tibial"}', BAD),
        (b'{"question": "nerf\\u001b[31m"}', BAD),
        (b'{"question": "\\ud800"}', BAD),
        (b'{"question": 1e999}', BAD),
        (b'{"question": true}', BAD),
        (b'{"question": {"$ne": null}}', BAD),
        (b'["question"]', BAD),
        (b"null", BAD),
        (b'"nerf"', BAD),
        (b'{"question": "nerf", "top_k": 9223372036854775808}', BAD),
        (b'{"question": "nerf", "top_k": -1}', BAD),
        (b'{"question": "nerf", "top_k": 1e308}', BAD),
        (b'{"question": "nerf", "top_k": NaN}', BAD),
        (b'{"question": "nerf", "top_k": 2.5}', BAD),
        (b'{"question": "nerf", "top_k": "3"}', BAD),
        (b'{"question": "nerf", "top_k": "5 "}', BAD),
        (b'{"question": "nerf", "top_k": true}', BAD),
        (b'{"question": "nerf", "top_k": 20}', 200),
        (b'{"question": "' + "é".encode() * 501 + b'"}', BAD),
        (b'{"question": "nerf"' + b"," * 20000 + b"}", 413),
        (b'{"question": "' + b"a" * 10_000_000 + b'"}', 413),
    ],
)
def test_named_bad_inputs(body, status):
    with fake_app_client(INDEX, rate_limit=0) as client:
        response = client.post("/api/ask", content=body, headers={"content-type": "application/json"})
        assert response.status_code in (status if isinstance(status, set) else {status}), response.text[:300]
        check_response(response)
        assert client.post("/api/ask", json={"question": "nerf tibial"}).status_code == 200  # still up


DAYS = st.none() | st.dates().map(lambda d: d.isoformat()) | st.text(max_size=12)


@given(since=DAYS, until=DAYS)
@example(since=None, until="9999-12-31")
@example(since=None, until="0001-01-02")
@example(since="0001-01-01", until="0001-01-01")
@FUZZ
def test_any_report_period_is_answered_or_refused_not_crashed(since, until):
    """Found by the fuzzing above: a period reaching past year 9999 or before year 1 was a 500."""
    params = {k: v for k, v in {"since": since, "until": until}.items() if v is not None}
    with fake_app_client(INDEX, editor_token=TOKEN) as client:
        for path in ("/api/editor/coverage", "/editor/coverage"):
            response = client.get(path, params=params, headers={"Authorization": f"Bearer {TOKEN}"})
            assert response.status_code in (200, 422), response.text[:300]
            if response.status_code == 422:
                assert assert_error_shape(response)["code"] == "invalid_period"
