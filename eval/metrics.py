"""Scores for one system on one set: retrieval, answers, faithfulness, abstention, latency.

All systems (Sourcier and the baselines) hand over the same :class:`Prediction` per question, so
every number in a report is computed by the same code.
"""

from __future__ import annotations

import re
import statistics
import string
import unicodedata
from dataclasses import dataclass, field

from eval.sets import EvalQuestion


@dataclass(frozen=True)
class Span:
    doc_id: str
    start: int
    end: int
    text: str


@dataclass
class Prediction:
    """A system's best answer for a question, whatever its score, plus its ranked passages."""

    question_id: str
    answer: Span | None
    score: float
    passages: list[Span] = field(default_factory=list)  # ranked, at least 10 when available
    seconds: float = 0.0
    cited: Span | None = None  # the citation's span (must contain the answer)


# Elided and full French articles/determiners removed before comparing answers (SQuAD-style).
_ARTICLES = re.compile(r"\b(le|la|les|l'|un|une|des|du|de|d')\s*", re.IGNORECASE)
_PUNCT = set(string.punctuation) | set("«»“”‘’…–—")


def normalize_answer(text: str) -> str:
    """Lower case, typographic apostrophes folded, articles and punctuation removed, accents kept."""
    text = unicodedata.normalize("NFC", text).replace("’", "'").lower()
    text = _ARTICLES.sub(" ", text)
    text = "".join(" " if ch in _PUNCT else ch for ch in text)
    return " ".join(text.split())


def exact_match(prediction: str, golds: list[str]) -> float:
    return float(any(normalize_answer(prediction) == normalize_answer(g) for g in golds))


def token_f1(prediction: str, golds: list[str]) -> float:
    best = 0.0
    pred_tokens = normalize_answer(prediction).split()
    for gold in golds:
        gold_tokens = normalize_answer(gold).split()
        common = sum(min(pred_tokens.count(t), gold_tokens.count(t)) for t in set(pred_tokens))
        if common:
            precision, recall = common / len(pred_tokens), common / len(gold_tokens)
            best = max(best, 2 * precision * recall / (precision + recall))
    return best


def contains_gold(span: Span | None, question: EvalQuestion) -> bool:
    return (
        span is not None
        and span.doc_id == question.doc_id
        and any(span.start <= g.start and g.end <= span.end for g in question.answers)
    )


def auroc(positives: list[float], negatives: list[float]) -> float | None:
    """Probability that a random answerable question scores above a random unanswerable one."""
    if not positives or not negatives:
        return None
    ranked = sorted([(s, 1) for s in positives] + [(s, 0) for s in negatives])
    rank_sum, i = 0.0, 0
    while i < len(ranked):
        j = i
        while j < len(ranked) and ranked[j][0] == ranked[i][0]:
            j += 1
        average_rank = (i + j + 1) / 2
        rank_sum += average_rank * sum(label for _, label in ranked[i:j])
        i = j
    n_pos, n_neg = len(positives), len(negatives)
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    low, high = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)


def faithfulness_failures(prediction: Prediction, texts: dict[str, str]) -> list[str]:
    """Every returned span must be the article's text at its offsets, and the citation must contain the answer."""
    problems = []
    for kind, span in [("answer", prediction.answer)] + [("passage", p) for p in prediction.passages]:
        if span is not None and texts.get(span.doc_id, "")[span.start : span.end] != span.text:
            problems.append(
                f"{prediction.question_id}: {kind} text differs from {span.doc_id}[{span.start}:{span.end}]"
            )
    answer, cited = prediction.answer, prediction.cited
    if answer is not None and (
        cited is None or cited.doc_id != answer.doc_id or not cited.start <= answer.start <= answer.end <= cited.end
    ):
        problems.append(f"{prediction.question_id}: citation does not contain the answer")
    return problems


