"""Choose the abstention threshold on data and record it in ``service/core/calibration.json``.

``python -m eval.calibrate --set seed --set piaf-ci`` runs Sourcier on the sets without abstaining,
then picks the score threshold that maximises balanced accuracy — the mean of "unanswerable
questions abstain" and "answerable questions are answered" — over all their questions, among the
thresholds that falsely abstain on at most 5 % of the answerable ones (``--max-false-abstain``, the
target of the evaluation issue: a reader whose question is covered should get the answer). Balanced,
because the sets hold far more answerable than unanswerable questions and a plain accuracy would
sacrifice abstention. The file keeps the threshold with the data it was chosen on and the rates it
gives on each set, so the trade-off is visible and the choice can be re-run.
"""

from __future__ import annotations

import argparse
import json
import logging
import time

from eval.run import SourcierSystem, eval_folder, eval_index, predict_all
from eval.sets import load_set
from service.core import Answerer
from service.core.calibration import CALIBRATION_FILE, calibration_key, read_calibrations
from service.settings import Settings


def balanced_threshold(answerable: list[float], unanswerable: list[float], max_false_abstain: float = 1.0) -> float:
    """The midpoint between two adjacent observed scores that maximises balanced accuracy, among those
    under which at most ``max_false_abstain`` of the answerable questions fall."""
    values = sorted(set(answerable) | set(unanswerable))
    candidates = [(a + b) / 2 for a, b in zip(values, values[1:])] or values
    best, best_value = candidates[0], -1.0
    for t in candidates:
        answered = sum(s >= t for s in answerable) / len(answerable)
        if 1 - answered > max_false_abstain:
            continue
        abstained = sum(s < t for s in unanswerable) / len(unanswerable)
        if (answered + abstained) / 2 > best_value:
            best, best_value = t, (answered + abstained) / 2
    return best


def rates(answerable: list[float], unanswerable: list[float], t: float) -> dict[str, float]:
    return {
        "abstain_rate": round(sum(s < t for s in unanswerable) / max(1, len(unanswerable)), 4),
        "false_abstain_rate": round(sum(s < t for s in answerable) / max(1, len(answerable)), 4),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", action="append", required=True, help="calibration set (repeatable)")
    parser.add_argument(
        "--max-false-abstain",
        type=float,
        default=0.05,
        help="largest share of answerable questions the threshold may abstain on (default 0.05)",
    )
    parser.add_argument("--write", action="store_true", help="record the threshold in service/core/calibration.json")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    settings = Settings()
    encoder = settings.load_encoder()
    scores: dict[str, tuple[list[float], list[float]]] = {}
    for name in args.set:
        eval_set = load_set(name)
        folder = eval_folder(settings, eval_set)
        index = eval_index(eval_set, encoder, settings.index_config(), folder, progress=True)
        answerer = Answerer(index, encoder, settings.answer_config(threshold=0.0))
        predictions = predict_all(SourcierSystem(answerer), eval_set, progress=True)
        pos = [p.score for q, p in zip(eval_set.questions, predictions) if q.answerable]
        neg = [p.score for q, p in zip(eval_set.questions, predictions) if not q.answerable]
        scores[name] = (pos, neg)
    all_pos = [s for pos, _ in scores.values() for s in pos]
    all_neg = [s for _, neg in scores.values() for s in neg]
    threshold = round(balanced_threshold(all_pos, all_neg, args.max_false_abstain), 4)
    entry = {
        "threshold": threshold,
        "chosen_on": args.set,
        "rule": "maximises balanced accuracy (abstain rate on unanswerable + answer rate on answerable) / 2 "
        f"among thresholds that falsely abstain on at most {args.max_false_abstain:.0%} of the "
        "answerable questions of the sets together",
        "settings": settings.calibrated_settings(),
        "rates": {name: rates(pos, neg, threshold) for name, (pos, neg) in scores.items()},
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    print(json.dumps(entry, ensure_ascii=False, indent=2))
    if args.write:
        data = read_calibrations()
        data[calibration_key(settings.model, settings.runtime, settings.dims)] = entry
        CALIBRATION_FILE.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
