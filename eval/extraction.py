"""How much site chrome each HTML extractor lets into the index, and how much of the article it loses.

    python -m eval.extraction [--json FILE] [--markdown FILE] [--focus balanced --focus recall] [--limit N]

Pages (``eval/site_pages.py``): the seed article (corpus/articles/contractions-muscle-mollet.txt) as a
WordPress post, once in each markup style (``html5``: chrome in header/nav/aside/footer; ``divs``: the same
chrome in ``<div class=…>``), and the 314 service-public.fr fiches (eval/data/service-public/articles.jsonl;
Source : service-public.fr / DILA, 2020) as service-public.fr-like pages, alternating the two styles.

Extractors, each followed by what ``corpus.load`` does next (``article_from``: sections from the headings,
``boilerplate_spans`` excluded, ``corpus.chunk.sentences`` = the indexable sentences):

- ``markup``: the hand-written loader ``corpus.markup.html_to_text`` (what ``load_file`` used for ``.html``
  until this measurement);
- ``trafilatura``: ``corpus.extract.extract_page``, what ``load_file`` and ``sourcier build --site`` use
  (``--focus`` adds trafilatura-balanced/precision/recall: the same with that ``favor_precision`` /
  ``favor_recall`` setting).

Metrics, per corpus and extractor; strings are compared after whitespace normalisation (runs of
whitespace, no-break spaces included, become one space; NFC), as whole words (no letter or digit
right before or after), case and accents kept:

- **chrome indexed**: of the chrome sentences injected (every string of the template, split with
  ``corpus.text.split_sentences``, each occurrence counted), the share found in the indexable text. A chrome
  sentence that also occurs in the article's body ("Oui" in a fiche) counts only for the occurrences beyond
  the body's own; sentences are matched longest first, each match blanked out, so that "Épaule" is not
  found again inside "Dans « Épaule »" (:func:`surplus`).
- **article lost**: of the article's sentences (its body lines, headings and title left out, split the same
  way, each occurrence counted), the share missing from the indexable text.
- **headings kept**: share of the article's headings that are section titles of the extracted article
  (a heading is never an indexable sentence, so it is not counted in the two shares above).
- **chrome headings**: chrome strings that became section titles (never indexed, but shown as the section of
  a citation, and they cut the article into sections that are not its own).
- **title right**: share of pages whose extracted title is the article's title (what is shown in citations).
- **empty pages** (no readable text: the loader refuses the page), **mean chars** (of the extracted text,
  empty pages counted as 0) and **ms/page**.
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from corpus.chunk import sentences
from corpus.extract import Focus, extract_page
from corpus.load import Article, article_from
from corpus.markup import html_to_text
from corpus.text import split_sentences
from eval.site_pages import Page, Style, seed_blocks, service_public_page, wordpress_page

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "corpus" / "articles" / "contractions-muscle-mollet.txt"
FICHES = ROOT / "eval" / "data" / "service-public" / "articles.jsonl"

Extractor = Callable[[Page, Path], Article | None]


def norm(text: str) -> str:
    """The comparison form: NFC, whitespace runs (no-break spaces included) as one space, trimmed."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def sentence_texts(lines: Iterable[str]) -> list[str]:
    """The sentences of ``lines`` (each line split with the corpus's own splitter), normalised."""
    return [norm(line[s.start : s.end]) for line in lines for s in split_sentences(line)]


def _pattern(needle: str) -> re.Pattern[str]:
    return re.compile(rf"(?<!\w){re.escape(needle)}(?!\w)")


def count(text: str, needle: str) -> int:
    """Occurrences of ``needle`` in ``text`` as whole words."""
    return len(_pattern(needle).findall(text)) if needle else 0


def surplus(needles: Counter[str], text: str, reference: str) -> tuple[int, int]:
    """For sentences ``needles`` (with their counts): how many occurrences ``text`` has beyond ``reference``'s
    (chrome indexed: text = indexable, reference = body) and how many it lacks (article lost).

    Longest first, and each sentence's occurrences are blanked out of both texts once counted, so that a
    short sentence is not found again inside a longer one ("Épaule" inside "Dans « Épaule »", "Visa de long
    séjour" inside "Visa de long séjour valant titre de séjour")."""
    extra = missing = 0
    for needle in sorted(needles, key=len, reverse=True):
        in_text, in_reference = count(text, needle), count(reference, needle)
        extra += min(needles[needle], max(0, in_text - in_reference))
        missing += min(needles[needle], max(0, in_reference - in_text))
        text, reference = _pattern(needle).sub("\x00", text), _pattern(needle).sub("\x00", reference)
    return extra, missing


