"""The encoder runtime is part of what an index was built with: a mismatch is refused, never mixed."""

import json
from dataclasses import replace

import pytest

from index import onnx as onnx_mod
from index import store
from index.manifest import Manifest, StoreError, check_compatible
from index.model import load_encoder
from service.settings import Settings


def test_load_refuses_an_index_built_with_another_runtime(tmp_path, seed_index, config):
    folder = store.save(seed_index, tmp_path / "index")
    assert store.load(folder, config, "fake-trigram", 256, runtime="numpy").version == seed_index.version
    with pytest.raises(StoreError, match="runtime: index built with 'numpy', encoder runs 'onnxruntime-1.0-int8'"):
        store.load(folder, config, "fake-trigram", 256, runtime="onnxruntime-1.0-int8")
    with pytest.raises(StoreError, match="setting runtime: index has 'onnx-int8', configured 'torch'"):
        store.load(folder, replace(config, runtime="torch"))
    with pytest.raises(StoreError, match="setting dims: index has None, configured 256"):
        store.load(folder, replace(config, dims=256))


def test_an_index_older_than_the_runtime_setting_counts_as_torch_full_size(tmp_path, seed_index, config):
    record = seed_index.manifest.to_dict()
    record["settings"] = {k: v for k, v in record["settings"].items() if k not in ("runtime", "dims")}
    manifest = Manifest.from_dict(record)
    check_compatible(manifest, replace(config, runtime="torch"))
    with pytest.raises(StoreError, match="setting runtime: index has 'torch', configured 'onnx'"):
        check_compatible(manifest, replace(config, runtime="onnx"))


def test_settings_carry_runtime_and_dims_into_the_index_config(monkeypatch):
    monkeypatch.setenv("SOURCIER_RUNTIME", "onnx-int8")
    monkeypatch.setenv("SOURCIER_DIMS", "256")
    config = Settings().index_config()
    assert (config.runtime, config.dims) == ("onnx-int8", 256)
    monkeypatch.setenv("SOURCIER_RUNTIME", "openvino")
    with pytest.raises(ValueError):
        Settings()


def test_unknown_runtime_is_refused():
    with pytest.raises(ValueError, match="unknown runtime 'openvino'"):
        load_encoder("anything", "openvino")


def _fake_export(folder, monkeypatch):
    """A tiny 'export' with a stamp, to test when the cache is trusted without a real model."""
    monkeypatch.setattr(onnx_mod, "library_versions", lambda: {"onnxruntime": "1.0", "onnx": "1.0"})
    (folder / "model-int8.onnx").write_bytes(b"graph")
    stat = (folder / "model-int8.onnx").stat()
    entry = {
        "recipe": onnx_mod.RECIPES["int8"],
        "source": {"model.safetensors": "abc"},
        "versions": onnx_mod.library_versions(),
        "files": {
            "model-int8.onnx": {
                "sha256": onnx_mod.sha256_file(folder / "model-int8.onnx"),
                "stat": [stat.st_size, stat.st_mtime_ns],
            }
        },
    }
    (folder / onnx_mod.STAMP).write_text(json.dumps({"int8": entry}))


def test_cached_export_is_trusted_only_when_model_recipe_versions_and_bytes_match(tmp_path, monkeypatch):
    _fake_export(tmp_path, monkeypatch)
    source = {"model.safetensors": "abc"}
    current = lambda src=source: onnx_mod.stamp_is_current(onnx_mod.read_stamp(tmp_path), "int8", src, tmp_path)  # noqa: E731
    assert current()
    assert not current({"model.safetensors": "another model"})
    assert not onnx_mod.stamp_is_current(onnx_mod.read_stamp(tmp_path), "fp32", source, tmp_path)
    monkeypatch.setitem(onnx_mod.RECIPES, "int8", onnx_mod.RECIPES["int8"] + 1)
    assert not current()
    monkeypatch.setitem(onnx_mod.RECIPES, "int8", onnx_mod.RECIPES["int8"] - 1)
    (tmp_path / "model-int8.onnx").write_bytes(b"grAph")  # same size, new mtime: re-hashed, refused
    assert not current()
    (tmp_path / "model-int8.onnx").write_bytes(b"graph")  # same bytes again: re-hashed, trusted
    assert current()
    (tmp_path / "model-int8.onnx").unlink()
    assert not current()
