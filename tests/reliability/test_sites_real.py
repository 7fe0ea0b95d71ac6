"""Several sites in one process, for real: EmbeddingGemma, real ``sourcier build --all-sites`` and
``sourcier serve`` processes, a real static web server and a real PostgreSQL server, no mock.

Three sites (``bench/three_sites.py``): ``seed`` (the seed article), ``fiches`` (30 service-public.fr
fiches, a JSONL file) and ``dn`` (27 FAQ pages of the Démarche numérique help centre on loopback, built
from its sitemap; one held back until the sites file changes). They are built once for the module; a
test that changes an index works on a copy of the built folder. Checked: ``sourcier sites``; every
answer and passage comes from the asked site's own articles, verbatim; votes, the query log and the
editors' coverage stay with their site on SQLite and on PostgreSQL; a site's new index is swapped in
under load without a failed request and without touching the others; a bad sites file stops the start
with the file and the line."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from bench.three_sites import (
    DEMARCHE,
    DN_HELD_BACK,
    ORIGINS,
    SEED_CORPUS,
    SITES,
    TOKENS,
    DemarcheSite,
    Serving,
    dn_questions,
    fiche_questions,
    seed_questions,
    sites_env,
    sites_toml,
    sourcier,
    write_fiches,
)
from corpus.load import Article
from index import store
from index.manifest import read_manifest
from service.web.schemas import AskResponse
from tests.browser.conftest import free_ports
from tests.reliability.conftest import ARTIFACTS, PORTS, assert_error_shape

pytestmark = [
    pytest.mark.reliability,
    pytest.mark.slow,
    pytest.mark.skipif(not DEMARCHE.is_dir() and not os.environ.get("CI"), reason="needs ../shared/data"),
]

HAMMER_AFTER_SWAP_S = 3.0  # the readers keep asking this long after the new index is served


@dataclass
class Three:
    """The three sites built once: the sites files, the built data folder and what each site holds."""

    folder: Path
    sites_file: Path  # dn without its held-back page
    changed_file: Path  # the same sites, dn with it
    data: Path
    articles: dict[str, dict[str, Article]]  # site → doc_id → the article as indexed
    versions: dict[str, str]
    questions: dict[str, list[str]]  # site → questions on its own articles
    held_back_question: str

    def index(self, data: Path, site: str) -> Path:
        return data / "sites" / site / "index"

    def copy(self, dest: Path) -> Path:
        """A data folder of its own for a test: the built sites (indexes, crawl state), no store."""
        shutil.copytree(self.data / "sites", dest / "sites")
        return dest


@pytest.fixture(scope="module")
def dn_pages(tmp_path_factory):
    """The Démarche numérique pages on loopback for the whole module (the swap test crawls them again)."""
    with DemarcheSite(tmp_path_factory.mktemp("dn-pages")) as site:
        yield site


@pytest.fixture(scope="module")
def three(tmp_path_factory, dn_pages) -> Three:
    folder = tmp_path_factory.mktemp("sites")
    fiches = folder / "fiches.jsonl"
    ids = write_fiches(fiches)
    sites_file, changed_file = folder / "sites.toml", folder / "sites-changed.toml"
    sites_file.write_text(sites_toml(fiches, dn_pages.url), encoding="utf-8")
    changed_file.write_text(sites_toml(fiches, dn_pages.url, held_back=False), encoding="utf-8")
    data = folder / "data"
    built = sourcier(["build", "--all-sites", "--quiet"], sites_env(sites_file, data))
    assert built.returncode == 0, built.stdout + built.stderr
    articles = {site: store.indexed_articles(data / "sites" / site / "index") for site in SITES}
    versions = {site: read_manifest(data / "sites" / site / "index").version for site in SITES}
    for site in SITES:
        assert f"index {versions[site]} saved to {data / 'sites' / site / 'index'}" in built.stdout
    all_dn = dn_questions(dn_pages.folder / "demarche-numerique")
    held_back = dn_questions(dn_pages.folder / "demarche-numerique", with_held_back=True)
    (held_back_question,) = set(held_back) - set(all_dn)
    return Three(
        folder,
        sites_file,
        changed_file,
        data,
        articles,
        versions,
        {"seed": seed_questions(20), "fiches": fiche_questions(ids), "dn": all_dn},
        held_back_question,
    )


@pytest.fixture
def serve(tmp_path):
    """``serve(sites_file, data, **settings)``: a real ``sourcier serve`` of the sites; all stopped after the test."""
    started: list[Serving] = []

    def start(sites_file: Path, data: Path, **settings: str) -> Serving:
        (port,) = free_ports(1, PORTS)
        env = sites_env(sites_file, data, rate_limit="0", max_inflight="64", **settings)
        server = Serving(env, port, tmp_path / f"serve-{port}.log")
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def body_problems(site: str, body: dict, texts: dict[str, str], version: str | None = None) -> list[str]:
    """What is wrong with an /api/ask body of ``site``: its shape, an answer or a passage citing an article
    that is not the site's (``texts``: the site's articles' texts by id), or not verbatim."""
    try:
        AskResponse.model_validate(body)
    except ValueError as exc:
        return [f"{site}: not an AskResponse: {exc}"]
    problems = []
    if bool(body["answer"]) != body["answered"]:
        problems.append(f"{site}: answered={body['answered']} with answer={body['answer']!r}")
    if version is not None and body["index_version"] != version:
        problems.append(f"{site}: index {body['index_version']}, not {version}")
    cited = [
        (a["citation"]["doc_id"], a["citation"]["start"], a["citation"]["end"], a["text"])
        for a in ([body["answer"]] if body["answer"] else []) + body["alternatives"]
    ]
    cited += [(p["doc_id"], p["start"], p["end"], p["text"]) for p in body["passages"]]
    for doc_id, start, end, text in cited:
        if doc_id not in texts:
            problems.append(f"{site}: {body['question']!r} cites {doc_id!r}, not an article of the site")
        elif texts[doc_id][start:end] != text:
            problems.append(f"{site}: {body['question']!r}: {doc_id}[{start}:{end}] is not the text given")
    return problems


