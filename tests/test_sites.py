"""Several sites in one process (fake encoder): the sites file checked with the line at fault, every
route under /sites/{site}/, answers, articles, logs, votes, coverage, editors' tokens, CORS and rate
limits kept per site, each site's index swapped alone. Real model and servers: tests/reliability/test_sites_real.py."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from corpus.load import load
from index.build import build
from service.core import Answerer
from service.settings import Settings
from service.sites import SitesError, load_sites, read_sites
from service.web.app import create_app
from service.web.reload import IndexReloader
from tests.conftest import FAKE_CONFIG, FIXTURES, SEED, FakeEncoder
from tests.test_api import assert_error

AIDE = """# Réinitialiser son mot de passe

Pour réinitialiser votre mot de passe, cliquez sur « Mot de passe oublié » puis suivez le lien reçu par courriel.

# Supprimer son compte

La suppression du compte se demande depuis la page Paramètres ; elle est définitive après 30 jours.
"""
TOKENS = {"mollet": "jeton-mollet-0123456789", "guide": "jeton-guide-9876543210"}
QUESTIONS = [
    "Quel nerf innerve le mollet ?",
    "Pourquoi le cœur s’accélère ?",
    "Comment réinitialiser mon mot de passe ?",
    "Combien de temps doit lever la pâte ?",
    "Comment supprimer mon compte ?",
]


@pytest.fixture
def sites_file(tmp_path: Path) -> Path:
    (tmp_path / "aide").mkdir()
    (tmp_path / "aide" / "compte.md").write_text(AIDE, encoding="utf-8")
    path = tmp_path / "sites.toml"
    path.write_text(
        f"""# three sites, one process
[sites.mollet]
corpus = ["{SEED}"]
origins = ["https://mollet.example"]
editor_token = "{TOKENS["mollet"]}"

[sites.guide]
corpus = ["{FIXTURES}"]
editor_token_env = "GUIDE_TOKEN"
top_k = 1
origins = ["https://guide.example"]

