"""`sourcier build --site` / `--wordpress` end to end, against a real HTTP server on loopback (tests/website.py):
the first build, a refresh after one page is edited, one added and one removed, a site that went down
(the build refused, the index and the crawl state kept), and a WordPress blog."""

from __future__ import annotations

import json

import pytest

from index import store
from index.manifest import read_manifest
from service import cli
from service.cli_website import state_path
from service.settings import Settings
from tests.conftest import FakeEncoder
from tests.website import Website, page_html, wp_post


@pytest.fixture
def env(monkeypatch, tmp_path):
    monkeypatch.setenv("SOURCIER_MODEL", "fake-trigram")
    monkeypatch.setenv("SOURCIER_FETCH_TIMEOUT", "0.5")
    monkeypatch.setenv("SOURCIER_FETCH_BACKOFF", "0.01")
    monkeypatch.setenv("SOURCIER_FETCH_MAX_DELAY", "0.2")
    monkeypatch.setenv("SOURCIER_FETCH_RETRIES", "1")
    monkeypatch.setattr(Settings, "load_encoder", lambda self: FakeEncoder())
    return tmp_path / "index"


def build(capsys, index, *args: str) -> tuple[int, dict]:
    capsys.readouterr()
    code = cli.main(["build", "--index", str(index), "--json", *args])
    out = capsys.readouterr().out
    return code, (json.loads(out) if code == 0 else {})


def test_a_site_is_built_then_refreshed_by_what_changed(env, capsys):
    index = env
    with Website() as site:
        site.build_help_site()
        code, first = build(capsys, index, "--site", site.url("/"))
        assert code == 0, capsys.readouterr().err
        articles = store.indexed_articles(index)
        assert {"articles/arret-maladie", "articles/conges-payes", "articles/coeur-et-effort"} <= set(articles)
        assert "prive/secret" not in articles and "mentions-legales" not in articles  # robots, noindex
        assert first["skipped_by_reason"]["noindex"] == 1 and first["index"]["built"]
        sick = articles["articles/arret-maladie"]
        assert sick.url == site.url("/articles/arret-maladie.html") and sick.title == "Arrêt maladie : vos droits"
        assert "L’employeur doit être prévenu" in sick.text and "n'a pas à justifier" in sick.text
        for chrome in ("cookies", "Laisser un commentaire", "Tous droits réservés", "Accueil"):
            assert chrome not in sick.text  # the page's theme is not the article
        heart = articles["articles/coeur-et-effort"]
        assert "œuvre" in heart.text and "💪" in heart.text
        assert state_path(index).is_file()

        site.clear()
        site.set_page(
            "/articles/conges-payes.html",
            page_html("Congés payés", ["La cinquième semaine se prend à part, entre le 1er novembre et le 30 avril."]),
            sitemap="articles",
            lastmod="2024-10-01",
        )
        site.set_page(
            "/articles/teletravail.html",
            page_html("Télétravail", ["Le télétravail est mis en place par un accord collectif ou une charte."]),
            sitemap="articles",
            lastmod="2024-10-02",
        )
        site.remove("/articles/arret-maladie.html")
        code, second = build(capsys, index, "--site", site.url("/"))
        assert code == 0
        assert (second["fetched"], second["extracted"], second["gone"]) == (2, 2, 1)
        assert second["unchanged"] == first["fetched"] - 2  # all but the edited and the removed page
        assert second["requests"] < first["requests"] and second["bytes"] < first["bytes"]
        built = second["index"]
        assert built["built"] and 0 < built["embedded"] < built["reused"]  # only the two pages' new sentences
        now = store.indexed_articles(index)
        assert set(now) == set(articles) - {"articles/arret-maladie"} | {"articles/teletravail"}
        assert now["articles/coeur-et-effort"] == heart  # carried over, not fetched again
        assert "cinquième semaine" in now["articles/conges-payes"].text
        assert not [p for p in site.paths() if p == "/articles/coeur-et-effort.html"]  # same <lastmod>

        code, third = build(capsys, index, "--site", site.url("/"))  # nothing changed: nothing rebuilt
        assert code == 0 and not third["index"]["built"] and third["fetched"] == 0


