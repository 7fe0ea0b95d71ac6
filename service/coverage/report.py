"""Editors' coverage reports: which questions the articles answer (well, weakly, not at all),
which passages and sections no question reaches, and the unanswered questions grouped into
clusters of near-duplicates — the editor's to-do list.

A question's status is decided exactly as ``/api/ask`` decides it (same checks, same Answerer, same
default ``top_k``): "uncovered" when it abstains, "weak" when it answers without being confident (what the
widget shows as "à vérifier"), "answered" otherwise. Each answer counts once, for the first passage (index
chunk) of its article that contains it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tqdm import tqdm

from index.search import Index
from service.core import Answerer, QuestionError, Result, passage_url, section_title
from service.coverage.clusters import Cluster, cluster_questions
from service.coverage.questions import read_questions
from service.settings import Settings
from service.storage import Store
from service.storage.records import DEFAULT_SITE

STATUSES = ("answered", "weak", "uncovered")


@dataclass(frozen=True)
class Options:
    """How questions are asked and clustered; built from the service's settings so the report agrees
    with ``/api/ask``. The status needs no option of its own: the answerer's ``confident`` decides it."""

    cluster_similarity: float

    @classmethod
    def from_settings(cls, settings: Settings) -> Options:
        return cls(settings.cluster_similarity)


@dataclass(frozen=True)
class QuestionCoverage:
    question: str
    status: str
    score: float | None
    answer: str | None
    citation: dict[str, Any] | None
    asked_at: float | None = None  # from the query log only


@dataclass(frozen=True)
class Skipped:
    line: int
    question: str
    code: str
    message: str


@dataclass
class PassageCoverage:
    start: int
    end: int
    text: str
    answered: int = 0
    weak: int = 0
    questions: list[int] = field(default_factory=list)  # 1-based positions in the report's questions


@dataclass
class SectionCoverage:
    title: str
    start: int
    end: int
    passages: list[PassageCoverage]
    answered: int = 0
    weak: int = 0


@dataclass
class ArticleCoverage:
    doc_id: str
    title: str
    sections: list[SectionCoverage]
    answered: int = 0
    weak: int = 0
    url: str | None = None  # the article's own page, when the corpus gives it


@dataclass
class Report:
    questions: list[QuestionCoverage]
    articles: list[ArticleCoverage]
    clusters: list[Cluster]
    index_version: str
    summary: dict[str, Any]
    skipped: list[Skipped] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def status_of(result: Result) -> str:
    """The status of an answer given now: the core's own ``confident`` decides "weak", so that the report
    and the widget ("à vérifier") never disagree."""
    if not result.answered:
        return "uncovered"
    return "answered" if result.confident else "weak"


def logged_status(answered: bool, score: float | None, answerer: Answerer) -> str:
    """The status of a logged answer, of which only its score was kept: weak under the threshold plus the
    confident margin (the same margin, applied to the score the log has)."""
    if not answered:
        return "uncovered"
    return "weak" if score is None or score < answerer.threshold + answerer.config.confident_margin else "answered"


def ask_questions(
    answerer: Answerer, rows: list[tuple[int, str]], options: Options, progress: bool = False
) -> tuple[list[QuestionCoverage], list[Skipped]]:
    """Every question through the same checks and Answerer as ``/api/ask``; a question the API
    would refuse (empty, too long, invalid characters) is skipped with its French reason."""
    covered, skipped = [], []
    for number, raw in tqdm(rows, desc="questions", unit="q", disable=not progress):
        try:
            result = answerer.answer(raw)
        except QuestionError as exc:
            skipped.append(Skipped(number, raw, exc.code, exc.message))
            continue
        question = result.question
        if result.answered and result.answer is not None:
            status = status_of(result)
            covered.append(
                QuestionCoverage(
                    question, status, result.answer.score, result.answer.text, asdict(result.answer.citation)
                )
            )
        else:
            covered.append(QuestionCoverage(question, "uncovered", None, None, None))
    return covered, skipped


def place(index: Index, positions: list[int], start: int, end: int) -> int | None:
    """Among an article's chunk ``positions``, the first chunk that contains ``[start, end)`` (or,
    failing that, its start); None when the span is in none of them."""
    containing = [pos for pos in positions if index.chunks[pos].start <= start < index.chunks[pos].end]
    whole = [pos for pos in containing if end <= index.chunks[pos].end]
    return (whole or containing)[0] if (whole or containing) else None


