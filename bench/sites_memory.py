"""What serving three sites from one process costs in memory, against serving one: a real ``sourcier
serve`` on a sites file of three sites (``bench/three_sites.py``: the seed article, 30 service-public.fr
fiches, 26 Démarche numérique FAQ pages on loopback) and one on a sites file of the ``seed`` site alone,
same model (onnx-int8 by default), same machine, same run.

Each configuration is started ``--runs`` times, the two interleaved (1, 3, 1, 3, …). Per start: the
resident memory (VmRSS of the process and of its children, if any) once ``/api/health`` answers, then
after 20 questions asked of each served site (so that every lazy allocation of the query path is made),
the process's high-water mark (VmHWM) and each ``/api/ask``'s latency. Reported: the medians over the
starts, the ratio 3 sites / 1 site of the resident memory after the questions (target ≤ 1.3: the model
is loaded once and shared, each site adds its index), and the median latency per configuration — of every
question asked, and of the seed's 20 alone (the same questions in both). The sites are built once into
``var/bench/sites_memory`` (``sourcier build --all-sites``; up to date on a second run), outside the
measure. Writes ``bench/results/sites_memory.json`` and prints a Markdown table.

    python -m bench.sites_memory [--runs 3]      # not part of make bench; ~3 min with the sites built
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.common import WORK, machine, status_mb, write
from bench.three_sites import (
    DemarcheSite,
    Serving,
    dn_questions,
    fiche_questions,
    free_port,
    rss_mb,
    seed_questions,
    sites_env,
    sites_toml,
    sourcier,
    write_fiches,
)

FOLDER = WORK / "sites_memory"
DN_PORT = 8254  # fixed, so that the pages' URLs (and so dn's index) are the same from one run to the next
QUESTIONS = 20  # per site, before the "after questions" figure is read
TARGET_RATIO = 1.3


@dataclass
class Sample:
    sites: int
    rss_at_health_mb: float
    rss_after_questions_mb: float
    peak_mb: float  # VmHWM of the server process, start-up included
    start_s: float  # from the process's start to /api/health answering: every site's index loaded
    ask_ms: list[float]  # every question, in order
    seed_ask_ms: list[float]  # the seed site's questions alone


@dataclass
class Row:
    sites: int
    runs: int
    rss_at_health_mb: float
    rss_after_questions_mb: float
    peak_mb: float
    start_s: float
    ask_p50_ms: float
    seed_ask_p50_ms: float
    questions_per_run: int


def _once(sites_file: Path, asked: dict[str, list[str]], log: Path) -> Sample:
    import httpx

    started = time.perf_counter()
    server = Serving(sites_env(sites_file, FOLDER / "data", rate_limit="0"), free_port(), log)
    start_s = time.perf_counter() - started
    try:
        at_health = rss_mb(server.pid)
        latencies: dict[str, list[float]] = {}
        with httpx.Client(timeout=60) as client:
            for site, questions in asked.items():
                for question in questions:
                    started = time.perf_counter()
                    response = client.post(f"{server.url}/sites/{site}/api/ask", json={"question": question})
                    latencies.setdefault(site, []).append((time.perf_counter() - started) * 1000)
                    response.raise_for_status()
        return Sample(
            len(asked),
            round(at_health, 1),
            round(rss_mb(server.pid), 1),
            round(status_mb(server.pid, "VmHWM"), 1),
            round(start_s, 2),
            [ms for site in asked for ms in latencies[site]],
            latencies["seed"],
        )
    finally:
        server.stop()


def _row(samples: list[Sample]) -> Row:
    def median(values: list[float]) -> float:
        return round(statistics.median(values), 1)

    return Row(
        samples[0].sites,
        len(samples),
        median([s.rss_at_health_mb for s in samples]),
        median([s.rss_after_questions_mb for s in samples]),
        median([s.peak_mb for s in samples]),
        round(statistics.median([s.start_s for s in samples]), 2),
        median([ms for s in samples for ms in s.ask_ms]),
        median([ms for s in samples for ms in s.seed_ask_ms]),
        len(samples[0].ask_ms),
    )


def prepare(dn_url: str) -> tuple[Path, Path, dict[str, list[str]], dict[str, Any]]:
    """The two sites files, the questions by site and the build's summary (the three sites built or up to date)."""
    FOLDER.mkdir(parents=True, exist_ok=True)
    ids = write_fiches(FOLDER / "fiches.jsonl")
    three, one = FOLDER / "sites-3.toml", FOLDER / "sites-1.toml"
    three.write_text(sites_toml(FOLDER / "fiches.jsonl", dn_url), encoding="utf-8")
    one.write_text(sites_toml(FOLDER / "fiches.jsonl", dn_url, sites=("seed",)), encoding="utf-8")
    started = time.perf_counter()
    built = sourcier(["build", "--all-sites", "--quiet"], sites_env(three, FOLDER / "data"))
    if built.returncode != 0:
        raise RuntimeError(f"sourcier build --all-sites failed: {built.stdout}\n{built.stderr}")
    listed = sourcier(["sites", "--json"], sites_env(three, FOLDER / "data"))
    indexes = {row["id"]: {k: row[k] for k in ("index_version", "articles")} for row in json.loads(listed.stdout)}
    for site in indexes:
        folder = FOLDER / "data" / "sites" / site / "index"
        indexes[site]["index_mb"] = round(sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 2**20, 2)
    asked = {
        "seed": seed_questions(QUESTIONS),
        "fiches": fiche_questions(ids)[:QUESTIONS],
        "dn": dn_questions()[:QUESTIONS],
    }
    return one, three, asked, {"build_s": round(time.perf_counter() - started, 1), "indexes": indexes}


