"""corpus.site / corpus.wordpress against a real HTTP server on loopback (tests/website.py), never a mock."""

from __future__ import annotations

import json
import urllib.robotparser
from dataclasses import replace

import pytest

from corpus.crawlstate import CrawlState, StateEntry
from corpus.fetcher import retry_after
from corpus.load import CorpusError
from corpus.robots import parse_robots, product_token
from corpus.site import FetchOptions, fetch_site, url_article_id
from corpus.sitemap import SitemapError, parse_sitemap
from corpus.webpage import decode_html
from corpus.wordpress import fetch_wordpress
from tests.website import UA, Website, ids, opts, page_html, reasons, wp_post

# -- pure parts --------------------------------------------------------------------------------------------


def test_robots_longest_match_wins_unlike_urllib_robotparser():
    text = "User-agent: *\nDisallow: /\nAllow: /aide/\nDisallow: /*.pdf$\nDisallow: /tmp\nAllow: /tmp\n"
    robots = parse_robots(text, UA)
    assert robots.allowed("https://s.fr/aide/conges.html")  # the longer Allow wins
    assert not robots.allowed("https://s.fr/contact.html")
    assert not robots.allowed("https://s.fr/aide/guide.pdf")  # wildcard and end anchor
    assert robots.allowed("https://s.fr/aide/guide.pdf?v=2")
    assert robots.allowed("https://s.fr/tmp/x")  # a tie goes to Allow
    assert robots.allowed("https://s.fr/robots.txt")
    stdlib = urllib.robotparser.RobotFileParser()
    stdlib.parse(text.splitlines())
    assert not stdlib.can_fetch(UA, "https://s.fr/aide/conges.html")  # first match in file order: why not urllib


def test_robots_groups_our_token_and_crawl_delay():
    text = "User-agent: *\nDisallow: /\n\nUser-agent: Sourcier\nUser-agent: other\nDisallow: /prive/\nCrawl-delay: 2\n"
    robots = parse_robots(text + "Sitemap: https://s.fr/sm.xml\n", UA)
    assert product_token(UA) == "sourcier"
    assert robots.allowed("https://s.fr/aide/") and not robots.allowed("https://s.fr/prive/x")
    assert robots.crawl_delay == 2 and robots.sitemaps == ("https://s.fr/sm.xml",)
    assert not parse_robots(text, "AutreBot/1.0").allowed("https://s.fr/aide/")
    assert parse_robots("garbage\nDisallow: /x\n", UA).allowed("https://s.fr/x")  # a rule outside any group


def test_url_article_id_rules():
    assert url_article_id("https://s.fr/") == "index"
    assert url_article_id("https://s.fr/index.html") == "index"
    assert url_article_id("https://s.fr/guides/index.html") == "guides"
    assert url_article_id("https://s.fr/guides/") == "guides"
    assert url_article_id("https://s.fr/Guides/Arr%C3%AAt%20maladie.html?utm=1#x") == "guides/arret-maladie"
    assert url_article_id("https://s.fr/blog/le-c%C5%93ur/") == "blog/le-coeur"
    assert url_article_id("https://s.fr/fiche.php?id=3") == url_article_id("https://s.fr/fiche.php?id=4") == "fiche"


def test_decoding_never_fails_and_says_when_it_guessed():
    latin = "Congés payés – œuvre".encode("cp1252")
    wrong = decode_html(latin, "text/html; charset=utf-8")
    assert wrong.text == "Congés payés – œuvre" and wrong.encoding == "cp1252" and "utf-8" in (wrong.note or "")
    meta = decode_html(b'<meta charset="iso-8859-1"><p>' + "Été".encode("latin-1"), "text/html")
    assert "Été" in meta.text and meta.note is None
    assert decode_html("<p>Noël ❤️</p>".encode(), "text/html").text == "<p>Noël ❤️</p>"
    unknown = decode_html("é".encode(), "text/html; charset=klingon")
    assert unknown.text == "é" and "klingon" in (unknown.note or "")
    assert decode_html(b"\xef\xbb\xbf<p>\xc3\xa9</p>").text == "<p>é</p>"


