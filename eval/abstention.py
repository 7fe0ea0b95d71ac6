"""Leave-one-corpus-out: does an index's own abstention threshold hold on a corpus nobody tuned it on?

``python -m eval.abstention`` (``make eval`` runs it). For each corpus C of the sets (seed, piaf-ci,
service-public-ci, cdtn by default): a rule is chosen on the *other* corpora — among the rules that falsely
abstain on at most 5 % of each one's answerable questions, the one that abstains most on their
unanswerable ones — then applied to C, and C's rates are measured: unanswerable questions that abstain,
answerable ones that falsely abstain, and off-domain questions (the other corpora's questions asked of C)
that abstain. ``--extra piaf`` measures a set that takes no part in any choice with the rule chosen on
all the other sets but its own corpus (piaf with piaf-ci left out).

The rules compared (each index's bank scores: its corpus's best scores for the shipped off-topic bank):
- ``fixed``: one score threshold, the same on every index (what Sourcier did before: 0.349 fitted on
  seed + piaf-ci);
- ``bank-quantile``: a quantile of the index's bank scores plus a margin;
- ``bank-deviations``: the bank scores' mean plus k standard deviations;
- ``bank``: ``max(floor, mean + k × std)``, the service's rule (``service.core.abstention``; settings
  ABSTAIN_DEVIATIONS and ABSTAIN_FLOOR).
The ``bank`` rule chosen on all the sets is printed. The settings' defaults are the one chosen on the
full sets (``--set seed --set piaf-ci --set service-public``); on the CI-sized sets the choice can differ
a little (printed as a note), since fewer questions decide it.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from eval.run import eval_folder, eval_index
from eval.sets import load_set
from index.encoder import Encoder, ModelInfo
from service.core import Answerer, abstention
from service.settings import Settings

MAX_FALSE_ABSTAIN = 0.05
# Floors guarded by CI (`--check`) for the service's rule on each corpus left out: a little under what it
# measures (eval/results/abstention.md), so a change that breaks the transfer fails the build. The issue's
# targets (≥ 0.90 abstain, ≤ 0.05 false, ≥ 0.95 off-domain) are not all met yet: see eval/README.md.
# With cdtn among the corpora (since "What the site already says"), the rule chosen without piaf-ci is
# chosen on three help-centre-like corpora and falsely abstains more on Wikipedia (0.107), and cdtn's
# labour-law questions count as off-domain for service-public, which answers some of them: floors as measured.
FLOORS: dict[str, dict[str, float]] = {
    "seed": {"abstain": 0.55, "false_abstain": 0.05, "off_domain": 0.95},
    "piaf-ci": {"abstain": 0.93, "false_abstain": 0.12, "off_domain": 0.93},
    "service-public-ci": {"abstain": 0.85, "false_abstain": 0.05, "off_domain": 0.97},
    "cdtn": {"abstain": 0.50, "false_abstain": 0.05, "off_domain": 0.95},
}


@dataclass
class Scores:
    """Best-answer scores on one corpus's index: its own questions, the bank, other corpora's questions."""

    answerable: list[float]
    unanswerable: list[float]
    bank: list[float]
    off_domain: list[float]
    # each unanswerable question's style (near_topic, off_domain, held-out…); empty: not told
    unanswerable_styles: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Rates:
    abstain: float  # unanswerable questions that abstain
    false_abstain: float  # answerable questions that abstain
    off_domain: float  # other corpora's questions that abstain
    threshold: float


class CachedEncoder:
    """Encodes each question once for all the indexes it is asked of (the vectors do not depend on the index)."""

    def __init__(self, encoder: Encoder) -> None:
        self.encoder = encoder
        self.name, self.dims, self.runtime = encoder.name, encoder.dims, encoder.runtime
        self.cache: dict[str, np.ndarray] = {}

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        missing = [text for text in texts if text not in self.cache]
        if missing:
            self.cache.update(zip(missing, self.encoder.encode_queries(missing)))
        return np.array([self.cache[text] for text in texts])

    def encode_documents(self, texts: list[str], titles: list[str], progress: bool = False) -> np.ndarray:
        return self.encoder.encode_documents(texts, titles, progress)

    def info(self) -> ModelInfo:
        return self.encoder.info()


def _same_corpus(a: str, b: str) -> bool:
    return a.split("-")[0] == b.split("-")[0]  # piaf and piaf-ci, service-public and service-public-ci


def collect(settings: Settings, names: list[str], progress: bool = False) -> dict[str, Scores]:
    """Every set's index asked its own questions, the bank and the other sets' questions."""
    encoder = CachedEncoder(settings.load_encoder())
    sets = {name: load_set(name) for name in names}
    bank = abstention.bank_questions()
    config = settings.answer_config(threshold=0.0)
    found = {}
    for name, eval_set in sets.items():
        index = eval_index(eval_set, encoder, settings.index_config(), eval_folder(settings, eval_set), progress)
        answerer = Answerer(index, encoder, config).warm_up()

        def best(question: str, answerer: Answerer = answerer) -> float:
            found = answerer.explain(question).candidates
            return found.support if found is not None else -math.inf

        others = [q.question for other, s in sets.items() if not _same_corpus(other, name) for q in s.questions]
        found[name] = Scores(
            [best(q.question) for q in eval_set.questions if q.answerable],
            [best(q.question) for q in eval_set.questions if not q.answerable],
            [best(question) for question in bank],
            [best(question) for question in others],
            [q.style for q in eval_set.questions if not q.answerable],
        )
        logging.getLogger(__name__).info("%s: scored", name)
    return found


def rates(scores: Scores, threshold: float) -> Rates:
    def below(values: list[float]) -> float:
        return float(np.mean(np.asarray(values) < threshold)) if values else math.nan

    return Rates(below(scores.unanswerable), below(scores.answerable), below(scores.off_domain), threshold)


def _fixed(scores: Scores, params: tuple[float, ...]) -> float:
    return params[0]


def _bank_quantile(scores: Scores, params: tuple[float, ...]) -> float:
    return float(np.quantile(scores.bank, params[0])) + params[1]


def _bank_deviations(scores: Scores, params: tuple[float, ...]) -> float:
    return abstention.rule_threshold(scores.bank, params[0], -math.inf)


def _bank(scores: Scores, params: tuple[float, ...]) -> float:
    return abstention.rule_threshold(scores.bank, params[0], params[1])


def _grid(*axes: np.ndarray | tuple[float, ...]) -> list[tuple[float, ...]]:
    return [tuple(round(float(v), 4) for v in combination) for combination in itertools.product(*axes)]


Rule = Callable[[Scores, tuple[float, ...]], float]
DEVIATIONS = np.arange(0, 4, 0.02)
RULES: dict[str, tuple[Rule, list[tuple[float, ...]]]] = {
    "fixed": (_fixed, _grid(np.arange(0.2, 0.8, 0.0025))),
    "bank-quantile": (_bank_quantile, _grid((0.5, 0.75, 0.9, 0.95, 1.0), np.arange(-0.2, 0.2, 0.0025))),
    "bank-deviations": (_bank_deviations, _grid(DEVIATIONS)),
    # lowest floors first: among equally good rules, the one that leaves the decision to the corpus's bank
    "bank": (_bank, sorted(_grid(DEVIATIONS, np.arange(0.2, 0.45, 0.005)), key=lambda p: (p[1], p[0]))),
}


def choose(train: list[Scores], rule: str) -> tuple[float, ...] | None:
    """The rule's parameters that abstain most on the training corpora's unanswerable questions (mean
    over corpora) with at most 5 % false abstentions on each; ties: the first in the rule's grid."""
    threshold_of, grid = RULES[rule]
    best, best_value = None, -1.0
    for params in grid:
        got = [rates(scores, threshold_of(scores, params)) for scores in train]
        if any(r.false_abstain > MAX_FALSE_ABSTAIN for r in got):
            continue
        value = float(np.mean([r.abstain for r in got]))
        if value > best_value:
            best, best_value = params, value
    return best


