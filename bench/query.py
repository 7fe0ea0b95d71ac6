"""Benchmarks 1 and 2: the floor (one question through the encoder) and ``answer()`` in process.

Every system answers the same question back to back before the next question, so a change of
machine load hits all of them alike, and ratios are taken within the run. The tutorial baseline is
what a reader of the sentence-transformers docs would run: ``SentenceTransformer(model).encode_query``
in torch fp32. Inside ``answer()`` the encoder call is timed separately, so the overhead of the
rest (search, sentence scoring, citations) is measured, not inferred.

Loading torch and ONNX Runtime in one process makes each slower (their thread pools compete), so
the service's runtime is also measured alone in a child process shaped like ``sourcier serve``:
only that runtime loaded, its floor and ``answer()`` interleaved (``python -m bench.query RUNTIME``).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bench.build import index_folder
from bench.common import Timing, bench_settings, time_calls
from index import store
from index.build import build
from index.manifest import StoreError
from service.core import Answerer

WARMUP = 5


class TimedEncoder:
    """Wraps an encoder and records how long each question's model call took (ms): ``encode_queries``, or
    ``encode_query_tokens`` when the service reads (the question's vector and token vectors, one call)."""

    def __init__(self, encoder: Any) -> None:
        self.encoder, self.samples = encoder, list[float]()
        self.name, self.dims, self.runtime = encoder.name, encoder.dims, encoder.runtime

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        started = time.perf_counter()
        vectors = self.encoder.encode_queries(texts)
        self.samples.append((time.perf_counter() - started) * 1000)
        return vectors

    def encode_query_tokens(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        started = time.perf_counter()
        found = self.encoder.encode_query_tokens(text)
        self.samples.append((time.perf_counter() - started) * 1000)
        return found


@dataclass
class QueryResult:
    questions: int
    rounds: int
    tutorial: Timing  # plain SentenceTransformer(model).encode_query, torch fp32
    floor: dict[str, Timing]  # runtime → encode_queries([question])
    answer: dict[str, Timing]  # "runtime corpus" → answer(question)
    overhead: dict[str, Timing]  # answer() minus its own encoder call, per question
    alone: dict[str, Any] = field(default_factory=dict)  # the service's runtime in a process of its own
    ratios: dict[str, float] = field(default_factory=dict)


def _encode_one(encoder: Any) -> Callable[[str], Any]:
    """The floor: one question through the encoder alone."""
    return lambda q: encoder.encode_queries([q])


def _answerer(runtime: str, corpus: str, encoder: TimedEncoder) -> Answerer:
    settings = bench_settings(runtime=runtime)
    index = store.load(
        index_folder(corpus, runtime, None),
        settings.index_config(),
        encoder.name,
        encoder.dims,
        runtime=encoder.runtime,
    )
    return Answerer(index, encoder, settings.answer_config()).warm_up()  # type: ignore[arg-type]  # queries only


def ensure_seed_index(runtime: str, encoder: Any) -> None:
    """The seed article's index for ``runtime``, with its abstention threshold measured (built once; the PIAF
    one comes from the build benchmark)."""
    from bench.common import SEED
    from corpus.load import load
    from service.startup import answerer_for

    settings = bench_settings(runtime=runtime)
    folder = index_folder("seed", runtime, None)
    try:
        index = store.load(folder, settings.index_config(), encoder.name, encoder.dims, runtime=encoder.runtime)
    except StoreError:
        index = build(load([SEED]), encoder, settings.index_config())
        store.save(index, folder)  # sets index.manifest to the saved one
    # Its abstention measurement stored as `sourcier build` stores it, so that a server started on it
    # (http, memory) starts as a deployed one does, without measuring the bank first.
    answerer_for(index, encoder, settings.answer_config(), folder)


def _interleave(
    systems: dict[str, Any], answerers: dict[str, Answerer], questions: list[str], rounds: int
) -> tuple[dict[str, Timing], dict[str, Timing]]:
    """Timings of every system (``"answer KEY"`` for ``answerers[KEY].answer``), each question through
    all of them before the next, after a warm-up; and each answer()'s time beyond its own encoder call."""
    for call in systems.values():
        time_calls(call, questions[:WARMUP])
    samples: dict[str, list[float]] = {name: [] for name in systems}
    overhead: dict[str, list[float]] = {key: [] for key in answerers}
    for _ in range(rounds):
        for question in questions:
            for name, call in systems.items():
                samples[name] += time_calls(call, [question])
                if name.startswith("answer "):
                    key = name.removeprefix("answer ")
                    overhead[key].append(samples[name][-1] - answerers[key].encoder.samples[-1])  # type: ignore[attr-defined]  # a TimedEncoder
    return (
        {name: Timing.of(values) for name, values in samples.items()},
        {key: Timing.of(values) for key, values in overhead.items()},
    )


def run(questions: list[str], runtimes: list[str], recommended: str, rounds: int = 2) -> QueryResult:
    from sentence_transformers import SentenceTransformer

    from index.fetch import resolve

    settings = bench_settings()
    tutorial = SentenceTransformer(resolve(settings.model, settings.model_cache), device="cpu")
    encoders = {rt: TimedEncoder(bench_settings(runtime=rt).load_encoder()) for rt in runtimes}
    answerers = {}
    for rt, encoder in encoders.items():
        ensure_seed_index(rt, encoder.encoder)
        answerers[f"{rt} seed"] = _answerer(rt, "seed", encoder)
    answerers[f"{recommended} piaf-480"] = _answerer(recommended, "piaf-480", encoders[recommended])
    systems: dict[str, Callable[[str], Any]] = {"tutorial": tutorial.encode_query}
    systems.update({f"floor {rt}": _encode_one(e) for rt, e in encoders.items()})
    systems.update({f"answer {key}": a.answer for key, a in answerers.items()})
    stats, overhead = _interleave(systems, answerers, questions, rounds)
    result = QueryResult(
        len(questions),
        rounds,
        stats["tutorial"],
        {rt: stats[f"floor {rt}"] for rt in runtimes},
        {key: stats[f"answer {key}"] for key in answerers},
        overhead,
    )
    for rt in runtimes:
        result.ratios[f"floor {rt} / tutorial"] = round(result.floor[rt].p50 / result.tutorial.p50, 3)
    for key in answerers:
        result.ratios[f"answer {key} / floor"] = round(result.answer[key].p50 / result.floor[key.split()[0]].p50, 3)
    del tutorial, encoders, answerers, systems
    result.alone = run_alone(recommended, rounds)
    return result


def run_alone(runtime: str, rounds: int) -> dict[str, Any]:
    """The floor and ``answer()`` of ``runtime`` in a new process that loads nothing else."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.query", runtime, str(rounds)], check=True, capture_output=True, text=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def _alone(runtime: str, rounds: int, corpora: tuple[str, ...] = ("seed", "piaf-480")) -> dict[str, Any]:
    from bench.common import questions

    qs = questions()
    encoder = TimedEncoder(bench_settings(runtime=runtime).load_encoder())
    if "seed" in corpora:
        ensure_seed_index(runtime, encoder.encoder)
    answerers = {corpus: _answerer(runtime, corpus, encoder) for corpus in corpora}
    systems: dict[str, Callable[[str], Any]] = {"floor": lambda q: encoder.encode_queries([q])}
    systems.update({f"answer {corpus}": a.answer for corpus, a in answerers.items()})
    stats, overhead = _interleave(systems, answerers, qs, rounds)
    return {
        "runtime": runtime,
        "torch_loaded": "torch" in sys.modules,
        "questions": len(qs),
        "rounds": rounds,
        "floor": stats["floor"],
        "answer": {c: stats[f"answer {c}"] for c in answerers},
        "overhead": overhead,
    }


if __name__ == "__main__":
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from dataclasses import asdict

    # python -m bench.query RUNTIME ROUNDS [CORPUS ...]: the runtime alone (make bench runs it on seed and piaf-480)
    payload = _alone(sys.argv[1], int(sys.argv[2]), tuple(sys.argv[3:]) or ("seed", "piaf-480"))
    payload = json.loads(json.dumps(payload, default=lambda v: asdict(v)))
    print(json.dumps(payload))
