"""The Markdown summary of ``bench/results/*.json``: machine, tables, and each target met or missed.

python -m bench.report   # rewrites bench/results/README.md from the saved results
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.common import RESULTS


def _load(name: str) -> dict[str, Any] | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join("–" if v is None else str(v) for v in row) + " |" for row in rows]
    return lines + [""]


def _check(targets: list[list[str]], name: str, value: float, op: str, limit: float, unit: str = "") -> None:
    met = value <= limit if op == "<=" else value >= limit
    off = "" if met else f" (off by {abs(value - limit) / limit:.0%})"
    targets.append([name, f"{value:g}{unit}", f"{op} {limit:g}{unit}", ("met" if met else "**missed**") + off])


def summary() -> str:
    lines = ["# Benchmark results", ""]
    build, query, http, cold, scale, quality = (
        _load(n) for n in ("build", "query", "http", "coldstart", "scale", "quality")
    )
    memory, cluster = _load("memory"), _load("cluster")
    first = next((r for r in (build, query, http, cold, memory, cluster, scale, quality) if r), None)
    if first is None:
        return "\n".join(lines + ["No results yet: run `make bench`.", ""])
    m = first["machine"]
    lines += [
        f"Machine: {m['cpu']}, {m['cores']} cores, AVX512-VNNI {'yes' if m['avx512_vnni'] else 'no'}, "
        f"{m['memory_gb']} GB; Python {m['python']}; "
        + ", ".join(f"{k} {v}" for k, v in m["versions"].items() if v)
        + ".",
        "",
    ]
    loads = [
        f"{n} {r['load_before'][0]}→{r['load_after'][0]}"
        for n, r in (
            ("build", build),
            ("query", query),
            ("http", http),
            ("coldstart", cold),
            ("memory", memory),
            ("cluster", cluster),
            ("scale", scale),
            ("quality", quality),
        )
        if r
    ]
    lines += [
        "Load average (1 min) before→after each step: " + ", ".join(loads) + ". Times in ms unless "
        "stated; p50 = median; ratios are within the same run.",
        "",
    ]
    targets: list[list[str]] = []
    floor = None
    if query:
        q = query["result"]
        floors = q["floor"]
        rec = http["runtime"] if http else next(iter(floors))
        floor = floors[rec]["p50"]
        lines += [
            f"## 1–2. Query path ({q['questions']} evaluation questions × {q['rounds']} rounds, one at a time)",
            "",
        ]
        rows = [
            [
                "tutorial: `SentenceTransformer(model).encode_query`, torch fp32",
                q["tutorial"]["p50"],
                q["tutorial"]["p95"],
                "1.00",
                None,
            ]
        ]
        for rt, t in floors.items():
            rows.append(
                [f"floor: `encode_queries`, {rt}", t["p50"], t["p95"], f"{t['p50'] / q['tutorial']['p50']:.2f}", None]
            )
        for key, t in q["answer"].items():
            rt = key.split()[0]
            rows.append(
                [
                    f"`answer()`, {key} index",
                    t["p50"],
                    t["p95"],
                    f"{t['p50'] / q['tutorial']['p50']:.2f}",
                    f"{t['p50'] / floors[rt]['p50']:.2f} (rest of answer(): {q['overhead'][key]['p50']} ms)",
                ]
            )
        lines += _table(["what", "p50", "p95", "× tutorial", "× floor of its runtime"], rows)
        alone = q.get("alone")
        if alone:
            floor = alone["floor"]["p50"]
            lines += [
                f"The service's runtime alone, in a process like `sourcier serve` (only {alone['runtime']} "
                f"loaded, torch {'loaded' if alone['torch_loaded'] else 'not imported'}; same questions × "
                f"{alone['rounds']} rounds; the targets below use these):",
                "",
            ]
            rows = [
                [
                    f"floor: `encode_queries`, {alone['runtime']}",
                    alone["floor"]["p50"],
                    alone["floor"]["p95"],
                    f"{floor / q['tutorial']['p50']:.2f}",
                    None,
                ]
            ]
            for corpus, t in alone["answer"].items():
                rows.append(
                    [
                        f"`answer()`, {corpus} index",
                        t["p50"],
                        t["p95"],
                        f"{t['p50'] / q['tutorial']['p50']:.2f}",
                        f"{t['p50'] / floor:.2f} (rest of answer(): {alone['overhead'][corpus]['p50']} ms)",
                    ]
                )
            lines += _table(["what", "p50", "p95", "× tutorial (above)", "× floor"], rows)
        _check(targets, f"floor p50 ({rec}{', alone' if alone else ''})", floor, "<=", 30, " ms")
        answers = (
            {f"{rec} {c}": t for c, t in alone["answer"].items()}
            if alone
            else {k: t for k, t in q["answer"].items() if k.startswith(rec)}
        )
        for key, t in answers.items():
            _check(targets, f"answer() p50 / floor ({key})", round(t["p50"] / floor, 3), "<=", 1.15)
    if http:
        lines += [f"## 3. HTTP `POST /api/ask` over loopback ({http['runtime']}, {http['index']} index)", ""]
        rows = []
        for lv in http["levels"]:
            t = lv["latency"]
            rows.append(
                [
                    lv["concurrency"],
                    lv["requests"],
                    lv["errors"],
                    lv["requests_per_s"],
                    t["p50"],
                    t["p95"],
                    f"{t['p95'] / t['p50']:.2f}",
                    f"{t['p50'] / floor:.2f}" if floor else None,
                    f"{t['p50'] / query['result']['tutorial']['p50']:.2f}" if query else None,
                ]
            )
        lines += _table(
            ["concurrency", "requests", "errors", "req/s", "p50", "p95", "p95/p50", "p50 × floor", "p50 × tutorial"],
            rows,
        )
        one = next(lv for lv in http["levels"] if lv["concurrency"] == 1)
        top = max(http["levels"], key=lambda lv: lv["concurrency"])
        if floor and query:
            _check(targets, "HTTP p50 at concurrency 1 / floor", round(one["latency"]["p50"] / floor, 3), "<=", 1.3)
            _check(
                targets,
                "HTTP p50 / tutorial encode_query",
                round(one["latency"]["p50"] / query["result"]["tutorial"]["p50"], 3),
                "<=",
                0.40,
            )
            _check(
                targets,
                f"req/s at concurrency {top['concurrency']}",
                top["requests_per_s"],
                ">=",
                round(0.8 * m["cores"] / (floor / 1000), 1),
            )
        _check(
            targets, f"errors at concurrency {top['concurrency']}", sum(lv["errors"] for lv in http["levels"]), "<=", 0
        )
        _check(
            targets,
            f"p95/p50 at concurrency {top['concurrency']}",
            round(top["latency"]["p95"] / top["latency"]["p50"], 2),
            "<=",
            4,
        )
    if build:
        b = build["result"]
        lines += [f"## 4. Index build ({b['runtime']}, {b['dims']} dims; passages = sentences + pairs + chunks)", ""]
        lines += _table(
            ["corpus", "articles", "passages embedded", "build s", "save s", "passages/s"],
            [
                [r["corpus"], r["articles"], r["passages"], r["build_s"], r["save_s"], r["passages_per_s"]]
                for r in b["rows"]
            ],
        )
        lines += [
            f"Bare `encode_documents` on 2,000 of the same inputs: {b['bare_passages_per_s']} passages/s; the "
            f"PIAF build runs at {b['build_vs_bare']:.2f}× that. Incremental rebuild after editing one article: "
            f"{b['incremental_s']} s (load + build + save), embedded {b['incremental_embedded']} passages "
            f"(the edited article has {b['changed_article_passages']}), {b['incremental_vs_full']:.1%} of the "
            "full build.",
            "",
        ]
        _check(targets, "build / bare batch throughput", b["build_vs_bare"], ">=", 0.8)
        _check(targets, "incremental / full build", b["incremental_vs_full"], "<=", 0.05)
        _check(
            targets,
            "passages re-embedded beyond the edited article",
            max(0, b["incremental_embedded"] - b["changed_article_passages"]),
            "<=",
            0,
        )
    if scale:
        lines += [
            "## 5. Scale (synthetic vectors, one search thread; breadth = IVF nprobe / HNSW efSearch, tuned "
            "to recall@10 ≥ 0.95)",
            "",
        ]
        lines += _table(
            ["passages", "dims", "index", "breadth", "build s", "memory MB", "search p50", "p95", "recall@10 vs flat"],
            [
                [
                    f"{r['passages']:,}",
                    r["dims"],
                    r["index"],
                    r["breadth"] or None,
                    r["build_s"],
                    r["memory_mb"],
                    r["search"]["p50"],
                    r["search"]["p95"],
                    r["recall_at_10"],
                ]
                for r in scale["rows"]
            ],
        )
        top = max(r["passages"] for r in scale["rows"])
        good = [r for r in scale["rows"] if r["passages"] == top and r["recall_at_10"] >= 0.95]
        if good:
            best = min(good, key=lambda r: r["search"]["p50"])
            _check(
                targets,
                f"search p50 at {top:,} ({best['index']} {best['dims']}-d, recall "
                f"{best['recall_at_10']}, {best['memory_mb']} MB)",
                best["search"]["p50"],
                "<=",
                5,
                " ms",
            )
    if cold:
        lines += ["## 6. Cold start (`sourcier ask` in a new process, saved index, to the printed answer)", ""]
        lines += _table(
            ["runtime", "index", "runs", "p50 s", "max s", "peak RSS MB"],
            [
                [r["runtime"], r["index"], r["runs"], r["seconds_p50"], r["seconds_max"], r["peak_rss_mb"]]
                for r in cold["rows"]
            ],
        )
        for r in cold["rows"]:
            _check(targets, f"cold start ({r['runtime']}, {r['index']})", r["seconds_p50"], "<=", 10, " s")
    if memory:
        lines += ["## 7. Memory of one replica (`sourcier serve` on the seed index, after 20 answers; medians)", ""]
        lines += _table(
            ["runtime", "runs", "steady RSS MB", "peak RSS MB", "steady vs torch"],
            [[r["runtime"], r["runs"], r["steady_mb"], r["peak_mb"], r["steady_vs_torch"]] for r in memory["rows"]],
        )
        for r in memory["rows"]:
            if r["runtime"] == "onnx-int8":
                _check(targets, "replica steady RSS (onnx-int8, seed)", r["steady_mb"], "<=", 700, " MB")
                _check(targets, "replica peak RSS (onnx-int8, seed)", r["peak_mb"], "<=", 900, " MB")
    if cluster:
        c = cluster["result"]
        lines += [
            f"## 8. A build's embedding on a local Ray cluster ({c['texts']} PIAF passages, {c['runs']} runs, medians)",
            "",
        ]
        lines += _table(
            ["embedding", "passages/s"],
            [
                ["local build (one text per core)", c["passages_per_s"]["local"]],
                ["Ray, 1 actor", c["passages_per_s"]["ray-1"]],
                ["Ray, 2 actors", c["passages_per_s"]["ray-2"]],
            ],
        )
        lines += [
            f"Ray with 2 actors / local: {c['ray_2_vs_local']}; 2 actors / 1: {c['ray_2_vs_ray_1']}; "
            f"{c['per_actor_per_s']} passages/s per actor. Projection (arithmetic, not measured): {c['projection']}.",
            "",
        ]
    if quality:
        lines += [
            "## Quality per runtime and size (`sourcier eval --no-baselines`; hit@1 and abstention at the "
            "threshold each index measured on its own corpus)",
            "",
        ]
        lines += _table(
            [
                "set",
                "runtime",
                "dims",
                "questions",
                "hit@1",
                "hit@1 (no abstention)",
                "recall@1",
                "recall@3",
                "recall@10",
                "doc@1",
                "AUROC",
                "abstain (unanswerable)",
                "false abstain",
                "faithful",
            ],
            [
                [
                    r["set"],
                    r["runtime"],
                    r["dims"],
                    r["questions"],
                    r["hit_at_1"],
                    r["hit_at_1_unthresholded"],
                    r["recall_at_1"],
                    r["recall_at_3"],
                    r["recall_at_10"],
                    r["doc_at_1"],
                    r["auroc"],
                    r["abstain_rate"],
                    r["false_abstain_rate"],
                    r["faithfulness"],
                ]
                for r in quality["rows"]
            ],
        )
    lines += ["## Targets", ""] + _table(["target", "measured", "wanted", ""], targets)
    return "\n".join(lines)


def write_summary() -> Path:
    path = RESULTS / "README.md"
    path.write_text(summary(), encoding="utf-8")
    return path


if __name__ == "__main__":
    print(write_summary().read_text(encoding="utf-8"))
