"""The ``sourcier`` command: build the index, ask questions, serve the API, show an article."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from service.cli_build import cmd_build
from service.cli_reports import cmd_coverage, cmd_eval, settings_for

if TYPE_CHECKING:
    from service.core import Answerer, Result

log = logging.getLogger("sourcier")


def cmd_fetch_model(args: argparse.Namespace) -> int:
    """Fetch and verify the model, then prepare the configured runtime (the ONNX export, once), so the
    service's first start only loads files."""
    from index.fetch import resolve

    settings = settings_for(args)
    path = resolve(settings.model, settings.model_cache)
    print(path)
    if settings.runtime != "torch":
        from index.onnx import PRECISIONS, ensure_export, keep_only

        print(ensure_export(Path(path), PRECISIONS[settings.runtime]))
        if args.slim:
            from index.fetch import slim

            for removed in [*keep_only(Path(path), PRECISIONS[settings.runtime]), *slim(Path(path))]:
                print(f"removed {removed}")
    elif args.slim:
        raise ValueError("--slim keeps an ONNX runtime's export: set SOURCIER_RUNTIME=onnx or onnx-int8")
    return 0


def _read_batch(handle: TextIO) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    for number, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, None, f"ligne {number} : JSON invalide ({exc.msg})"
            continue
        if not isinstance(record, dict):
            yield number, None, f"ligne {number} : un objet JSON est attendu"
            continue
        yield number, record, None


def cmd_ask(args: argparse.Namespace) -> int:
    from service.core import QuestionError, check_text
    from service.startup import load_answerer
    from service.web.errors import envelope
    from service.web.routes.ask import result_body

    if not args.batch and not args.question:
        print("sourcier ask: give a QUESTION or --batch FILE", file=sys.stderr)
        return 2
    settings = settings_for(args)

    def refused(exc: QuestionError) -> int:
        if args.json:
            print(json.dumps(envelope(exc.code, exc.message), ensure_ascii=False))
        else:
            print(f"erreur : {exc.message}", file=sys.stderr)
        return 1

    if not args.batch:
        try:
            check_text(args.question, settings.limits())  # refused before the model loads (seconds)
        except QuestionError as exc:
            return refused(exc)
    answerer = load_answerer(settings)
    if args.batch:
        return _ask_batch(args, answerer)
    try:
        result = answerer.answer(args.question, args.top_k)
    except QuestionError as exc:
        return refused(exc)
    if args.json:
        print(json.dumps(result_body(answerer, result), ensure_ascii=False, indent=2))
    else:
        print(format_result(result))
    return 0


def _ask_batch(args: argparse.Namespace, answerer: Answerer) -> int:
    from tqdm import tqdm

    from service.core import QuestionError
    from service.web.errors import envelope
    from service.web.routes.ask import result_body

    failures = 0
    with ExitStack() as stack:
        source = sys.stdin if args.batch == "-" else stack.enter_context(open(args.batch, encoding="utf-8"))
        out = stack.enter_context(open(args.out, "w", encoding="utf-8")) if args.out else sys.stdout
        for _number, record, problem in tqdm(
            list(_read_batch(source)), desc="questions", unit="q", disable=args.quiet, file=sys.stderr
        ):
            ident = record.get("id") if record else None
            try:
                if problem:
                    raise QuestionError("invalid_line", problem)
                result = answerer.answer(record.get("question"), record.get("top_k", args.top_k))
                line: dict[str, Any] = {"id": ident, **result_body(answerer, result)}
            except QuestionError as exc:
                failures += 1
                line = {"id": ident, **envelope(exc.code, exc.message)}
            out.write(json.dumps(line, ensure_ascii=False) + "\n")
    if failures:
        log.warning('%d line(s) could not be asked (see their "error")', failures)
    return 0


def format_result(result: Result) -> str:
    """Human-readable answer: how sure it is, the verbatim sentence, then its citation. An answer that
    is not confident says so first, as the widget does: the closest passage, to check, not "the" answer."""
    lines = []
    answer = result.answer
    if result.known is not None:
        known = result.known
        lines.append(f"Question proche : {known.text}" + (f" ({known.title})" if known.section else ""))
    if result.answered and answer is not None:
        c = answer.citation
        lines.append("Réponse :" if result.confident else "Réponse (à vérifier) : passage le plus proche")
        lines.append(f"« {answer.text} »")
        lines.append(f"— {c.title}" + (f" › {c.section}" if c.section else ""))
        lines.append(f"  [{c.doc_id}, caractères {c.start}–{c.end}, score {answer.score:.3f}]")
        lines.append(f"  {c.url}")
        for alt in result.alternatives:
            where = f"{alt.citation.doc_id} {alt.citation.start}–{alt.citation.end}"
            lines.append(f"\nAutre passage ({alt.score:.3f}) : « {alt.text} »  [{where}]")
    else:
        lines.append(f"Pas de réponse dans les articles. {result.reason}")
        for passage in result.passages[:2]:
            lines.append(f"  Passage le plus proche ({passage.score:.3f}) : {passage.title} › {passage.section or ''}")
    lines.append(f"\n({result.took_ms:.0f} ms, index {result.index_version})")
    return "\n".join(lines)