def threshold_curve(points: list[tuple[float, bool, bool]], steps: int = 41) -> list[dict[str, float]]:
    """For thresholds across the score range: coverage (share of questions answered), accuracy of
    the answered ones (answerable and hit), and overall decision accuracy (answered when correct,
    abstained when unanswerable or wrong). ``points`` are (score, answerable, hit)."""
    if not points:
        return []
    low, high = min(p[0] for p in points), max(p[0] for p in points)
    curve = []
    for i in range(steps):
        t = low + (high - low) * i / (steps - 1)
        answered = [p for p in points if p[0] >= t]
        good = sum(1 for _, answerable, hit in answered if answerable and hit)
        right = good + sum(1 for p in points if p[0] < t and not p[1])
        curve.append(
            {
                "threshold": round(t, 4),
                "coverage": len(answered) / len(points),
                "accuracy": good / len(answered) if answered else 1.0,
                "decisions": right / len(points),
            }
        )
    return curve


def score(
    questions: list[EvalQuestion], predictions: list[Prediction], threshold: float, texts: dict[str, str]
) -> dict:
    """All metrics for one system; ``threshold`` decides abstention from each prediction's score."""
    answerable = [(q, p) for q, p in zip(questions, predictions) if q.answerable]
    unanswerable = [(q, p) for q, p in zip(questions, predictions) if not q.answerable]
    # span metrics count the questions with a gold span; a doc-only question (its article known, no
    # span) counts for doc@1 and abstention only
    spanned = [(q, p) for q, p in answerable if q.answers]
    answered = [(q, p) for q, p in spanned if p.score >= threshold and p.answer is not None]
    n = len(spanned) or 1

    def mean(values: list[float]) -> float:
        return sum(values) / len(values) if values else 0.0

    def recall_at(k: int) -> float:
        return mean([float(any(contains_gold(s, q) for s in p.passages[:k])) for q, p in spanned])

    def reciprocal_rank(q: EvalQuestion, p: Prediction) -> float:
        return next((1 / (i + 1) for i, s in enumerate(p.passages[:10]) if contains_gold(s, q)), 0.0)

    golds = {q.id: [g.text for g in q.answers] for q, _ in spanned}
    answer_texts = [p.answer.text for q, p in answerable if p.score >= threshold and p.answer is not None]
    failures = [f for p in predictions for f in faithfulness_failures(p, texts)]
    checked = sum((p.answer is not None) + len(p.passages) for p in predictions)
    seconds = [p.seconds * 1000 for p in predictions]
    return {
        "questions": len(questions),
        "answerable": len(answerable),
        "with_span": len(spanned),
        "unanswerable": len(unanswerable),
        "threshold": threshold if threshold > -1e9 else None,
        "retrieval": {
            "doc@1": mean([float(bool(p.passages) and p.passages[0].doc_id == q.doc_id) for q, p in answerable]),
            "recall@1": recall_at(1),
            "recall@3": recall_at(3),
            "recall@10": recall_at(10),
            "mrr@10": mean([reciprocal_rank(q, p) for q, p in spanned]),
        },
        "answers": {
            "hit@1": sum(contains_gold(p.answer, q) for q, p in answered) / n,
            "hit@1_unthresholded": mean([float(contains_gold(p.answer, q)) for q, p in spanned]),
            "exact_match": sum((exact_match(p.answer.text, golds[q.id]) for q, p in answered if p.answer), 0.0) / n,
            "f1": sum((token_f1(p.answer.text, golds[q.id]) for q, p in answered if p.answer), 0.0) / n,
            "mean_chars": mean([float(len(t)) for t in answer_texts]),
            "median_chars": statistics.median([len(t) for t in answer_texts]) if answer_texts else 0,
        },
        "faithfulness": {
            "checked": checked,
            "failures": failures,
            "rate": 1.0 - len(failures) / checked if checked else 1.0,
        },
        "abstention": {
            "abstain_rate": mean([float(p.score < threshold or p.answer is None) for _, p in unanswerable]),
            "false_abstain_rate": mean([float(p.score < threshold or p.answer is None) for _, p in answerable]),
            "auroc": auroc([p.score for _, p in answerable], [p.score for _, p in unanswerable]),
            "curve": threshold_curve(
                [(p.score, q.answerable, contains_gold(p.answer, q)) for q, p in zip(questions, predictions)]
            ),
        },
        "latency_ms": {"p50": percentile(seconds, 0.5), "p95": percentile(seconds, 0.95)},
    }
