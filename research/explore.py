"""Try answer-selection ideas offline: the candidates of every question are gathered once, with the
signals each idea needs, then each variant is scored in seconds instead of re-running the encoder.

    python -m research.explore --set seed --set piaf-ci --set piaf

Candidates, their scores and the answer each one would give (alone or paired) come from the
service's own ``Answerer.candidates``, so the ``current`` variant is the service's choice: its hit@1
equals `sourcier eval`'s "hit@1 (no abstention)" on the same index (lengths here are over every
answerable question, without abstention, so they differ slightly from the report's). The other
variants are the ideas measured (eval/README.md): the service without its number check, and the
dropped ones: a ranker learned on PIAF questions outside piaf-ci, a bonus for the article most of the
nearest sentences come from, and the share of the question's words found in the article."""

from __future__ import annotations

import argparse
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from corpus.text import terms
from eval import metrics
from eval.metrics import Span
from eval.run import eval_folder, eval_index
from eval.sets import EvalQuestion, EvalSet, load_set
from research import signals
from service.core import Answerer


@dataclass
class Unit:
    """One candidate sentence of one question, with the signals the variants use."""

    doc_id: str
    score: float  # the service's score
    own: float  # the sentence's similarity
    chunk: float  # its best chunk's
    lexical: float  # share of the question's IDF weight in the sentence
    window: float  # ... in the sentence and its pair neighbours
    article: float  # ... anywhere in its article
    rank: int  # rank among the nearest sentences (30 when it came from a chunk only)
    length: int
    unnumbered: bool  # the question asks a number and the sentence states none (score lowered)
    gold: bool  # the sentence contains a gold span
    pair_gold: bool  # one of its pairs contains a gold span
    answer_gold: bool  # the answer the service builds from it (alone or paired) contains one
    answer_length: int
    reading: float  # the service's reading term (reader_weight × MaxSim) for the candidates it read, else 0


@dataclass
class Asked:
    answerable: bool
    doc_id: str | None
    top_chunk: float
    units: list[Unit]


def gather(eval_set: EvalSet, answerer: Answerer) -> list[Asked]:
    """The candidates the service considers for every question (``Answerer.candidates``), with the
    signals of the variants."""
    index, overlap = answerer.index, answerer.overlap
    article_terms = {d: frozenset(terms(a.text)) for d, a in index.articles.items()}
    asked = []
    for q in eval_set.questions:
        found = signals.candidates(answerer, q.question)
        part = signals.parts(answerer, q.question, found)
        weights = overlap.weights(q.question)
        total = sum(weights.values()) or 1.0

        def contains_gold(first: int, last: int, q: EvalQuestion = q) -> bool:
            a, b = index.sentences[first], index.sentences[last]
            return q.answerable and metrics.contains_gold(Span(a.doc_id, a.start, b.end, ""), q)

        def share(
            found_terms: set[str] | frozenset[str], weights: dict[str, float] = weights, total: float = total
        ) -> float:
            return sum(w for t, w in weights.items() if t in found_terms) / total

        units = []
        for c in sorted(found.ranked, key=lambda c: c.pos):
            sentence = index.sentences[c.pos]
            pairs = signals.pairs_of(index, c.pos)
            window = set(overlap.sentence_terms[c.pos]).union(
                *(overlap.sentence_terms[p] for pair in pairs for p in pair)
            )
            units.append(
                Unit(
                    sentence.doc_id,
                    c.score,
                    part[c.pos].own,
                    part[c.pos].chunk,
                    part[c.pos].lexical,
                    share(window),
                    share(article_terms[sentence.doc_id]),
                    part[c.pos].nearest_rank,
                    sentence.end - sentence.start,
                    part[c.pos].unnumbered,
                    contains_gold(c.pos, c.pos),
                    any(contains_gold(*pair) for pair in pairs),
                    contains_gold(c.first, c.last),
                    index.sentences[c.last].end - index.sentences[c.first].start,
                    answerer.config.reader_weight * (c.reading or 0.0),
                )
            )
        asked.append(Asked(q.answerable, q.doc_id, found.chunk_hits[0][1], units))
    return asked


def features(unit: Unit, top_chunk: float) -> list[float]:
    return [
        unit.own,
        unit.chunk,
        unit.lexical,
        unit.window,
        unit.article,
        1 / (1 + unit.rank),
        unit.chunk - top_chunk,
        math.log(unit.length + 1) / 6,
        float(unit.unnumbered),
    ]


