"""Index hot reload: a new index in the served folder replaces the old one without a restart.

The service checks ``manifest.json`` every ``reload_interval`` seconds (and at once on SIGHUP).
When its version differs from the one served, the new index is loaded in a worker thread, checked
like at start-up (model, settings, file hashes), and swapped in with one assignment of
``app.state.answerer``: a request reads that attribute once, so it is answered from the old index or
the new one, never a mix. A load that fails keeps the old index serving; the failure is logged, and
the load tried again when the folder changes again or on SIGHUP. What is on disk at start-up counts
as seen: the service loaded it (or was given its index by a test's loader).

``sourcier build`` renames the old folder away before it renames the new one in, so the folder may
be missing for an instant, or change while it is read: the load retries for a moment.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from index import store
from index.manifest import StoreError, read_manifest
from index.search import Index
from service.core.answer import Answerer
from service.settings import Settings
from service.startup import answerer_for

log = logging.getLogger(__name__)

LOAD_ATTEMPTS = 10
LOAD_PAUSE = 0.2  # seconds between attempts: much longer than the rename-away/rename-in instant


@dataclass(frozen=True)
class ReloadResult:
    loaded: bool
    version: str
    message: str


def disk_version(folder: Path) -> str | None:
    """The version of the index in ``folder`` now, or None when there is none (or it is unreadable)."""
    try:
        return read_manifest(folder).version
    except (StoreError, OSError):
        return None


def load_stable(
    settings: Settings, answerer: Answerer, attempts: int = LOAD_ATTEMPTS, pause: float = LOAD_PAUSE
) -> Index:
    """The index in the folder, checked against the served encoder; retried while the folder is
    missing or changes during the load (its manifest before and after must be the one loaded)."""
    folder = settings.index_dir
    encoder = answerer.encoder
    problem = StoreError(f"no index could be loaded from {folder}")
    for attempt in range(attempts):
        if attempt:
            time.sleep(pause)
        try:
            before = read_manifest(folder)
            index = store.load(folder, settings.index_config(), encoder.name, encoder.dims, runtime=encoder.runtime)
            if read_manifest(folder) == before == index.manifest:
                return index
            problem = StoreError(f"the index at {folder} changed while it was loaded")
        except StoreError as exc:
            problem = exc
    raise problem


class IndexReloader:
    """Watches one site's index folder (``state`` holds the site's ``answerer``: a ``Served``); each
    site has its own, so a site's new index is swapped in without touching the others."""

    def __init__(self, state: Any, settings: Settings) -> None:
        self.state = state
        self.settings = settings
        self.seen = disk_version(settings.index_dir)  # the version on disk last acted upon
        self.wake = asyncio.Event()
        self.task: asyncio.Task | None = None

    @property
    def version(self) -> str:
        return self.state.answerer.index.version

    def check(self, force: bool = False) -> ReloadResult:
        """Load and swap in the index on disk when it is new (or ``force``); never raises."""
        on_disk = disk_version(self.settings.index_dir)
        if on_disk is None:
            return ReloadResult(False, self.version, "no readable index in the folder (being rebuilt?)")
        if not force and on_disk == self.seen:
            return ReloadResult(False, self.version, "up to date")
        self.seen = on_disk
        old = self.version
        try:
            index = load_stable(self.settings, self.state.answerer)
            if index.version == old:
                return ReloadResult(False, old, "up to date")
            # the served encoder and configuration over the new index, warmed up (and its abstention
            # measurement kept) like at start; the old Answerer is left untouched for the requests using it
            served = self.state.answerer
            fresh = answerer_for(index, served.encoder, served.config, self.settings.index_dir)
        except Exception as exc:  # noqa: BLE001 - any failure must leave the old index serving
            log.error("index reload failed, still serving %s: %s", old, exc)
            return ReloadResult(False, old, str(exc))
        self.state.answerer = fresh  # one assignment: a request sees the old Answerer or the new one
        log.warning("index reloaded: %s -> %s (%d articles)", old, index.version, len(index.articles))
        return ReloadResult(True, index.version, f"{old} -> {index.version}")

    async def run(self) -> None:
        interval = self.settings.reload_interval or None
        while True:
            try:
                await asyncio.wait_for(self.wake.wait(), timeout=interval)
                forced = True
            except TimeoutError:
                forced = False
            self.wake.clear()
            await asyncio.to_thread(self.check, forced)

    def start(self) -> None:
        """Start watching (inside the running event loop)."""
        self.task = asyncio.get_running_loop().create_task(self.run())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            try:
                await self.task
            except asyncio.CancelledError:
                pass


def start_watching(reloaders: list[IndexReloader]) -> None:
    """Start every site's watch, and reload them all on SIGHUP where signals can be handled (the main
    thread of ``sourcier serve``; not the test client's thread)."""
    for reloader in reloaders:
        reloader.start()

    def wake_all() -> None:
        for reloader in reloaders:
            reloader.wake.set()

    try:
        asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, wake_all)
    except (ValueError, RuntimeError, NotImplementedError):
        log.debug("SIGHUP reload not available in this thread")


async def stop_watching(reloaders: list[IndexReloader]) -> None:
    try:
        asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
    except (ValueError, RuntimeError, NotImplementedError):
        pass
    for reloader in reloaders:
        await reloader.stop()
