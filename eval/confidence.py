"""Leave-one-corpus-out: when is an answer *confident*, and does the rule carry over to a corpus nobody tuned on?

``python -m eval.confidence`` (``make eval`` runs it). Beside abstaining (the index's own threshold, see
``eval.abstention``), Sourcier says how sure an answer is: a question on the site's topic that no page
answers (near-topic) scores between the off-topic bank and the answerable questions, so it gets the
closest passage marked "à vérifier" instead of an answer shown as found. Rules compared, each per index,
without labels (from the index's threshold or its bank scores):
- ``margin``: confident when the support clears the index's threshold by a fixed margin (the service's
  rule: setting CONFIDENT_MARGIN);
- ``deviations``: confident over the bank scores' mean plus k standard deviations (a second, higher
  threshold of the abstention rule's kind).
For each corpus left out, a rule's parameter is chosen on the other corpora — the one that leaves the
fewest unanswerable questions confident while at least 90 % of each one's answerable questions are
confident — then measured on it: answerable confident, unanswerable confident (the set's own
unanswerable questions but its off-domain ones: near-topic, held-out articles), off-domain (the other
corpora's questions) confident.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from eval.abstention import Scores, _same_corpus, collect, floors_missed, write
from service.core import abstention
from service.settings import Settings

MIN_CONFIDENT = 0.80  # answerable questions confident on each training corpus (the held-out sites ask 0.80–0.85)
# Floors guarded by CI (`--check`) for the service's rule on each corpus left out: a little under what it
# measures (eval/results/confidence.md), so that a change that breaks the transfer fails the build.
FLOORS: dict[str, dict[str, float]] = {
    "seed": {"answerable": 0.80, "unanswerable": 0.25},
    "piaf-ci": {"answerable": 0.75, "unanswerable": 0.05},
    "service-public-ci": {"answerable": 0.95, "unanswerable": 0.05},
    "cdtn": {"answerable": 0.90, "unanswerable": 0.40},  # the targets: ≥ 0.90 and ≤ 0.40
}


def _threshold(scores: Scores, settings: Settings) -> float:
    return abstention.rule_threshold(scores.bank, settings.abstain_deviations, settings.abstain_floor)


def _margin(scores: Scores, value: float, settings: Settings) -> float:
    return _threshold(scores, settings) + value


def _deviations(scores: Scores, value: float, settings: Settings) -> float:
    return max(_threshold(scores, settings), abstention.rule_threshold(scores.bank, value, -math.inf))


Rule = Callable[[Scores, float, Settings], float]
RULES: dict[str, tuple[Rule, np.ndarray]] = {
    "margin": (_margin, np.round(np.arange(0.0, 0.3, 0.005), 4)),
    "deviations": (_deviations, np.round(np.arange(0.0, 8.0, 0.05), 4)),
}


def confident(scores: Scores, bar: float, threshold: float = math.inf) -> dict[str, float]:
    """Shares of each kind of question whose support reaches ``bar``, and of the set's own off-domain
    questions that abstain (under ``threshold``)."""

    def share(values: list[float], at: float = bar) -> float:
        return float(np.mean(np.asarray(values) >= at)) if values else math.nan

    styles = scores.unanswerable_styles or [""] * len(scores.unanswerable)
    near = [s for s, style in zip(scores.unanswerable, styles) if style != "off_domain"]
    own_off = [s for s, style in zip(scores.unanswerable, styles) if style == "off_domain"]
    return {
        "answerable": share(scores.answerable),
        "unanswerable": share(near),
        "off_domain": share(scores.off_domain),
        "own_off_domain_abstain": 1 - share(own_off, threshold) if own_off else math.nan,
        "bar": bar,
    }


def choose(train: list[Scores], rule: str, settings: Settings) -> float | None:
    """The parameter leaving the fewest unanswerable questions confident (mean over the training corpora)
    with at least ``MIN_CONFIDENT`` of each one's answerable questions confident; ties: the smallest."""
    bar_of, grid = RULES[rule]
    best, best_value = None, math.inf
    for value in grid:
        got = [confident(scores, bar_of(scores, float(value), settings)) for scores in train]
        if any(g["answerable"] < MIN_CONFIDENT for g in got):
            continue
        mean = float(np.mean([g["unanswerable"] for g in got if not math.isnan(g["unanswerable"])]))
        if mean < best_value:
            best, best_value = float(value), mean
    return best


