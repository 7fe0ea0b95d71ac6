import json
import re

import pytest
from fastapi.testclient import TestClient

from index import store
from service import cli
from service import startup as startup_mod
from service.settings import Settings
from service.web.app import create_app
from tests.conftest import SEED, FakeEncoder, make_answerer


@pytest.fixture
def fake_answerer(monkeypatch, seed_index, encoder):
    answerer = make_answerer(seed_index, encoder, threshold=0.3, base_url="http://test")

    def load(settings):  # the settings' own answering configuration (top_k…), over the seed index
        return make_answerer(seed_index, encoder, threshold=0.3, base_url="http://test", top_k=settings.top_k)

    monkeypatch.setattr(startup_mod, "load_answerer", load)
    return answerer


def test_ask_json_equals_the_api_body(fake_answerer, capsys):
    assert cli.main(["ask", "nerf tibial du mollet", "--json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["answered"] and body["question"] == "nerf tibial du mollet"
    c = body["answer"]["citation"]
    assert fake_answerer.index.articles[c["doc_id"]].text[c["start"] : c["end"]] == body["answer"]["text"]
    app = create_app(Settings(), loader=lambda _: fake_answerer)
    with TestClient(app) as client:
        api = client.post("/api/ask", json={"question": "nerf tibial du mollet"}).json()
    assert set(body) == set(api) and body["confident"] == api["confident"]
    assert cli.main(["ask", "Quel est le muscle du mollet ?", "--json"]) == 0
    known = json.loads(capsys.readouterr().out)["known"]
    assert known["text"] == "Quel est le Muscle du Mollet?" and known["url"].startswith("http://test/articles/")


def test_ask_prints_the_answer_and_its_citation(fake_answerer, capsys):
    assert cli.main(["ask", "nerf tibial du mollet"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Réponse :\n« ")
    assert "contractions-muscle-mollet, caractères" in out and "http://test/articles/" in out
    assert cli.main(["ask", "Quel est le muscle du mollet ?"]) == 0
    assert capsys.readouterr().out.startswith("Question proche : Quel est le Muscle du Mollet? (Ce n’est pas une")


def test_ask_says_when_the_answer_is_only_the_closest_passage(seed_index, encoder, monkeypatch, capsys):
    unsure = make_answerer(seed_index, encoder, threshold=0.3, base_url="http://test", confident_margin=1.0)
    monkeypatch.setattr(startup_mod, "load_answerer", lambda settings: unsure)
    assert cli.main(["ask", "nerf tibial du mollet"]) == 0
    assert capsys.readouterr().out.startswith("Réponse (à vérifier) : passage le plus proche\n« ")
    assert cli.main(["ask", "nerf tibial du mollet", "--json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["answered"] and not body["confident"]


def test_ask_refuses_an_empty_question(fake_answerer, capsys):
    assert cli.main(["ask", "   ", "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["error"]["code"] == "empty_question"


def test_batch_answers_each_line_in_order_with_ids_and_errors(fake_answerer, tmp_path, capsys):
    batch = tmp_path / "q.jsonl"
    batch.write_text(
        '{"id": "a", "question": "nerf tibial"}\n\n{"question": ""}\nnot json\n'
        '{"id": 7, "question": "crampe la nuit", "top_k": 1}\n',
        encoding="utf-8",
    )
    out = tmp_path / "out.jsonl"
    assert cli.main(["ask", "--batch", str(batch), "--out", str(out), "--quiet"]) == 0
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [line["id"] for line in lines] == ["a", None, None, 7]
    assert lines[0]["answered"] is not None and "error" not in lines[0]
    assert lines[1]["error"]["code"] == "empty_question" and lines[2]["error"]["code"] == "invalid_line"
    assert len(lines[3]["passages"]) == 1


def test_build_skips_an_up_to_date_index_and_show_prints_it(tmp_path, seed_index, capsys, monkeypatch):
    folder = store.save(seed_index, tmp_path / "index")  # saved without an abstention measurement
    monkeypatch.setenv("SOURCIER_MODEL", "fake-trigram")
    loads = []
    monkeypatch.setattr(Settings, "load_encoder", lambda self: loads.append(1) or FakeEncoder())
    assert cli.main(["build", "--corpus", str(SEED), "--index", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "is up to date" in out and loads == [1]  # loaded to measure, not to rebuild
    assert re.search(
        r"abstains under [\d.]+: its corpus's scores for \d+ off-topic questions, mean \+ [\d.]+ standard", out
    )
    assert store.read_manifest(folder).abstention is not None
    assert cli.main(["build", "--corpus", str(SEED), "--index", str(folder)]) == 0 and loads == [1]
    assert "is up to date" in capsys.readouterr().out
    assert cli.main(["show", "contractions-muscle-mollet", "--index", str(folder)]) == 0
    assert "Quel est le Muscle du Mollet?" in capsys.readouterr().out
    assert cli.main(["show", "absent", "--index", str(folder)]) == 1


def test_build_loads_the_encoder_only_to_rebuild(tmp_path, capsys, monkeypatch):
    loads = []
    monkeypatch.setattr(Settings, "load_encoder", lambda self: loads.append(1) or FakeEncoder())
    args = ["build", "--corpus", str(SEED), "--index", str(tmp_path / "index"), "--quiet"]
    assert cli.main(args) == 0 and loads == [1]
    saved = r"saved to .*index: 1 articles, \d+ sentences, \d+ pairs, \d+ chunks; embedded {}, reused \d+, [\d.]+ s"
    assert re.search(saved.format("[1-9][0-9]*"), capsys.readouterr().out)
    assert cli.main(args) == 0 and loads == [1]
    assert f"is up to date (1 articles) at {tmp_path / 'index'}" in capsys.readouterr().out
    assert cli.main([*args, "--force"]) == 0 and loads == [1, 1]
    assert re.search(saved.format("0"), capsys.readouterr().out)


def test_errors_are_one_line_messages_not_tracebacks(tmp_path, capsys):
    assert cli.main(["show", "x", "--index", str(tmp_path / "nothing")]) == 1
    assert "run `sourcier build`" in capsys.readouterr().err


def test_ask_uses_the_top_k_setting_unless_told(fake_answerer, capsys, monkeypatch):
    monkeypatch.setenv("SOURCIER_TOP_K", "1")
    assert cli.main(["ask", "nerf tibial du mollet", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["passages"]) == 1
    assert cli.main(["ask", "nerf tibial du mollet", "--json", "--top-k", "2"]) == 0
    assert len(json.loads(capsys.readouterr().out)["passages"]) == 2
