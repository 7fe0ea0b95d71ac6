"""Fit the learned ranking (``service.core.ranking``) and measure it leave-one-corpus-out.

``python -m eval.ranking [--reuse] [--write]``: every corpus's questions are asked of its index (built or
reused under ``var/eval/``) and each candidate is kept with its article's signals, score and reading
(``artifacts/ranking/*.npz``; ``--reuse`` starts from them). The model ranks a question's candidate
articles (a positive: the question's article); the answer is then the best candidate of the first
article by ``score + reader_weight × reading``. For each corpus, each variant is fitted on the *other*
corpora and measured on it — the first answer contains a gold span (hit@1, no abstention) and comes from
the right article (doc@1) — beside the hand ranking the service had (the score, its best ten re-ordered
by ``score + 0.5 × reading``). ``--write`` fits the kept variant on every corpus and writes
``service/core/ranker.json`` and its card ``ranker.md`` (the data split, the scores, the hash to put in
``service/core/ranking.py``).

Data split: a corpus left out is measured with a model fitted on the other corpora only; the shipped
model is fitted on the answerable questions of the four CI-sized sets (seed, piaf-ci, service-public-ci,
cdtn), so ``make eval``'s figures on those sets are in-sample for a quarter of the fit: the
leave-one-corpus-out table is the honest one (and whole PIAF's held-out articles, never indexed in
piaf-ci, stay unseen). Corpora weigh the same in a fit, and within one each question.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from eval.run import eval_folder, eval_index
from eval.sets import EvalQuestion, load_set
from service.core import Answerer
from service.core.ranking import RANKER_FILE, SIGNALS, Ranker, file_hash
from service.settings import Settings

log = logging.getLogger(__name__)

ARTIFACTS = Path("artifacts/ranking")
CORPORA = ("seed", "piaf-ci", "service-public-ci", "cdtn")
C = 1.0  # the logistic regression's inverse regularisation (scikit-learn's default)
# The variants measured: the signals each model reads (``trees``: gradient-boosted trees on every signal).
VARIANTS: dict[str, tuple[str, ...]] = {
    "score": ("article_gap",),
    "known": ("article_gap", "known_gap"),
    "kept": ("article_gap", "known_question_gap", "known_question_article"),
    "all": SIGNALS,
}
KEPT = "kept"


@dataclass
class Asked:
    """One set's questions as the ranking sees them: every candidate with its article's signals."""

    signals: np.ndarray  # (candidates, SIGNALS): its article's
    score: np.ndarray  # the candidate's score
    reading: np.ndarray  # its reading (MaxSim)
    article: np.ndarray  # its article, numbered within its question
    contains: np.ndarray  # 1: its answer contains a gold span of the right article (the hit@1 criterion)
    right_doc: np.ndarray  # 1: it comes from the question's article
    group: np.ndarray  # the question it belongs to (0..questions-1)
    answerable: np.ndarray  # per question
    spans: np.ndarray  # per question: 1 when it has gold spans (hit@1 counts it), 0 doc-only
    support: np.ndarray  # per question: the best score (abstention's)
    threshold: float  # the index's own abstention threshold


def _all_signals() -> Ranker:
    """A 'model' reading every signal and ranking by none: the Answerer then computes them all, unfitted."""
    n = len(SIGNALS)
    return Ranker(SIGNALS, np.zeros(n), np.ones(n), np.zeros(n), 0.0)


def ask(settings: Settings, name: str) -> Asked:
    """Every question of set ``name`` asked of its index, every candidate with its article's signals."""
    eval_set = load_set(name)
    encoder = settings.load_encoder()
    folder = eval_folder(settings, eval_set)
    index = eval_index(eval_set, encoder, settings.index_config(), folder, progress=True)
    config = replace(settings.answer_config(), ranking="learned")
    answerer = Answerer(index, encoder, config, _all_signals()).warm_up()
    columns: dict[str, list[Any]] = {key: [] for key in ("signals", "score", "reading", "article", "contains")}
    columns |= {"right_doc": [], "group": []}
    answerable, spans, support = [], [], []
    for number, question in enumerate(eval_set.questions):
        found = answerer.explain(question.question).candidates
        if found is None:
            raise ValueError(f"set {name}: its index holds no article")
        articles: dict[str, int] = {}
        for c in found.ranked:
            first, last = index.sentences[c.first], index.sentences[c.last]
            columns["signals"].append(c.features)
            columns["score"].append(c.score)
            columns["reading"].append(c.reading or 0.0)
            columns["article"].append(articles.setdefault(first.doc_id, len(articles)))
            columns["contains"].append(_contains(question, first.doc_id, first.start, last.end))
            columns["right_doc"].append(question.answerable and first.doc_id == question.doc_id)
            columns["group"].append(number)
        answerable.append(question.answerable)
        spans.append(bool(question.answers))
        support.append(found.support)
    return Asked(
        **{
            key: np.asarray(values, dtype=np.float64 if key in ("signals", "score", "reading") else np.int64)
            for key, values in columns.items()
        },
        answerable=np.asarray(answerable, dtype=np.int8),
        spans=np.asarray(spans, dtype=np.int8),
        support=np.asarray(support),
        threshold=answerer.threshold,
    )