def test_sitemap_parsing_and_retry_after():
    sitemap = parse_sitemap(b"<urlset><url><loc> https://s.fr/a </loc><lastmod>2024-01-01</lastmod></url></urlset>")
    assert [(e.url, e.lastmod) for e in sitemap.urls] == [("https://s.fr/a", "2024-01-01")]
    assert parse_sitemap(b"https://s.fr/a\nhttps://s.fr/b\n").urls[1].url == "https://s.fr/b"
    with pytest.raises(SitemapError):
        parse_sitemap(b"<urlset><url>")
    assert retry_after("120") == 120.0
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == pytest.approx(10.0)
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # a date in the past: no wait
    assert retry_after("bientôt") is None and retry_after(None) is None


# -- a first fetch -----------------------------------------------------------------------------------------


def test_sitemap_fetch_of_the_help_site(site):
    calls: list[tuple[int, int | None]] = []
    result = fetch_site(site.url("/"), opts(), progress=lambda done, total: calls.append((done, total)))
    assert result.discovery == "sitemap"
    assert ids(result) == {
        "articles/arret-maladie",
        "articles/coeur-et-effort",
        "articles/conges-payes",
        "guides",
        "index",
        "guides/deep",
    }
    page = next(p for p in result.pages if p.article_id == "articles/coeur-et-effort")
    assert "Le cœur et l’effort ❤️" in page.html and page.encoding == "utf-8" and page.encoding_note is None
    assert page.lastmod == "2024-09-02" and page.etag and page.last_modified and len(page.sha256) == 64
    assert page.final_url == page.url == site.url("/articles/coeur-et-effort.html") and page.status == 200
    assert reasons(result) == {site.url("/prive/secret.html"): "robots", site.url("/mentions-legales.html"): "noindex"}
    paths = site.paths()
    assert paths[0] == "/robots.txt" and "/sitemaps/articles.xml.gz" in paths
    assert "/prive/secret.html" not in paths and not any("ailleurs" in p for p in paths)
    assert all(r.headers["user-agent"] == UA for r in site.requests)
    assert result.requests == len(site.requests) and result.bytes > 5000
    assert result.crawl_delay == 0.05
    starts = sorted(r.time for r in site.requests[1:])
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    assert min(gaps) >= 0.03 and sum(gaps) / len(gaps) >= 0.045  # Crawl-delay: 0.05 (arrival jitter tolerated)
    assert calls and calls[-1] == (len(calls), 8) and [c[0] for c in calls] == list(range(1, len(calls) + 1))
    assert set(result.state.entries) == {p.url for p in result.pages}
    assert result.state.entries[page.url].lastmod == "2024-09-02"


def test_crawl_follows_same_host_links_to_the_depth_limit(site):
    result = fetch_site(site.url("/"), opts(crawl=True, max_depth=1))
    assert result.discovery == "crawl"
    assert ids(result) == {
        "index",
        "articles/arret-maladie",
        "articles/coeur-et-effort",
        "articles/conges-payes",
        "guides",
    }
    paths = site.paths()
    assert "/guides/deep.html" not in paths  # two links away
    assert "/articles/brouillon.html" not in paths  # rel=nofollow
    assert "/docs/guide.pdf" not in paths and "/prive/secret.html" not in paths
    assert paths.count("/articles/conges-payes.html") == 1  # the #fragment link is the same page
    assert not any("sitemap" in p for p in paths)
    assert reasons(result)[site.url("/prive/secret.html")] == "robots"
    assert reasons(result)[site.url("/mentions-legales.html")] == "noindex"
    assert site.url("/guides/deep.html") in fetch_site(site.url("/"), opts(crawl=True, max_depth=2)).state.entries


def test_without_a_sitemap_the_site_is_crawled(site):
    site.sitemaps = False
    site.robots = site.robots.replace(f"Sitemap: {site.base}/sitemap_index.xml", "")
    result = fetch_site(site.url("/"), opts())
    assert result.discovery == "crawl (no sitemap)" and "index" in ids(result)
    assert "/sitemap.xml" in site.paths() and any("no readable sitemap" in note for note in result.notes)