[sites.aide]
corpus = ["aide"]
rate_limit = 60
rate_burst = 6
""",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def settings(sites_file, tmp_path, monkeypatch) -> Settings:
    monkeypatch.setenv("GUIDE_TOKEN", TOKENS["guide"])
    return Settings(
        sites_file=sites_file,
        data_dir=tmp_path / "data",
        query_log=True,
        public_url="https://sourcier.test",
        model=FakeEncoder.name,  # what a hot reload checks a new index against
        runtime=FAKE_CONFIG.runtime,
    )


def fake_loader(settings: Settings) -> Answerer:
    """A site's Answerer as the real loader makes it (its settings' configuration), over a fake-encoded index."""
    index = build(load(settings.corpus), FakeEncoder(), FAKE_CONFIG)
    return Answerer(index, FakeEncoder(), settings.answer_config(threshold=0.3)).warm_up()


@pytest.fixture
def client(settings):
    with TestClient(create_app(settings, loader=fake_loader), raise_server_exceptions=False) as client:
        yield client


def site_articles(client: TestClient) -> dict[str, set[str]]:
    return {site_id: set(served.answerer.index.articles) for site_id, served in client.app.state.sites.items()}


# --- the sites file ---------------------------------------------------------------------------------


def test_the_sites_file_gives_each_site_its_folder_url_origins_token_and_settings(settings, tmp_path):
    sites = load_sites(settings)
    assert list(sites) == ["mollet", "guide", "aide"]
    guide, aide = sites["guide"], sites["aide"]
    assert guide.settings.index_dir == tmp_path / "data" / "sites" / "guide" / "index"
    assert guide.settings.public_url == "https://sourcier.test/sites/guide" and guide.prefix == "/sites/guide"
    assert guide.settings.top_k == 1 and sites["mollet"].settings.top_k == settings.top_k
    assert guide.settings.editor_token is not None and guide.settings.editor_token.get_secret_value() == TOKENS["guide"]
    assert aide.settings.editor_token is None and aide.settings.rate_burst == 6
    assert aide.source.corpus == ((tmp_path / "aide").resolve(),)  # relative to the file
    assert guide.settings.cors_origins == ["https://guide.example"]


def test_without_a_sites_file_there_is_one_default_site_at_the_root():
    (site,) = load_sites(Settings()).values()
    assert (site.id, site.prefix) == ("default", "")


BROKEN = [
    ("[sites.aide]\ncorpus = [\n", 2, "not valid TOML"),
    ('[sites.aide]\ncorpus = ["a"]\n\n[sites.aide]\n', 4, "not valid TOML"),
    ('[sites.aide]\ncorpus = ["a"]\ntop_kk = 3\n', 3, "unknown key 'top_kk'"),
    ('[sites.aide]\ncorpus = ["a"]\n\n\ntop_k = 0\n', 5, "top_k"),
    ('[sites.aide]\ncorpus = ["a"]\nrate_limit = "vite"\n', 3, "rate_limit"),
    ('[sites.Aide]\ncorpus = ["a"]\n', 1, "site id 'Aide'"),
    ('[sites.aide]\ncorpus = ["a"]\nurl = "https://a.fr/"\n', 1, "exactly one source"),
    ('[sites.aide]\nurl = "ftp://a.fr/"\n', 2, "http(s) URL"),
    ('[sites.aide]\nurl = "https://a.fr/"\ninclude = ["(("]\n', 3, "bad regex"),
    ('[sites.aide]\ncorpus = ["a"]\neditor_token_env = "NO_SUCH_VARIABLE_SET"\n', 3, "NO_SUCH_VARIABLE_SET"),
    ('[sites.a]\ncorpus = ["a"]\n[sites.b]\ncorpus = ["b"]\norigins = "https://b.fr"\n', 5, "list of strings"),
    ('[sites.a]\ncorpus = ["a"]\nindex_dir = "i"\n[sites.b]\ncorpus = ["b"]\nindex_dir = "i"\n', 6, "site 'a''s too"),
    ("title = 'x'\n", 1, "unknown top-level key"),
    ("", 1, "no site"),
]


@pytest.mark.parametrize(("text", "line", "fault"), BROKEN)
def test_a_malformed_sites_file_is_refused_with_the_line_at_fault(tmp_path, text, line, fault):
    path = tmp_path / "sites.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SitesError) as caught:
        read_sites(path, Settings())
    message = str(caught.value)
    assert message.startswith(f"{path}:"), message
    assert re.search(rf"(:{line}:|line {line}\b)", message) and fault in message, message


def test_the_app_refuses_to_start_on_a_bad_sites_file(tmp_path):
    path = tmp_path / "sites.toml"
    path.write_text('[sites.aide]\ncorpus = ["a"]\nmax_top_k = 500\n', encoding="utf-8")
    with pytest.raises(SitesError, match=":3: site 'aide': max_top_k"):
        create_app(Settings(sites_file=path), loader=fake_loader)


# --- answers ----------------------------------------------------------------------------------------


def test_a_question_to_a_site_is_answered_from_its_articles_only(client):
    articles = site_articles(client)
    assert all(articles.values()) and not (articles["mollet"] & articles["guide"]) and len(articles) == 3
    answered = 0
    for site_id, own in articles.items():
        for question in QUESTIONS:
            body = client.post(f"/sites/{site_id}/api/ask", json={"question": question}).json()
            cited = [p["doc_id"] for p in body["passages"]]
            if body["answered"]:
                answered += 1
                cited.append(body["answer"]["citation"]["doc_id"])
                citation = body["answer"]["citation"]
                own_url = client.app.state.sites[site_id].answerer.index.articles[citation["doc_id"]].url
                assert citation["url"].startswith(own_url or f"https://sourcier.test/sites/{site_id}/articles/")
            assert set(cited) <= own, (site_id, question, cited)
            if site_id == "guide":
                assert len(body["passages"]) <= 1  # the site's own top_k
    assert answered >= 3


def test_a_site_never_shows_another_sites_article(client):
    articles = site_articles(client)
    other = next(iter(articles["guide"]))
    assert client.get(f"/sites/guide/api/articles/{other}").status_code == 200
    assert_error(client.get(f"/sites/mollet/api/articles/{other}"), 404, "unknown_article")
    page = client.get(f"/sites/guide/articles/{other}")
    assert page.status_code == 200 and '<a href="/sites/guide/">' in page.text  # back to its site's page


UNKNOWN = [
    ("get", "/sites/inconnu/api/ask?q=bonjour"),
    ("post", "/sites/inconnu/api/ask"),
    ("get", "/sites/inconnu/api/suggest?q=mollet"),
    ("get", "/sites/inconnu/api/health"),
    ("get", "/sites/inconnu/api/articles/contractions-muscle-mollet"),
    ("get", "/sites/inconnu/widget.js"),
    ("get", "/sites/inconnu/"),
    ("get", "/sites/inconnu/api/editor/coverage"),
]


@pytest.mark.parametrize(("method", "path"), UNKNOWN)
def test_an_unknown_site_is_a_404_in_the_error_shape(client, method, path):
    response = getattr(client, method)(path, **({"json": {"question": "bonjour"}} if method == "post" else {}))
    assert_error(response, 404, "unknown_site")


def test_with_several_sites_the_root_routes_are_gone_but_health_names_every_site(client):
    assert_error(client.get("/api/ask", params={"q": "mollet"}), 404, "not_found")
    health = client.get("/api/health").json()
    assert set(health["sites"]) == {"mollet", "guide", "aide"}
    for site_id, served in client.app.state.sites.items():
        assert health["sites"][site_id]["index_version"] == served.answerer.index.version
        assert health["sites"][site_id]["url"] == f"/sites/{site_id}"
        one = client.get(f"/sites/{site_id}/api/health").json()
        assert one["index_version"] == served.answerer.index.version and one["status"] == "ok"
    paths = client.get("/openapi.json").json()["paths"]
    assert "/sites/{site}/api/ask" in paths and "/api/ask" not in paths
    parameters = paths["/sites/{site}/api/ask"]["get"]["parameters"]
    assert any(p["name"] == "site" and p["in"] == "path" for p in parameters)


def test_the_widget_tag_names_its_site(client):
    page = client.get("/sites/guide/").text
    assert 'data-sourcier-site="guide"' in page and "/sites/guide/widget.js?v=" in page
    assert "/sites/guide/articles/" in page and "/sites/mollet/" not in page
    script = client.get("/sites/guide/widget.js")
    assert script.status_code == 200 and "dataset.sourcierSite" in script.text


# --- kept apart: logs, votes, coverage, editors -------------------------------------------------------


def test_logs_votes_and_coverage_are_each_sites_own(client):
    client.get("/sites/mollet/api/ask", params={"q": "Quel nerf innerve le mollet ?"})
    client.get("/sites/guide/api/ask", params={"q": "Pourquoi le cœur s’accélère ?"})
    answer = client.get("/sites/mollet/api/ask", params={"q": "nerf tibial"}).json()["passages"][0]
    vote = {"question": "nerf tibial", "doc_id": answer["doc_id"], "start": answer["start"], "end": answer["end"]}
    assert client.post("/sites/mollet/api/feedback", json=vote | {"vote": -1}).status_code == 201
    assert_error(client.post("/sites/guide/api/feedback", json=vote | {"vote": -1}), 404, "unknown_article")
    assert client.app.state.query_log.flush(timeout=5)
    db = client.app.state.db
    assert [q.question for q in db.queries(site="mollet")] == ["Quel nerf innerve le mollet ?", "nerf tibial"]
    assert [q.question for q in db.queries(site="guide")] == ["Pourquoi le cœur s’accélère ?"]
    assert [(f.question, f.site) for f in db.feedback(site="mollet")] == [("nerf tibial", "mollet")]
    assert db.feedback(site="guide") == [] and db.queries() == []
    mollet = client.get("/sites/mollet/api/editor/coverage", headers={"Authorization": f"Bearer {TOKENS['mollet']}"})
    guide = client.get("/sites/guide/api/editor/coverage", headers={"Authorization": f"Bearer {TOKENS['guide']}"})
    assert mollet.status_code == guide.status_code == 200
    asked = {s: {q["question"] for q in r.json()["questions"]} for s, r in (("mollet", mollet), ("guide", guide))}
    assert asked == {
        "mollet": {"Quel nerf innerve le mollet ?", "nerf tibial"},
        "guide": {"Pourquoi le cœur s’accélère ?"},
    }


def test_one_sites_token_opens_nothing_of_another(client):
    mollet = {"Authorization": f"Bearer {TOKENS['mollet']}"}
    assert client.get("/sites/mollet/api/editor/coverage", headers=mollet).status_code == 200
    refused = client.get("/sites/guide/api/editor/coverage", headers=mollet)
    assert refused.status_code == 401 and "/sites/guide/editor/login" in refused.json()["error"]["message"]
    assert client.get("/sites/guide/editor/coverage", headers=mollet).status_code == 401
    assert_error(client.get("/sites/aide/api/editor/coverage", headers=mollet), 404, "not_found")  # no token: no pages
    login = client.post("/sites/mollet/editor/login", data={"token": TOKENS["mollet"]}, follow_redirects=False)
    assert login.status_code == 303 and login.headers["location"] == "/sites/mollet/editor/coverage"
    cookie = login.headers["set-cookie"]
    assert "Path=/sites/mollet/" in cookie and cookie.startswith("sourcier_editor_mollet=")
    assert client.get("/sites/mollet/editor/coverage").status_code == 200  # the session cookie
    assert client.get("/sites/guide/editor/coverage").status_code == 401
    stolen = cookie.split(";")[0].split("=", 1)[1]  # the same cookie value sent as the other site's
    client.cookies.clear()
    client.cookies.set("sourcier_editor_guide", stolen)
    assert client.get("/sites/guide/editor/coverage").status_code == 401
    assert client.post("/sites/guide/editor/login", data={"token": TOKENS["mollet"]}).status_code == 401


def test_cors_lets_each_site_be_called_by_its_own_origins_only(client):
    own = client.get("/sites/guide/api/health", headers={"Origin": "https://guide.example"})
    assert own.headers["access-control-allow-origin"] == "https://guide.example"
    other = client.get("/sites/mollet/api/health", headers={"Origin": "https://guide.example"})
    assert "access-control-allow-origin" not in other.headers
    preflight = {"Origin": "https://guide.example", "Access-Control-Request-Method": "POST"}
    assert client.options("/sites/guide/api/ask", headers=preflight).status_code == 200
    assert_error(client.options("/sites/mollet/api/ask", headers=preflight), 400, "cors_refused")
    assert "access-control-allow-origin" not in client.get("/sites/aide/api/health", headers=preflight).headers


def test_each_site_has_its_own_rate_limit(client):
    codes = [client.get("/sites/aide/api/ask", params={"q": "mot de passe"}).status_code for _ in range(8)]
    assert codes[:6] == [200] * 6 and codes[6:] == [429, 429]  # aide: a burst of 6
    assert client.get("/sites/mollet/api/ask", params={"q": "mollet"}).status_code == 200  # its own bucket


# --- one site's index swapped alone -----------------------------------------------------------------


def test_a_sites_new_index_is_swapped_in_without_touching_the_others(client, tmp_path):
    from index import store

    sites = client.app.state.sites
    before = {site_id: served.answerer for site_id, served in sites.items()}
    guide = sites["guide"].site.settings
    (tmp_path / "more").mkdir()
    (tmp_path / "more" / "nouveau.md").write_text("# Nouveau\n\nUn article tout neuf sur le vélo.\n", encoding="utf-8")
    reloader = IndexReloader(sites["guide"], guide)  # what the app's own watch does every few seconds
    store.save(build(load([FIXTURES, tmp_path / "more"]), FakeEncoder(), FAKE_CONFIG), guide.index_dir)
    result = reloader.check()
    assert result.loaded, result.message
    assert sites["guide"].answerer is not before["guide"] and "nouveau" in sites["guide"].answerer.index.articles
    assert all(sites[s].answerer is before[s] for s in ("mollet", "aide"))
    body = client.get("/sites/guide/api/ask", params={"q": "article tout neuf vélo"}).json()
    assert body["passages"][0]["doc_id"] in sites["guide"].answerer.index.articles
    assert_error(client.get("/sites/mollet/api/articles/nouveau"), 404, "unknown_article")


def test_sourcier_sites_lists_each_sites_index_articles_threshold_and_build(settings, monkeypatch, capsys):
    import json

    from index import store
    from service import cli

    monkeypatch.setenv("SOURCIER_SITES_FILE", str(settings.sites_file))
    monkeypatch.setenv("SOURCIER_DATA_DIR", str(settings.data_dir))
    sites = load_sites(settings)
    for site in ("mollet", "guide"):  # aide is not built yet
        store.save(build(load(sites[site].settings.corpus), FakeEncoder(), FAKE_CONFIG), sites[site].settings.index_dir)
    assert cli.main(["sites", "--json"]) == 1  # a site without an index is a failure to see
    rows = {row["id"]: row for row in json.loads(capsys.readouterr().out)}
    for site in ("mollet", "guide"):
        manifest = store.read_manifest(sites[site].settings.index_dir)
        assert rows[site]["index_version"] == manifest.version
        assert rows[site]["articles"] == manifest.corpus.articles and rows[site]["built_at"] == manifest.created_at
        assert rows[site]["url"] == f"/sites/{site}"
    assert rows["aide"]["index_version"] is None and "run `sourcier build`" in rows["aide"]["problem"]
    assert cli.main(["sites", "--site-id", "guide"]) == 0
    assert capsys.readouterr().out.splitlines()[1].startswith("guide ")
    assert cli.main(["sites", "--site-id", "nope"]) == 1
    assert "unknown site 'nope'" in capsys.readouterr().err


def test_with_a_sites_file_the_commands_ask_which_site(settings, monkeypatch, capsys):
    """Refused before any model is loaded: a question or a build needs its site."""
    from service import cli

    monkeypatch.setenv("SOURCIER_SITES_FILE", str(settings.sites_file))
    assert cli.main(["ask", "Quel nerf innerve le mollet ?"]) == 1
    assert "declares several sites: name one with --site-id (mollet, guide, aide)" in capsys.readouterr().err
    assert cli.main(["show", "x", "--site-id", "nope"]) == 1
    assert "unknown site 'nope'" in capsys.readouterr().err
    assert cli.main(["build", "--corpus", str(SEED)]) == 1  # a sites file builds its sites
    assert "--corpus: a site's source and folder come from the sites file" in capsys.readouterr().err
    monkeypatch.delenv("SOURCIER_SITES_FILE")
    assert cli.main(["ask", "Quel nerf ?", "--site-id", "mollet"]) == 1
    assert "--site-id needs a sites file" in capsys.readouterr().err
