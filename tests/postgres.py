"""A real, throw-away PostgreSQL server for the tests: Debian's ``postgresql`` binaries (installed by
.ci/run), a cluster in a temporary folder, listening on a free loopback port, stopped afterwards.

Never a mock: the storage suite and the fault tests run against this server. As root (CI) the server
runs as the ``postgres`` user, since PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

from tests.browser.conftest import free_ports

PORTS = range(8260, 8300)


def binaries() -> Path | None:
    """The newest installed PostgreSQL's bin folder (Debian: /usr/lib/postgresql/<major>/bin)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parts[-3]))
    return found[-1].parent if found else None


def require_binaries() -> Path:
    """The bin folder, or the test fails in CI (where .ci/run installs it) and is skipped elsewhere."""
    folder = binaries()
    if folder is None:
        message = "PostgreSQL is not installed: `apt-get install postgresql` (as .ci/run does)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return folder


class PostgresServer:
    """``initdb`` once, then ``start``/``stop`` as often as a test needs; ``remove`` at the end.

    The cluster lives in its own folder under the system's temporary folder, not pytest's: pytest's is
    private to root, and the server (as ``postgres``) must be able to reach it."""

    def __init__(self) -> None:
        self.bin = require_binaries()
        self.folder = Path(tempfile.mkdtemp(prefix="sourcier-pg-"))
        self.data = self.folder / "data"
        (self.port,) = free_ports(1, PORTS)
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            shutil.chown(self.folder, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "sourcier", "-A", "trust", "-E", "UTF8", "--no-locale")

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.bin / tool), *args]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise RuntimeError(f"{tool} failed ({result.returncode}): {result.stdout}\n{result.stderr}")

    def start(self) -> None:
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -c unix_socket_directories={self.folder}"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "server.log"), "-o", options, "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def remove(self) -> None:
        """Stop the server if it runs and delete its folder."""
        try:
            self.stop("immediate")
        except RuntimeError:
            pass  # already stopped
        shutil.rmtree(self.folder, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://sourcier@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A fresh, empty database on this server, and its URL: tests never see each other's rows."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
        return self.url(name)

    def log(self) -> str:
        path = self.folder / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""
