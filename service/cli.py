"""The ``sourcier`` command: build the index, ask questions, serve the API, show an article."""

from __future__ import annotations

import argparse
import functools
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from service.cli_reports import cmd_coverage, cmd_eval, settings_for
from service.settings import Settings

if TYPE_CHECKING:
    from index.encoder import Encoder
    from index.search import Index
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


def cmd_build(args: argparse.Namespace) -> int:
    """Build (or refresh) the index; unchanged inputs reuse their vectors; an up-to-date index is kept."""
    from corpus.load import load
    from index.ensure import ensure

    settings = settings_for(args)
    site = None
    if (args.crawl or args.include or args.exclude or args.json) and not (args.site or args.wordpress):
        raise ValueError("--crawl, --include, --exclude and --json go with --site or --wordpress")
    if args.corpus and (args.site or args.wordpress):
        raise ValueError("--corpus or --site/--wordpress: the index is built from one of them")
    if args.site or args.wordpress:
        from service.cli_site import site_corpus

        site = site_corpus(args, settings)
        articles = site.articles
    else:
        articles = load(settings.corpus)
    # the encoder is loaded only to rebuild or to measure the abstention threshold (once for both):
    # an up-to-date index costs one manifest read
    load_encoder = functools.cache(_encoder_loader(settings, args.ray, args.ray_workers))
    try:
        ensured = ensure(
            settings.index_dir,
            articles,
            settings.index_config(),
            load_encoder,
            force=args.force,
            progress=not args.quiet,
            load_current=False,
        )
        manifest = ensured.manifest
        if site is not None:
            from service.cli_site import print_summary, save_state

            save_state(site, settings)
            built = {"version": manifest.version, "built": ensured.built}
            if ensured.built:
                built |= {"embedded": manifest.build.embedded, "reused": manifest.build.reused}
            print_summary(site, args.json, built)
        if not ensured.built and not args.json:
            print(
                f"index {manifest.version} is up to date ({manifest.corpus.articles} articles) at {settings.index_dir}"
            )
        elif not args.json:
            corpus, build = manifest.corpus, manifest.build
            print(
                f"index {manifest.version} saved to {settings.index_dir}: {corpus.articles} articles, "
                f"{corpus.sentences} sentences, {corpus.pairs} pairs, {corpus.chunks} chunks; "
                f"embedded {build.embedded}, "
                f"reused {build.reused}, {build.seconds} s"
            )
        _measure_abstention(settings, ensured.index, load_encoder, quiet=args.json)
    finally:
        if args.ray and load_encoder.cache_info().currsize:
            load_encoder().close()  # type: ignore[attr-defined]  # the RayEncoder leaves the cluster
    return 0


def _encoder_loader(settings: Settings, ray_address: str | None, workers: int) -> Callable[[], Encoder]:
    """The settings' encoder; with ``--ray``, one whose build passages are embedded on that cluster."""
    if not ray_address:
        return settings.load_encoder
    from index.distributed import RayEncoder

    model, cache, runtime, dims = settings.model, str(settings.model_cache), settings.runtime, settings.dims
    return lambda: RayEncoder(settings.load_encoder(), ray_address, model, cache, runtime, dims, workers)


def _measure_abstention(
    settings: Settings, index: Index | None, load_encoder: Callable[[], Encoder], quiet: bool = False
) -> None:
    """Store the index's abstention measurement in its manifest unless a current one is there."""
    from index import store
    from service.core import abstention
    from service.startup import answerer_for

    config = replace(settings.answer_config(), threshold=None)  # measured even when SOURCIER_THRESHOLD wins
    manifest = index.manifest if index is not None else store.read_manifest(settings.index_dir)
    found = abstention.stored(manifest.abstention, config.scoring(), config.abstain_deviations, config.abstain_floor)
    if found is None:
        encoder = load_encoder()
        if index is None:
            index = store.load(
                settings.index_dir, settings.index_config(), encoder.name, encoder.dims, runtime=encoder.runtime
            )
        found = answerer_for(index, encoder, config, settings.index_dir).abstention
    if found is not None and not quiet:
        print(
            f"abstains under {found.threshold:.3f}: its corpus's scores for {found.questions} off-topic "
            f"questions, mean + {found.deviations} standard deviations, floor {found.floor}"
            + (f" (SOURCIER_THRESHOLD={settings.threshold} is set and wins)" if settings.threshold is not None else "")
        )


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

    from service.startup import load_answerer
    from service.web.access import log_config
    from service.web.app import create_app

    if args.build:  # the container's default: the mounted articles' index, built when missing or stale
        index_args = ["--index", args.index] if args.index else []
        status = cmd_build(parser().parse_args(["build", "--quiet", *index_args]))
        if status:
            return status
    settings = settings_for(args)
    host = args.host or settings.host
    port = args.port or settings.port
    preloaded = [load_answerer(settings)]  # before listening: a broken index stops here, saying what to run
    # pop: once served, the first index is only held by app.state, so a hot reload can free it
    uvicorn.run(
        create_app(settings, loader=lambda _: preloaded.pop()),
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
    p.set_defaults(func=cmd_build)

    p = sub.add_parser("ask", help="answer a question (or a JSONL batch)")
    p.add_argument("question", nargs="?", help="the question, in French")
    p.add_argument("--json", action="store_true", help="print the /api/ask JSON body")
    p.add_argument("--batch", help='JSONL file of {"question", "id"?} lines (\'-\' for stdin)')
    p.add_argument("--out", help="with --batch: write JSONL here instead of stdout")
    p.add_argument("--top-k", type=int, help="passages (and answers) to return (default: the setting top_k)")
    p.add_argument("--index", help="index folder")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
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
