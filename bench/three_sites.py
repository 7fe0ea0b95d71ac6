"""Three sites served by one ``sourcier serve``, for the multi-site bench (``bench/sites_memory.py``) and the
real-model multi-site test (``tests/reliability/test_sites_real.py``):

- ``seed``: the seed article (``corpus/articles``);
- ``fiches``: a slice of service-public.fr fiches (``eval/data/service-public``; Source : service-public.fr /
  DILA, 2020), the shortest ones that a question of its evaluation set names, written as a JSONL file;
- ``dn``: the Démarche numérique help centre (``../shared/data/demarche-numerique/site``; Source : DINUM, FAQ
  et documentation de demarche.numerique.gouv.fr, 2026) served on loopback by Python's static file server
  from a temporary copy (its sitemap, robots.txt and canonical links name port 8765: the copy names the
  server's own port), built from its sitemap (``url = …``) and kept to the FAQ pages of the usagers and
  the instructeurs (``include``), one of them held back (``exclude``) so that a change of the sites file
  gives a new index.

Nothing of these texts is written into the repository: the copies live in the caller's temporary folder.
"""

from __future__ import annotations

import functools
import html
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bench.common import ROOT, status_mb
from bench.http import stop_server, wait_healthy

SEED_CORPUS = ROOT / "corpus" / "articles"
FICHES = ROOT / "eval" / "data" / "service-public" / "articles.jsonl"
FICHE_QUESTIONS = ROOT / "eval" / "data" / "service-public" / "questions.jsonl"
DEMARCHE = ROOT.parent / "shared" / "data" / "demarche-numerique" / "site"
DEMARCHE_PORT_PREFIX = "http://127.0.0.1:8765"
DN_SECTIONS = ("usager", "instructeur")  # 27 FAQ pages of the 133
DN_INCLUDE = [r"/faq/(usager|instructeur)/[^/]+/$"]
DN_HELD_BACK = "/faq/usager/je-veux-changer-mon-mot-de-passe/"  # left out of the first build (exclude)
SITES = ("seed", "fiches", "dn")
TOKENS = {site: f"{site}-editor-token-0123456789" for site in SITES}
ORIGINS = {site: f"https://{site}.example" for site in SITES}


def free_port() -> int:
    """A loopback port nobody listens on now (the OS's choice)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- fiches -------------------------------------------------------------------------------------------


def fiche_slice(count: int = 30) -> list[dict[str, Any]]:
    """The ``count`` shortest fiches that an answerable question of the set names, in file order."""
    named = {q["doc_id"] for q in _jsonl(FICHE_QUESTIONS) if q["answerable"] and q["doc_id"]}
    records = [r for r in _jsonl(FICHES) if r["id"] in named]
    keep = {r["id"] for r in sorted(records, key=lambda r: (len(r["text"]), r["id"]))[:count]}
    return [r for r in records if r["id"] in keep]


def write_fiches(path: Path, count: int = 30) -> list[str]:
    """The slice as a JSONL corpus file at ``path``; the fiches' ids."""
    records = fiche_slice(count)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return [r["id"] for r in records]


def fiche_questions(ids: list[str]) -> list[str]:
    """The evaluation set's questions on those fiches."""
    wanted = set(ids)
    return [q["question"] for q in _jsonl(FICHE_QUESTIONS) if q["answerable"] and q["doc_id"] in wanted]


def seed_questions(count: int = 20) -> list[str]:
    """The seed set's first answerable questions."""
    from eval.sets import load_set

    return [q.question for q in load_set("seed").questions if q.answerable][:count]


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


# --- Démarche numérique -------------------------------------------------------------------------------


def dn_pages(site: Path = DEMARCHE) -> list[Path]:
    """The included FAQ pages (``index.html`` files), the held-back one too."""
    return sorted(p for section in DN_SECTIONS for p in (site / "faq" / section).glob("*/index.html"))


