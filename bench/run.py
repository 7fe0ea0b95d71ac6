"""``make bench``: every speed benchmark of the speed issue in one run, then the Markdown table.

    python -m bench.run [--runtime onnx-int8] [--only query,http,...] [--rounds 2]

Order: build (makes the PIAF index the others use), query (floor and answer() for every runtime),
http, cold start, memory per replica, scale, quality. Each writes ``bench/results/<name>.json``; the summary is
``bench/results/README.md`` (linked from the README; read in bench/README.md).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from bench import common

STEPS = ("build", "query", "http", "coldstart", "memory", "cluster", "scale", "quality")
RUNTIMES = ["torch", "onnx", "onnx-int8"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--runtime", default="onnx-int8", help="the runtime the service would run (build, http and cold start use it)"
    )
    parser.add_argument("--only", default=",".join(STEPS), help=f"comma-separated subset of {','.join(STEPS)}")
    parser.add_argument("--rounds", type=int, default=2, help="passes over the questions in the query benchmark")
    parser.add_argument("--sizes", default="10000,100000,1000000", help="passage counts of the scale benchmark")
    args = parser.parse_args(argv)
    steps = [s for s in args.only.split(",") if s]
    unknown = set(steps) - set(STEPS)
    if unknown:
        parser.error(f"unknown step(s) {', '.join(sorted(unknown))}")
    questions = common.questions()
    for step in STEPS:
        if step not in steps:
            continue
        started, load_before = time.perf_counter(), common.load_avg()
        print(f"[bench] {step} (load {load_before})", flush=True)
        payload = _run_step(step, args, questions)
        payload.update(
            {
                "load_before": load_before,
                "load_after": common.load_avg(),
                "seconds": round(time.perf_counter() - started, 1),
            }
        )
        print(f"[bench] {step} done in {payload['seconds']} s -> {common.write(step, payload)}", flush=True)
    from bench import report

    path = report.write_summary()
    print(path.read_text(encoding="utf-8"))
    return 0


def _run_step(step: str, args: argparse.Namespace, questions: list[str]) -> dict:
    from bench.build import index_folder

    if step == "build":
        from bench import build

        return {"result": build.run(args.runtime)}
    if step == "query":
        from bench import query

        return {"result": query.run(questions, RUNTIMES, args.runtime, args.rounds)}
    if step == "http":
        from bench import http

        return {
            "runtime": args.runtime,
            "index": "piaf-480",
            "levels": http.run(index_folder("piaf-480", args.runtime, None), args.runtime, questions),
        }
    if step == "coldstart":
        from bench import coldstart

        return {
            "rows": [
                coldstart.run(index_folder("seed", "torch", None), "torch"),
                coldstart.run(index_folder("seed", args.runtime, None), args.runtime),
                coldstart.run(index_folder("piaf-480", args.runtime, None), args.runtime),
            ]
        }
    if step == "memory":
        from bench import memory

        return {"rows": memory.run()}
    if step == "cluster":
        from bench import cluster

        return {"result": cluster.run(args.runtime)}
    if step == "scale":
        from bench import scale

        return {"rows": scale.run(tuple(int(n) for n in args.sizes.split(",")))}
    from bench import quality

    return {"rows": quality.run()}


if __name__ == "__main__":
    sys.exit(main())
