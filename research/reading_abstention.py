"""Could reading decide abstention better than the score it has now? (issue 14, near-topic questions)

    python -m research.reading_abstention --set piaf-ci --set seed       # ~1 min here once the indexes exist

Abstention decides on ``support``, the best candidate's score without reading. Questions of articles
left out of the index (piaf-ci's held-out articles: near-topic, the same encyclopaedia) and the seed's
unanswerable ones are the ones that must abstain. For each signal — ``support``; the best of ``score +
reader_weight × MaxSim`` over the candidates read (what reading would decide on); MaxSim alone — this
prints how well it separates answerable from unanswerable questions (AUC: the chance that an answerable
question scores above an unanswerable one) and, at the threshold that abstains on 5 % of the answerable
questions, the share of unanswerable ones that abstain. The threshold is the set's own (an oracle),
so the figures compare the signals, not what the service reaches (``make eval`` says that).
"""

from __future__ import annotations

import argparse

import numpy as np

from eval.run import eval_folder, eval_index
from eval.sets import load_set
from research.signals import candidates
from service.core import Answerer

SIGNALS = ("support", "support + reading", "MaxSim alone")


def signals(answerer: Answerer, question: str) -> tuple[float, float, float]:
    """The three signals of one question, from the service's own candidates."""
    found = candidates(answerer, question)
    weight = answerer.config.reader_weight
    read = found.ranked[: answerer.config.reader_candidates]
    maxsims = [c.reading or 0.0 for c in read]
    return found.support, max(c.score + weight * (c.reading or 0.0) for c in read), max(maxsims, default=0.0)


def auc(answerable: np.ndarray, unanswerable: np.ndarray) -> float:
    """P(an answerable question's signal > an unanswerable one's), ties counting half."""
    above = (answerable[:, None] > unanswerable[None, :]).mean()
    return float(above + 0.5 * (answerable[:, None] == unanswerable[None, :]).mean())


def main(argv: list[str] | None = None) -> int:
    from service.settings import Settings

    parser = argparse.ArgumentParser(prog="python -m research.reading_abstention", description=__doc__.split("\n")[0])
    parser.add_argument("--set", action="append", dest="sets", required=True, help="a set name (repeatable)")
    args = parser.parse_args(argv)
    settings = Settings()
    encoder = settings.load_encoder()
    print("| set | answerable | unanswerable | signal | AUC | abstained at 5 % false abstentions |")
    print("|---|--:|--:|---|--:|--:|")
    for name in args.sets:
        eval_set = load_set(name)
        index = eval_index(eval_set, encoder, settings.index_config(), eval_folder(settings, eval_set))
        answerer = Answerer(index, encoder, settings.answer_config(threshold=0.0)).warm_up()
        rows: dict[bool, list[tuple[float, float, float]]] = {True: [], False: []}
        for q in eval_set.questions:
            rows[q.answerable].append(signals(answerer, q.question))
        yes, no = np.array(rows[True]), np.array(rows[False])
        for i, signal in enumerate(SIGNALS):
            threshold = np.quantile(yes[:, i], 0.05)
            print(
                f"| {name} | {len(yes)} | {len(no)} | {signal} | {auc(yes[:, i], no[:, i]):.3f} | "
                f"{np.mean(no[:, i] < threshold):.3f} |"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