def run(runs: int = 3) -> dict[str, Any]:
    FOLDER.mkdir(parents=True, exist_ok=True)
    with DemarcheSite(FOLDER, port=DN_PORT) as dn:
        one, three, asked, built = prepare(dn.url)
        load_before = machine()["load_avg_1_5_15"]
        samples: dict[int, list[Sample]] = {1: [], 3: []}
        for run_number in range(runs):
            samples[1].append(_once(one, {"seed": asked["seed"]}, FOLDER / f"serve-1-{run_number}.log"))
            samples[3].append(_once(three, asked, FOLDER / f"serve-3-{run_number}.log"))
    rows = {sites: _row(found) for sites, found in samples.items()}
    ratio = round(rows[3].rss_after_questions_mb / rows[1].rss_after_questions_mb, 3)
    return {
        "runs": runs,
        "questions_per_site": QUESTIONS,
        "one_site": "seed",
        "three_sites": list(asked),
        **built,
        "rows": [asdict(row) for row in rows.values()],
        "ratio_rss_3_vs_1": ratio,
        "ratio_at_health_3_vs_1": round(rows[3].rss_at_health_mb / rows[1].rss_at_health_mb, 3),
        "target_ratio": TARGET_RATIO,
        "met": ratio <= TARGET_RATIO,
        "samples": {sites: [_summary(s) for s in found] for sites, found in samples.items()},
        "load_avg_before": load_before,
        "load_avg_after": machine()["load_avg_1_5_15"],
    }


def _summary(sample: Sample) -> dict[str, Any]:
    """One start's figures, its latencies as their median."""
    plain = {k: v for k, v in asdict(sample).items() if not k.endswith("_ms")}
    plain["ask_p50_ms"] = round(statistics.median(sample.ask_ms), 1)
    plain["seed_ask_p50_ms"] = round(statistics.median(sample.seed_ask_ms), 1)
    return plain


def table(result: dict[str, Any]) -> str:
    lines = [
        "| sites served | runs | RSS at health (MB) | RSS after questions (MB) | peak VmHWM (MB) "
        "| start to health (s) | /api/ask p50, all (ms) | /api/ask p50, seed's 20 (ms) |",
        "|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for row in result["rows"]:
        name = "1 (seed)" if row["sites"] == 1 else "3 (seed, fiches, dn)"
        lines.append(
            f"| {name} | {row['runs']} | {row['rss_at_health_mb']} | {row['rss_after_questions_mb']} | "
            f"{row['peak_mb']} | {row['start_s']} | {row['ask_p50_ms']} | {row['seed_ask_p50_ms']} |"
        )
    verdict = "met" if result["met"] else "missed"
    lines.append(
        f"\nRatio 3 sites / 1 site, RSS after questions: **{result['ratio_rss_3_vs_1']}** (target ≤ "
        f"{result['target_ratio']}: {verdict}); at health: {result['ratio_at_health_3_vs_1']}."
    )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    result = run(args.runs)
    path = write("sites_memory", result)
    sys.stdout.write(table(result) + f"\n\n{path}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