def test_include_exclude_and_max_pages(site):
    result = fetch_site(site.url("/"), opts(include=(r"/articles/",), exclude=(r"conges",)))
    assert ids(result) == {"articles/arret-maladie", "articles/coeur-et-effort"}
    assert reasons(result)[site.url("/articles/conges-payes.html")] == "excluded"
    assert "/articles/conges-payes.html" not in site.paths()
    limited = fetch_site(site.url("/"), opts(max_pages=2))
    assert len(limited.pages) == 2 and list(reasons(limited).values()).count("max-pages") == 5


# -- refresh -----------------------------------------------------------------------------------------------


def test_refresh_fetches_only_what_changed(site, tmp_path):
    first = fetch_site(site.url("/"), opts())
    first.state.save(tmp_path / "crawl.json")
    state = CrawlState.load(tmp_path / "crawl.json")
    assert state == first.state
    site.clear()
    # a page edited (its sitemap lastmod moves), one added, one removed; the rest untouched
    site.set_page(
        "/articles/conges-payes.html",
        page_html("Congés payés", ["Nouvelle règle."]),
        sitemap="articles",
        lastmod="2024-10-01",
    )
    site.set_page(
        "/articles/nouveau.html",
        page_html("Nouvel article", ["Ajouté depuis."]),
        sitemap="articles",
        lastmod="2024-10-02",
    )
    site.remove("/articles/arret-maladie.html")
    second = fetch_site(site.url("/"), opts(), state)
    assert {p.url for p in second.pages} == {
        site.url("/articles/conges-payes.html"),
        site.url("/articles/nouveau.html"),
    }
    assert second.gone == [site.url("/articles/arret-maladie.html")]
    assert set(second.unchanged) == {
        site.url(p) for p in ("/articles/coeur-et-effort.html", "/", "/guides/", "/guides/deep.html")
    }
    paths = site.paths()
    assert "/articles/coeur-et-effort.html" not in paths  # same <lastmod>: no request at all
    for path in ("/", "/guides/"):  # no <lastmod>: a conditional request answered 304
        (request,) = site.requested(path)
        assert request.headers["if-none-match"] and request.headers["if-modified-since"]
    assert second.requests == len(paths) == 10  # robots, 3 sitemaps, 2 new bodies, 3 × 304, noindex page
    assert second.requests < first.requests and second.bytes < first.bytes / 2
    assert site.url("/articles/arret-maladie.html") not in second.state.entries
    assert second.state.entries[site.url("/articles/conges-payes.html")].lastmod == "2024-10-01"


def test_refresh_by_crawl_sees_deletions_and_last_modified_only(site):
    site.resources["/guides/"].etag = ""  # this page has only Last-Modified
    first = fetch_site(site.url("/"), opts(crawl=True))
    site.clear()
    site.remove("/guides/deep.html")
    second = fetch_site(site.url("/"), opts(crawl=True), first.state)
    assert second.pages == [] and second.gone == [site.url("/guides/deep.html")]
    (guides,) = site.requested("/guides/")
    assert "if-none-match" not in guides.headers and guides.headers["if-modified-since"]
    assert site.url("/articles/conges-payes.html") in second.unchanged  # reached through the home page's stored links


def test_same_bytes_without_validators_is_unchanged_and_a_passing_failure_keeps_the_article(site):
    for resource in site.resources.values():
        resource.etag, resource.last_modified = "", None
    first = fetch_site(site.url("/"), opts(crawl=True, retries=1))
    site.fail("/guides/", 503, times=2)
    second = fetch_site(site.url("/"), opts(crawl=True, retries=1), first.state)
    assert second.pages == [] and reasons(second)[site.url("/guides/")] == "server-error"
    assert (
        second.kept == [site.url("/guides/")]
        and second.state.entries[site.url("/guides/")] == first.state.entries[site.url("/guides/")]
    )
    assert site.url("/") in second.unchanged and second.gone == []


def test_state_file_is_atomic_and_checked(tmp_path):
    path = tmp_path / "var" / "crawl.json"
    state = CrawlState(
        "https://s.fr/", {"https://s.fr/a": StateEntry("a", '"e"', None, "0" * 64, "2024-01-01", None, ["x"])}
    )
    state.save(path)
    assert CrawlState.load(path) == state and list(path.parent.iterdir()) == [path]
    assert json.loads(path.read_text())["pages"]["https://s.fr/a"]["etag"] == '"e"'
    assert CrawlState.load(tmp_path / "none.json") == CrawlState()
    path.write_text("{broken")
    with pytest.raises(CorpusError, match="crawl.json"):
        CrawlState.load(path)