def test_sites_lists_each_built_index(three):
    listed = sourcier(["sites", "--json"], sites_env(three.sites_file, three.data), timeout=120)
    assert listed.returncode == 0, listed.stderr
    rows = {row["id"]: row for row in json.loads(listed.stdout)}
    assert list(rows) == list(SITES)
    for site in SITES:
        manifest = read_manifest(three.index(three.data, site))
        assert rows[site]["index_version"] == manifest.version == three.versions[site]
        assert rows[site]["articles"] == manifest.corpus.articles == len(three.articles[site])
        assert rows[site]["url"] == f"/sites/{site}" and rows[site]["threshold_from"] == "index"
    assert {site: rows[site]["articles"] for site in SITES} == {"seed": 1, "fiches": 30, "dn": 26}
    # the article ids of the three sites are disjoint: a citation names its site's article or none
    ids = [set(three.articles[site]) for site in SITES]
    assert not (ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2])
    one = sourcier(["sites", "--json", "--site-id", "dn"], sites_env(three.sites_file, three.data), timeout=120)
    assert [row["id"] for row in json.loads(one.stdout)] == ["dn"]


def test_every_answer_and_passage_is_the_asked_sites_own_verbatim(three, serve, tmp_path):
    server = serve(three.sites_file, three.copy(tmp_path / "data"), query_log="true")
    health = httpx.get(f"{server.url}/api/health", timeout=10).json()
    assert health["status"] == "ok" and list(health["sites"]) == list(SITES)
    assert {site: h["index_version"] for site, h in health["sites"].items()} == three.versions
    # each site: its own questions, then 8 of each other site's
    batches = [
        (site, question, own)
        for site in SITES
        for other in SITES
        for own in [other == site]
        for question in (three.questions[other] if own else three.questions[other][:8])
    ]

    client = httpx.Client(timeout=60)

    def ask(item: tuple[str, str, bool]) -> tuple[str, str, bool, int, dict]:
        site, question, own = item
        url = f"{server.url}/sites/{site}/api/ask"
        # POST and GET in turn, a top_k now and then
        if len(question) % 2:
            response = client.post(url, json={"question": question, "top_k": 3 if len(question) % 3 == 0 else None})
        else:
            response = client.get(url, params={"q": question})
        return site, question, own, response.status_code, response.json()

    with client, ThreadPoolExecutor(2) as pool:
        results = list(pool.map(ask, batches))
    assert [status for *_, status, _ in results] == [200] * len(batches)
    texts = {site: {d: a.text for d, a in three.articles[site].items()} for site in SITES}
    problems = [
        p for site, _, _, _, body in results for p in body_problems(site, body, texts[site], three.versions[site])
    ]
    assert not problems, problems[:10]
    answered = Counter((site, own) for site, _, own, _, body in results if body["answered"])
    asked = Counter((site, own) for site, _, own, _, _ in results)
    for site in SITES:  # not a vacuous check: most of a site's own questions are answered
        assert answered[site, True] >= 0.6 * asked[site, True], (site, answered, asked)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "sites-answers.json").write_text(
        json.dumps({f"{s}/{'own' if o else 'other'}": [answered[s, o], asked[s, o]] for s, o in asked}, indent=1) + "\n"
    )

    # the cited articles through the API: 200 with the indexed text on their site, 404 on the others
    cited = {
        (site, c["doc_id"])
        for site, *_, body in results
        for c in [a["citation"] for a in ([body["answer"]] if body["answer"] else []) + body["alternatives"]]
    }
    cited |= {(site, p["doc_id"]) for site, *_, body in results for p in body["passages"]}
    assert {site for site, _ in cited} == set(SITES)
    with httpx.Client(timeout=30) as client:
        for site, doc_id in sorted(cited):
            got = client.get(f"{server.url}/sites/{site}/api/articles/{doc_id}")
            assert got.status_code == 200 and got.json()["text"] == texts[site][doc_id], (site, doc_id)
            for other in set(SITES) - {site}:
                refused = client.get(f"{server.url}/sites/{other}/api/articles/{doc_id}")
                assert assert_error_shape(refused, 404)["code"] == "unknown_article", (other, doc_id)
        assert (
            assert_error_shape(client.get(f"{server.url}/sites/nope/api/ask", params={"q": "x"}), 404)["code"]
            == "unknown_site"
        )


