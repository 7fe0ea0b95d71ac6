"""The evaluation runner: build (or reuse) the set's index, ask every question with Sourcier and
the baselines, score them with the same code, check the targets.

Used by ``sourcier eval``, ``eval.abstention``, ``eval.ranking`` and the experiments in ``research/``.
"""

from __future__ import annotations

import logging
import math
import platform
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from tqdm import tqdm

from eval import metrics
from eval.metrics import Prediction, Span
from eval.sets import EvalSet
from index.config import IndexConfig
from index.encoder import Encoder
from index.ensure import ensure
from index.search import Index
from service.core import Answerer
from service.startup import answerer_for

if TYPE_CHECKING:
    from service.settings import Settings

log = logging.getLogger(__name__)

# Targets from the evaluation issue; a run that misses one fails `sourcier eval --check`.
TARGETS = {
    "seed": {
        "answers.hit@1": (">=", 0.92),
        "answers.mean_chars": ("<=", 200.0),
        "abstention.abstain_rate": (">=", 0.90),
        "abstention.false_abstain_rate": ("<=", 0.05),
        "faithfulness.rate": (">=", 1.0),
    },
    # The length target is "≤ ½ of the tutorial chunk's": checked against the tutorial baseline of
    # the same run (chars_vs_tutorial) and against the ~190 characters it measured on its own sample.
    "piaf": {
        "answers.hit@1": (">=", 0.75),
        "answers.mean_chars": ("<=", 190.0),
        "answers.chars_vs_tutorial": ("<=", 0.5),
        "retrieval.doc@1": (">=", 0.92),
        "abstention.abstain_rate": (">=", 0.90),
        "abstention.false_abstain_rate": ("<=", 0.05),
        "faithfulness.rate": (">=", 1.0),
    },
}
TARGETS["piaf-ci"] = TARGETS["piaf"]
# The abstention issue's targets, and the right fiche first of the reader issue.
TARGETS["service-public"] = {
    "retrieval.doc@1": (">=", 0.95),
    "abstention.abstain_rate": (">=", 0.90),
    "abstention.false_abstain_rate": ("<=", 0.05),
    "faithfulness.rate": (">=", 1.0),
}
TARGETS["service-public-ci"] = TARGETS["service-public"]
# "What the site already says": the Code du travail numérique's rewordings (its near-topic and off-domain
# questions are measured by eval.confidence: confident ≤ 0.40, off-domain abstain ≥ 0.95).
TARGETS["cdtn"] = {
    "retrieval.doc@1": (">=", 0.80),
    "abstention.false_abstain_rate": ("<=", 0.05),
    "faithfulness.rate": (">=", 1.0),
}

# Regression floors guarded by CI (`--check`): a little under what the current code measures
# (eval/results/*.md has the latest numbers), so a change that makes answers worse fails the build
# while the targets above, not all met yet, stay reported.
FLOORS = {
    "seed": {
        "answers.hit@1_unthresholded": (">=", 0.74),  # 0.674 before reading, 0.772 with it
        "abstention.auroc": (">=", 0.90),
        "answers.mean_chars": ("<=", 215.0),
    },
    "service-public-ci": {
        "answers.hit@1_unthresholded": (">=", 0.50),
        "abstention.auroc": (">=", 0.97),
        "retrieval.doc@1": (">=", 0.94),
        "answers.mean_chars": ("<=", 195.0),
    },
    "cdtn": {
        "answers.hit@1_unthresholded": (">=", 0.66),  # 0.554 before the learned ranking, 0.691 with it
        "retrieval.doc@1": (">=", 0.88),  # 0.709 before, 0.909 with it
        "abstention.auroc": (">=", 0.93),
        "abstention.false_abstain_rate": ("<=", 0.02),
        "answers.mean_chars": ("<=", 165.0),
    },
    "piaf-ci": {
        "answers.hit@1_unthresholded": (">=", 0.72),  # 0.713 before reading, 0.725 with it, 0.721 ranked by article
        "abstention.auroc": (">=", 0.97),
        "retrieval.doc@1": (">=", 0.92),
        "answers.mean_chars": ("<=", 230.0),
    },
}


class System(Protocol):
    name: str

    def predict(self, question_id: str, question: str) -> Prediction: ...


class SourcierSystem:
    """Sourcier as the evaluation sees it: the service's answer, and where it abstains its best answer
    all the same, scored by the best score without reading (``Result.support``, what the service's
    decision ``support >= threshold`` compares), so one run yields the numbers with and without abstention."""

    name = "sourcier"

    def __init__(self, answerer: Answerer) -> None:
        self.answerer = answerer

    def predict(self, question_id: str, question: str) -> Prediction:
        started = time.perf_counter()
        result = self.answerer.answer(question, top_k=10)
        seconds = time.perf_counter() - started
        if not result.answered:  # its best answer all the same, for the numbers without abstention
            result = self.answerer.explain(question, top_k=10).result
        passages = [Span(p.doc_id, p.start, p.end, p.text) for p in result.passages]
        if result.answer is None or result.support is None:  # an empty index: nothing to answer with
            return Prediction(question_id, None, -1.0, passages, seconds)
        a, c = result.answer, result.answer.citation
        return Prediction(
            question_id,
            Span(c.doc_id, c.start, c.end, a.text),
            result.support,
            passages,
            seconds,
            Span(c.doc_id, c.start, c.end, a.text),
        )


