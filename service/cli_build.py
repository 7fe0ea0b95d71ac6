"""``sourcier build``: the index of the corpus or of a website (``service.cli_website``), or of the sites
file's sites (``service.cli_sites``), and its abstention measurement."""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from service.cli_reports import settings_for
from service.settings import Settings

if TYPE_CHECKING:
    from index.encoder import Encoder
    from index.search import Index


def cmd_build(args: argparse.Namespace) -> int:
    """Build (or refresh) the index; unchanged inputs reuse their vectors; an up-to-date index is kept.
    With a sites file, its sites (all, or ``--site-id``), each from its own source into its own folder."""
    if args.site_id or args.all_sites or (Settings().sites_file is not None and not args.index):
        return build_sites(args)  # with a sites file, its sites (an --index DIR is built by hand)
    settings = settings_for(args)
    # the encoder is loaded only to rebuild or to measure the abstention threshold (once for both):
    # an up-to-date index costs one manifest read
    load_encoder = functools.cache(encoder_loader(settings, args.ray, args.ray_workers))
    try:
        build_one(args, settings, load_encoder)
    finally:
        if args.ray and load_encoder.cache_info().currsize:
            load_encoder().close()  # type: ignore[attr-defined]  # the RayEncoder leaves the cluster
    return 0


def build_one(args: argparse.Namespace, settings: Settings, load_encoder: Callable[[], Encoder]) -> None:
    """Build or refresh ``settings.index_dir`` from the corpus or the site ``args`` name."""
    from corpus.load import load
    from index.ensure import ensure

    site = None
    if (args.crawl or args.include or args.exclude or args.json) and not (args.site or args.wordpress):
        raise ValueError("--crawl, --include, --exclude and --json go with --site or --wordpress")
    if args.corpus and (args.site or args.wordpress):
        raise ValueError("--corpus or --site/--wordpress: the index is built from one of them")
    if args.site or args.wordpress:
        from service.cli_website import site_corpus

        site = site_corpus(args, settings)
        articles = site.articles
    else:
        articles = load(settings.corpus)
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
        from service.cli_website import print_summary, save_state

        save_state(site, settings)
        built = {"version": manifest.version, "built": ensured.built}
        if ensured.built:
            built |= {"embedded": manifest.build.embedded, "reused": manifest.build.reused}
        print_summary(site, args.json, built)
    if not ensured.built and not args.json:
        print(f"index {manifest.version} is up to date ({manifest.corpus.articles} articles) at {settings.index_dir}")
    elif not args.json:
        corpus, build = manifest.corpus, manifest.build
        print(
            f"index {manifest.version} saved to {settings.index_dir}: {corpus.articles} articles, "
            f"{corpus.sentences} sentences, {corpus.pairs} pairs, {corpus.chunks} chunks; "
            f"embedded {build.embedded}, "
            f"reused {build.reused}, {build.seconds} s"
        )
    _measure_abstention(settings, ensured.index, load_encoder, quiet=args.json)


def encoder_loader(settings: Settings, ray_address: str | None, workers: int) -> Callable[[], Encoder]:
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
    from service.startup import answerer_for, stored_abstention

    config = replace(settings.answer_config(), threshold=None)  # measured even when SOURCIER_THRESHOLD wins
    manifest = index.manifest if index is not None else store.read_manifest(settings.index_dir)
    found = stored_abstention(settings, manifest)
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


SITE_OPTIONS = ("corpus", "index", "site", "wordpress", "crawl", "include", "exclude")


def build_sites(args: argparse.Namespace) -> int:
    """Build or refresh the chosen sites, one after the other; a site that fails is reported and the
    others are still built (exit 1 when any failed). Its index folder, crawl state and abstention
    measurement are its own; a running service swaps each new index in by itself."""
    from corpus.load import CorpusError
    from index.manifest import StoreError
    from service.cli_sites import chosen_sites

    given = [f"--{name}" for name in SITE_OPTIONS if getattr(args, name, None)]
    if given:
        raise ValueError(f"{', '.join(given)}: a site's source and folder come from the sites file")
    settings = Settings()
    sites = chosen_sites(settings, None if args.all_sites else args.site_id)
    load_encoder = functools.cache(encoder_loader(settings, args.ray, args.ray_workers))
    failed = []
    try:
        for site in sites:
            if not args.json:
                print(f"site {site.id}: {site.source.describe()} -> {site.settings.index_dir}")
            source = site.source
            site_args = argparse.Namespace(
                **vars(args)
                | {
                    "site": source.url if source.kind == "url" else None,
                    "wordpress": source.url if source.kind == "wordpress" else None,
                    "crawl": source.crawl,
                    "include": list(source.include),
                    "exclude": list(source.exclude),
                    "corpus": None,
                    "json": args.json and source.kind != "corpus",
                }
            )
            try:
                build_one(site_args, site.settings, load_encoder)
            except (CorpusError, StoreError, ValueError, OSError) as exc:
                failed.append(site.id)
                print(f"sourcier build: site {site.id}: {exc}", file=sys.stderr)
    finally:
        if args.ray and load_encoder.cache_info().currsize:
            load_encoder().close()  # type: ignore[attr-defined]  # the RayEncoder leaves the cluster
    if failed:
        print(f"sourcier build: {len(failed)} of {len(sites)} sites failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0