def article_coverage(index: Index, questions: list[QuestionCoverage]) -> list[ArticleCoverage]:
    """Per article, section and passage, how many questions it answers (answered / weak)."""
    chunks_of: dict[str, list[int]] = {}
    for pos, chunk in enumerate(index.chunks):
        chunks_of.setdefault(chunk.doc_id, []).append(pos)
    passages: dict[int, PassageCoverage] = {}
    articles = []
    for doc_id, article in index.articles.items():
        sections: dict[int, SectionCoverage] = {}
        for pos in chunks_of.get(doc_id, []):
            chunk = index.chunks[pos]
            section = article.section_at(chunk.start)
            key = section.start if section else -1
            if key not in sections:
                sections[key] = (
                    SectionCoverage(section.title, section.start, section.end, [])
                    if section
                    else SectionCoverage(article.title, 0, len(article.text), [])
                )
            passages[pos] = PassageCoverage(chunk.start, chunk.end, article.text[chunk.start : chunk.end])
            sections[key].passages.append(passages[pos])
        articles.append(ArticleCoverage(doc_id, article.title, list(sections.values()), url=article.url))
    for number, item in enumerate(questions, 1):
        if item.answer is None or not item.citation:  # uncovered, or logged by an older index
            continue
        c = item.citation
        placed = place(index, chunks_of.get(c["doc_id"], []), c["start"], c["end"])
        if placed is not None:
            passage = passages[placed]
            setattr(passage, item.status, getattr(passage, item.status) + 1)
            passage.questions.append(number)
    for covered in articles:
        for part in covered.sections:
            part.answered = sum(p.answered for p in part.passages)
            part.weak = sum(p.weak for p in part.passages)
        covered.answered = sum(s.answered for s in covered.sections)
        covered.weak = sum(s.weak for s in covered.sections)
    return articles


def build_report(
    answerer: Answerer,
    questions: list[QuestionCoverage],
    options: Options,
    source: str,
    skipped: Iterable[Skipped] = (),
    low_rated: Iterable[str] = (),
    extra: dict[str, Any] | None = None,
) -> Report:
    """Counts, per-passage coverage and clusters of the uncovered (and low-rated) questions."""
    articles = article_coverage(answerer.index, questions)
    clusters = cluster_questions(
        answerer.encoder,
        [q.question for q in questions if q.status == "uncovered"],
        options.cluster_similarity,
        "uncovered",
    )
    low_rated = list(low_rated)
    clusters += cluster_questions(answerer.encoder, low_rated, options.cluster_similarity, "low_rated")
    sections = [s for a in articles for s in a.sections]
    passages = [p for s in sections for p in s.passages]
    summary = {
        "source": source,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "total": len(questions),
        **{s: sum(q.status == s for q in questions) for s in STATUSES},
        "threshold": answerer.threshold,
        "confident_margin": answerer.config.confident_margin,
        "cluster_similarity": options.cluster_similarity,
        "top_k": answerer.config.top_k,
        "articles": len(articles),
        "sections": len(sections),
        "passages": len(passages),
        "unreached_sections": sum(not (s.answered or s.weak) for s in sections),
        "unreached_passages": sum(not (p.answered or p.weak) for p in passages),
        "low_rated": len(low_rated),
        **(extra or {}),
    }
    return Report(questions, articles, clusters, answerer.index.version, summary, list(skipped))


def coverage_from_file(answerer: Answerer, path: Path, options: Options, progress: bool = False) -> Report:
    questions, skipped = ask_questions(answerer, read_questions(path), options, progress)
    return build_report(answerer, questions, options, Path(path).name, skipped)


def coverage_from_log(
    answerer: Answerer, db: Store, since: float, until: float, options: Options, site: str = DEFAULT_SITE
) -> Report:
    """The same report from real traffic: what the service answered then (the query log) and the
    questions readers rated down (the widget's feedback) between ``since`` and ``until``.

    A logged answer is placed on a passage only when it was given by the current index (older
    offsets may point into a text that has changed since)."""
    index = answerer.index
    questions, stale = [], 0
    for logged in db.queries(since, until, site):
        status = logged_status(logged.answered, logged.score, answerer)
        answer, citation = None, None
        if logged.answered and logged.doc_id is not None:
            article = index.articles.get(logged.doc_id)
            current = article is not None and logged.index_version == index.version
            stale += not current
            citation = {
                "doc_id": logged.doc_id,
                "title": None,
                "section": None,
                "start": logged.start,
                "end": logged.end,
                "url": None,
            }
            if current and article is not None and logged.start is not None and logged.end is not None:
                answer = article.text[logged.start : logged.end]
                section = article.section_at(logged.start)
                citation.update(
                    title=article.title,
                    section=section_title(article, section.title) if section else None,
                    url=passage_url(answerer.config.base_url, article, logged.start, logged.end),
                )
        questions.append(QuestionCoverage(logged.question, status, logged.score, answer, citation, logged.created_at))
    low_rated = [f.question for f in db.feedback(since, until, site) if f.vote < 0]
    period = {"since": _iso(since), "until": _iso(until)}
    return build_report(
        answerer, questions, options, "query log", low_rated=low_rated, extra={"period": period, "not_placed": stale}
    )


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")