def _contains(question: EvalQuestion, doc_id: str, start: int, end: int) -> bool:
    return doc_id == question.doc_id and any(start <= g.start and g.end <= end for g in question.answers)


def save(asked: Asked, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, Any] = {k: v for k, v in vars(asked).items() if isinstance(v, np.ndarray)}
    arrays |= {"threshold": asked.threshold, "names": np.asarray(SIGNALS)}
    np.savez_compressed(path, **arrays)


def load(path: Path) -> Asked:
    data = np.load(path, allow_pickle=False)
    if tuple(data["names"]) != SIGNALS:
        raise SystemExit(f"{path} holds other signals: run without --reuse")
    fields = {k: data[k] for k in data.files if k not in ("threshold", "names")}
    return Asked(**fields, threshold=float(data["threshold"]))


def articles(asked: Asked) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One row per (question, candidate article) of the answerable questions: its signals, whether it is
    the question's article, its question."""
    _, first = np.unique(asked.group * 10_000 + asked.article, return_index=True)
    first = first[asked.answerable[asked.group[first]] == 1]
    return asked.signals[first], asked.right_doc[first], asked.group[first]


def hand_order(asked: Asked, settings: Settings) -> np.ndarray:
    """The order the service had: the score, its best ``reader_candidates`` re-ordered by score + w × reading."""
    key = asked.score.copy()
    for g in np.unique(asked.group):
        rows = np.flatnonzero(asked.group == g)
        top = rows[np.argsort(-asked.score[rows], kind="stable")[: settings.reader_candidates]]
        key[top] = asked.score[top] + settings.reader_weight * asked.reading[top] + 1000  # read ones first
    return key


def learned_order(asked: Asked, article_key: np.ndarray, settings: Settings) -> np.ndarray:
    """Articles by ``article_key`` (one value per candidate: its article's), then score + w × reading."""
    inside = asked.score + settings.reader_weight * asked.reading
    return article_key * 1000 + inside  # article keys differ by far more than a score range


def measure(asked: Asked, key: np.ndarray) -> dict[str, float]:
    """hit@1 over the questions with gold spans and doc@1 over the answerable ones, by the best ``key``."""
    hits, docs = [], []
    for g in np.unique(asked.group):
        if not asked.answerable[g]:
            continue
        rows = np.flatnonzero(asked.group == g)
        best = rows[np.argmax(key[rows])]
        docs.append(asked.right_doc[best])
        if asked.spans[g]:
            hits.append(asked.contains[best])
    return {
        "hit@1": round(float(np.mean(hits)), 3) if hits else math.nan,
        "doc@1": round(float(np.mean(docs)), 3) if docs else math.nan,
    }


