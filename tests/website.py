"""A small French help site served by a real HTTP server on loopback, for the site-fetching tests.

``Website`` holds the site (pages, redirects, faults, robots.txt, sitemaps, a WordPress-shaped REST API)
and records every request it receives (method, path, headers, time) so that tests can check what a
crawler did on the wire: conditional headers, robots.txt rules, crawl delay, concurrency. Everything can
be changed between two fetches (``set_page``, ``remove``) to test a refresh. Never a mocked client.
"""

from __future__ import annotations

import email.utils
import gzip
import hashlib
import html
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from corpus.fetched import SiteResult
from corpus.fetcher import FetchOptions

LAST_MODIFIED = "Mon, 02 Sep 2024 08:00:00 GMT"


@dataclass
class Resource:
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None  # None: computed from the body; "" for none at all
    last_modified: str | None = LAST_MODIFIED
    sitemap: str | None = "pages"  # "articles" (the .xml.gz sitemap), "pages" (the plain one) or None
    lastmod: str | None = None
    delay: float = 0.0
    content_length: bool = True  # False: no Content-Length, the body ends when the connection closes


@dataclass
class Recorded:
    method: str
    path: str  # with the query string
    headers: dict[str, str]  # lower-cased names
    time: float  # time.monotonic() when the request arrived


NAV = [("/", "Accueil"), ("/articles/arret-maladie.html", "Arrêt maladie"), ("/guides/", "Guides")]

ARTICLES = {
    "/articles/arret-maladie.html": (
        "Arrêt maladie : vos droits",
        [
            "L’employeur doit être prévenu dans les 48 heures qui suivent l’arrêt de travail.",
            "Le salarié n'a pas à justifier la nature de sa maladie auprès de son employeur.",
            "Les indemnités journalières sont versées après un délai de carence de trois jours.",
        ],
    ),
    "/articles/coeur-et-effort.html": (
        "Le cœur et l’effort ❤️",
        [
            "Un cœur entraîné bat plus lentement au repos : c’est l’un des bienfaits de l’œuvre d’endurance.",
            "Avant un effort intense, un échauffement de dix minutes prépare le muscle cardiaque 💪.",
        ],
    ),
    "/articles/conges-payes.html": (
        "Congés payés",
        [
            "Chaque salarié acquiert deux jours et demi ouvrables de congé par mois de travail effectif.",
            "La période de prise des congés comprend obligatoirement la période du 1er mai au 31 octobre.",
        ],
    ),
}


def page_html(title: str, paragraphs: list[str], extra_head: str = "", extra_body: str = "") -> str:
    """An article page as a WordPress theme renders it: cookie banner, navigation, article, comment
    form, footer."""
    nav = " ".join(f'<a href="{href}">{html.escape(label)}</a>' for href, label in NAV)
    body = "\n".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    return f"""<!DOCTYPE html>
<html lang="fr"><head><meta charset="utf-8"><title>{html.escape(title)} – Aide Exemple</title>{extra_head}</head>
<body>
<div class="cookie-banner">Nous utilisons des cookies pour améliorer votre expérience. <button>Accepter</button></div>
<nav class="menu">{nav}</nav>
<main><article><h1>{html.escape(title)}</h1>
{body}
{extra_body}
</article>
<div id="respond" class="comment-respond"><h3>Laisser un commentaire</h3>
<p>Votre adresse e-mail ne sera pas publiée. Les champs obligatoires sont indiqués avec *</p>
<form action="/wp-comments-post.php" method="post"><textarea name="comment"></textarea>
<input type="submit" value="Publier le commentaire"></form></div></main>
<footer>© 2024 Aide Exemple — Tous droits réservés. <a href="/mentions-legales.html">Mentions légales</a></footer>
</body></html>
"""


