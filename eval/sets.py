"""Evaluation sets: questions with gold answer spans, and the corpus they are asked against.

Every gold offset is checked against the article text on load, so a set that drifted from its
corpus fails loudly instead of scoring silently wrong. Sets are named (``seed``, ``piaf``,
``piaf-ci``) or given as a JSONL file in the same format (see ``eval/README.md``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from pathlib import Path

from corpus.load import Article, Section, load

ROOT = Path(__file__).resolve().parents[1]
SETS = ROOT / "eval" / "sets"
PIAF = ROOT / "eval" / "data" / "piaf"
SERVICE_PUBLIC = ROOT / "eval" / "data" / "service-public"
SHARED = ROOT.parent / "shared" / "data"  # the project's shared data (CI has it beside the clone; not in git)
CDTN = SHARED / "cdtn-contributions"
PIAF_CI_ARTICLES = 40  # piaf-ci's articles with questions: the first 40 in the stable order (held-out ones among them)


class SetError(ValueError):
    """A question set is malformed or does not match its corpus."""


@dataclass(frozen=True)
class Gold:
    text: str
    start: int

    @property
    def end(self) -> int:
        return self.start + len(self.text)


@dataclass(frozen=True)
class EvalQuestion:
    id: str
    question: str
    doc_id: str | None
    answers: tuple[Gold, ...]
    answerable: bool
    style: str = ""
    doc_only: bool = False  # answerable, its article known but no gold span (scored by article only)


@dataclass
class EvalSet:
    name: str
    questions: list[EvalQuestion]
    articles: list[Article]  # the corpus the index is built from
    held_out: list[str] = field(default_factory=list)  # articles left out: their questions must abstain

    def corpus_key(self) -> str:
        """Identifies the indexed corpus (for caching eval indexes)."""
        digest = hashlib.sha256()
        for article in self.articles:
            digest.update(f"{article.doc_id}\x00{len(article.text)}\x00{hash_text(article.text)}\n".encode())
        return digest.hexdigest()[:12]


def hash_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _stable_rank(key: str) -> str:
    """A deterministic pseudo-random order (same on every machine and Python run)."""
    return hashlib.sha256(key.encode()).hexdigest()


def read_questions(path: Path) -> list[EvalQuestion]:
    questions = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                answers = tuple(Gold(a["text"], int(a["start"])) for a in record.get("answers", []))
                answerable = bool(record.get("answerable", bool(answers)))
                questions.append(
                    EvalQuestion(
                        str(record["id"]),
                        record["question"],
                        record.get("doc_id"),
                        answers,
                        answerable,
                        record.get("style", ""),
                    )
                )
            except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                raise SetError(f"{path}:{number}: malformed question ({exc})") from exc
    ids = [q.id for q in questions]
    if len(set(ids)) != len(ids):
        raise SetError(f"{path}: duplicate question ids")
    return questions


def validate(questions: list[EvalQuestion], articles: dict[str, Article]) -> None:
    """Every answerable question names a known article and every gold span matches its text.

    An answerable question without a span (``doc_only``) counts for the article-level scores only.
    """
    problems = []
    for q in questions:
        if not q.answerable:
            continue
        if not q.answers and not q.doc_only:
            problems.append(f"{q.id}: answerable but no gold answer")
        article = articles.get(q.doc_id or "")
        if article is None:
            problems.append(f"{q.id}: unknown article {q.doc_id!r}")
            continue
        for gold in q.answers:
            if article.text[gold.start : gold.end] != gold.text:
                problems.append(f"{q.id}: gold {gold.text!r} is not at offset {gold.start}")
    if problems:
        raise SetError(f"{len(problems)} invalid question(s): " + "; ".join(problems[:10]))


def _sample(questions: list[EvalQuestion], n: int | None) -> list[EvalQuestion]:
    if n is None or n >= len(questions):
        return questions
    keep = set(sorted((q.id for q in questions), key=_stable_rank)[:n])
    return [q for q in questions if q.id in keep]


def seed_set(sample: int | None = None) -> EvalSet:
    articles = load([ROOT / "corpus" / "articles" / "contractions-muscle-mollet.txt"])
    questions = read_questions(SETS / "seed.jsonl")
    validate(questions, {a.doc_id: a for a in articles})
    return EvalSet("seed", _sample(questions, sample), articles)


def _piaf() -> tuple[list[Article], list[EvalQuestion], list[str]]:
    """PIAF's articles and dev questions (offsets checked), and the articles with questions in the stable
    order every PIAF split takes its articles from."""
    articles = load([PIAF / "articles.jsonl"])
    questions = read_questions(PIAF / "dev_questions.jsonl")
    validate(questions, {a.doc_id: a for a in articles})
    return articles, questions, sorted({q.doc_id for q in questions if q.doc_id is not None}, key=_stable_rank)


def piaf_set(
    articles_limit: int | None = None, held_out_share: float = 0.1, sample: int | None = None, name: str = "piaf"
) -> EvalSet:
    """PIAF dev: questions of a fixed 10 % of its articles (chosen by hash) are asked against an
    index built without those articles, as unanswerable questions.

    ``articles_limit`` keeps a deterministic subset of the articles that have questions (and as
    many articles without questions as distractors), for a CI-sized run.
    """
    articles, questions, with_questions = _piaf()
    without = sorted((a.doc_id for a in articles if a.doc_id not in set(with_questions)), key=_stable_rank)
    if articles_limit is not None:
        with_questions = with_questions[:articles_limit]
        without = without[:articles_limit]
    n_held = max(1, round(len(with_questions) * held_out_share))
    held_out = sorted(with_questions[:n_held])
    indexed = set(with_questions[n_held:]) | set(without)
    kept = [q for q in questions if q.doc_id in indexed or q.doc_id in held_out]
    relabelled = [
        EvalQuestion(
            q.id,
            q.question,
            q.doc_id,
            q.answers,
            q.doc_id not in held_out,
            "piaf" if q.doc_id not in held_out else "held-out",
        )
        for q in kept
    ]
    return EvalSet(name, _sample(relabelled, sample), [a for a in articles if a.doc_id in indexed], held_out)


def piaf_training(validation_share: float = 0.2) -> tuple[EvalSet, set[str]]:
    """The reader's data: the PIAF articles with questions that no evaluation set reports on — all but
    piaf-ci's (among which whole-PIAF's held-out ones), the same stable order as ``piaf_set`` — with their
    questions, and the fixed share of them (chosen by another hash) that validates rather than trains."""
    articles, questions, ranked = _piaf()
    pool = set(ranked[PIAF_CI_ARTICLES:])
    by_hash = sorted(pool, key=lambda doc_id: _stable_rank(f"reader-validation {doc_id}"))
    validation = set(by_hash[: round(len(by_hash) * validation_share)])
    kept = [q for q in questions if q.doc_id in pool]
    return EvalSet("piaf-training", kept, [a for a in articles if a.doc_id in pool]), validation


def retitled(article: Article, title: str) -> Article:
    """The article under another title (a JSONL article's one section is headed by its title)."""
    sections = [
        Section(title, s.start, s.end, s.body_start) if s.title == article.title else s for s in article.sections
    ]
    return replace(article, title=title, sections=sections)


def service_public_set(
    sample: int | None = None, articles_limit: int | None = None, name: str = "service-public"
) -> EvalSet:
    """service-public.fr fiches (see eval/data/service-public/README.md) under their real titles (the
    site's own questions, as a site shows them): the annotated questions have a gold span, the
    fiche-title questions only their fiche, and the titles of fiches left out of the corpus must
    abstain. ``articles_limit`` keeps a fixed subset of the fiches (chosen by hash) and their
    questions, with every unanswerable one, for a CI-sized run."""
    titles = {
        record["id"]: record["source_title"]
        for record in map(json.loads, (SERVICE_PUBLIC / "articles.jsonl").read_text(encoding="utf-8").splitlines())
    }
    articles = [retitled(a, titles[a.doc_id]) for a in load([SERVICE_PUBLIC / "articles.jsonl"])]
    if articles_limit is not None:
        kept = set(sorted((a.doc_id for a in articles), key=_stable_rank)[:articles_limit])
        articles = [a for a in articles if a.doc_id in kept]
    lines = (SERVICE_PUBLIC / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    questions = []
    for record in records:
        kind = record["kind"]
        answers = (Gold(record["answer_text"], int(record["answer_start"])),) if kind == "annotated_span" else ()
        questions.append(
            EvalQuestion(
                record["id"],
                record["question"],
                record.get("doc_id"),
                answers,
                bool(record["answerable"]),
                kind,
                doc_only=kind == "title_doc_only",
            )
        )
    by_id = {a.doc_id: a for a in articles}
    questions = [q for q in questions if not q.answerable or q.doc_id in by_id]
    validate(questions, by_id)
    held_out = sorted({record["heldout_doc_id"] for record in records if record.get("heldout_doc_id")})
    return EvalSet(name, _sample(questions, sample), articles, held_out)


def cdtn_set(sample: int | None = None, name: str = "cdtn") -> EvalSet:
    """The Code du travail numérique's question-titled pages (``../shared/data/cdtn-contributions``, not
    in git): user-style rewordings with the sentence that answers them (its first occurrence in the
    page), near-topic questions no page answers and off-domain ones, both to abstain on."""
    articles = load([CDTN / "articles.jsonl"])
    by_id = {a.doc_id: a for a in articles}
    questions = []
    for line in (CDTN / "questions.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        answerable = record["kind"] == "rewording"
        answers: tuple[Gold, ...] = ()
        if answerable:
            start = by_id[record["doc_id"]].text.find(record["answer"]) if record["doc_id"] in by_id else -1
            if start < 0:
                raise SetError(f"{record['id']}: its answer is not in article {record['doc_id']!r}")
            answers = (Gold(record["answer"], start),)
        questions.append(
            EvalQuestion(record["id"], record["question"], record["doc_id"], answers, answerable, record["kind"])
        )
    validate(questions, by_id)
    return EvalSet(name, _sample(questions, sample), articles)


def from_file(path: Path, corpus: list[Path], sample: int | None = None) -> EvalSet:
    articles = load(corpus)
    questions = read_questions(path)
    validate(questions, {a.doc_id: a for a in articles})
    return EvalSet(Path(path).stem, _sample(questions, sample), articles)


def load_set(name: str, sample: int | None = None, corpus: list[Path] | None = None) -> EvalSet:
    """A named set or a JSONL file (asked against ``corpus``, default: corpus/articles)."""
    if name == "seed":
        return seed_set(sample)
    if name == "piaf":
        return piaf_set(sample=sample)
    if name == "piaf-ci":
        return piaf_set(articles_limit=PIAF_CI_ARTICLES, sample=sample, name="piaf-ci")
    if name == "service-public":
        return service_public_set(sample)
    if name == "service-public-ci":
        return service_public_set(sample, articles_limit=100, name="service-public-ci")
    if name == "cdtn":
        return cdtn_set(sample)
    path = Path(name)
    if not path.is_file():
        raise SetError(
            f"unknown set {name!r}: use seed, piaf, piaf-ci, service-public, service-public-ci, cdtn or a JSONL file"
        )
    return from_file(path, corpus or [ROOT / "corpus" / "articles"], sample)
