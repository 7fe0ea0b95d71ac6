"""The report commands, ``sourcier eval`` (evaluators) and ``sourcier coverage`` (editors), and the
settings every command starts from."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from service.settings import ROOT, Settings

DEFAULT_OUT = ROOT / "var" / "coverage"


def settings_for(args: argparse.Namespace) -> Settings:
    """The settings, with the command line's --index and --corpus over the environment's; with
    ``--site-id``, that site's (the sites file's settings for it)."""
    overrides: dict[str, Any] = {}
    if getattr(args, "index", None):
        overrides["index_dir"] = Path(args.index)
    if getattr(args, "corpus", None):
        overrides["corpus"] = [Path(p) for p in args.corpus]
    settings = Settings(**overrides)
    site_id = getattr(args, "site_id", None)
    if settings.sites_file is None:
        if site_id:
            raise ValueError("--site-id needs a sites file: set SOURCIER_SITES_FILE")
        return settings
    if not hasattr(args, "site_id") or (not site_id and getattr(args, "index", None)):
        return settings  # a command about no site (eval…), or an index named by hand
    from service.cli_sites import chosen_sites

    sites = chosen_sites(settings, site_id)  # all of them when none is named; an unknown one refused
    if len(sites) > 1:
        ids = ", ".join(site.id for site in sites)
        raise ValueError(f"{settings.sites_file} declares several sites: name one with --site-id ({ids})")
    return sites[0].settings


def cmd_eval(args: argparse.Namespace) -> int:
    """Score Sourcier and the baselines on a set; --check fails when a target is missed."""
    from eval import report as report_mod
    from eval.run import run_set

    settings = settings_for(args)
    result = run_set(
        settings,
        args.set,
        args.sample,
        Path(args.index) if args.index else None,
        not args.no_baselines,
        progress=not args.quiet,
    )
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    if args.html:
        Path(args.html).parent.mkdir(parents=True, exist_ok=True)
        Path(args.html).write_text(report_mod.html(result), encoding="utf-8")
    if args.markdown:
        Path(args.markdown).parent.mkdir(parents=True, exist_ok=True)
        header = (
            f"# Evaluation: set `{result['set']}`\n\nWritten by `sourcier eval --set {args.set} --markdown "
            f"{args.markdown}` on {result['created_at']}; do not edit by hand.\n\n"
        )
        Path(args.markdown).write_text(header + report_mod.markdown(result), encoding="utf-8")
    print(report_mod.markdown(result))
    failures = result["systems"]["sourcier"]["faithfulness"]["failures"]
    blocking = result["floors_missed"] + (result["targets_missed"] if args.strict else [])
    if args.check and (failures or blocking):
        print(
            f"sourcier eval: {len(failures)} faithfulness failure(s); below the bar: {blocking or 'nothing'}",
            file=sys.stderr,
        )
        return 1
    return 0


def cmd_coverage(args: argparse.Namespace) -> int:
    """Editors' coverage report from a question file or the query log; or what changed between two."""
    from service.coverage import report as cov
    from service.coverage.compare import compare_reports, load_report
    from service.coverage.questions import period
    from service.coverage.render import format_comparison, format_summary, render_comparison, write_reports
    from service.startup import load_answerer
    from service.storage import open_store, store_exists
    from service.storage.records import DEFAULT_SITE

    if args.compare:
        old, new = (load_report(Path(p)) for p in args.compare)
        comparison = compare_reports(old, new)
        print(format_comparison(comparison))
        if args.out:  # the newer report's page, with the changes on its first screen
            page = Path(args.out) / "compare.html"
            page.parent.mkdir(parents=True, exist_ok=True)
            page.write_text(render_comparison(comparison, new), encoding="utf-8")
            print(f"report: {page}")
        return 0
    if bool(args.questions) == bool(args.from_log):
        print("sourcier coverage: give a QUESTIONS_FILE, --from-log or --compare OLD NEW", file=sys.stderr)
        return 2
    settings = settings_for(args)
    options = cov.Options.from_settings(settings)
    if args.from_log:
        since, until = period(args.since, args.until, args.days)
        if not store_exists(settings):
            print(
                f"sourcier coverage: no query log in {settings.data_dir} (set SOURCIER_QUERY_LOG=true on the service)",
                file=sys.stderr,
            )
            return 1
        db = open_store(settings)
        try:
            site = getattr(args, "site_id", None) or DEFAULT_SITE
            report = cov.coverage_from_log(load_answerer(settings), db, since, until, options, site)
        finally:
            db.close()
    else:
        report = cov.coverage_from_file(load_answerer(settings), Path(args.questions), options, progress=not args.quiet)
    paths = write_reports(report, Path(args.out or DEFAULT_OUT))
    print(format_summary(report))
    print(f"report: {paths['html']} (and {paths['csv'].name}, {paths['json'].name})")
    return 0