def robots_txt(base: str, crawl_delay: float | None = 0.05, sitemap: bool = True) -> str:
    lines = ["User-agent: *", "Disallow: /prive/", "Allow: /prive/public.html"]
    if crawl_delay is not None:
        lines.append(f"Crawl-delay: {crawl_delay}")
    lines += ["", "User-agent: autrebot", "Disallow: /", ""]
    if sitemap:
        lines.append(f"Sitemap: {base}/sitemap_index.xml")
    return "\n".join(lines) + "\n"


def wp_post(post_id: int, slug: str, title: str, text: str, kind: str = "posts", **extra: Any) -> dict[str, Any]:
    return {
        "id": post_id,
        "link": f"/{'' if kind == 'pages' else 'blog/'}{slug}/",
        "modified_gmt": "2024-09-01T10:00:00",
        "status": "publish",
        "title": {"rendered": html.escape(title)},
        "content": {"rendered": f"<p>{html.escape(text)}</p>\n", "protected": False},
        **extra,
    }


class Website:
    """The site and its server: ``with Website() as site: site.url("/")``."""

    def __init__(self) -> None:
        self.resources: dict[str, Resource] = {}
        self.redirects: dict[str, tuple[int, str]] = {}
        self.failures: dict[str, list[tuple[int, dict[str, str], bytes]]] = {}
        self.robots: str | None = None
        self.robots_status = 200
        self.sitemaps = True  # serve /sitemap_index.xml (and /sitemap.xml as the same index)
        self.extra_sitemap_urls: list[str] = []  # absolute URLs listed as they are (another host…)
        self.wp: dict[str, list[dict[str, Any]]] = {"posts": [], "pages": []}
        self.wp_total_pages_header = True
        self.wp_per_page_max = 100
        self.requests: list[Recorded] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.server.website = self  # type: ignore[attr-defined]
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.running = False

    # -- the site ----------------------------------------------------------------------------------------

    def url(self, path: str) -> str:
        return self.base + path

    def set_page(self, path: str, text: str | bytes, **options: Any) -> Resource:
        body = text.encode("utf-8") if isinstance(text, str) else text
        resource = Resource(body, **options)
        with self.lock:
            self.resources[path] = resource
        return resource

    def remove(self, path: str) -> None:
        with self.lock:
            self.resources.pop(path, None)

    def fail(self, path: str, status: int, headers: dict[str, str] | None = None, times: int = 1) -> None:
        """The next ``times`` requests of ``path`` answer ``status`` (then the page as usual)."""
        with self.lock:
            self.failures.setdefault(path, []).extend([(status, headers or {}, b"try again later")] * times)

    def build_help_site(self, crawl_delay: float | None = 0.05) -> Website:
        """The articles, a guides index, a home page, a disallowed page and a noindex page."""
        self.robots = robots_txt(self.base, crawl_delay)
        for i, (path, (title, paragraphs)) in enumerate(ARTICLES.items()):
            self.set_page(path, page_html(title, paragraphs), sitemap="articles", lastmod=f"2024-09-0{i + 1}")
        self.set_page(
            "/guides/",
            page_html(
                "Guides", ["Tous nos guides pratiques, classés par thème."], extra_body='<a href="deep.html">Plus</a>'
            ),
        )
        self.set_page("/guides/deep.html", page_html("Guide approfondi", ["Un guide à deux clics de l’accueil."]))
        links = "".join(f'<li><a href="{path}">{title}</a></li>' for path, (title, _) in ARTICLES.items())
        home_links = (
            f"<ul>{links}</ul>"
            '<a href="/articles/conges-payes.html#periode">La période des congés</a> '
            '<a href="/prive/secret.html">Espace privé</a> '
            '<a href="https://ailleurs.example/partenaire.html">Un partenaire</a> '
            '<a href="/articles/brouillon.html" rel="nofollow">Brouillon</a> '
            '<a href="/docs/guide.pdf">Le guide en PDF</a> '
            '<a href="mailto:contact@exemple.fr">Écrire</a>'
        )
        self.set_page("/", page_html("Aide Exemple", ["Bienvenue sur l’aide en ligne."], extra_body=home_links))
        self.set_page("/prive/secret.html", page_html("Secret", ["Ne doit jamais être demandé."]))
        self.set_page("/articles/brouillon.html", page_html("Brouillon", ["Lien nofollow."]), sitemap=None)
        self.set_page("/docs/guide.pdf", b"%PDF-1.4 fake", content_type="application/pdf", sitemap=None)
        self.set_page(
            "/mentions-legales.html",
            page_html("Mentions légales", ["Éditeur du site."], extra_head='<meta name="robots" content="noindex">'),
        )
        return self

    # -- the server ------------------------------------------------------------------------------------

    def start(self) -> Website:
        self.thread.start()
        self.running = True
        return self

    def stop(self) -> None:
        """Stops answering: later connections are refused (as from a site that went down)."""
        if self.running:
            self.running = False
            self.server.shutdown()
            self.server.server_close()

    def __enter__(self) -> Website:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def paths(self) -> list[str]:
        with self.lock:
            return [r.path for r in self.requests]

    def requested(self, path: str) -> list[Recorded]:
        with self.lock:
            return [r for r in self.requests if r.path == path]

    def clear(self) -> None:
        with self.lock:
            self.requests.clear()

    # -- answers ---------------------------------------------------------------------------------------

    def sitemap_index(self) -> bytes:
        items = "".join(
            f"<sitemap><loc>{self.base}{path}</loc></sitemap>"
            for path in ("/sitemaps/articles.xml.gz", "/sitemaps/pages.xml")
        )
        return f'<?xml version="1.0" encoding="UTF-8"?>\n<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{items}</sitemapindex>'.encode()

    def urlset(self, name: str) -> bytes:
        with self.lock:
            listed = [(self.base + p, r.lastmod) for p, r in self.resources.items() if r.sitemap == name]
        if name == "pages":
            listed += [(url, None) for url in self.extra_sitemap_urls]
        items = "".join(
            f"<url><loc>{html.escape(url)}</loc>{f'<lastmod>{lastmod}</lastmod>' if lastmod else ''}</url>"
            for url, lastmod in listed
        )
        return f'<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{items}</urlset>'.encode()

    def wordpress(self, path: str, query: dict[str, list[str]]) -> tuple[int, dict[str, str], bytes]:
        kind = path.removeprefix("/wp-json/wp/v2/")
        if kind not in self.wp:
            return 404, {}, json.dumps({"code": "rest_no_route"}).encode()
        items = [dict(item, link=self.base + item["link"]) for item in self.wp[kind]]
        per_page = int(query.get("per_page", ["10"])[0])
        if per_page > self.wp_per_page_max:
            return 400, {}, json.dumps({"code": "rest_invalid_param"}).encode()
        if "include" in query:
            wanted = {int(i) for i in query["include"][0].split(",")}
            items = [item for item in items if item["id"] in wanted]
        number = int(query.get("page", ["1"])[0])
        pages = max(1, -(-len(items) // per_page))
        if number > pages:
            body = {"code": "rest_post_invalid_page_number", "message": "Le nombre de pages demandé est plus grand…"}
            return 400, {}, json.dumps(body).encode()
        chunk = items[(number - 1) * per_page : number * per_page]
        if "_fields" in query:
            keep = query["_fields"][0].split(",")
            chunk = [{k: v for k, v in item.items() if k in keep} for item in chunk]
        headers = {"X-WP-Total": str(len(items))}
        if self.wp_total_pages_header:
            headers["X-WP-TotalPages"] = str(pages)
        return 200, {**headers, "Content-Type": "application/json; charset=UTF-8"}, json.dumps(chunk).encode()


class _Handler(BaseHTTPRequestHandler):
    server_version = "Exemple/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def send(self, status: int, headers: dict[str, str], body: bytes, content_length: bool = True) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if content_length:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if status != 304:
            try:
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass

    def do_GET(self) -> None:
        site: Website = self.server.website  # type: ignore[attr-defined]
        with site.lock:
            site.requests.append(
                Recorded("GET", self.path, {k.lower(): v for k, v in self.headers.items()}, time.monotonic())
            )
            site.in_flight += 1
            site.max_in_flight = max(site.max_in_flight, site.in_flight)
        try:
            self.answer(site)
        finally:
            with site.lock:
                site.in_flight -= 1

    def answer(self, site: Website) -> None:
        parts = urlsplit(self.path)
        path, query = parts.path, parse_qs(parts.query)
        with site.lock:
            failure = site.failures[path].pop(0) if site.failures.get(path) else None
            resource = site.resources.get(path)
            redirect = site.redirects.get(path)
        if failure is not None:
            return self.send(*failure)
        if path == "/robots.txt":
            if site.robots is None:
                return self.send(404, {}, b"not found")
            return self.send(site.robots_status, {"Content-Type": "text/plain"}, site.robots.encode())
        if site.sitemaps and path in ("/sitemap_index.xml", "/sitemap.xml"):
            return self.send(200, {"Content-Type": "application/xml"}, site.sitemap_index())
        if site.sitemaps and path == "/sitemaps/articles.xml.gz":
            return self.send(200, {"Content-Type": "application/x-gzip"}, gzip.compress(site.urlset("articles")))
        if site.sitemaps and path == "/sitemaps/pages.xml":
            return self.send(200, {"Content-Type": "application/xml; charset=utf-8"}, site.urlset("pages"))
        if path.startswith("/wp-json/wp/v2/"):
            return self.send(*site.wordpress(path, query))
        if redirect is not None:
            return self.send(redirect[0], {"Location": redirect[1]}, b"")
        if resource is None:
            return self.send(404, {"Content-Type": "text/html"}, b"<h1>Page introuvable</h1>")
        if resource.delay:
            time.sleep(resource.delay)
        etag = resource.etag if resource.etag is not None else f'"{hashlib.sha256(resource.body).hexdigest()[:16]}"'
        headers = {"Content-Type": resource.content_type, **resource.headers}
        if etag:
            headers["ETag"] = etag
        if resource.last_modified:
            headers["Last-Modified"] = resource.last_modified
        if resource.status == 200 and _not_modified(self.headers, etag, resource.last_modified):
            return self.send(304, {k: v for k, v in headers.items() if k in ("ETag", "Last-Modified")}, b"")
        self.send(resource.status, headers, resource.body, resource.content_length)


def _not_modified(headers: Any, etag: str | None, last_modified: str | None) -> bool:
    """RFC 9110: If-None-Match decides when sent; else If-Modified-Since against Last-Modified."""
    if headers.get("If-None-Match") is not None:
        return bool(etag) and etag in [t.strip() for t in headers["If-None-Match"].split(",")]
    since = headers.get("If-Modified-Since")
    if since and last_modified:
        return email.utils.parsedate_to_datetime(last_modified) <= email.utils.parsedate_to_datetime(since)
    return False


# -- helpers of the tests that fetch it ------------------------------------------------------------------

UA = "Sourcier/0.1 (+https://exemple.fr/contact)"


def opts(**overrides) -> FetchOptions:
    values = dict(
        user_agent=UA,
        timeout=0.5,
        concurrency=4,
        retries=2,
        max_pages=100,
        max_depth=3,
        max_bytes=200_000,
        max_redirects=5,
        include=(),
        exclude=(),
        crawl=False,
        max_delay=0.2,
        backoff=0.01,
    )
    values.update(overrides)
    return FetchOptions(**values)


def ids(result: SiteResult) -> set[str]:
    return {page.article_id for page in result.pages}


def reasons(result: SiteResult) -> dict[str, str]:
    return {s.url: s.reason for s in result.skipped}