def leave_one_out(scores: dict[str, Scores], names: list[str], settings: Settings) -> list[dict[str, Any]]:
    rows = []
    for rule, (bar_of, _) in RULES.items():
        for test in names:
            train = [scores[n] for n in names if not _same_corpus(n, test)]
            value = choose(train, rule, settings)
            row: dict[str, Any] = {"rule": rule, "left_out": test, "value": value}
            if value is not None:
                threshold = _threshold(scores[test], settings)
                row |= confident(scores[test], bar_of(scores[test], value, settings), threshold)
            rows.append(row)
    return rows


def markdown(rows: list[dict[str, Any]], chosen: float | None, settings: Settings) -> str:
    lines = [
        "# Confident answers, leave one corpus out (`python -m eval.confidence`, run by `make eval`)",
        "",
        f"Each rule's parameter is chosen on the other corpora (≥ {MIN_CONFIDENT:.0%} of each one's answerable",
        "questions confident, fewest unanswerable ones), then measured on the corpus left out: the share of",
        "each kind of question given a confident answer. Unanswerable: the set's own, off-domain ones apart;",
        "off-domain: the other corpora's questions; own off-domain abstain: the set's off-domain questions",
        "under the index's abstention threshold (only cdtn has them).",
        "",
        "| rule | left out | parameter | bar | answerable confident | unanswerable confident | off-domain confident "
        "| own off-domain abstain |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        if row["value"] is None:
            lines.append(f"| {row['rule']} | {row['left_out']} | none fits | | | | |")
            continue
        lines.append(
            f"| {row['rule']} | {row['left_out']} | {row['value']} | {row['bar']:.3f} | {row['answerable']:.3f} | "
            f"{row['unanswerable']:.3f} | {row['off_domain']:.3f} | {row['own_off_domain_abstain']:.3f} |"
        )
    lines += [
        "",
        f"Margin chosen on all these sets: {chosen} (setting CONFIDENT_MARGIN: {settings.confident_margin}).",
        "",
    ]
    return "\n".join(lines)


def check(rows: list[dict[str, Any]]) -> list[str]:
    """The service's rule (``margin``) on each corpus left out against its floors (unanswerable: at most)."""
    return floors_missed(rows, "margin", "value", FLOORS, {"unanswerable"})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", action="append", help="a corpus of the comparison (repeatable)")
    parser.add_argument("--markdown", help="write the table to this Markdown file")
    parser.add_argument("--json", help="write the rows to this JSON file")
    parser.add_argument("--check", action="store_true", help="fail when a left-out corpus misses a floor")
    parser.add_argument("--scores", help="the JSON of python -m eval.abstention --json (its scores, not asked again)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    settings = Settings()
    if args.scores:
        record = json.loads(Path(args.scores).read_text(encoding="utf-8"))["scores"]
        scores = {name: Scores(**value) for name, value in record.items()}
        names = args.set or list(scores)
    else:
        names = args.set or ["seed", "piaf-ci", "service-public-ci", "cdtn"]
        scores = collect(settings, names)
    rows = leave_one_out(scores, names, settings)
    chosen = choose([scores[n] for n in names], "margin", settings)
    write(markdown(rows, chosen, settings), args.markdown, args.json, {"rows": rows, "chosen": chosen})
    missed = check(rows) if args.check else []
    for line in missed:
        print(f"FLOOR MISSED {line}")
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
