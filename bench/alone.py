"""Each text embedded alone against the padded batches it replaced: query latency and build throughput.

``python -m bench.alone [--runs 5]`` (not part of ``make bench``: run it after a change to
``index/onnx.py``). The baseline is the previous encoder's path measured in the same run on the same
session and texts: a query tokenised with padding and run as a batch of one, and passages (sentences
and chunks of service-public fiches) in length-sorted padded batches of 16 on the all-core session.
Reported: medians over interleaved runs and their ratios, and the smallest cosine between a passage's
batched and alone vectors (what the change removes). Writes ``bench/results/alone.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np

from bench.common import bench_settings, machine
from corpus.chunk import chunks, sentences
from eval.sets import load_set
from index.onnx import OnnxEncoder

RESULTS = Path(__file__).resolve().parent / "results" / "alone.json"


def _batched(encoder: OnnxEncoder, texts: list[str], size: int = 16) -> np.ndarray:
    """The previous path: length-sorted padded batches on the query session."""
    out = np.zeros((len(texts), encoder.dims), dtype=np.float32)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    for begin in range(0, len(order), size):
        chosen = order[begin : begin + size]
        ids, mask = encoder.pieces.batch([texts[i] for i in chosen])
        vectors = encoder.session.run(None, {"input_ids": ids, "attention_mask": mask})[0][:, : encoder.dims]
        out[chosen] = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="interleaved runs of each measurement")
    args = parser.parse_args(argv)
    encoder = bench_settings(runtime="onnx-int8").load_encoder()
    assert isinstance(encoder, OnnxEncoder)
    questions = [q.question for q in load_set("seed").questions[:40]]
    prompt = encoder.prompts.get("query", "")
    texts, titles = [], []
    for article in load_set("service-public-ci").articles[:12]:  # sentences and chunks of mixed lengths
        units = sentences(article) + chunks(article, sentences(article), 600, 1)
        texts += [article.text[u.start : u.end] for u in units]
        titles += [article.title] * len(units)
    texts, titles = texts[::3][:160], titles[::3][:160]
    passages = [f"title: {title} | text: {text}" for text, title in zip(texts, titles)]
    query_old, query_new, build_old, build_new = [], [], [], []
    for _ in range(args.runs):
        for question in questions:
            started = time.perf_counter()
            _batched(encoder, [prompt + question], size=1)
            query_old.append(time.perf_counter() - started)
            started = time.perf_counter()
            encoder.encode_queries([question])
            query_new.append(time.perf_counter() - started)
        started = time.perf_counter()
        batched = _batched(encoder, passages)
        build_old.append(len(passages) / (time.perf_counter() - started))
        started = time.perf_counter()
        alone = encoder.encode_documents(texts, titles)
        build_new.append(len(passages) / (time.perf_counter() - started))
    result = {
        "machine": machine(),
        "runs": args.runs,
        "questions": len(questions),
        "passages": len(passages),
        "query_ms_median": {
            "batch_of_one_padded": round(statistics.median(query_old) * 1000, 2),
            "alone": round(statistics.median(query_new) * 1000, 2),
        },
        "query_ratio_alone_to_batched": round(statistics.median(query_new) / statistics.median(query_old), 3),
        "build_passages_per_s_median": {
            "batches_of_16": round(statistics.median(build_old), 2),
            "alone_one_thread_workers": round(statistics.median(build_new), 2),
        },
        "build_ratio_alone_to_batched": round(statistics.median(build_new) / statistics.median(build_old), 3),
        "batched_vs_alone_cosine_min": round(float((batched * alone).sum(axis=1).min()), 4),
        "batched_vs_alone_cosine_mean": round(float((batched * alone).sum(axis=1).mean()), 4),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