@dataclass
class PageScore:
    doc_id: str
    extractor: str
    chars: int
    chrome: int
    chrome_indexed: int
    body: int
    body_lost: int
    headings: int
    headings_kept: int
    chrome_headings: int
    title_right: bool
    seconds: float

    @property
    def empty(self) -> bool:
        return self.chars == 0


@dataclass
class Summary:
    corpus: str
    extractor: str
    pages: int
    empty: int
    mean_chars: float
    chrome: int
    chrome_indexed: int
    chrome_indexed_share: float
    body: int
    body_lost: int
    body_lost_share: float
    headings_kept_share: float
    chrome_headings: int
    title_right_share: float
    ms_per_page: float


def with_markup(page: Page, folder: Path) -> Article | None:
    """The hand-written loader (``corpus.markup.html_to_text``, what ``load_file`` used for ``.html``
    before ``corpus.extract``), followed by the same Article building."""
    doc = html_to_text(page.html)
    return article_from(doc, page.doc_id, page.url, page.doc_id) if doc.text.strip() else None


def with_trafilatura(focus: Focus | None = None) -> Extractor:
    """``extract_page`` turned into an Article the way ``load_file`` turns ``html_to_text``'s result."""

    def extract(page: Page, folder: Path) -> Article | None:
        doc = extract_page(page.html, page.url) if focus is None else extract_page(page.html, page.url, focus)
        return article_from(doc, page.doc_id, page.url, page.doc_id) if doc.text.strip() else None

    return extract


def score_page(page: Page, name: str, extractor: Extractor, folder: Path) -> PageScore:
    """One page's counts for one extractor (the module docstring defines them)."""
    started = time.perf_counter()
    article = extractor(page, folder)
    seconds = time.perf_counter() - started
    body = Counter(sentence_texts(page.body))
    chrome = Counter(sentence_texts(page.chrome))
    reference = " \n ".join(norm(line) for line in page.body)
    if article is None:
        indexable, section_titles, title = "", [], None
    else:
        indexable = " \n ".join(norm(article.text[s.start : s.end]) for s in sentences(article))
        section_titles = [norm(s.title) for s in article.sections if s.body_start > s.start]
        title = article.title
    own = {norm(x) for x in [page.title, *page.headings, *page.body]}
    chrome_strings = {norm(x) for x in page.chrome} - own
    chrome_indexed = surplus(chrome, indexable, reference)[0]
    body_lost = surplus(body, indexable, reference)[1]
    return PageScore(
        doc_id=page.doc_id,
        extractor=name,
        chars=len(article.text) if article else 0,
        chrome=sum(chrome.values()),
        chrome_indexed=chrome_indexed,
        body=sum(body.values()),
        body_lost=body_lost,
        headings=len(page.headings),
        headings_kept=sum(norm(h) in section_titles for h in page.headings),
        chrome_headings=sum(t in chrome_strings for t in section_titles),
        title_right=title is not None and norm(title) == norm(page.title),
        seconds=seconds,
    )


def summarise(corpus: str, extractor: str, scores: list[PageScore]) -> Summary:
    n = len(scores) or 1
    chrome, body = sum(s.chrome for s in scores), sum(s.body for s in scores)
    chrome_indexed, body_lost = sum(s.chrome_indexed for s in scores), sum(s.body_lost for s in scores)
    headings = sum(s.headings for s in scores)
    return Summary(
        corpus=corpus,
        extractor=extractor,
        pages=len(scores),
        empty=sum(s.empty for s in scores),
        mean_chars=round(sum(s.chars for s in scores) / n, 1),
        chrome=chrome,
        chrome_indexed=chrome_indexed,
        chrome_indexed_share=round(chrome_indexed / chrome, 4) if chrome else 0.0,
        body=body,
        body_lost=body_lost,
        body_lost_share=round(body_lost / body, 4) if body else 0.0,
        headings_kept_share=round(sum(s.headings_kept for s in scores) / headings, 4) if headings else 1.0,
        chrome_headings=sum(s.chrome_headings for s in scores),
        title_right_share=round(sum(s.title_right for s in scores) / n, 4),
        ms_per_page=round(1000 * sum(s.seconds for s in scores) / n, 1),
    )