def test_a_site_gone_down_keeps_the_index_and_the_state(env, capsys):
    index = env
    with Website() as site:
        site.build_help_site()
        url = site.url("/")
        assert build(capsys, index, "--site", url)[0] == 0
    version, state = read_manifest(index).version, state_path(index).read_bytes()
    # the server is stopped: robots.txt does not answer, nothing can be fetched
    capsys.readouterr()
    assert cli.main(["build", "--index", str(index), "--site", url, "--quiet"]) == 1
    assert "cannot be read (robots-unreachable" in capsys.readouterr().err
    assert read_manifest(index).version == version and state_path(index).read_bytes() == state


def test_a_build_that_loses_most_pages_is_refused(env, capsys):
    index = env
    with Website() as site:
        site.build_help_site()
        assert build(capsys, index, "--site", site.url("/"))[0] == 0
        version = read_manifest(index).version
        for path in [p for p in list(site.resources) if p.startswith("/articles/") or p.startswith("/guides/")]:
            site.remove(path)
        capsys.readouterr()
        assert cli.main(["build", "--index", str(index), "--site", site.url("/"), "--quiet"]) == 1
        err = capsys.readouterr().err
        assert "SOURCIER_SITE_MIN_KEPT" in err and "current index stays" in err
        assert read_manifest(index).version == version
        assert "articles/arret-maladie" in store.indexed_articles(index)


def test_a_wordpress_blog_is_built_from_its_rest_api(env, capsys):
    index = env
    with Website() as blog:
        blog.wp["posts"] = [
            wp_post(1, "crampes", "Crampes nocturnes", "Une crampe la nuit se soulage en étirant le mollet."),
            wp_post(2, "brouillon", "Brouillon", "Pas encore publié.", status="draft"),
        ]
        blog.wp["pages"] = [wp_post(3, "a-propos", "À propos", "Ce blog parle de santé au quotidien.", kind="pages")]
        code, summary = build(capsys, index, "--wordpress", blog.url(""))
        assert code == 0, capsys.readouterr().err
        articles = store.indexed_articles(index)
        assert set(articles) == {"blog/crampes", "a-propos"}
        assert articles["blog/crampes"].url == blog.url("/blog/crampes/")
        assert "étirant le mollet" in articles["blog/crampes"].text
        assert summary["skipped_by_reason"] == {"draft": 1}


def test_site_options_need_a_site_and_exclude_a_corpus(env, capsys):
    assert cli.main(["build", "--index", str(env), "--crawl"]) == 1
    assert "go with --site" in capsys.readouterr().err
    assert cli.main(["build", "--index", str(env), "--corpus", "x", "--site", "http://127.0.0.1:9/"]) == 1
    assert "built from one of them" in capsys.readouterr().err


@pytest.mark.slow
def test_with_the_real_model_an_answer_from_a_site_links_to_the_live_page(tmp_path, monkeypatch, capsys):
    """The whole path on the configured runtime: fetched, extracted, embedded, answered, cited by the page's URL."""
    from service.startup import load_answerer

    index = tmp_path / "index"
    monkeypatch.setenv("SOURCIER_FETCH_BACKOFF", "0.01")
    with Website() as site:
        site.build_help_site()
        code, summary = build(capsys, index, "--site", site.url("/"))
        assert code == 0 and summary["index"]["built"]
    answerer = load_answerer(Settings(index_dir=index, threshold=0.0))
    result = answerer.answer("Combien de jours de carence avant les indemnités journalières ?")
    answer = result.answer
    assert result.answered and answer is not None and "carence de trois jours" in answer.text
    citation = answer.citation
    assert answerer.index.articles[citation.doc_id].text[citation.start : citation.end] == answer.text
    assert citation.url.startswith(site.url("/articles/arret-maladie.html") + "#:~:text=")
