"""``sourcier build --site URL`` / ``--wordpress URL``: a website's pages as the corpus, refreshed in place.

The fetch (``corpus.site``, ``corpus.wordpress``) says which URLs changed since the crawl state kept
beside the index (``<index folder>.crawl.json``); only those pages are extracted (``corpus.load.html_article``)
and their new sentences embedded (the build's vector reuse does the rest); pages that did not change
keep the article the current index already holds, and pages gone (404/410, out of the sitemap) leave.
A page that failed for a passing reason (5xx, timeout, the site down) keeps its previous article.

A build that would keep fewer than ``site_min_kept`` of the current index's articles is refused before
anything is written: the index (and the crawl state) stay as they were, and a running service keeps
serving them. When the build is saved, the running service swaps the new index in by itself
(``service.web.reload``).
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from corpus.fetched import SiteResult
from corpus.load import Article, CorpusError, html_article
from corpus.site import CrawlState, Skipped, fetch_site
from corpus.wordpress import fetch_wordpress
from index import store
from service.settings import Settings


@dataclass
class SiteCorpus:
    """The articles a site build indexes, and what the fetch did (the summary ``--json`` prints)."""

    source: str
    articles: list[Article]
    result: SiteResult
    extracted: int  # pages fetched and extracted now
    carried: int  # articles taken unchanged from the current index
    empty: list[Skipped] = field(default_factory=list)  # pages fetched without readable text
    previous: int = 0  # the current index's articles when it was built from the same site

    def summary(self) -> dict[str, Any]:
        r = self.result
        skipped = [*r.skipped, *self.empty]
        return {
            "source": self.source,
            "discovery": r.discovery,
            "articles": len(self.articles),
            "previous_articles": self.previous,
            "fetched": len(r.pages),
            "extracted": self.extracted,
            "unchanged": len(r.unchanged),
            "kept_after_failure": len(r.kept),
            "gone": len(r.gone),
            "skipped": len(skipped),
            "skipped_by_reason": dict(sorted(Counter(s.reason for s in skipped).items())),
            "requests": r.requests,
            "bytes": r.bytes,
            "notes": r.notes,
            "skipped_pages": [asdict(s) for s in skipped],
        }


def state_path(index_dir: Path) -> Path:
    """The crawl state of the index at ``index_dir``: beside it, so that a rebuilt index folder (written
    elsewhere, then renamed in) never loses it."""
    return index_dir.with_name(index_dir.name + ".crawl.json")


def site_corpus(args: argparse.Namespace, settings: Settings) -> SiteCorpus:
    """Fetch the site named by ``args.site`` or ``args.wordpress`` and turn it into articles."""
    source = args.site or args.wordpress
    state = CrawlState.load(state_path(settings.index_dir))
    same_site = state.source == source
    previous = store.indexed_articles(settings.index_dir) if same_site else {}
    # only what the current index still holds can be carried over: the other URLs are fetched in full
    known = CrawlState(source, {u: e for u, e in state.entries.items() if e.article_id in previous})
    options = settings.fetch_options(args.crawl, tuple(args.include or ()), tuple(args.exclude or ()))
    with tqdm(desc="pages", unit="page", disable=args.quiet or args.json) as bar:

        def progress(done: int, total: int | None) -> None:
            bar.total = total
            bar.update(done - bar.n)

        fetch = fetch_wordpress if args.wordpress else fetch_site
        result = fetch(source, options, known, progress)
    if result.discovery == "none":  # robots.txt did not answer: the site is down or refuses us
        why = "; ".join(f"{s.reason}: {s.message}" for s in result.skipped)
        raise CorpusError(f"{source} cannot be read ({why}); the current index stays as it is")
    articles: list[Article] = []
    empty: list[Skipped] = []
    for page in result.pages:
        article = html_article(page.html, page.article_id, page.url, page.article_url)
        if article is None:
            empty.append(Skipped(page.url, "empty", "no readable text in the page"))
            continue
        article.url = page.article_url
        articles.append(article)
    carried = 0
    for url in [*result.unchanged, *result.kept]:
        entry = known.get(url)
        if entry is not None and entry.article_id in previous:
            articles.append(previous[entry.article_id])
            carried += 1
    articles.sort(key=lambda a: a.doc_id)
    found = SiteCorpus(source, articles, result, len(articles) - carried, carried, empty, len(previous))
    if not articles:
        reasons = ", ".join(f"{k} {v}" for k, v in found.summary()["skipped_by_reason"].items())
        raise CorpusError(f"no article from {source}: {len(result.skipped) + len(empty)} pages skipped ({reasons})")
    if previous and len(articles) < settings.site_min_kept * len(previous):
        raise CorpusError(
            f"{source} gave {len(articles)} articles, the current index has {len(previous)}: under "
            f"SOURCIER_SITE_MIN_KEPT={settings.site_min_kept} of them, the build is refused and the current index "
            "stays (run again when the site is back, or lower the setting if the site really shrank)"
        )
    return found


def save_state(found: SiteCorpus, settings: Settings) -> None:
    """After the index is saved: what a refresh compares against."""
    state = found.result.state
    state.source = found.source
    state.save(state_path(settings.index_dir))


def print_summary(found: SiteCorpus, as_json: bool, built: dict[str, Any]) -> None:
    """One line per kind of page, the skipped ones by reason; with ``--json`` one JSON object."""
    summary = found.summary() | {"index": built}
    if as_json:
        print(json.dumps(summary, ensure_ascii=False, indent=1))
        return
    print(
        f"{found.source} ({summary['discovery']}): {summary['articles']} articles — {summary['extracted']} "
        f"fetched and extracted, {found.carried} unchanged, {summary['gone']} gone, {summary['skipped']} "
        f"skipped; {summary['requests']} requests, {summary['bytes']:,} bytes"
    )
    for reason, count in summary["skipped_by_reason"].items():
        examples = [s.url for s in [*found.result.skipped, *found.empty] if s.reason == reason][:3]
        print(f"  skipped ({reason}): {count}, e.g. {', '.join(examples)}")
    for note in found.result.notes:
        print(f"  note: {note}")
