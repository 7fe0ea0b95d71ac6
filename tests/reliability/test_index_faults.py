"""Index faults and hot reload. A damaged, foreign or incomplete index stops ``sourcier serve`` before
it listens, with the command to run; a new index in the served folder is swapped in whole, and a
bad one leaves the old index serving."""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import replace

import pytest
from fastapi.testclient import TestClient

from corpus.load import load
from index import store
from index.build import build
from service.core import Answerer
from service.settings import Settings
from service.web import reload as reload_mod
from service.web.app import create_app
from service.web.reload import IndexReloader, load_stable
from tests.conftest import FAKE_CONFIG, FIXTURES, SEED, FakeEncoder
from tests.reliability.conftest import damage, process_env, run_cli

pytestmark = pytest.mark.reliability

CONFIG = replace(FAKE_CONFIG, runtime="torch")


FAULTS = {
    "truncated": "does not match its hash",
    "tampered": "does not match its hash",
    "tampered-text": "articles.jsonl does not match its hash",
    "missing": "chunks.jsonl is missing",
    "other-model": "model",
    "other-settings": "setting chunk_chars",
    "unreadable-manifest": "is damaged",
    "no-index": "manifest.json missing",
}


@pytest.mark.slow
@pytest.mark.parametrize("how", sorted(FAULTS))
def test_serve_refuses_a_faulty_index_and_says_what_to_run(tmp_path, how):
    env = process_env(tmp_path, fake=True)
    assert run_cli(["build", "--quiet"], env).returncode == 0
    damage(tmp_path / "index", how)
    started = time.monotonic()
    result = run_cli(["serve", "--host", "127.0.0.1", "--port", "8249"], env, timeout=60)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr.startswith("sourcier serve: ") and "run `sourcier build`" in result.stderr
    assert FAULTS[how] in result.stderr and "Traceback" not in result.stderr
    assert "Uvicorn running" not in result.stdout + result.stderr  # refused before listening
    assert time.monotonic() - started < 60


def fake_loader(settings: Settings) -> Answerer:
    encoder = FakeEncoder()
    index = store.load(settings.index_dir, settings.index_config(), encoder.name, encoder.dims)
    return Answerer(index, encoder, settings.answer_config()).warm_up()


@pytest.fixture
def folder(tmp_path):
    store.save(build(load([SEED]), FakeEncoder(), CONFIG), tmp_path / "index")
    return tmp_path / "index"


def settings_for(folder, **extra) -> Settings:
    return Settings(model=FakeEncoder.name, threshold=0.3, index_dir=folder, runtime="torch", **extra)


class State:
    answerer: Answerer


def test_a_new_index_is_swapped_in_whole_and_the_old_one_left_intact(folder):
    settings = settings_for(folder)
    state = State()
    state.answerer = old = fake_loader(settings)
    reloader = IndexReloader(state, settings)
    assert reloader.check().message == "up to date"
    new_index = build(load([SEED, FIXTURES]), FakeEncoder(), CONFIG)
    store.save(new_index, folder)
    result = reloader.check()
    assert result.loaded and result.version == new_index.version == state.answerer.index.version
    assert state.answerer is not old and old.index.version != new_index.version  # in-flight requests keep theirs
    assert state.answerer.encoder is old.encoder and state.answerer.threshold == old.threshold
    result = state.answerer.answer("balise img onerror")  # answered from the new articles, verbatim
    c = result.answer.citation
    assert c.doc_id == "piege" and new_index.articles["piege"].text[c.start : c.end] == result.answer.text
    assert not reloader.check().loaded


def test_a_bad_new_index_keeps_the_old_one_serving_then_a_good_one_loads(folder, caplog):
    settings = settings_for(folder)
    state = State()
    state.answerer = fake_loader(settings)
    old_version = state.answerer.index.version
    reloader = IndexReloader(state, settings)
    store.save(build(load([SEED, FIXTURES]), FakeEncoder(), CONFIG), folder)
    damage(folder, "tampered")
    with caplog.at_level(logging.ERROR, logger="service.reload"):
        result = reloader.check()
    assert not result.loaded and state.answerer.index.version == old_version
    assert "index reload failed, still serving" in caplog.text and "does not match its hash" in caplog.text
    assert not reloader.check().loaded  # the same bad version is not retried on every poll
    good = build(load([SEED, FIXTURES / "bulk.jsonl"]), FakeEncoder(), CONFIG)
    store.save(good, folder)
    assert reloader.check().loaded and state.answerer.index.version == good.version


def test_the_loader_waits_out_the_instant_without_a_folder(folder):
    settings = settings_for(folder)
    answerer = fake_loader(settings)
    aside = folder.with_name("aside")
    os.rename(folder, aside)
    threading.Timer(0.5, os.rename, (aside, folder)).start()
    assert load_stable(settings, answerer, attempts=20, pause=0.1).version == answerer.index.version


def test_an_index_replaced_during_the_load_is_loaded_again(folder, monkeypatch):
    settings = settings_for(folder)
    answerer = fake_loader(settings)
    newer = build(load([SEED, FIXTURES]), FakeEncoder(), CONFIG)
    real_load, calls = store.load, []

    def load_then_replace(*args, **kwargs):
        index = real_load(*args, **kwargs)
        calls.append(index.version)
        if len(calls) == 1:
            store.save(newer, folder)  # a build lands while the old files were being read
        return index

    monkeypatch.setattr(reload_mod.store, "load", load_then_replace)
    loaded = load_stable(settings, answerer, pause=0.01)
    assert calls == [answerer.index.version, newer.version] and loaded.version == newer.version


def test_the_service_polls_its_folder_and_serves_the_new_index(folder):
    settings = settings_for(folder, reload_interval=0.2)
    with TestClient(create_app(settings, loader=fake_loader), raise_server_exceptions=False) as client:
        first = client.get("/api/health").json()["index_version"]
        newer = build(load([SEED, FIXTURES]), FakeEncoder(), CONFIG)
        store.save(newer, folder)
        deadline = time.monotonic() + 10
        while client.get("/api/health").json()["index_version"] == first and time.monotonic() < deadline:
            time.sleep(0.1)
        assert client.get("/api/health").json()["index_version"] == newer.version != first
        body = client.post("/api/ask", json={"question": "balise img onerror"}).json()
        assert body["index_version"] == newer.version and body["answer"]["citation"]["doc_id"] == "piege"
