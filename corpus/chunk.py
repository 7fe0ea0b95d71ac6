"""Cut articles into sentences, pairs and chunks (windows of whole sentences inside one section),
and list their headings.

Sentences are the answer units; pairs (two adjacent sentences of one paragraph) are the answers
that need both; chunks (shown as "passages") are the retrieval units. All keep ``(start, end)``
into ``Article.text``; heading lines and boilerplate never become any of them. Headings (the
article's title and its section titles) are the site's own questions, often literally ("Peut-on
renouveler la période d'essai ?"): they are indexed as questions, never answered with.
"""

from __future__ import annotations

from dataclasses import dataclass

from corpus.load import Article, Section
from corpus.text import Span, split_sentences

# Bump when sentence splitting or chunking changes the units: an index built before is then stale.
UNITS_VERSION = 3  # 3: headings (known questions)


@dataclass(frozen=True)
class Sentence:
    doc_id: str
    index: int  # position among the article's sentences
    start: int
    end: int
    section: str


@dataclass(frozen=True)
class Chunk:
    doc_id: str
    index: int  # position among the article's chunks
    start: int
    end: int
    section: str
    first: int  # index of its first sentence
    last: int  # index of its last sentence (inclusive)


# Words that open a French question without its "?" ("Comment déclarer un accident"), and the first person
# of a help centre's FAQ titles, written in the reader's voice ("Je n'arrive plus à me connecter", "J'ai perdu…").
QUESTION_WORDS = frozenset(
    "comment combien pourquoi quand quel quelle quels quelles qui que qu quoi où est-ce peut-on faut-il dois-je "
    "puis-je doit-on a-t-on je j".split()
) | {"y a-t-il"}


def is_question(text: str) -> bool:
    """A heading phrased as a reader's question: it has a "?" (also before a suffix: "… ? — Coiffure (IDCC
    2596)"), or opens with an interrogative word or in the first person."""
    if "?" in text:
        return True
    words = text.lower().replace("’", "'").replace("'", " ").split()
    return any(" ".join(words[:n]) in QUESTION_WORDS for n in (1, 2))


@dataclass(frozen=True)
class Heading:
    """A title the site gives its own content: the article's (``section`` None) or a section's."""

    doc_id: str
    section: str | None  # the section it heads; None: the article's title
    text: str
    question: bool  # phrased as a question (``is_question``), as FAQ titles are


def headings(article: Article) -> list[Heading]:
    """The article's title, then each distinct section title (the title's own section is the title)."""
    result = [Heading(article.doc_id, None, article.title.strip(), is_question(article.title))]
    seen = {article.title.strip()}
    for section in article.sections:
        text = section.title.strip()
        if text and text not in seen:
            seen.add(text)
            result.append(Heading(article.doc_id, section.title, text, is_question(text)))
    return [h for h in result if h.text]


def _overlaps(span: Span, excluded: list[Span]) -> bool:
    return any(span.start < ex.end and ex.start < span.end for ex in excluded)


def sentences(article: Article) -> list[Sentence]:
    """The article's content sentences, in order, section by section."""
    result: list[Sentence] = []
    for section in article.sections or [Section(article.title, 0, len(article.text), 0)]:
        for span in split_sentences(article.text, section.body_start, section.end):
            if not _overlaps(span, article.excluded):
                result.append(Sentence(article.doc_id, len(result), span.start, span.end, section.title))
    return result


def chunks(article: Article, sents: list[Sentence], max_chars: int, overlap: int) -> list[Chunk]:
    """Greedy windows of consecutive sentences of one section, at most ``max_chars`` long (a longer
    sentence stands alone); each window starts ``overlap`` sentences before the previous one ended."""
    result: list[Chunk] = []
    i = 0
    while i < len(sents):
        j = i
        while (
            j + 1 < len(sents)
            and sents[j + 1].section == sents[i].section
            and sents[j + 1].start - sents[i].start < max_chars
            and sents[j + 1].end - sents[i].start <= max_chars
        ):
            j += 1
        result.append(Chunk(article.doc_id, len(result), sents[i].start, sents[j].end, sents[i].section, i, j))
        if j + 1 >= len(sents):
            break
        same_section = sents[j + 1].section == sents[i].section
        i = max(i + 1, j + 1 - overlap) if same_section else j + 1
    return result


def pairs(article: Article, sents: list[Sentence]) -> list[tuple[int, int]]:
    """Positions ``(i, i + 1)`` in ``sents`` of adjacent sentences that may be answered together:
    same section and same paragraph (no line break, no boilerplate between them), so a pair reads
    as one passage."""
    out = []
    for i in range(len(sents) - 1):
        first, second = sents[i], sents[i + 1]
        if (
            first.section == second.section
            and "\n" not in article.text[first.end : second.start]
            and not _overlaps(Span(first.end, second.start), article.excluded)
        ):
            out.append((i, i + 1))
    return out
