"""A small bounded load generator for loopback servers: ``concurrency`` clients asking questions in a
loop for ``seconds`` (and never more than ``max_requests``), recording every status and latency."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx

QUESTIONS = [
    "Quel nerf innerve le mollet ?",
    "Pourquoi mon mollet se contracte-t-il ?",
    "Comment traiter un nerf S1 irrité ?",
    "Le cœur accélère pendant l’effort ?",
    "Comment réinitialiser mon mot de passe ?",
    "crampe du mollet la nuit",
    "pain au levain",
    "Combien de temps pour un trajet de 5 km à vélo ?",
    "balise img onerror",
    "hernie discale S1",
]


@dataclass
class LoadReport:
    seconds: float
    concurrency: int
    requests: int = 0
    statuses: Counter = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)  # transport errors, timeouts, failed checks
    latencies_ms: list[float] = field(default_factory=list)
    retry_after_missing: int = 0

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies_ms)
        return round(ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))], 1) if ordered else 0.0

    def summary(self) -> dict:
        return {
            "seconds": self.seconds,
            "concurrency": self.concurrency,
            "requests": self.requests,
            "per_second": round(self.requests / self.seconds, 1) if self.seconds else 0,
            "statuses": dict(self.statuses),
            "failures": len(self.failures),
            "first_failures": self.failures[:5],
            "p50_ms": self.percentile(50),
            "p90_ms": self.percentile(90),
            "p99_ms": self.percentile(99),
            "max_ms": round(max(self.latencies_ms, default=0), 1),
        }

    def save(self, path: Path, **extra) -> dict:
        data = {**self.summary(), **extra}
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        return data


Check = Callable[[dict], str | None]  # a 200 body -> None, or what is wrong with it


async def _worker(
    client: httpx.AsyncClient,
    url: str,
    questions,
    deadline: float,
    budget: list[int],
    report: LoadReport,
    check: Check | None,
    timeout: float,
) -> None:
    while time.monotonic() < deadline and budget[0] > 0:
        budget[0] -= 1
        question = next(questions)
        started = time.perf_counter()
        try:
            response = await client.post(f"{url}/api/ask", json={"question": question}, timeout=timeout)
        except httpx.HTTPError as exc:
            report.failures.append(f"{type(exc).__name__}: {exc}")
            continue
        report.latencies_ms.append((time.perf_counter() - started) * 1000)
        report.requests += 1
        report.statuses[response.status_code] += 1
        if response.status_code in (429, 503) and not response.headers.get("retry-after", "").isdigit():
            report.retry_after_missing += 1
        if response.status_code == 200 and check is not None:
            problem = check(response.json())
            if problem:
                report.failures.append(problem)


async def _run(
    url: str, seconds: float, concurrency: int, max_requests: int, check: Check | None, timeout: float
) -> LoadReport:
    report = LoadReport(seconds, concurrency)
    questions = itertools.cycle(QUESTIONS)
    deadline = time.monotonic() + seconds
    budget = [max_requests]
    # Idle connections are dropped before the server's 5 s keep-alive timeout, as a proxy in front of it
    # should: else a request may be sent on a connection the server is closing at that instant.
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency, keepalive_expiry=2.0)
    async with httpx.AsyncClient(limits=limits) as client:
        await asyncio.gather(
            *(_worker(client, url, questions, deadline, budget, report, check, timeout) for _ in range(concurrency))
        )
    return report


def run_load(
    url: str,
    seconds: float,
    concurrency: int,
    max_requests: int = 200_000,
    check: Check | None = None,
    timeout: float = 30.0,
) -> LoadReport:
    """Ask questions at ``url`` (a loopback server) for ``seconds`` with ``concurrency`` clients."""
    assert url.startswith("http://127.0.0.1:"), "load tests target loopback only"
    with ThreadPoolExecutor(1) as pool:  # its own event loop, even when Playwright's runs in this thread
        return pool.submit(asyncio.run, _run(url, seconds, concurrency, max_requests, check, timeout)).result()


def verbatim_check(indexes: dict) -> Check:
    """A check for run_load: the body comes from one of ``indexes`` (version -> Index), verbatim."""

    def check(body: dict) -> str | None:
        index = indexes.get(body["index_version"])
        if index is None:
            return f"unknown index version {body['index_version']}"
        for answer in ([body["answer"]] if body["answer"] else []) + body["alternatives"]:
            c = answer["citation"]
            if index.articles[c["doc_id"]].text[c["start"] : c["end"]] != answer["text"]:
                return f"not verbatim in {body['index_version']}: {answer['text'][:60]}"
        for p in body["passages"]:
            if index.articles[p["doc_id"]].text[p["start"] : p["end"]] != p["text"]:
                return f"passage not verbatim in {body['index_version']}"
        return None

    return check