def coverage_questions(report: dict) -> set[str]:
    return {q["question"] for q in report["questions"]}


def low_rated(report: dict) -> set[str]:
    return {m["question"] for c in report["clusters"] if c["kind"] == "low_rated" for m in c["members"]}


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_votes_query_log_and_coverage_stay_with_their_site(three, serve, tmp_path, request, backend):
    settings = {"query_log": "true"}
    if backend == "postgres":
        settings["database_url"] = request.getfixturevalue("postgres_server").new_database()
    data = three.copy(tmp_path / "data")
    server = serve(three.sites_file, data, **settings)
    a, b, c = "fiches", "dn", "seed"
    asked = {a: three.questions[a][:4], b: three.questions[b][:4], c: three.questions[c][:2]}
    bodies: dict[str, list[dict]] = {}
    with httpx.Client(timeout=60) as client:
        for site, questions in asked.items():
            responses = [client.post(f"{server.url}/sites/{site}/api/ask", json={"question": q}) for q in questions]
            assert [r.status_code for r in responses] == [200] * len(questions)
            bodies[site] = [r.json() for r in responses]

        def vote(site: str, body: dict, doc_id: str | None = None) -> httpx.Response:
            citation = body["answer"]["citation"]
            item = {"question": body["question"], "doc_id": doc_id or citation["doc_id"], "vote": -1}
            return client.post(
                f"{server.url}/sites/{site}/api/feedback", json=item | {k: citation[k] for k in ("start", "end")}
            )

        voted = {site: next(body for body in bodies[site] if body["answered"]) for site in (a, b)}
        assert vote(a, voted[a]).status_code == 201 and vote(b, voted[b]).status_code == 201
        # a vote on site B naming site A's article is refused: B has no such article
        crossed = vote(b, voted[a])
        assert assert_error_shape(crossed, 404)["code"] == "unknown_article"

        def coverage(site: str, token: str | None) -> httpx.Response:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            return client.get(f"{server.url}/sites/{site}/api/editor/coverage", headers=headers)

        reports = {}
        for site in (a, b, c):
            got = coverage(site, TOKENS[site])
            assert got.status_code == 200, got.text
            reports[site] = got.json()
            assert coverage_questions(reports[site]) == set(asked[site]), site
            assert reports[site]["summary"]["total"] == len(asked[site])
            assert reports[site]["index_version"] == three.versions[site]
        assert low_rated(reports[a]) == {voted[a]["question"]} and low_rated(reports[b]) == {voted[b]["question"]}
        assert reports[c]["summary"]["low_rated"] == 0
        # another site's token opens nothing; nor does none, nor a site that does not exist
        for site, token in ((b, TOKENS[a]), (a, TOKENS[b]), (c, TOKENS[a]), (a, None)):
            refused = coverage(site, token)
            assert refused.status_code == 401 and "questions" not in refused.text, (site, token)
        assert coverage("nope", TOKENS[a]).status_code == 404
        # CORS: a page of site A may call A's API, never B's
        origin = {"Origin": ORIGINS[a]}
        own = client.post(f"{server.url}/sites/{a}/api/ask", json={"question": "x y z"}, headers=origin)
        other = client.post(f"{server.url}/sites/{b}/api/ask", json={"question": "x y z"}, headers=origin)
        assert own.headers.get("access-control-allow-origin") == ORIGINS[a]
        assert "access-control-allow-origin" not in other.headers
    assert (data / "sourcier.db").exists() == (backend == "sqlite")  # the store the settings name, only