def cmd_serve(args: argparse.Namespace) -> int:
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # the served log is JSON lines: no bars
    import uvicorn

    from index.manifest import StoreError
    from service.sites import load_sites
    from service.startup import shared_loader
    from service.web.access import log_config
    from service.web.app import create_app

    settings = settings_for(args)
    if args.build:  # the container's default: the mounted articles' index (each site's), built when missing or stale
        several = ["--all-sites"] if settings.sites_file else []
        index_args = ["--index", args.index] if args.index and not several else []
        status = cmd_build(parser().parse_args(["build", "--quiet", *index_args, *several]))
        if status:
            return status
    host = args.host or settings.host
    port = args.port or settings.port
    # before listening: a bad sites file or a broken index stops here, saying what to run (one model for every site)
    load = shared_loader()
    preloaded = {}
    for site in load_sites(settings).values():
        try:
            preloaded[site.settings.index_dir] = load(site.settings)
        except StoreError as exc:
            if not site.prefix:
                raise
            raise StoreError(f"site {site.id}: {exc} (sourcier build --site-id {site.id})") from exc
    # pop: once served, each first index is only held by app.state, so a hot reload can free it
    uvicorn.run(
        create_app(settings, loader=lambda site_settings: preloaded.pop(site_settings.index_dir)),
        host=host,
        port=port,
        server_header=False,
        log_config=log_config("info"),
        access_log=False,  # uvicorn's names the reader's address and the query string: service.web.access logs instead
    )
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from index import store

    settings = settings_for(args)
    index = store.load(settings.index_dir, settings.index_config())
    article = index.articles.get(args.doc_id)
    if article is None:
        print(f"sourcier show: unknown article {args.doc_id!r}", file=sys.stderr)
        return 1
    print(f"{article.title}\n[{article.doc_id}] {article.url or article.source}")
    for section in article.sections:
        print(f"  § {section.title}  ({section.start}–{section.end})")
    print()
    print(article.text)
    return 0


def cmd_sites(args: argparse.Namespace) -> int:
    from service.cli_sites import cmd_sites as list_sites

    return list_sites(args)