def learn_ranker(asked: list[Asked], l2: float = 1e-3) -> np.ndarray:
    """Weights of a linear score trained listwise (softmax over a question's candidates, the
    gold-holding ones as targets) — the "learned ranker" variant."""
    from scipy.optimize import minimize

    data = []
    for a in asked:
        y = np.array([u.gold or u.pair_gold for u in a.units], dtype=float)
        if y.any():
            data.append((np.array([features(u, a.top_chunk) for u in a.units]), y))
    stacked = np.concatenate([x for x, _ in data])
    mean, scale = stacked.mean(0), stacked.std(0) + 1e-9

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        total, grad = 0.0, np.zeros_like(w)
        for x, y in data:
            z = (x - mean) / scale
            s = z @ w
            p = np.exp(s - s.max())
            p /= p.sum()
            target = p * y / (p * y).sum()
            total -= math.log((p * y).sum() + 1e-12)
            grad -= z.T @ (target - p)
        return total / len(data) + l2 * w @ w, grad / len(data) + 2 * l2 * w

    return minimize(loss, np.zeros(stacked.shape[1]), jac=True, method="L-BFGS-B").x / scale


def report(name: str, variant: str, asked: list[Asked], score: Callable[[Unit, Asked], float]) -> None:
    hits, lengths, positives, negatives, docs, ceiling = [], [], [], [], [], []
    for a in asked:
        scores = [score(u, a) for u in a.units]
        best = a.units[int(np.argmax(scores))]
        if a.answerable:
            hits.append(best.answer_gold)
            lengths.append(best.answer_length)
            positives.append(max(scores))
            docs.append(best.doc_id == a.doc_id)
            ceiling.append(best.gold or best.pair_gold)
        else:
            negatives.append(max(scores))
    # "pair ceiling": hit@1 if the best sentence always took the right neighbour (or none) — what a
    # better pair rule could reach without changing the sentence ranking.
    line = (
        f"{name:8} {variant:24} hit@1 {np.mean(hits):.3f}  chars {np.mean(lengths):6.1f}  "
        f"doc@1 {np.mean(docs):.3f}  pair ceiling {np.mean(ceiling):.3f}"
    )
    if negatives:
        pos, neg = np.array(positives), np.array(negatives)
        auroc = (pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean()
        at_5 = (neg < np.quantile(pos, 0.05)).mean()
        line += f"  AUROC {auroc:.3f}  abstain at 5 % false {at_5:.3f}"
    print(line)


def main() -> None:
    from service.settings import Settings

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", action="append", required=True, help="seed, piaf-ci, piaf (repeatable)")
    args = parser.parse_args()
    settings = Settings()
    encoder = settings.load_encoder()
    gathered = {}
    for name in args.set:
        eval_set = load_set(name)
        index = eval_index(eval_set, encoder, settings.index_config(), eval_folder(settings, eval_set))
        answerer = Answerer(index, encoder, settings.answer_config()).warm_up()
        gathered[name] = (answerer, gather(eval_set, answerer))
    weights = None
    if "piaf" in gathered and "piaf-ci" in gathered:
        held_docs = {a.doc_id for a in gathered["piaf-ci"][1]}
        weights = learn_ranker([a for a in gathered["piaf"][1] if a.answerable and a.doc_id not in held_docs])
    for name, (answerer, asked) in gathered.items():
        penalty = answerer.config.number_penalty
        report(name, "current", asked, lambda u, a: u.score + u.reading)
        report(name, "no reading", asked, lambda u, a: u.score)

        def no_number_check(u: Unit, a: Asked, penalty: float = penalty) -> float:
            return u.score + (penalty if u.unnumbered else 0.0)

        report(name, "no number check", asked, no_number_check)

        def article_bonus(u: Unit, a: Asked) -> float:
            near = Counter(v.doc_id for v in a.units if v.rank < 10)
            return u.score + 0.05 * near[u.doc_id] / 10

        report(name, "+0.05 nearest-article share", asked, article_bonus)
        report(name, "+0.1 article word share", asked, lambda u, a: u.score + 0.1 * u.article)
        if weights is not None and name != "piaf":  # piaf holds the training questions

            def learned(u: Unit, a: Asked, w: np.ndarray = weights) -> float:
                return float(np.dot(features(u, a.top_chunk), w))

            report(name, "learned ranker", asked, learned)


if __name__ == "__main__":
    main()