def test_a_sites_new_index_is_swapped_in_under_load_and_the_others_keep_theirs(three, serve, tmp_path):
    data = three.copy(tmp_path / "data")
    server = serve(three.sites_file, data, reload_interval="0.5")
    before = {site: h["index_version"] for site, h in httpx.get(f"{server.url}/api/health").json()["sites"].items()}
    assert before == three.versions
    texts = {site: {d: a.text for d, a in three.articles[site].items()} for site in SITES}
    stop = threading.Event()
    statuses: Counter = Counter()
    failures: list[str] = []
    lock = threading.Lock()

    def hammer(site: str) -> None:
        questions = three.questions[site]
        with httpx.Client(timeout=30) as client:
            n = 0
            while not stop.is_set():
                question = questions[n % len(questions)]
                n += 1
                try:
                    response = client.post(f"{server.url}/sites/{site}/api/ask", json={"question": question})
                except httpx.HTTPError as exc:
                    with lock:
                        failures.append(f"{site}: {type(exc).__name__}: {exc}")
                    continue
                problems = (
                    []
                    if response.status_code != 200
                    else body_problems(site, response.json(), texts[site], three.versions[site])
                )
                with lock:
                    statuses[site, response.status_code] += 1
                    if response.status_code != 200:
                        failures.append(f"{site}: {response.status_code} {response.text[:200]}")
                    failures.extend(problems)

    readers = [threading.Thread(target=hammer, args=(site,)) for site in ("seed", "fiches")]
    for reader in readers:
        reader.start()
    try:
        time.sleep(2)
        started = time.monotonic()
        # the operator adds the held-back page to the sites file and builds that site alone
        rebuilt = sourcier(["build", "--site-id", "dn", "--quiet"], sites_env(three.changed_file, data), timeout=600)
        built_s = time.monotonic() - started
        assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
        new = read_manifest(three.index(data, "dn")).version
        assert new != three.versions["dn"]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            served = httpx.get(f"{server.url}/api/health", timeout=10).json()["sites"]
            if served["dn"]["index_version"] == new:
                break
            time.sleep(0.2)
        time.sleep(HAMMER_AFTER_SWAP_S)
    finally:
        stop.set()
        for reader in readers:
            reader.join(timeout=60)
    after = httpx.get(f"{server.url}/api/health", timeout=10).json()["sites"]
    summary = {
        "statuses": {f"{s}:{c}": n for (s, c), n in statuses.items()},
        "failures": failures[:5],
        "build_s": round(built_s, 1),
    }
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "sites-swap.json").write_text(json.dumps(summary, indent=1) + "\n")
    assert not failures, summary
    assert statuses["seed", 200] >= 20 and statuses["fiches", 200] >= 20, summary
    assert set(statuses) == {("seed", 200), ("fiches", 200)}, summary
    assert after["dn"]["index_version"] == new and after["dn"]["articles"] == 27
    assert {site: after[site]["index_version"] for site in ("seed", "fiches")} == {
        site: three.versions[site] for site in ("seed", "fiches")
    }
    assert server.log().count("index reloaded") == 1  # dn's, and no other site's
    # the new page answers on dn, from dn's new index; the others still do not have it
    held_back_id = DN_HELD_BACK.strip("/")
    found = httpx.post(f"{server.url}/sites/dn/api/ask", json={"question": three.held_back_question}, timeout=60).json()
    assert found["index_version"] == new and found["answered"], found
    assert found["answer"]["citation"]["doc_id"] == held_back_id
    assert httpx.get(f"{server.url}/sites/dn/api/articles/{held_back_id}").status_code == 200
    assert httpx.get(f"{server.url}/sites/fiches/api/articles/{held_back_id}").status_code == 404


BAD_LINE_4 = {
    "unknown key": "top_kk = 3\n",
    "bad value": 'top_k = "trois"\n',
    "not TOML": "top_k = \n",
}


@pytest.mark.parametrize("fault", list(BAD_LINE_4))
def test_a_bad_sites_file_stops_serve_with_the_file_and_line(tmp_path, fault):
    bad = tmp_path / "sites.toml"
    seed = json.dumps(str(SEED_CORPUS))
    head = f'[sites.seed]\ncorpus = [{seed}]\norigins = ["{ORIGINS["seed"]}"]\n'
    bad.write_text(head + BAD_LINE_4[fault] + f"\n[sites.dn]\ncorpus = [{seed}]\n", encoding="utf-8")
    (port,) = free_ports(1, PORTS)
    for args in (["serve", "--host", "127.0.0.1", "--port", str(port)], ["build", "--all-sites", "--quiet"]):
        started = time.monotonic()
        result = sourcier(args, sites_env(bad, tmp_path / "data"), timeout=120)
        assert result.returncode != 0, (args, result.stdout, result.stderr)
        assert f"{bad}:4:" in result.stderr and "Traceback" not in result.stderr, result.stderr
        assert time.monotonic() - started < 60  # before the model is loaded
    assert not (tmp_path / "data" / "sites").exists()
