"""What a site build costs, and what a refresh after editing one page costs (issue 16).

``python -m bench.site [--pages 40]`` (not part of ``make bench``; ~5 min here with 40 pages): the first
``--pages`` service-public.fr fiches (eval/data/service-public; Source : service-public.fr / DILA, 2020)
rendered as service-public.fr-like pages (``eval.site_pages``: header, menu, cookie banner, "Voir aussi",
feedback form, footer) in a folder with a ``sitemap.xml`` (``<lastmod>`` per page) and a ``robots.txt``,
served by Python's own static file server on loopback (``Last-Modified`` and 304 answers to
``If-Modified-Since``; no ETag). Then, with the configured runtime and model, through the real command
(``sourcier build --site URL --json``) into an index of its own under var/bench:

1. the first build (every page fetched, extracted and embedded);
2. one page edited (a paragraph added; its file and ``<lastmod>`` change), then the same command: the refresh;
3. nothing changed, the same command again.

Each step once (a build is minutes; its parts are counted, not sampled): wall seconds, requests, bytes,
pages fetched, texts embedded and reused, and the ratio of each refresh to the first build, measured in
the same run. Writes ``bench/results/site.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import io
import json
import shutil
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bench.common import ROOT, WORK, machine, write
from eval.site_pages import service_public_page

FICHES = ROOT / "eval" / "data" / "service-public" / "articles.jsonl"
EDIT = "Depuis le 1er janvier, la demande se fait aussi en ligne, depuis votre espace personnel."


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def render(folder: Path, count: int) -> list[Path]:
    """The fiches as pages under ``folder/fiches/``, with the sitemap and robots.txt; the page paths."""
    records = [json.loads(line) for line in FICHES.read_text(encoding="utf-8").splitlines()[:count]]
    titles = [r["source_title"] for r in records]
    paths = []
    for r in records:
        others = [t for t in titles if t != r["source_title"]]
        page = service_public_page(r["id"], r["source_title"], r["text"], r["url"], others, "html5")
        path = folder / "fiches" / f"{r['id'].lower()}.html"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(page.html, encoding="utf-8")
        paths.append(path)
    return paths


def write_sitemap(folder: Path, base: str, lastmods: dict[Path, str]) -> None:
    urls = "".join(
        f"<url><loc>{base}/{p.relative_to(folder).as_posix()}</loc><lastmod>{lastmods[p]}</lastmod></url>"
        for p in sorted(lastmods)
    )
    (folder / "sitemap.xml").write_text(
        f'<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}'
        "</urlset>",
        encoding="utf-8",
    )
    (folder / "robots.txt").write_text(f"User-agent: *\nAllow: /\n\nSitemap: {base}/sitemap.xml\n", encoding="utf-8")


def build(base: str, index: Path) -> dict[str, Any]:
    """``sourcier build --site`` as a user runs it; its JSON summary and wall seconds."""
    from service import cli

    out = io.StringIO()
    started = time.perf_counter()
    with contextlib.redirect_stdout(out):
        code = cli.main(["build", "--site", base + "/", "--index", str(index), "--json", "--quiet"])
    seconds = time.perf_counter() - started
    if code != 0:
        raise SystemExit(f"sourcier build --site failed ({code})")
    summary = json.loads(out.getvalue())
    return {"seconds": round(seconds, 1), **{k: v for k, v in summary.items() if k != "skipped_pages"}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.site", description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=40, help="fiches served as pages")
    args = parser.parse_args(argv)
    work = WORK / "site"
    shutil.rmtree(work, ignore_errors=True)
    folder, index = work / "www", work / "index"
    paths = render(folder, args.pages)
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(folder)))
    base = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        lastmods = {p: "2020-01-15" for p in paths}
        write_sitemap(folder, base, lastmods)
        steps = {"first build": build(base, index)}
        edited = paths[len(paths) // 2]
        time.sleep(1.1)  # Last-Modified has one-second resolution
        html = edited.read_text(encoding="utf-8")
        edited.write_text(html.replace('<div class="sp-content">', f'<div class="sp-content"><p>{EDIT}</p>', 1))
        lastmods[edited] = "2020-02-01"
        write_sitemap(folder, base, lastmods)
        steps["one page edited"] = build(base, index)
        steps["nothing changed"] = build(base, index)
    finally:
        server.shutdown()
    first = steps["first build"]
    for step in steps.values():
        step["seconds_vs_first_build"] = round(step["seconds"] / first["seconds"], 3)
    print(f"{args.pages} pages, {machine()['cores']} cores; one run of each step")
    print("| step | seconds | × first | requests | bytes | fetched | embedded | reused |")
    print("|---|--:|--:|--:|--:|--:|--:|--:|")
    for name, s in steps.items():
        index_info = s["index"]
        print(
            f"| {name} | {s['seconds']} | {s['seconds_vs_first_build']} | {s['requests']} | {s['bytes']:,} | "
            f"{s['fetched']} | {index_info.get('embedded', 0)} | {index_info.get('reused', '—')} |"
        )
    write("site", {"pages": args.pages, "runs": 1, "steps": steps})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
