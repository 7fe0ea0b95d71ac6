"""The token-embedding table quantised too (int8 recipe 2) against the MatMul-only int8 it replaced: query
floor and the session's memory, in the same run on the same questions.

``python -m bench.quantised [--runs 5]`` (not part of ``make bench``: run it after a change to the int8
quantisation). The baseline file is made here, once, with the previous recipe (``quantize_dynamic`` of the
MatMuls only) into ``var/bench/``; both files are run by the same code (one ONNX Runtime session on every
core, each question alone, as ``sourcier serve`` does), interleaved question by question. Each session is
loaded in a child process of its own to read its resident memory (VmRSS after the questions, VmHWM).
Reports medians and ratios; writes ``bench/results/quantised.json``.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from bench.common import WORK, bench_settings, write
from eval.sets import load_set
from index.onnx import OnnxEncoder, open_session

CHILD = """
import sys, numpy as np, onnxruntime as ort
options = ort.SessionOptions()
options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
session = ort.InferenceSession(sys.argv[1], options, providers=["CPUExecutionProvider"])
for length in (8, 24, 48):
    session.run(None, {"input_ids": np.ones((1, length), np.int64), "attention_mask": np.ones((1, length), np.int64)})
status = dict(line.split(":", 1) for line in open("/proc/self/status"))
print(int(status["VmRSS"].split()[0]) / 1024, int(status["VmHWM"].split()[0]) / 1024)
"""


def matmul_only(source: Path) -> Path:
    """The previous int8 recipe's file (made once)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    target = WORK / "model-int8-matmul-only.onnx"
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul"])
    return target


def _on_file(encoder: OnnxEncoder, path: Path) -> OnnxEncoder:
    """The same encoder (tokenizer, prompt, query path, session options) running another ONNX file."""
    other = copy.copy(encoder)
    other.session = open_session(path, threads=0)  # one per core: SOURCIER_THREADS' default, the encoder's own
    return other


def _memory(path: Path) -> tuple[float, float]:
    out = subprocess.run([sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True, check=True)
    steady, peak = out.stdout.split()
    return round(float(steady), 1), round(float(peak), 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="interleaved passes over the questions")
    args = parser.parse_args(argv)
    encoder = bench_settings(runtime="onnx-int8").load_encoder()
    assert isinstance(encoder, OnnxEncoder)
    files = {"matmul_only": matmul_only(encoder.file.parent / "model.onnx"), "with_embedding_table": encoder.file}
    encoders = {"matmul_only": _on_file(encoder, files["matmul_only"]), "with_embedding_table": encoder}
    questions = [q.question for q in load_set("seed").questions[:40]]
    timings: dict[str, list[float]] = {name: [] for name in files}
    vectors: dict[str, list[np.ndarray]] = {name: [] for name in files}
    for run in range(args.runs):
        for question in questions:
            for name, runner in encoders.items():
                started = time.perf_counter()
                vector = runner.encode_queries([question])[0]
                timings[name].append(time.perf_counter() - started)
                if run == 0:
                    vectors[name].append(vector)
    medians = {name: round(statistics.median(values) * 1000, 2) for name, values in timings.items()}
    cosines = (np.array(vectors["matmul_only"]) * np.array(vectors["with_embedding_table"])).sum(axis=1)
    memory = {name: _memory(path) for name, path in files.items()}
    result = {
        "runs": args.runs,
        "questions": len(questions),
        "file_mb": {name: round(path.stat().st_size / 2**20, 1) for name, path in files.items()},
        "query_ms_median": medians,
        "query_ratio": round(medians["with_embedding_table"] / medians["matmul_only"], 3),
        "session_rss_mb": {name: {"steady": steady, "peak": peak} for name, (steady, peak) in memory.items()},
        "query_vector_cosine_min": round(float(cosines.min()), 4),
        "query_vector_cosine_mean": round(float(cosines.mean()), 4),
    }
    print(write("quantised", result).read_text(encoding="utf-8"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
