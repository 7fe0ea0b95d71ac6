"""The container image's model folder: the torch-only files removed after the ONNX export, the rest still
verified by hash, and a folder whose record of what was removed is altered refused."""

from __future__ import annotations

import hashlib
import json

import pytest

from index.encoder import ModelError
from index.fetch import SLIM, TORCH_ONLY, slim, verify
from index.onnx import ensure_export, export_dir, keep_only


@pytest.fixture
def model(tmp_path):
    folder = tmp_path / "embeddinggemma-300m"
    expected = {}
    for name in (*TORCH_ONLY, "tokenizer.model", "config.json"):
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(f"contenu de {name} — é".encode())
        expected[name] = hashlib.sha256(path.read_bytes()).hexdigest()
    return folder, expected


def test_a_slim_folder_keeps_what_onnx_reads_and_still_verifies(model):
    folder, expected = model
    removed = slim(folder, expected)
    assert sorted(p.relative_to(folder).as_posix() for p in removed) == sorted(TORCH_ONLY)
    assert (folder / "tokenizer.model").is_file() and not (folder / "model.safetensors").exists()
    assert verify(folder, expected) == expected
    (folder / "tokenizer.model").write_bytes(b"autre")  # what is kept is still checked
    with pytest.raises(ModelError, match="tokenizer.model"):
        verify(folder, expected)


def test_an_altered_record_of_the_removed_files_is_refused(model):
    folder, expected = model
    slim(folder, expected)
    record = json.loads((folder / SLIM).read_text(encoding="utf-8"))
    (folder / SLIM).write_text(json.dumps({**record, "model.safetensors": "0" * 64}), encoding="utf-8")
    with pytest.raises(ModelError, match="official"):
        verify(folder, expected)


def test_a_slim_folder_is_never_exported_again(model):
    folder, expected = model
    slim(folder, expected)
    out = export_dir(folder)
    out.mkdir()
    for name in ("model.onnx", "model.onnx.data", "model-int8.onnx"):
        (out / name).write_bytes(b"x")
    (out / "export.json").write_text(json.dumps({"fp32": {}, "int8": {}}), encoding="utf-8")
    assert {p.name for p in keep_only(folder, "int8")} == {"model.onnx", "model.onnx.data"}
    assert json.loads((out / "export.json").read_text(encoding="utf-8")) == {"int8": {}}
    with pytest.raises(ModelError, match="slim"):
        ensure_export(folder, "int8")  # its stamp is not current here: refused, never a torch export
