"""index.ensure: the index is built once, kept while current, rebuilt (reusing vectors) when not."""

from dataclasses import replace

import pytest

from corpus.load import load
from index.ensure import ensure
from tests.conftest import FIXTURES, SEED, FakeEncoder


def test_builds_once_then_keeps_the_index_without_embedding(tmp_path, encoder, config):
    folder, articles = tmp_path / "index", load([SEED])
    first = ensure(folder, articles, config, encoder)
    assert first.built and sum(encoder.calls) > 0 and (folder / "manifest.json").is_file()
    encoder.calls.clear()
    second = ensure(folder, articles, config, encoder)
    assert not second.built and encoder.calls == []
    assert second.index.version == first.index.version and second.index.sentences == first.index.sentences


def test_the_encoder_is_loaded_only_to_rebuild(tmp_path, config):
    folder, articles, loads = tmp_path / "index", load([SEED]), []

    def load_encoder() -> FakeEncoder:
        loads.append(1)
        return FakeEncoder()

    assert ensure(folder, articles, config, load_encoder).built and loads == [1]
    kept = ensure(folder, articles, config, load_encoder, load_current=False)
    assert not kept.built and kept.index is None and loads == [1]
    assert kept.manifest.corpus.articles == 1


def test_force_rebuilds_reusing_every_vector(tmp_path, encoder, config):
    folder, articles = tmp_path / "index", load([SEED])
    first = ensure(folder, articles, config, encoder)
    encoder.calls.clear()
    forced = ensure(folder, articles, config, encoder, force=True)
    assert forced.built and sum(encoder.calls) == 0 and forced.manifest.build.embedded == 0
    assert forced.index.version == first.index.version


@pytest.mark.parametrize("change", ["corpus", "settings", "encoder"])
def test_a_change_rebuilds_embedding_only_what_is_new(tmp_path, encoder, config, change):
    folder = tmp_path / "index"
    first = ensure(folder, load([SEED]), config, encoder)
    encoder.calls.clear()
    articles, new_config, new_encoder = load([SEED]), config, encoder
    if change == "corpus":
        articles = load([SEED, FIXTURES / "bulk.jsonl"])
    elif change == "settings":
        new_config = replace(config, chunk_chars=300)
    else:
        new_encoder = FakeEncoder(dims=128)  # another size: its vectors cannot be reused
    again = ensure(folder, articles, new_config, new_encoder)
    assert again.built and again.index.manifest.corpus.articles == len(articles)
    if change == "encoder":
        headings = len(again.index.headings)  # embedded as questions (encode_queries: not in calls)
        assert again.manifest.build.embedded == first.manifest.build.embedded == sum(new_encoder.calls) + headings
        assert again.index.manifest.model.dims == 128
    else:
        assert 0 < sum(encoder.calls) < again.manifest.build.embedded + again.manifest.build.reused
