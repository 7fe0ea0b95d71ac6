"""Faults while fetching a site — every one a skipped URL with a reason, never an exception — against a real
HTTP server on loopback (tests/website.py): errors, redirects, sizes, charsets, robots.txt answers, crawl
delay, concurrency, a site going down mid-crawl."""

from __future__ import annotations

import time

from corpus.fetcher import REASONS
from corpus.site import fetch_site
from tests.website import opts, page_html, reasons


def test_every_fault_is_a_skip_with_a_reason(site):
    def fault(path: str, text: str | bytes, **kw):
        site.set_page(path, text, **kw)

    site.fail("/faults/rate-limited.html", 429, {"Retry-After": "1"})
    fault("/faults/rate-limited.html", page_html("Patience", ["Après un 429."]))
    site.fail("/faults/unavailable.html", 503)
    fault("/faults/unavailable.html", page_html("Retour", ["Après un 503."]))
    site.fail("/faults/down.html", 502, times=10)
    fault("/faults/down.html", page_html("Jamais", ["Toujours 502."]))
    fault("/faults/missing.html", b"", status=404)
    fault("/faults/gone.html", b"", status=410)
    fault("/faults/forbidden.html", b"", status=403)
    fault("/faults/slow.html", page_html("Lent", ["Trop lent."]), delay=1.0)
    fault("/faults/doc.pdf", b"%PDF-1.4", content_type="application/pdf")
    fault("/faults/data.html", b'{"a": 1}', content_type="application/json")
    fault("/faults/huge.html", b"<p>" + b"x" * 300_000)
    fault("/faults/huge-stream.html", b"<p>" + b"x" * 300_000, content_length=False)
    fault("/faults/latin1.html", page_html("Congés", ["Été – œuvre"]).encode("cp1252"))
    latin_meta = page_html("Noël", ["Fête"]).replace(
        '<meta charset="utf-8">', '<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1">'
    )
    fault("/faults/latin1-meta.html", latin_meta.encode("cp1252"), content_type="text/html")
    fault(
        "/faults/canonical-off.html",
        page_html("Ailleurs", ["x"], extra_head='<link rel="canonical" href="https://ailleurs.example/x">'),
    )
    fault("/faults/alias.html?utm=1", b"")  # listed below with a query string
    fault(
        "/faults/alias.html", page_html("Alias", ["y"], extra_head='<link rel="canonical" href="/faults/target.html">')
    )
    fault("/faults/target.html", page_html("Cible", ["z"]))
    fault("/faults/nouvelle-adresse.html", page_html("Déplacée", ["Après deux redirections."]), sitemap=None)
    fault("/faults/noindex-header.html", page_html("Caché", ["h"]), headers={"X-Robots-Tag": "noindex"})
    for path, (status, target) in {
        "/faults/moved.html": (301, "/faults/moved-2.html"),
        "/faults/moved-2.html": (302, "/faults/nouvelle-adresse.html"),
        "/faults/loop-a.html": (302, "/faults/loop-b.html"),
        "/faults/loop-b.html": (302, "/faults/loop-a.html"),
        "/faults/away.html": (302, "https://ailleurs.example/"),
        "/faults/to-private.html": (302, "/prive/secret.html"),
        "/faults/r1.html": (302, "/faults/r2.html"),
        "/faults/r2.html": (302, "/faults/r3.html"),
        "/faults/r3.html": (302, "/faults/target.html"),
    }.items():
        site.redirects[path] = (status, target)
        site.resources.pop(path, None)
    site.extra_sitemap_urls = [site.url(p) for p in site.redirects] + [
        site.url("/faults/alias.html?utm=1"),
        "https://ailleurs.example/page.html",
    ]
    site.resources.pop("/faults/alias.html?utm=1")
    started = time.monotonic()
    result = fetch_site(
        site.url("/"), opts(timeout=0.3, retries=2, max_delay=0.3, max_redirects=2, max_bytes=200_000, concurrency=8)
    )
    assert time.monotonic() - started < 8
    why = reasons(result)
    expected = {
        "/faults/down.html": "server-error",
        "/faults/missing.html": "not-found",
        "/faults/gone.html": "not-found",
        "/faults/forbidden.html": "client-error",
        "/faults/slow.html": "timeout",
        "/faults/doc.pdf": "not-html",
        "/faults/data.html": "not-html",
        "/faults/huge.html": "too-large",
        "/faults/huge-stream.html": "too-large",
        "/faults/loop-a.html": "redirect-loop",
        "/faults/loop-b.html": "redirect-loop",
        "/faults/away.html": "off-host",
        "/faults/to-private.html": "robots",
        "/faults/r1.html": "too-many-redirects",
        "/faults/noindex-header.html": "noindex",
        "/faults/target.html": "duplicate",  # /faults/alias.html says it is the canonical of the same article
        "/faults/alias.html?utm=1": "duplicate",
    }
    for path, reason in expected.items():
        assert why.get(site.url(path)) == reason, path
    assert why["https://ailleurs.example/page.html"] == "off-host"
    assert all(reason in REASONS for reason in why.values())
    pages = {p.url.removeprefix(site.base): p for p in result.pages}
    assert pages["/faults/moved.html"].final_url == site.url("/faults/nouvelle-adresse.html")
    assert pages["/faults/moved.html"].article_id == "faults/nouvelle-adresse"
    assert why[site.url("/faults/moved-2.html")] == "duplicate"  # the same page by a shorter way
    assert "Été – œuvre" in pages["/faults/latin1.html"].html and pages["/faults/latin1.html"].encoding_note
    assert "Fête" in pages["/faults/latin1-meta.html"].html and pages["/faults/latin1-meta.html"].encoding_note is None
    assert pages["/faults/canonical-off.html"].canonical_url is None
    assert pages["/faults/alias.html"].canonical_url == site.url("/faults/target.html")
    assert pages["/faults/alias.html"].article_id == "faults/target"
    assert "/faults/unavailable.html" in pages and "/faults/rate-limited.html" in pages
    (first, second) = site.requested("/faults/rate-limited.html")
    assert second.time - first.time >= 0.25  # Retry-After: 1, capped at max_delay=0.3
    assert any("Retry-After of 1 s capped" in note for note in result.notes)
    assert len(site.requested("/faults/down.html")) == 3  # 1 + retries
    assert "/prive/secret.html" not in site.paths()


