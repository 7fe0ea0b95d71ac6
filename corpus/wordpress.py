"""A WordPress site read through its REST API instead of crawled: ``/wp-json/wp/v2/posts`` and ``pages``.

Two steps keep a refresh cheap: a light listing (``_fields=id,link,modified_gmt,status``, 100 a request)
tells which posts changed since the state (their ``modified_gmt`` differs); only those are then asked for
their title and content, 100 at a time (``include=…``). A post whose ``modified_gmt`` is the stored one is
unchanged with no request of its own. Each post becomes a ``Page`` shaped like a crawled one: a minimal
HTML document (title, canonical link, ``<article>`` with the rendered content) so the same extraction
applies. Drafts and password-protected posts are skipped with a reason.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

from corpus.crawlstate import CrawlState, url_article_id
from corpus.fetched import Outcome, Page, Progress, SiteResult, sha256
from corpus.fetcher import FetchOptions, Response, Skipped
from corpus.site import Crawl
from corpus.webpage import strip_fragment

WP_PER_PAGE = 100  # the REST API's maximum per_page
WP_KINDS = ("posts", "pages")
LIST_FIELDS = "id,link,modified_gmt,status"
CONTENT_FIELDS = "id,link,modified_gmt,status,title,content"
MAX_LISTING_PAGES = 1000  # 100,000 posts: past that, a listing that never ends is a broken site


def wordpress_html(title: str, content: str, link: str) -> str:
    """The minimal document a post becomes: ``title`` and ``content`` are WordPress's rendered HTML."""
    plain = html.escape(html.unescape(re.sub(r"<[^>]*>", "", title)).strip())
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f'<title>{plain}</title><link rel="canonical" href="{html.escape(link, quote=True)}"></head>\n'
        f"<body><article><h1>{title}</h1>\n{content}\n</article></body></html>\n"
    )


def _json(answer: Response) -> Any:
    try:
        return json.loads(answer.body.decode("utf-8", "replace"))
    except ValueError:
        return None


def _listing(run: Crawl, api: str, kind: str) -> tuple[list[dict[str, Any]], Skipped | None]:
    """Every item of one collection, page by page until ``X-WP-TotalPages`` (or WordPress's 400 past
    the last page when a proxy dropped that header); a problem stops the listing and is returned."""
    items: list[dict[str, Any]] = []
    for number in range(1, MAX_LISTING_PAGES + 1):
        url = f"{api}/{kind}?per_page={WP_PER_PAGE}&page={number}&_fields={LIST_FIELDS}"
        answer = run.fetcher.get(url, allowed=run.robots.allowed)
        if isinstance(answer, Skipped):
            return items, answer
        data = _json(answer)
        if answer.status == 400 and isinstance(data, dict) and data.get("code") == "rest_post_invalid_page_number":
            return items, None
        if answer.status == 404 and number == 1:
            return items, Skipped(url, "not-wordpress", f"HTTP 404: no WordPress REST API {kind} collection")
        if answer.status != 200 or not isinstance(data, list):
            return items, Skipped(url, "bad-response", f"HTTP {answer.status}, expected a JSON list of {kind}")
        items += [item for item in data if isinstance(item, dict) and isinstance(item.get("link"), str)]
        total = answer.headers.get("x-wp-totalpages", "")
        if not data or (total.isdigit() and number >= int(total)):
            return items, None
    return items, Skipped(api, "bad-response", f"more than {MAX_LISTING_PAGES} listing pages of {kind}")


def _page(run: Crawl, url: str, item: dict[str, Any]) -> Outcome:
    content, title = item.get("content"), item.get("title")
    if not isinstance(content, dict) or not isinstance(title, dict):
        return Outcome(url, skipped=Skipped(url, "bad-response", "no title or content in the API's answer"))
    if content.get("protected"):
        return Outcome(url, skipped=Skipped(url, "protected", "password-protected post"))
    document = wordpress_html(str(title.get("rendered", "")), str(content.get("rendered", "")), url)
    body = document.encode("utf-8")
    if len(body) > run.options.max_bytes:
        return Outcome(url, skipped=Skipped(url, "too-large", f"over the {run.options.max_bytes}-byte limit"))
    modified = str(item.get("modified_gmt") or "") or None
    page = Page(
        url, url, url, url_article_id(url), 200, "text/html; charset=utf-8", document, "utf-8", None,
        None, None, modified, sha256(body),
    )  # fmt: skip
    return Outcome(url, page=page)


def fetch_wordpress(
    base: str,
    options: FetchOptions,
    state: CrawlState | None = None,
    progress: Progress | None = None,
) -> SiteResult:
    """The published posts and pages of the WordPress site at ``base``, with refresh by ``modified_gmt``;
    robots.txt is obeyed for the API's URLs (and its crawl delay)."""
    run = Crawl(base, options, state, progress)
    refused = run.read_robots()
    if refused is not None:
        run.record(Outcome(run.start, skipped=refused))
        return run.finish("wordpress", None)
    api = run.start.rstrip("/") + "/wp-json/wp/v2"
    if not run.robots.allowed(api + "/posts"):
        run.record(Outcome(api, skipped=Skipped(api, "robots", "robots.txt disallows the REST API")))
        return run.finish("wordpress", None)
    complete = True
    listed: dict[str, tuple[str, dict[str, Any]]] = {}
    for kind in WP_KINDS:
        items, problem = _listing(run, api, kind)
        if problem is not None:
            complete = False
            run.notes.append(f"{kind}: {problem.message}")
            if problem.reason != "not-wordpress" or kind == "posts":
                run.put(Outcome(problem.url, skipped=problem))
        for item in items:
            listed.setdefault(strip_fragment(item["link"]), (kind, item))
    run.total = len(listed)
    wanted: dict[str, list[int]] = {kind: [] for kind in WP_KINDS}
    links = {(kind, item.get("id")): url for url, (kind, item) in listed.items()}
    for url, (kind, item) in listed.items():
        previous = run.previous.get(url)
        modified = str(item.get("modified_gmt") or "") or None
        if item.get("status", "publish") != "publish":
            run.record(Outcome(url, skipped=Skipped(url, "draft", f"status {item.get('status')!r}, not published")))
        elif run.excluded(url):
            run.record(Outcome(url, skipped=Skipped(url, "excluded", "left out by the include/exclude patterns")))
        elif previous is not None and modified and previous.lastmod == modified:
            run.record(Outcome(url, unchanged=previous))
        elif run.take(url) and isinstance(item.get("id"), int):
            wanted[kind].append(item["id"])
    for kind, ids in wanted.items():
        for i in range(0, len(ids), WP_PER_PAGE):
            batch = ids[i : i + WP_PER_PAGE]
            url = f"{api}/{kind}?include={','.join(map(str, batch))}&per_page={WP_PER_PAGE}&_fields={CONTENT_FIELDS}"
            answer = run.fetcher.get(url, allowed=run.robots.allowed, max_bytes=options.max_bytes * len(batch))
            data = _json(answer) if isinstance(answer, Response) and answer.status == 200 else None
            found = {item.get("id"): item for item in data if isinstance(item, dict)} if isinstance(data, list) else {}
            why = answer if isinstance(answer, Skipped) else Skipped(url, "bad-response", "the API did not list it")
            for post_id in batch:
                link = links[kind, post_id]
                if post_id in found:
                    run.record(_page(run, link, found[post_id]))
                else:
                    run.record(Outcome(link, skipped=Skipped(link, why.reason, why.message)))
    return run.finish("wordpress", set(listed) if complete else None)
