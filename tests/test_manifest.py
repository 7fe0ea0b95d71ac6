"""The typed manifest reads and writes exactly the manifest.json of a saved index, old ones included."""

import json

import pytest

from corpus.load import load
from index import store
from index.build import build
from index.encoder import ModelInfo
from index.manifest import Manifest, StoreError, read_manifest
from tests.conftest import SEED, FakeEncoder


class FilesEncoder(FakeEncoder):
    """A fake encoder that reports model files, like the real ones: the manifest then has path and hashes."""

    def info(self) -> ModelInfo:
        return ModelInfo(
            name=self.name,
            path="/models/fake",
            file_hashes={"model.safetensors": "ab" * 32},
            runtime=self.runtime,
            dims=self.dims,
        )


@pytest.mark.parametrize("encoder_class", [FakeEncoder, FilesEncoder])
def test_a_saved_manifest_round_trips_byte_for_byte(tmp_path, config, encoder_class):
    folder = store.save(build(load([SEED]), encoder_class(), config), tmp_path / "index")
    text = (folder / "manifest.json").read_text(encoding="utf-8")
    manifest = read_manifest(folder)
    assert json.dumps(manifest.to_dict(), ensure_ascii=False, indent=2) + "\n" == text
    assert Manifest.from_dict(json.loads(text)) == manifest
    assert (manifest.model.path is None) == (encoder_class is FakeEncoder)
    assert manifest.corpus.articles == 1 and set(manifest.files) == set(store.FILES)


def test_an_older_manifest_is_read_with_the_legacy_settings(seed_index):
    record = seed_index.manifest.to_dict()
    record["format"] = 1
    del record["corpus"]["pairs"], record["settings"]["runtime"], record["settings"]["dims"]
    manifest = Manifest.from_dict(record)
    assert (manifest.settings.runtime, manifest.settings.dims, manifest.corpus.pairs) == ("torch", None, None)
    assert "pairs" not in manifest.to_dict()["corpus"]


@pytest.mark.parametrize("content", ['{"format": 2}', "[1, 2]", '{"format": 2, "model": "x"}'])
def test_a_manifest_missing_what_every_version_wrote_is_damaged(tmp_path, seed_index, content):
    folder = store.save(seed_index, tmp_path / "index")
    (folder / "manifest.json").write_text(content, encoding="utf-8")
    with pytest.raises(StoreError, match="is damaged .*run `sourcier build`"):
        read_manifest(folder)
    assert store.reusable_vectors(folder, "fake-trigram", "numpy", 256) == {}
