"""The wheel installs and works: built non-editable, installed in a fresh virtual environment, it builds an
index and answers from it, every data file it opens coming from the installed package (the off-topic bank,
the ranking model, the widget, the coverage page's assets), and it holds only the product's packages.

The fresh environment takes the dependencies from the project's own (a path line, not a reinstall of
gigabytes); the product itself comes only from the wheel, run from a folder outside the checkout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "corpus" / "articles" / "contractions-muscle-mollet.txt"

pytestmark = pytest.mark.slow  # the real model answers


def run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, f"{args}: {result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation", "-q", "-w", str(out)],
        out,
    )
    (found,) = out.glob("sourcier-*.whl")
    return found


def test_the_wheel_holds_the_product_and_its_data_only(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert {name.split("/")[0] for name in names if ".dist-info/" not in name} == {"corpus", "index", "service", "eval"}
    for data in (
        "service/core/offtopic-fr.txt",
        "service/core/ranker.json",
        "service/web/static/widget.js",
        "service/coverage/assets/report.css",
        "service/coverage/assets/report.js",
        "corpus/articles/contractions-muscle-mollet.txt",
        "eval/sets/seed.jsonl",
    ):
        assert data in names, data


def test_a_fresh_environment_with_the_wheel_builds_and_answers(wheel, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCIER_", "PYTHON", "PIP_"))}
    env |= {"HF_HUB_OFFLINE": "1", "SOURCIER_DATA_DIR": str(tmp_path / "data"), "PIP_CONFIG_FILE": os.devnull}
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", str(venv)], tmp_path, env)
    python = venv / "bin" / "python"
    site = run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], tmp_path, env)
    run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)], tmp_path, env)
    # then the dependencies: the project environment's site-packages as a plain path (its editable finder unused;
    # after the install, or pip would take the project's editable sourcier for this one)
    (Path(site.stdout.strip()) / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    where = run([str(python), "-c", "import service, corpus; print(service.__file__)"], tmp_path, env)
    assert where.stdout.strip().startswith(str(venv)), where.stdout  # the wheel's, not the checkout's
    sourcier = str(venv / "bin" / "sourcier")
    index = tmp_path / "index"
    built = run([sourcier, "build", "--corpus", str(SEED), "--index", str(index), "--quiet"], tmp_path, env)
    assert "saved to" in built.stdout and (index / "manifest.json").is_file()
    asked = run([sourcier, "ask", "Quel nerf innerve le mollet ?", "--index", str(index), "--json"], tmp_path, env)
    body = json.loads(asked.stdout)
    citation = body["answer"]["citation"]
    assert body["answered"] and SEED.read_text(encoding="utf-8").count(body["answer"]["text"]) == 1
    assert citation["doc_id"] == "contractions-muscle-mollet"