def test_robots_txt_5xx_skips_the_site_and_404_allows_all(site):
    site.robots_status = 503
    result = fetch_site(site.url("/"), opts(retries=1))
    assert result.pages == [] and [s.reason for s in result.skipped] == ["robots-unreachable"]
    assert set(site.paths()) == {"/robots.txt"} and len(site.paths()) == 2
    site.robots, site.robots_status = None, 200
    site.clear()
    allowed = fetch_site(site.url("/"), opts(crawl=True))
    assert site.url("/prive/secret.html") in {p.url for p in allowed.pages}
    assert any("no robots.txt" in note for note in allowed.notes) and allowed.crawl_delay == 0


def test_crawl_delay_is_capped_and_reported(site):
    site.robots = site.robots.replace("Crawl-delay: 0.05", "Crawl-delay: 30")
    result = fetch_site(site.url("/"), opts(include=("arret",), max_delay=0.1))
    assert result.crawl_delay == 0.1 and any("Crawl-delay of 30 s capped" in n for n in result.notes)


def test_concurrency_is_bounded(site):
    site.robots = site.robots.replace("Crawl-delay: 0.05\n", "")
    for resource in site.resources.values():
        resource.delay = 0.1
    result = fetch_site(site.url("/"), opts(concurrency=2))
    assert len(result.pages) == 6 and site.max_in_flight == 2
    site.max_in_flight = 0
    fetch_site(site.url("/"), opts(concurrency=1))
    assert site.max_in_flight == 1


def test_a_site_going_down_mid_crawl_still_gives_a_result(site):
    def stop_after_two(done, total):
        if sum(1 for p in site.paths() if not p.startswith(("/robots", "/sitemap"))) == 2:
            site.stop()

    started = time.monotonic()
    result = fetch_site(site.url("/"), opts(concurrency=1, retries=2), progress=stop_after_two)
    assert time.monotonic() - started < 5
    assert len(result.pages) == 2
    down = [s for s in result.skipped if s.reason in ("site-down", "connection")]
    assert len(down) == 5 and {s.reason for s in down} == {"site-down", "connection"}