def cmd_settings(args: argparse.Namespace) -> int:
    """Every setting with its default and meaning, from ``Settings`` itself (or written into a README)."""
    from service import settings_table

    if args.write is None:
        print(settings_table.table())
        return 0
    try:
        changed = settings_table.write(Path(args.write))
    except (OSError, settings_table.TableError) as exc:
        print(f"sourcier settings: {args.write}: {exc}", file=sys.stderr)
        return 1
    print(f"{args.write}: {'settings table written' if changed else 'settings table already up to date'}")
    return 0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="sourcier", description="Réponses mot pour mot tirées des articles.")
    root.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = root.add_subparsers(dest="command", required=True)

    p = sub.add_parser("build", help="build or refresh the index from the corpus")
    p.add_argument("--corpus", nargs="+", help="article files or folders (default: the setting)")
    p.add_argument("--index", help="index folder (default: the setting)")
    p.add_argument("--force", action="store_true", help="rebuild even when the index is up to date")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument(
        "--ray",
        metavar="ADDRESS",
        help="embed on a Ray cluster (ADDRESS of its head, or 'auto'); needs the 'ray' extra",
    )
    p.add_argument("--ray-workers", type=int, default=0, help="encoder actors on the cluster (default: its CPUs)")
    site = p.add_mutually_exclusive_group()
    site.add_argument(
        "--site", metavar="URL", help="build from a website: its sitemap (or --crawl), refreshed in place"
    )
    site.add_argument("--wordpress", metavar="URL", help="build from a WordPress site's REST API (posts and pages)")
    p.add_argument("--crawl", action="store_true", help="with --site: follow links from URL instead of the sitemap")
    p.add_argument("--include", action="append", metavar="REGEX", help="with --site: keep only URLs matching one")
    p.add_argument("--exclude", action="append", metavar="REGEX", help="with --site: leave out URLs matching one")
    p.add_argument("--json", action="store_true", help="with --site/--wordpress: print the summary as JSON")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--site-id", metavar="ID", help="build this site of the sites file (SOURCIER_SITES_FILE)")
    which.add_argument("--all-sites", action="store_true", help="build every site of the sites file")
    p.set_defaults(func=cmd_build)

    p = sub.add_parser("ask", help="answer a question (or a JSONL batch)")
    p.add_argument("question", nargs="?", help="the question, in French")
    p.add_argument("--json", action="store_true", help="print the /api/ask JSON body")
    p.add_argument("--batch", help='JSONL file of {"question", "id"?} lines (\'-\' for stdin)')
    p.add_argument("--out", help="with --batch: write JSONL here instead of stdout")
    p.add_argument("--top-k", type=int, help="passages (and answers) to return (default: the setting top_k)")
    p.add_argument("--index", help="index folder")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--site-id", metavar="ID", help="this site of the sites file (SOURCIER_SITES_FILE)")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("serve", help="serve the API, the article pages and the widget")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument("--index", help="index folder")
    p.add_argument(
        "--build", action="store_true", help="first build the index from SOURCIER_CORPUS when it is missing or stale"
    )
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("show", help="print an indexed article")
    p.add_argument("doc_id")
    p.add_argument("--index", help="index folder")
    p.add_argument("--site-id", metavar="ID", help="this site of the sites file (SOURCIER_SITES_FILE)")
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("eval", help="score Sourcier and the baselines on an evaluation set")
    p.add_argument("--set", required=True, help="seed, piaf, piaf-ci, or a JSONL question file")
    p.add_argument(
        "--index", help="index folder to use for the set (default: var/eval/<set>-<corpus>-<runtime>-<dims>)"
    )
    p.add_argument("--sample", type=int, help="evaluate a fixed sample of N questions")
    p.add_argument("--json", help="write the full report (with per-question results) here")
    p.add_argument("--html", help="write the HTML report here")
    p.add_argument("--markdown", help="write the Markdown tables (what the command prints) here")
    p.add_argument("--no-baselines", action="store_true", help="score Sourcier only")
    p.add_argument(
        "--check",
        action="store_true",
        help="exit 1 on a faithfulness failure or a score under the set's regression floor",
    )
    p.add_argument("--strict", action="store_true", help="with --check: also exit 1 when a target is missed")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("coverage", help="editors' report: which questions the articles answer, which they don't")
    p.add_argument("questions", nargs="?", help="questions: .txt (one a line), .csv (a 'question' column) or .jsonl")
    p.add_argument("--from-log", action="store_true", help="use the service's query log and readers' votes")
    p.add_argument("--since", help="with --from-log: first day, YYYY-MM-DD (default: --days ago)")
    p.add_argument("--until", help="with --from-log: last day, YYYY-MM-DD (default: today)")
    p.add_argument("--days", type=int, default=30, help="with --from-log and no --since: period length")
    p.add_argument("--compare", nargs=2, metavar=("OLD", "NEW"), help="what changed between two report.json")
    p.add_argument(
        "--out", help="folder for report.html/.csv/.json (default var/coverage); with --compare: for compare.html"
    )
    p.add_argument("--index", help="index folder")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--site-id", metavar="ID", help="this site of the sites file (SOURCIER_SITES_FILE)")
    p.set_defaults(func=cmd_coverage)

    p = sub.add_parser(
        "fetch-model",
        help="download and verify the embedding model (offline-safe cache) and "
        "prepare the configured runtime (ONNX export)",
    )
    p.add_argument(
        "--slim",
        action="store_true",
        help="then keep only what the configured ONNX runtime reads (the container image's model: no torch weights)",
    )
    p.set_defaults(func=cmd_fetch_model)

    p = sub.add_parser("sites", help="list the sites file's sites: index version, articles, threshold, last build")
    p.add_argument("--site-id", metavar="ID", help="only this site")
    p.add_argument("--json", action="store_true", help="print them as JSON")
    p.set_defaults(func=cmd_sites)

    p = sub.add_parser("settings", help="print every SOURCIER_* setting with its default and meaning (Markdown)")
    p.add_argument("--write", metavar="FILE", help="put the table between FILE's settings:start/end lines")
    p.set_defaults(func=cmd_settings)
    return root


def main(argv: list[str] | None = None) -> int:
    # before the model's libraries are imported (each command imports them when it needs them): the model is
    # local (never fetched at run time), one BLAS thread per process, no tokenizer thread pool
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    args = parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    from corpus.load import CorpusError
    from index.encoder import ModelError
    from index.manifest import StoreError

    try:
        return args.func(args)
    except (CorpusError, ModelError, StoreError, ValueError) as exc:
        print(f"sourcier {args.command}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