# -- WordPress ---------------------------------------------------------------------------------------------


@pytest.fixture
def blog():
    with Website() as website:
        website.robots = "User-agent: *\nDisallow: /wp-admin/\n"
        posts = [
            wp_post(i, f"billet-{i}", f"Billet n° {i} : l’été", f"Texte du billet {i}, avec œuf et 🎉.")
            for i in range(1, 151)
        ]
        posts.append(wp_post(500, "prive", "Protégé", "secret", content={"rendered": "", "protected": True}))
        posts.append(wp_post(501, "brouillon", "Brouillon", "pas fini", status="draft"))
        website.wp["posts"] = posts
        website.wp["pages"] = [wp_post(900, "a-propos", "À propos", "Qui sommes-nous ?", kind="pages")]
        yield website


def test_wordpress_listing_then_contents_and_refresh_by_modified_gmt(blog):
    first = fetch_wordpress(blog.base, opts(max_bytes=1_000_000, max_pages=1000))
    assert first.discovery == "wordpress" and len(first.pages) == 151
    page = next(p for p in first.pages if p.article_id == "blog/billet-7")
    assert page.url == blog.url("/blog/billet-7/") == page.canonical_url
    assert "<title>Billet n° 7 : l’été</title>" in page.html and "<article><h1>Billet n° 7 : l’été</h1>" in page.html
    assert "œuf et 🎉" in page.html and f'<link rel="canonical" href="{page.url}">' in page.html
    assert page.lastmod == "2024-09-01T10:00:00"
    assert reasons(first) == {blog.url("/blog/prive/"): "protected", blog.url("/blog/brouillon/"): "draft"}
    listing = [p for p in blog.paths() if p.endswith("_fields=id,link,modified_gmt,status")]
    assert len(listing) == 3 and all("per_page=100" in p for p in listing)
    assert first.requests == 1 + 3 + 2 + 1  # robots, listings (2 of posts, 1 of pages), contents (2 + 1)
    blog.clear()
    posts = blog.wp["posts"]
    posts[6] = dict(
        posts[6], modified_gmt="2024-10-01T09:00:00", content={"rendered": "<p>Mis à jour.</p>", "protected": False}
    )
    del posts[10]  # billet-11 deleted
    posts.append(wp_post(151, "billet-151", "Nouveau", "Tout neuf."))
    second = fetch_wordpress(blog.base, opts(max_bytes=1_000_000, max_pages=1000), first.state)
    assert {p.article_id for p in second.pages} == {"blog/billet-7", "blog/billet-151"}
    assert "Mis à jour." in next(p.html for p in second.pages if p.article_id == "blog/billet-7")
    assert second.gone == [blog.url("/blog/billet-11/")] and len(second.unchanged) == 149
    # the protected post (500) is asked again: it may have become public
    assert second.requests == 1 + 3 + 1 and any("include=7,500,151&" in p for p in blog.paths())


def test_wordpress_without_total_pages_header_stops_at_the_400(blog):
    blog.wp_total_pages_header = False
    result = fetch_wordpress(blog.base, opts(max_bytes=1_000_000, max_pages=1000))
    assert (
        len(result.pages) == 151 and result.skipped and all(s.reason in ("draft", "protected") for s in result.skipped)
    )
    assert any("page=3" in p and "/posts" in p for p in blog.paths())  # past the end: the 400, then stop


def test_not_a_wordpress_site_and_a_disallowed_api(site):
    site.wp = {}
    result = fetch_wordpress(site.base, opts())
    assert result.pages == [] and [s.reason for s in result.skipped] == ["not-wordpress"]
    site.robots += "User-agent: *\nDisallow: /wp-json/\n"
    site.clear()
    refused = fetch_wordpress(site.base, opts())
    assert [s.reason for s in refused.skipped] == ["robots"] and site.paths() == ["/robots.txt"]


def test_options_have_no_defaults():
    with pytest.raises(TypeError):
        FetchOptions()  # type: ignore[call-arg]
    assert replace(opts(), crawl=True).crawl
