"""What the editors' coverage report costs on a real site (issue 30): generation time, file size, and the
page's height in Chromium at 1280 px, folded as it opens.

``python -m bench.coverage_report --index DIR --site DIR [--checkout DIR] [--label NAME]`` (not part of
``make bench``). The index is the Démarche numérique site built once, outside the timing::

    python3 -m http.server 8765 --directory ../shared/data/demarche-numerique/site --bind 127.0.0.1 &
    sourcier build --site http://127.0.0.1:8765/ --index var/bench/dn-index

The 500 questions (written to ``var/bench/``, never committed) mix the site's own headings (h1–h3 of its
pages), those headings put in a reader's words ("Où trouver … ?"), and invented questions on subjects the
site does not cover, drawn with a fixed seed. Then the real command, timed (model load included, index
build excluded): ``sourcier coverage QUESTIONS --index DIR --out DIR --quiet``, run from ``--checkout``
(another worktree, e.g. the commit before the change, for the "before" number). Results go to
``bench/results/coverage_report.json`` under ``--label``; a screenshot of the first screen to artifacts/.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import RESULTS, ROOT, WORK, machine

CHROMIUM = "/usr/bin/chromium"
WIDTH, HEIGHT = 1280, 1400
SUBJECTS = [
    "renouveler mon passeport",
    "déclarer la naissance de mon enfant",
    "payer la taxe foncière en plusieurs fois",
    "inscrire mon chien au registre",
    "contester une amende de stationnement",
    "obtenir une carte de pêche",
    "réserver une salle municipale",
    "changer l'adresse de ma carte grise",
    "demander une bourse d'études",
    "signaler un nid-de-poule",
    "faire une demande de logement social",
    "récupérer mes points de permis",
]
TEMPLATES = ["Comment {s} ?", "Où puis-je {s} ?", "Est-il possible de {s} en ligne ?", "Que faut-il pour {s} ?"]


def headings(site: Path) -> list[str]:
    """The site's h1–h3 texts, once each, in file order."""
    seen: dict[str, None] = {}
    for page in sorted(site.rglob("index.html")):
        for raw in re.findall(r"<h[1-3][^>]*>(.*?)</h[1-3]>", page.read_text(encoding="utf-8"), re.S):
            text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", raw)).split())
            if 8 <= len(text) <= 200:
                seen.setdefault(text, None)
    return list(seen)


def questions(site: Path, count: int = 500, seed: int = 30) -> list[str]:
    """About half the site's headings as they are, a quarter reworded, a quarter invented."""
    rng = random.Random(seed)
    found = headings(site)
    rng.shuffle(found)
    asis = found[: count // 2]
    reworded = [f"Où trouver des informations sur « {h.rstrip(' ?')} » ?" for h in found[count // 2 : 3 * count // 4]]
    invented = [t.format(s=s) for s in SUBJECTS for t in TEMPLATES]
    out = asis + reworded
    while len(out) < count:
        out.append(rng.choice(invented))
    return out[:count]


def page_numbers(report: Path, screenshot: Path | None = None) -> dict[str, Any]:
    """The page's height as it opens (folded) and whether the to-do's first item is on the first screen."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox"])
        page = browser.new_page(viewport={"width": WIDTH, "height": HEIGHT})
        page.goto(report.as_uri())
        height = page.evaluate("document.documentElement.scrollHeight")
        first = page.locator("ol.todo li").first
        box = first.bounding_box() if first.count() else None
        if screenshot:
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot))
        browser.close()
    return {
        "page_height_px": height,
        "screens": round(height / HEIGHT, 2),
        "todo_first_item_bottom_px": None if box is None else round(box["y"] + box["height"]),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", required=True, type=Path)
    parser.add_argument("--site", default=ROOT.parent / "shared/data/demarche-numerique/site", type=Path)
    parser.add_argument("--checkout", default=ROOT, type=Path, help="the worktree whose `sourcier coverage` runs")
    parser.add_argument("--label", default="after")
    parser.add_argument("--count", type=int, default=500)
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    asked = WORK / "dn-questions.txt"
    asked.write_text("\n".join(questions(args.site, args.count)) + "\n", encoding="utf-8")
    out = WORK / f"coverage-{args.label}"
    command = [sys.executable, "-m", "service.cli", "coverage", str(asked), "--index", str(args.index.resolve())]
    command += ["--out", str(out), "--quiet"]
    env = {**os.environ, "PYTHONPATH": str(args.checkout.resolve()), "HF_HUB_OFFLINE": "1"}
    started = time.perf_counter()
    subprocess.run(command, cwd=args.checkout, env=env, check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    report = out / "report.html"
    summary = json.loads((out / "report.json").read_text(encoding="utf-8"))["summary"]
    result = {
        "command": " ".join(["sourcier", *command[3:]]),
        "checkout": subprocess.run(
            ["git", "-C", str(args.checkout), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
        or str(args.checkout),  # an exported tree (git archive) has no .git
        "questions": summary["total"],
        "answered": summary["answered"],
        "weak": summary["weak"],
        "uncovered": summary["uncovered"],
        "articles": summary["articles"],
        "sections": summary["sections"],
        "passages": summary["passages"],
        "seconds": round(seconds, 1),
        "html_bytes": report.stat().st_size,
        "viewport": [WIDTH, HEIGHT],
        **page_numbers(report, ROOT / "artifacts" / "screenshots" / f"coverage-{args.label}.png"),
    }
    path = RESULTS / "coverage_report.json"
    previous = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    runs = {**previous.get("runs", {}), args.label: result}
    body = {"benchmark": "coverage_report", "machine": machine(), "runs": runs}
    path.write_text(json.dumps(body, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    sys.stdout.write(json.dumps(result, ensure_ascii=False, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
