"""The query log, written off the answer's path.

``/api/ask`` hands each line to ``QueryLog.record``, which only appends it to a bounded in-memory queue;
one background thread writes what is queued in batches. When the store is down the thread keeps the
lines and retries with backoff, so readers are answered as fast as ever and the lines land when the
store is back; past ``max_pending`` lines the oldest are dropped and counted (the log is for editors'
statistics; a vote, which a reader is told was stored, is written before its answer instead).
What ``kill -9`` loses is at most what was queued at that instant — typically the last few milliseconds.
"""

from __future__ import annotations

import logging
import threading
from collections import deque

from service.storage.records import LoggedQuery, Store, StoreUnavailable

log = logging.getLogger(__name__)

BATCH = 200
RETRY_MIN, RETRY_MAX = 0.2, 5.0


class QueryLog:
    """A bounded queue and one writer thread in front of ``store.log_queries``."""

    def __init__(self, store: Store, max_pending: int = 10_000) -> None:
        self.store = store
        self.dropped = 0
        self._pending: deque[LoggedQuery] = deque()
        self._max = max_pending
        self._wake = threading.Condition()
        self._closing = False
        self._writing = 0  # lines taken from the queue and not yet committed
        self._thread = threading.Thread(target=self._run, name="sourcier-query-log", daemon=True)
        self._thread.start()

    def record(self, item: LoggedQuery) -> None:
        with self._wake:
            if len(self._pending) >= self._max:
                self._pending.popleft()
                self.dropped += 1
                if self.dropped == 1 or self.dropped % 1000 == 0:
                    log.warning("query log: %d line(s) dropped, the store is not keeping up", self.dropped)
            self._pending.append(item)
            self._wake.notify()

    def pending(self) -> int:
        with self._wake:
            return len(self._pending) + self._writing

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every recorded line is written; False if they are not within ``timeout``."""
        with self._wake:
            return self._wake.wait_for(lambda: not self._pending and not self._writing, timeout)

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued (for at most ``timeout`` seconds), then stop the thread."""
        if not self.flush(timeout):
            log.warning("query log: %d line(s) not written at shutdown", self.pending())
        with self._wake:
            self._closing = True
            self._wake.notify_all()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        delay = RETRY_MIN
        while True:
            with self._wake:
                self._wake.wait_for(lambda: self._pending or self._closing)
                if self._closing:
                    return
                batch = [self._pending.popleft() for _ in range(min(BATCH, len(self._pending)))]
                self._writing = len(batch)
            try:
                self.store.log_queries(batch)
                delay = RETRY_MIN
            except StoreUnavailable as exc:
                log.warning("query log: store unavailable (%s); retrying in %.1f s", exc, delay)
                with self._wake:  # put the batch back in front, unless closing
                    self._pending.extendleft(reversed(batch))
                    self._writing = 0
                    self._wake.wait_for(lambda: self._closing, delay)
                delay = min(delay * 2, RETRY_MAX)
                continue
            except Exception:
                log.exception("query log: %d line(s) refused by the store and dropped", len(batch))
                self.dropped += len(batch)
            with self._wake:
                self._writing = 0
                self._wake.notify_all()