def leave_one_out(scores: dict[str, Scores], names: list[str], extra: list[str]) -> list[dict[str, Any]]:
    """One row per rule and corpus left out (and per extra set, with its corpus left out of the choice)."""
    rows = []
    for rule, (threshold_of, _) in RULES.items():
        for test in names + extra:
            train = [scores[n] for n in names if not _same_corpus(n, test)]
            params = choose(train, rule)
            row: dict[str, Any] = {"rule": rule, "left_out": test, "params": params}
            if params is not None:
                row |= asdict(rates(scores[test], threshold_of(scores[test], params)))
            rows.append(row)
    return rows


def markdown(rows: list[dict[str, Any]], chosen: dict[str, Any]) -> str:
    lines = [
        "# Abstention, leave one corpus out (`python -m eval.abstention`, run by `make eval`)",
        "",
        "Each rule's parameters are chosen on the other corpora (≤ 5 % false abstentions on each, most",
        "unanswerable questions abstaining), then measured on the corpus left out. Off-domain: the other",
        "corpora's questions asked of this one.",
        "",
        "| rule | left out | parameters | threshold | unanswerable abstain | false abstain | off-domain abstain |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        if row["params"] is None:
            lines.append(f"| {row['rule']} | {row['left_out']} | none fits | | | | |")
            continue
        lines.append(
            f"| {row['rule']} | {row['left_out']} | {', '.join(str(p) for p in row['params'])} | "
            f"{row['threshold']:.3f} | {row['abstain']:.3f} | {row['false_abstain']:.3f} | {row['off_domain']:.3f} |"
        )
    lines += [
        "",
        f"Rule chosen on all these sets: `{json.dumps(chosen)}` (the settings' defaults were chosen on seed, "
        "piaf-ci and the full service-public set: eval/README.md).",
        "",
    ]
    return "\n".join(lines)


def floors_missed(
    rows: list[dict[str, Any]], rule: str, parameter: str, floors: dict[str, dict[str, float]], ceilings: set[str]
) -> list[str]:
    """What the rows of ``rule`` miss of each left-out corpus's ``floors`` (``ceilings``: keys that must stay
    at most their value); a corpus for which no parameter fits the others misses them all."""
    missed = []
    for row in rows:
        if row["rule"] != rule:
            continue
        if row[parameter] is None:
            missed.append(f"{row['left_out']}: no {rule} rule fits the other corpora")
            continue
        for key, floor in floors.get(row["left_out"], {}).items():
            ok = row[key] <= floor if key in ceilings else row[key] >= floor
            if not ok:
                missed.append(f"{row['left_out']}: {key} {row[key]:.3f}, floor {floor}")
    return missed


def check(rows: list[dict[str, Any]]) -> list[str]:
    return floors_missed(rows, "bank", "params", FLOORS, {"false_abstain"})


def write(table: str, markdown_path: str | None, json_path: str | None, record: dict[str, Any]) -> None:
    """The table to stdout and ``markdown_path``, the record to ``json_path`` (each when given)."""
    print(table)
    if markdown_path:
        Path(markdown_path).write_text(table, encoding="utf-8")
    if json_path:
        Path(json_path).parent.mkdir(parents=True, exist_ok=True)
        Path(json_path).write_text(json.dumps(record, indent=1), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", action="append", help="a corpus of the comparison (repeatable)")
    parser.add_argument("--extra", action="append", default=[], help="a set measured with a rule chosen without it")
    parser.add_argument("--markdown", help="write the table to this Markdown file")
    parser.add_argument("--json", help="write the rows and scores to this JSON file")
    parser.add_argument("--check", action="store_true", help="fail when a left-out corpus falls under a floor")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    names = args.set or ["seed", "piaf-ci", "service-public-ci", "cdtn"]
    settings = Settings()
    scores = collect(settings, names + args.extra)
    rows = leave_one_out(scores, names, args.extra)
    params = choose([scores[n] for n in names], "bank")
    chosen = {"abstain_deviations": params[0], "abstain_floor": params[1]} if params else {}
    record = {"rows": rows, "chosen": chosen, "scores": {n: asdict(s) for n, s in scores.items()}}
    write(markdown(rows, chosen), args.markdown, args.json, record)
    defaults = {"abstain_deviations": settings.abstain_deviations, "abstain_floor": settings.abstain_floor}
    if chosen and chosen != defaults:
        print(f"note: the settings' defaults are {defaults} (chosen on the full sets), these sets choose {chosen}")
    missed = check(rows) if args.check else []
    for line in missed:
        print(f"FLOOR MISSED {line}")
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