def dn_questions(site: Path = DEMARCHE, with_held_back: bool = False) -> list[str]:
    """The included FAQ pages' titles (their first ``<h1>``): each is a reader's question; the held-back
    page's too with ``with_held_back``."""
    found = []
    for page in dn_pages(site):
        if not with_held_back and f"/{page.parent.relative_to(site).as_posix()}/" == DN_HELD_BACK:
            continue
        match = re.search(r"<h1[^>]*>(.*?)</h1>", page.read_text(encoding="utf-8"), re.S)
        if match:
            found.append(" ".join(html.unescape(re.sub(r"<[^>]+>", " ", match.group(1))).split()))
    return found


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class DemarcheSite:
    """The Démarche numérique pages on a loopback port of the OS's choice, from a copy under ``folder`` whose
    links, sitemap and robots.txt name that port; ``with DemarcheSite(folder) as site: site.url``."""

    def __init__(self, folder: Path, source: Path = DEMARCHE, port: int = 0) -> None:
        if not source.is_dir():
            raise FileNotFoundError(f"{source}: the Démarche numérique pages (../shared/data) are missing")
        self.source = source
        self.folder = folder
        self.port = port  # 0: the OS's choice; a fixed one keeps the pages' URLs (and so the index) across runs
        self.server: ThreadingHTTPServer | None = None
        self.url = ""

    def __enter__(self) -> DemarcheSite:
        copy = self.folder / "demarche-numerique"
        handler = functools.partial(_Quiet, directory=str(copy))
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), handler)
        port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{port}/"
        if copy.exists():
            shutil.rmtree(copy)
        shutil.copytree(self.source, copy)
        for path in copy.rglob("*"):
            if path.suffix in (".html", ".xml", ".txt"):
                text = path.read_text(encoding="utf-8")
                if DEMARCHE_PORT_PREFIX in text:
                    path.write_text(text.replace(DEMARCHE_PORT_PREFIX, f"http://127.0.0.1:{port}"), encoding="utf-8")
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


# --- the sites file, the build, the server ------------------------------------------------------------


def sites_toml(fiches: Path, dn_url: str, sites: tuple[str, ...] = SITES, held_back: bool = True) -> str:
    """The sites file of ``sites`` (all three by default); ``held_back``: dn without DN_HELD_BACK."""
    tables = {
        "seed": [f"corpus = [{json.dumps(str(SEED_CORPUS))}]"],
        "fiches": [f"corpus = [{json.dumps(str(fiches))}]", "top_k = 3"],
        "dn": [
            f"url = {json.dumps(dn_url)}",
            f"include = {json.dumps(DN_INCLUDE)}",
            f"exclude = {json.dumps([re.escape(DN_HELD_BACK) + '$'] if held_back else [])}",
        ],
    }
    out = []
    for site in sites:
        out += [f"[sites.{site}]", *tables[site]]
        out += [f"origins = [{json.dumps(ORIGINS[site])}]", f"editor_token = {json.dumps(TOKENS[site])}", ""]
    return "\n".join(out)


def sites_env(sites_file: Path, data_dir: Path, **settings: str) -> dict[str, str]:
    """The environment of a ``sourcier`` process on that sites file and data folder (``SOURCIER_<NAME>``)."""
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "SOURCIER_SITES_FILE": str(sites_file),
        "SOURCIER_DATA_DIR": str(data_dir),
    }
    env.update({f"SOURCIER_{k.upper()}": v for k, v in settings.items()})
    return env


def sourcier(args: list[str], env: dict[str, str], timeout: float = 900) -> subprocess.CompletedProcess:
    """The real ``sourcier`` command (``python -m service.cli``), its output captured."""
    return subprocess.run(
        [sys.executable, "-m", "service.cli", *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


class Serving:
    """A real ``sourcier serve`` on ``port``, once ``/api/health`` answers; ``stop()`` ends it."""

    def __init__(self, env: dict[str, str], port: int, log_path: Path, startup: float = 300) -> None:
        self.env = env
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "service.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
                env=env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_healthy(self.process, self.url, log_path, startup)

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        stop_server(self.process)


def rss_mb(pid: int) -> float:
    """Resident memory of a process and of its children, if any (VmRSS, /proc)."""
    total = 0.0
    for one in [pid, *_children(pid)]:
        try:
            total += status_mb(one, "VmRSS")
        except (OSError, RuntimeError):  # a child that has just exited (gone, or a zombie without VmRSS)
            continue
    return total


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            kids = (task / "children").read_text().split()
        except OSError:
            continue
        for kid in map(int, kids):
            found += [kid, *_children(kid)]
    return found
