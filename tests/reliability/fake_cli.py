"""The real ``sourcier`` command with the tests' FakeEncoder in place of EmbeddingGemma (test-only).

``python -m tests.reliability.fake_cli build|serve ...`` runs the very code of ``sourcier build`` and
``sourcier serve`` (corpus loading, atomic save, uvicorn, lifespan, guard, hot reload, SQLite); only
the encoder differs, so that load, fault and durability tests start a server in a second instead of
loading a 1.2 GB model. Set ``SOURCIER_MODEL=fake-trigram``, ``SOURCIER_RUNTIME=torch`` (the encoder it
replaces) and ``SOURCIER_THRESHOLD``; the optional
``SOURCIER_TEST_QUERY_DELAY`` (seconds) makes each question take that long, like the real model.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np

from index import fetch, model
from tests.conftest import FakeEncoder


class DelayedFakeEncoder(FakeEncoder):
    def __init__(self, delay: float = 0.0) -> None:
        super().__init__()
        self.delay = delay

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        if self.delay:
            time.sleep(self.delay)
        return super().encode_queries(texts)


def main(argv: list[str] | None = None) -> int:
    delay = float(os.environ.get("SOURCIER_TEST_QUERY_DELAY", "0"))
    fetch.resolve = lambda name, cache_dir: name
    model.SentenceTransformerEncoder = lambda *args, **kwargs: DelayedFakeEncoder(delay)
    from service.cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