def measure(corpora: dict[str, list[Page]], extractors: dict[str, Extractor]) -> tuple[list[Summary], list[PageScore]]:
    """Every page of every corpus through every extractor."""
    summaries, details = [], []
    with tempfile.TemporaryDirectory(prefix="sourcier-extraction-") as tmp:
        for corpus, pages in corpora.items():
            for name, extractor in extractors.items():
                scores = [score_page(page, name, extractor, Path(tmp)) for page in pages]
                summaries.append(summarise(corpus, name, scores))
                details.extend(scores)
    return summaries, details


def seed_pages(path: Path = SEED) -> list[Page]:
    """The seed as a WordPress post, in both markup styles."""
    title, blocks = seed_blocks(path.read_text(encoding="utf-8"))
    url = "https://clinique-dos-sport.exemple.fr/blog/contractions-musculaires-du-mollet/"
    return [wordpress_page(f"seed-{style}", title, blocks, style, url) for style in ("html5", "divs")]


def fiche_pages(path: Path = FICHES, limit: int | None = None) -> list[Page]:
    """Every fiche as a service-public.fr-like page (the styles alternate); its title is the fiche's real
    title (``source_title``), the "Voir aussi" links other fiches' titles."""
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    records = records[:limit] if limit else records
    titles = [r["source_title"] for r in records]
    pages = []
    for i, r in enumerate(records):
        others = [t for t in titles if t != r["source_title"]]
        style: Style = "html5" if i % 2 == 0 else "divs"
        pages.append(service_public_page(r["id"], r["source_title"], r["text"], r["url"], others, style))
    return pages


def markdown(summaries: list[Summary]) -> str:
    lines = [
        "# Main-content extraction: the hand-written loader (markup) and trafilatura on rendered pages",
        "",
        "Made by `python -m eval.extraction --focus balanced --focus recall --markdown eval/results/extraction.md`;",
        "what each column measures: the docstring of eval/extraction.py.",
        "",
        "| corpus | extractor | pages | chrome indexed | article lost | headings kept | chrome headings "
        "| title right | empty | mean chars | ms/page |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for s in summaries:
        lines.append(
            f"| {s.corpus} | {s.extractor} | {s.pages} | {s.chrome_indexed_share:.2%} ({s.chrome_indexed}/{s.chrome}) "
            f"| {s.body_lost_share:.2%} ({s.body_lost}/{s.body}) | {s.headings_kept_share:.1%} | {s.chrome_headings} "
            f"| {s.title_right_share:.1%} | {s.empty} | {s.mean_chars:.0f} | {s.ms_per_page:.0f} |"
        )
    return "\n".join(lines) + "\n\nService-public texts: Source : service-public.fr / DILA, 2020.\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--json", type=Path, help="write the summaries and per-page counts as JSON")
    parser.add_argument("--markdown", type=Path, help="write the table as Markdown")
    parser.add_argument(
        "--focus",
        action="append",
        choices=["balanced", "precision", "recall"],
        default=[],
        help="also measure this variant",
    )
    parser.add_argument("--limit", type=int, help="only the first N fiches (a quick run)")
    args = parser.parse_args(argv)
    extractors: dict[str, Extractor] = {"markup": with_markup, "trafilatura": with_trafilatura()}
    for focus in args.focus:
        extractors[f"trafilatura-{focus}"] = with_trafilatura(focus)
    corpora = {"seed (WordPress)": seed_pages(), "service-public": fiche_pages(limit=args.limit)}
    summaries, details = measure(corpora, extractors)
    table = markdown(summaries)
    print(table)
    if args.markdown:
        args.markdown.write_text(table, encoding="utf-8")
    if args.json:
        payload = {"summaries": [asdict(s) for s in summaries], "pages": [asdict(d) for d in details]}
        args.json.write_text(json.dumps(payload, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