def _table(parts: list[Asked], names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The article rows of ``parts`` (the ``names`` signals), labels and weights: every corpus weighs the
    same, and within one each question."""
    xs, ys, ws = [], [], []
    columns = [SIGNALS.index(name) for name in names]
    for asked in parts:
        x, y, question = articles(asked)
        per_question = np.bincount(question).astype(float)
        questions = max(int((per_question > 0).sum()), 1)
        xs.append(x[:, columns])
        ys.append(y)
        ws.append(1.0 / per_question[question] / questions)
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(ws)


def fit(parts: list[Asked], names: tuple[str, ...] = VARIANTS[KEPT]) -> Ranker:
    """A logistic regression on standardised article signals: is this the question's article?"""
    from sklearn.linear_model import LogisticRegression

    x, y, w = _table(parts, names)
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    model = LogisticRegression(C=C, max_iter=2000)
    model.fit((x - mean) / scale, y, sample_weight=w * len(w))
    return Ranker(names, mean, scale, model.coef_[0], float(model.intercept_[0]))


def article_key(asked: Asked, ranker: Ranker) -> np.ndarray:
    """Each candidate's article's log-odds under ``ranker``."""
    columns = [SIGNALS.index(name) for name in ranker.features]
    return ranker.score(asked.signals[:, columns])


def _trees_key(train: list[Asked], test: Asked) -> np.ndarray:
    """The gradient-boosted trees variant on every signal (measured, not shipped: see the card)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    x, y, w = _table(train, SIGNALS)
    model = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.05, max_leaf_nodes=15, random_state=0)
    model.fit(x, y, sample_weight=w * len(w))
    return model.predict_proba(test.signals)[:, 1]


COLUMNS = ("hand", *VARIANTS, "trees")


def loco(asked: dict[str, Asked], settings: Settings) -> dict[str, dict[str, dict[str, float]]]:
    """Each corpus's scores with each variant fitted on the other corpora."""
    table: dict[str, dict[str, dict[str, float]]] = {}
    for corpus, target in asked.items():
        others = [a for name, a in asked.items() if name != corpus]
        table[corpus] = {"hand": measure(target, hand_order(target, settings))}
        for variant, names in VARIANTS.items():
            key = article_key(target, fit(others, names))
            table[corpus][variant] = measure(target, learned_order(target, key, settings))
        table[corpus]["trees"] = measure(target, learned_order(target, _trees_key(others, target), settings))
    return table


def markdown(table: dict[str, dict[str, dict[str, float]]], ranker: Ranker | None, sha: str | None) -> str:
    lines = [
        "# The learned ranking: card",
        "",
        "Written by `python -m eval.ranking --write` (do not edit by hand; the model is `ranker.json`, its "
        "hash is `RANKER_SHA256` in `ranking.py`, checked at load).",
        "",
        "- **Model**: a logistic regression (scikit-learn, C = 1) on standardised signals of each candidate "
        "article (`service.core.ranking.SIGNALS`): is it the question's article? The answer is then the "
        "best candidate of the first article by score + 0.5 × reading. Applied with numpy at run time.",
        "- **Data**: the answerable questions of " + ", ".join(f"`{c}`" for c in CORPORA) + " (`make eval`'s "
        "sets), asked of their indexes; every corpus weighs the same, and within one each question. The "
        "shipped model is fitted on all four: `make eval`'s figures are in-sample for a quarter of it.",
        "- **Scores**: leave-one-corpus-out — each corpus measured with the model fitted on the other three; "
        "hit@1 (the first answer contains a gold span, no abstention) / doc@1 (its article is the "
        "question's). `hand`: the order before this model (score, the best ten re-ordered by score + 0.5 × "
        "reading). Variants, by the signals they read: "
        + "; ".join(f"`{v}`: {', '.join(names)}" for v, names in VARIANTS.items())
        + "; `trees`: gradient-boosted trees (scikit-learn HistGradientBoosting) on every signal, measured, "
        f"not shipped. Kept: `{KEPT}`.",
        "",
        "| corpus left out | " + " | ".join(COLUMNS) + " |",
        "|---|" + "---|" * len(COLUMNS),
    ]
    for corpus, row in table.items():
        lines.append(
            f"| {corpus} | " + " | ".join(f"{row[v]['hit@1']:.3f} / {row[v]['doc@1']:.3f}" for v in COLUMNS) + " |"
        )
    if ranker is not None:
        lines += ["", "Coefficients of the shipped model (fitted on every corpus; standardised signals):", ""]
        lines += ["| signal | coefficient |", "|---|---|"]
        lines += [f"| {name} | {coef:+.3f} |" for name, coef in zip(ranker.features, ranker.coef)]
        lines += ["", f"`ranker.json` SHA-256: `{sha}`"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reuse", action="store_true", help="read the candidates kept under artifacts/ranking/")
    parser.add_argument("--write", action="store_true", help="fit on every corpus, write ranker.json and ranker.md")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    settings = Settings()
    asked: dict[str, Asked] = {}
    for name in CORPORA:
        path = ARTIFACTS / f"{name}.npz"
        if args.reuse and path.is_file():
            asked[name] = load(path)
        else:
            asked[name] = ask(settings, name)
            save(asked[name], path)
    table = loco(asked, settings)
    ranker, sha = None, None
    if args.write:
        ranker = fit(list(asked.values()))
        RANKER_FILE.write_text(json.dumps(ranker.to_dict(), indent=1) + "\n", encoding="utf-8")
        sha = file_hash(RANKER_FILE)
    text = markdown(table, ranker, sha)
    if args.write:
        RANKER_FILE.with_suffix(".md").write_text(text, encoding="utf-8")
        log.info("wrote %s: set RANKER_SHA256 = %r in service/core/ranking.py", RANKER_FILE, sha)
    print(text)


if __name__ == "__main__":
    main()
