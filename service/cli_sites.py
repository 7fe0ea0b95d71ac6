"""``sourcier sites``: what each site of the sites file serves, read from its index's manifest."""

from __future__ import annotations

import argparse
import json
from typing import Any

from service.settings import Settings
from service.sites import Site, load_sites


def chosen_sites(settings: Settings, site_id: str | None) -> list[Site]:
    """The sites a command acts on: ``site_id``'s, or all of the sites file."""
    if settings.sites_file is None:
        raise ValueError("no sites file: set SOURCIER_SITES_FILE (README 'Several sites')")
    sites = load_sites(settings)
    if site_id is None:
        return list(sites.values())
    if site_id not in sites:
        raise ValueError(f"unknown site {site_id!r}; {settings.sites_file} declares {', '.join(sites)}")
    return [sites[site_id]]


def site_status(site: Site) -> dict[str, Any]:
    """What ``sourcier sites`` says of one site, read from its index's manifest (nothing is loaded)."""
    from index.manifest import StoreError, read_manifest
    from service.startup import stored_abstention

    row: dict[str, Any] = {"id": site.id, "source": site.source.describe(), "url": site.prefix}
    try:
        manifest = read_manifest(site.settings.index_dir)
    except (StoreError, OSError) as exc:
        return row | {"index_version": None, "problem": f"{exc} --site-id {site.id}"}
    found = stored_abstention(site.settings, manifest)
    threshold, origin = (site.settings.threshold, "setting") if site.settings.threshold is not None else (None, "")
    if threshold is None and found is not None:
        threshold, origin = found.threshold, "index"
    return row | {
        "index_version": manifest.version,
        "articles": manifest.corpus.articles,
        "threshold": threshold,
        "threshold_from": origin or "measured at start",
        "built_at": manifest.created_at,
    }


def cmd_sites(args: argparse.Namespace) -> int:
    """One line per site: its id, index version, articles, abstention threshold and last build."""
    rows = [site_status(site) for site in chosen_sites(Settings(), args.site_id)]
    status = 0 if all(row["index_version"] for row in rows) else 1  # a site with no index is one to see to
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=1))
        return status
    print(f"{'site':<16} {'index':<14} {'articles':>8} {'threshold':>9}  built at (UTC)       source")
    for row in rows:
        if row["index_version"] is None:
            print(f"{row['id']:<16} {'(no index)':<14} {'':>8} {'':>9}  {'':<20} {row['source']}: {row['problem']}")
            continue
        threshold = f"{row['threshold']:.3f}" if row["threshold"] is not None else "—"
        print(
            f"{row['id']:<16} {row['index_version'][:14]:<14} {row['articles']:>8} {threshold:>9}  "
            f"{row['built_at'][:19]:<20} {row['source']}"
        )
    return status