def eval_folder(settings: Settings, eval_set: EvalSet) -> Path:
    """Where the set's index lives: one folder per corpus, runtime and size, so evaluating another
    runtime never overwrites (or is confused with) the default one."""
    size = settings.dims or "full"
    return settings.data_dir.parent / "eval" / f"{eval_set.name}-{eval_set.corpus_key()}-{settings.runtime}-{size}"


def eval_index(eval_set: EvalSet, encoder: Encoder, config: IndexConfig, folder: Path, progress: bool = False) -> Index:
    """The set's Sourcier index, rebuilt only when the corpus or settings changed (vectors of
    unchanged inputs are reused); a kept one is checked against ``encoder`` (model, dims, runtime)."""
    index = ensure(folder, eval_set.articles, config, encoder, progress=progress).index
    assert index is not None  # ensure() loads or builds the index unless told not to
    return index


def predict_all(system: System, eval_set: EvalSet, progress: bool = False) -> list[Prediction]:
    return [
        system.predict(q.id, q.question)
        for q in tqdm(eval_set.questions, desc=system.name, unit="q", disable=not progress)
    ]


def check_targets(name: str, scores: dict, targets: dict | None = None) -> list[str]:
    """The targets (or floors) of this set that the scores miss (empty when all are met)."""
    missed = []
    for path, (op, want) in (TARGETS if targets is None else targets).get(name, {}).items():
        group, key = path.split(".")
        got = scores[group].get(key)
        if got is None:  # e.g. chars_vs_tutorial in a run without baselines
            continue
        ok = got >= want if op == ">=" else got <= want
        if not ok:
            missed.append(f"{path} = {got:.3f}, target {op} {want}")
    return missed


def evaluate(eval_set: EvalSet, answerer: Answerer, baselines: list[System], progress: bool = False) -> dict:
    """Scores of Sourcier (at the threshold its index measured) and of each baseline (always answering,
    as the tutorial recipe does) on the same questions."""
    texts = {a.doc_id: a.text for a in eval_set.articles}
    report: dict[str, Any] = {
        "set": eval_set.name,
        "questions": len(eval_set.questions),
        "held_out_articles": eval_set.held_out,
        "articles": len(eval_set.articles),
        "index_version": answerer.index.version,
        "model": answerer.index.manifest.model.name,
        "runtime": answerer.index.manifest.model.runtime,
        "abstention": None
        if answerer.abstention is None
        else {key: value for key, value in answerer.abstention.to_dict().items() if key != "scores"},
        "machine": {"platform": platform.platform(), "processor": platform.processor() or platform.machine()},
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "systems": {},
    }
    per_question = {}
    for system in [SourcierSystem(answerer), *baselines]:
        predictions = predict_all(system, eval_set, progress)
        threshold = answerer.threshold if system.name == "sourcier" else -math.inf  # baselines always answer
        scores = metrics.score(eval_set.questions, predictions, threshold, texts)
        report["systems"][system.name] = scores
        per_question[system.name] = predictions
    sourcier = report["systems"]["sourcier"]
    tutorial = report["systems"].get("tutorial-rag-500")
    if tutorial and tutorial["answers"]["mean_chars"]:
        sourcier["answers"]["chars_vs_tutorial"] = round(
            sourcier["answers"]["mean_chars"] / tutorial["answers"]["mean_chars"], 3
        )
    report["targets_missed"] = check_targets(eval_set.name, sourcier)
    report["floors_missed"] = check_targets(eval_set.name, sourcier, FLOORS)
    report["per_question"] = [
        {
            "id": q.id,
            "question": q.question,
            "answerable": q.answerable,
            "style": q.style,
            "gold": [g.text for g in q.answers],
            **{
                name: {
                    "answer": p.answer.text if p.answer else None,
                    "score": round(p.score, 4),
                    "hit": metrics.contains_gold(p.answer, q),
                }
                for name, p in ((n, preds[i]) for n, preds in per_question.items())
            },
        }
        for i, q in enumerate(eval_set.questions)
    ]
    return report


def run_set(
    settings: Settings,
    set_name: str,
    sample: int | None = None,
    index_dir: Path | None = None,
    with_baselines: bool = True,
    progress: bool = False,
) -> dict:
    """Load the model once, build or reuse the set's index under ``var/eval/``, evaluate."""
    from eval.baselines import BM25Sentences, TutorialRAG
    from eval.sets import load_set

    eval_set = load_set(set_name, sample)
    encoder = settings.load_encoder()
    work = settings.data_dir.parent / "eval"
    folder = index_dir or eval_folder(settings, eval_set)
    index = eval_index(eval_set, encoder, settings.index_config(), folder, progress)
    answerer = answerer_for(index, encoder, settings.answer_config(), folder)
    baselines: list[System] = []
    if with_baselines:
        cache = work / "cache" / f"tutorial-{encoder.name}-{encoder.runtime}-{encoder.dims}"
        baselines = [TutorialRAG(eval_set.articles, encoder, cache, progress), BM25Sentences(eval_set.articles)]
    return evaluate(eval_set, answerer, baselines, progress)
