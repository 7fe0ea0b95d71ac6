"""Coverage reports with the real EmbeddingGemma: the editors' list for the seed article gives the
same answers as `sourcier ask`, and its unanswered questions cluster the way a French reader would."""

import json
from pathlib import Path

import pytest

from service import cli
from service import startup as startup_mod
from service.coverage.clusters import cluster_questions
from service.coverage.questions import read_questions
from service.settings import Settings
from service.startup import load_answerer
from tests.conftest import SEED

pytestmark = pytest.mark.slow

QUESTIONS = Path(__file__).resolve().parents[1] / "eval" / "sets" / "seed-coverage.txt"


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("coverage") / "index"
    assert cli.main(["build", "--corpus", str(SEED), "--index", str(folder), "--quiet"]) == 0
    return folder


@pytest.fixture(scope="module")
def real(index_dir):
    return load_answerer(Settings(index_dir=index_dir))


def test_the_report_matches_sourcier_ask_on_every_question(real, index_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(startup_mod, "load_answerer", lambda settings: real)  # load the model once
    questions = [q for _, q in read_questions(QUESTIONS)]
    batch = tmp_path / "batch.jsonl"
    batch.write_text(
        "".join(json.dumps({"question": q}, ensure_ascii=False) + "\n" for q in questions), encoding="utf-8"
    )
    assert (
        cli.main(
            ["ask", "--batch", str(batch), "--out", str(tmp_path / "asked.jsonl"), "--quiet", "--index", str(index_dir)]
        )
        == 0
    )
    assert (
        cli.main(["coverage", str(QUESTIONS), "--out", str(tmp_path / "report"), "--quiet", "--index", str(index_dir)])
        == 0
    )
    asked = [json.loads(line) for line in (tmp_path / "asked.jsonl").read_text(encoding="utf-8").splitlines()]
    report = json.loads((tmp_path / "report" / "report.json").read_text(encoding="utf-8"))
    assert len(report["questions"]) == len(asked) == len(questions) >= 40
    for item, body in zip(report["questions"], asked):
        assert item["question"] == body["question"]
        assert (item["status"] != "uncovered") == body["answered"], item["question"]
        if body["answered"]:
            assert item["answer"] == body["answer"]["text"] and item["citation"] == body["answer"]["citation"]
            assert (item["status"] == "weak") == (not body["confident"])
            c = item["citation"]
            assert real.index.articles[c["doc_id"]].text[c["start"] : c["end"]] == item["answer"]
    summary = report["summary"]
    assert summary["uncovered"] == sum(not b["answered"] for b in asked) > 0
    assert summary["answered"] + summary["weak"] == sum(b["answered"] for b in asked) > 0


def test_unanswered_questions_cluster_as_a_french_reader_would(real):
    groups = [
        [
            "Que faire contre les crampes au mollet la nuit ?",
            "Comment soulager une crampe nocturne au mollet ?",
            "crampe mollet la nuit remède",
        ],
        ["Le manque de magnésium donne-t-il des crampes ?", "carence en magnésium et potassium crampes"],
        ["Est-ce normal d'avoir des crampes au mollet pendant la grossesse ?", "crampes aux jambes enceinte"],
        ["Comment réinitialiser mon mot de passe ?", "J'ai oublié mon mot de passe, que faire ?"],
        ["Combien coûte une injection de lysat plaquettaire ?", "prix injection plaquettes remboursement mutuelle"],
    ]
    alone = ["Quel temps fera-t-il demain à Lyon ?", "Où en est ma commande ?"]
    questions = [q for group in groups for q in group] + alone
    clusters = cluster_questions(real.encoder, questions, Settings().cluster_similarity)
    cluster_of = {m.question: i for i, c in enumerate(clusters) for m in c.members}
    for group in groups:
        assert len({cluster_of[q] for q in group}) == 1, group
        assert {m.question for m in clusters[cluster_of[group[0]]].members} == set(group)
    for question in alone:
        assert clusters[cluster_of[question]].size == 1, question
    assert clusters[0].size == 3 and clusters[0].representative in groups[0]
    assert [c.size for c in clusters] == sorted((c.size for c in clusters), reverse=True)
