"""What the learned ranking costs a question: ``answer()`` with it against the hand ranking, same run.

``python -m bench.ranking [ROUNDS]``: for each evaluation index (piaf-ci, cdtn; built by ``make eval``
or ``python -m eval.ranking`` under ``var/eval/``), every question is answered by both Answerers back to
back (hand first, then learned, alternating the order each round), so a change of machine load hits both
alike; medians and the ratio learned / hand per corpus. Memory: what the index's known questions add
(their vectors) and the model's size. Writes ``bench/results/ranking.json`` and prints a Markdown table.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from dataclasses import replace

from bench.common import RESULTS, machine
from eval.run import eval_folder
from eval.sets import load_set
from index import store
from service.core import Answerer
from service.core.ranking import RANKER_FILE
from service.settings import Settings

CORPORA = ("piaf-ci", "cdtn")


def main(argv: list[str] | None = None) -> None:
    rounds = int((argv or sys.argv[1:] or ["3"])[0])
    settings = Settings()
    encoder = settings.load_encoder()
    rows = []
    for name in CORPORA:
        eval_set = load_set(name)
        folder = eval_folder(settings, eval_set)
        index = store.load(folder, settings.index_config(), encoder.name, encoder.dims, runtime=encoder.runtime)
        config = settings.answer_config()
        answerers = {
            "hand": Answerer(index, encoder, replace(config, ranking="hand")).warm_up(),
            "learned": Answerer(index, encoder, replace(config, ranking="learned")).warm_up(),
        }
        questions = [q.question for q in eval_set.questions]
        for answerer in answerers.values():  # warm-up
            for question in questions[:5]:
                answerer.answer(question)
        samples: dict[str, list[float]] = {"hand": [], "learned": []}
        for r in range(rounds):
            order = list(answerers) if r % 2 == 0 else list(reversed(answerers))
            for question in questions:
                for kind in order:
                    started = time.perf_counter()
                    answerers[kind].answer(question)
                    samples[kind].append((time.perf_counter() - started) * 1000)
        hand, learned = statistics.median(samples["hand"]), statistics.median(samples["learned"])
        rows.append(
            {
                "corpus": name,
                "questions": len(questions),
                "rounds": rounds,
                "hand_p50_ms": round(hand, 2),
                "learned_p50_ms": round(learned, 2),
                "ratio": round(learned / hand, 3),
                "headings": len(index.headings),
                "heading_vectors_mb": round(index.heading_vectors.nbytes / 2**20, 2),
            }
        )
    record = {"machine": machine(), "ranker_bytes": RANKER_FILE.stat().st_size, "rows": rows}
    (RESULTS / "ranking.json").write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    print("| corpus | questions × rounds | hand p50 ms | learned p50 ms | learned / hand | headings | vectors MB |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['corpus']} | {row['questions']} × {row['rounds']} | {row['hand_p50_ms']} | "
            f"{row['learned_p50_ms']} | {row['ratio']} | {row['headings']} | {row['heading_vectors_mb']} |"
        )


if __name__ == "__main__":
    main()
