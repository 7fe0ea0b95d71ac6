import json
from dataclasses import replace

import pytest

from corpus.load import load
from index import store
from index.build import build, vector_cache
from index.manifest import StoreError
from tests.conftest import FIXTURES, SEED


def test_save_and_load_round_trip_is_readable_and_identical(tmp_path, seed_index, config):
    folder = store.save(seed_index, tmp_path / "index")
    names = sorted(p.name for p in folder.iterdir())
    assert names == [
        "articles.jsonl",
        "chunks.faiss",
        "chunks.jsonl",
        "headings.jsonl",
        "headings.npy",
        "manifest.json",
        "pairs.jsonl",
        "pairs.npy",
        "sentences.faiss",
        "sentences.jsonl",
    ]
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["model"]["name"] == "fake-trigram" and manifest["settings"]["chunk_chars"] == 600
    assert manifest["corpus"]["articles"] == 1 and set(manifest["files"]) == set(store.FILES)
    assert "d’Achille" in (folder / "articles.jsonl").read_text(encoding="utf-8")  # ensure_ascii=False
    loaded = store.load(folder, config, "fake-trigram", 256)
    assert loaded.version == seed_index.version
    assert loaded.sentences == seed_index.sentences and loaded.chunks == seed_index.chunks
    assert (loaded.sentence_vectors == seed_index.sentence_vectors).all()
    assert loaded.pairs == seed_index.pairs and (loaded.pair_vectors == seed_index.pair_vectors).all()
    assert 0 < len(loaded.pairs) < len(loaded.sentences)
    article = loaded.articles["contractions-muscle-mollet"]
    assert article.text == SEED.read_text(encoding="utf-8")
    assert article.sections == seed_index.articles["contractions-muscle-mollet"].sections


def test_load_refuses_another_model_settings_or_dims(tmp_path, seed_index, config):
    folder = store.save(seed_index, tmp_path / "index")
    with pytest.raises(StoreError, match="model: index has 'fake-trigram', configured 'other'"):
        store.load(folder, config, "other", 256)
    with pytest.raises(StoreError, match="setting chunk_chars"):
        store.load(folder, replace(config, chunk_chars=300))
    with pytest.raises(StoreError, match="dims: index has 256, encoder gives 128"):
        store.load(folder, config, "fake-trigram", 128)


@pytest.mark.parametrize("damage", ["truncate", "tamper", "delete", "manifest"])
def test_damaged_index_is_refused_with_what_to_run(tmp_path, seed_index, config, damage):
    folder = store.save(seed_index, tmp_path / "index")
    target = folder / "sentences.faiss"
    if damage == "truncate":
        target.write_bytes(target.read_bytes()[:100])
    elif damage == "tamper":
        data = bytearray(target.read_bytes())
        data[-5] ^= 0xFF
        target.write_bytes(bytes(data))
    elif damage == "delete":
        target.unlink()
    else:
        (folder / "manifest.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(StoreError, match="sourcier build"):
        store.load(folder, config)


def test_a_failed_save_leaves_the_previous_index_untouched(tmp_path, seed_index, config, monkeypatch):
    folder = store.save(seed_index, tmp_path / "index")
    before = {p.name: p.read_bytes() for p in folder.iterdir()}

    def boom(*args, **kwargs):
        raise OSError("disque plein")

    monkeypatch.setattr(store.faiss, "write_index", boom)
    with pytest.raises(OSError):
        store.save(seed_index, folder)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["index"]  # no temporary folder left behind


def test_rebuild_embeds_only_the_new_article(tmp_path, encoder, config):
    first = build(load([SEED]), encoder, config)
    store.save(first, tmp_path / "index")
    previous = store.load(tmp_path / "index", config)
    encoder.calls.clear()
    articles = load([SEED, FIXTURES / "bulk.jsonl"])
    second = build(articles, encoder, config, cache=vector_cache(previous))
    new_units = (
        sum(1 for s in second.sentences if s.doc_id != "contractions-muscle-mollet")
        + sum(1 for c in second.chunks if c.doc_id != "contractions-muscle-mollet")
        + sum(1 for i, _ in second.pairs if second.sentences[i].doc_id != "contractions-muscle-mollet")
    )
    assert sum(encoder.calls) == new_units
    reused = len(first.sentences) + len(first.chunks) + len(first.pairs) + len(first.headings)
    assert second.manifest.build.reused == reused
    assert second.version != first.version


def test_empty_corpus_units_still_build(encoder, config, tmp_path):
    only_title = tmp_path / "titre.txt"
    only_title.write_text("Juste un titre\n", encoding="utf-8")
    index = build(load([only_title]), encoder, config)
    assert index.sentences == [] and index.search_sentences(encoder.encode_queries(["x"])[0], 5) == []


def test_reusable_vectors_survive_a_change_of_unit_rules_but_never_of_runtime(tmp_path, encoder, config, seed_index):
    folder = store.save(seed_index, tmp_path / "index")
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    manifest["units_version"] = -1  # an index cut by older rules: refused by load, its vectors still valid
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(StoreError):
        store.load(folder, config)
    cache = store.reusable_vectors(folder, encoder.name, encoder.runtime, encoder.dims)
    units = seed_index.sentence_hashes + seed_index.pair_hashes + seed_index.chunk_hashes + seed_index.heading_hashes
    assert set(cache) == set(units)
    encoder.calls.clear()
    rebuilt = build(load([SEED]), encoder, config, cache=cache)
    assert sum(encoder.calls) == 0 and (rebuilt.pair_vectors == seed_index.pair_vectors).all()
    assert store.reusable_vectors(folder, encoder.name, "onnxruntime-1.32.0-int8", encoder.dims) == {}
    assert store.reusable_vectors(folder, encoder.name, encoder.runtime, 128) == {}
    (folder / "pairs.npy").write_bytes(b"damaged")
    assert set(store.reusable_vectors(folder, encoder.name, encoder.runtime, encoder.dims)) == set(
        seed_index.sentence_hashes + seed_index.chunk_hashes + seed_index.heading_hashes
    )
    assert store.reusable_vectors(tmp_path / "nowhere", encoder.name, encoder.runtime, encoder.dims) == {}
