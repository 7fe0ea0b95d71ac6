"""What the container image costs: its build time from nothing, its size (and what makes it), and its start-up
time to healthy, on a fresh /data (the index built at start) and on a /data that holds a current index.

``python -m bench.image [--no-build] [--runs N]`` (not part of ``make bench``; after ``make model``): builds
sourcier:local as ``make image IMAGE_ARGS=--no-cache`` does (the base image kept: mmdebstrap makes it once,
in about 40 s), then starts the container N times each way on the seed article, timing ``docker run`` to the
first 200 from /api/health. Medians; results in ``bench/results/image.json``. State the machine when you quote them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IMAGE = "sourcier:local"
PORT = 8390
USER = 10001


def docker(*args: str) -> str:
    return subprocess.run(["docker", *args], check=True, capture_output=True, text=True).stdout.strip()


def healthy_after(data: Path) -> float:
    """Seconds from `docker run` to the first 200 of /api/health."""
    name = f"sourcier-bench-{os.getpid()}"
    started = time.monotonic()
    docker("run", "-d", "--name", name, "--network", "host", "--read-only", "-v", f"{data}:/data",
           "-e", f"SOURCIER_PORT={PORT}", IMAGE)  # fmt: skip
    try:
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{PORT}/api/health", timeout=2):
                    return time.monotonic() - started
            except OSError:
                if time.monotonic() - started > 900:
                    raise RuntimeError(docker("logs", name)) from None
                time.sleep(0.2)
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)


def fresh_data(folder: Path) -> Path:
    (folder / "articles").mkdir(parents=True)
    shutil.copy(ROOT / "corpus" / "articles" / "contractions-muscle-mollet.txt", folder / "articles")
    for path in [folder, *folder.rglob("*")]:
        os.chown(path, USER, USER)
    return folder


def layers() -> list[dict[str, object]]:
    """The image's largest layers, with the instruction that made each."""
    history = docker("history", "--no-trunc", "--format", "{{json .}}", IMAGE)
    rows = [json.loads(line) for line in history.splitlines()]
    return [{"size": row["Size"], "by": row["CreatedBy"][-120:]} for row in rows if row["Size"] not in ("0B", "0")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-build", action="store_true", help="measure the image already built")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    result: dict[str, object] = {"machine": f"{os.cpu_count()} cores", "runs": args.runs}
    if not args.no_build:
        started = time.monotonic()
        subprocess.run(["bash", "deploy/image/build.sh", "--no-cache"], cwd=ROOT, check=True)
        result["build_seconds"] = round(time.monotonic() - started)
    result["size_bytes"] = int(docker("image", "inspect", "-f", "{{.Size}}", IMAGE))
    result["layers"] = layers()
    first, again = [], []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            data = fresh_data(Path(tmp) / "data")
            first.append(healthy_after(data))  # builds the seed index and measures its threshold
            again.append(healthy_after(data))  # the index is there: load and serve
    result["healthy_seconds_first_start_median"] = round(statistics.median(first), 1)
    result["healthy_seconds_with_index_median"] = round(statistics.median(again), 1)
    out = ROOT / "bench" / "results" / "image.json"
    out.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
