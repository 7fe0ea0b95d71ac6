"""Editors' coverage reports on the fake encoder: statuses agree with `sourcier ask`, passages and
sections are counted once, clusters group near-duplicates, reports compare, every output is escaped."""

import base64
import csv
import hashlib
import io
import json
import re
from dataclasses import replace
from html import escape
from pathlib import Path

import numpy as np
import pytest

from service import cli
from service import startup as startup_mod
from service.core import Answerer
from service.coverage.clusters import cluster_questions
from service.coverage.compare import compare_reports, load_report
from service.coverage.questions import CoverageError, period, read_questions
from service.coverage.render import render_csv, render_html, write_reports
from service.coverage.report import Options, coverage_from_file
from service.settings import Settings
from tests.conftest import make_answerer

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = ROOT / "eval" / "sets" / "seed-coverage.txt"
OPTIONS = replace(Options.from_settings(Settings()), cluster_similarity=0.5)


@pytest.fixture
def strict(seed_index, encoder, monkeypatch) -> Answerer:
    """A threshold at which the seed list has answered, weak and uncovered questions alike; `sourcier
    ask` and `sourcier coverage` both load it."""
    answerer = make_answerer(seed_index, encoder, threshold=0.4, base_url="http://test")
    monkeypatch.setattr(startup_mod, "load_answerer", lambda settings: answerer)
    monkeypatch.setenv("SOURCIER_CLUSTER_SIMILARITY", str(OPTIONS.cluster_similarity))
    return answerer


def test_the_editors_list_has_at_least_40_questions():
    questions = [q for _, q in read_questions(QUESTIONS)]
    assert len(questions) >= 40 and len(set(questions)) == len(questions)
    assert not any(q.startswith("#") for q in questions)


def test_report_agrees_with_sourcier_ask_on_every_question(strict, tmp_path, capsys):
    assert cli.main(["coverage", str(QUESTIONS), "--out", str(tmp_path), "--quiet"]) == 0
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    questions = [q for _, q in read_questions(QUESTIONS)]
    assert [q["question"] for q in report["questions"]] == questions
    assert {q["status"] for q in report["questions"]} == {"answered", "weak", "uncovered"}
    capsys.readouterr()
    for item in report["questions"]:
        assert cli.main(["ask", item["question"], "--json"]) == 0
        asked = json.loads(capsys.readouterr().out)
        assert (item["status"] != "uncovered") == asked["answered"], item["question"]
        if asked["answered"]:
            assert item["answer"] == asked["answer"]["text"] and item["citation"] == asked["answer"]["citation"]
            assert item["score"] == asked["answer"]["score"]
            assert (item["status"] == "weak") == (not asked["confident"])  # what the widget shows "à vérifier"
        else:
            assert item["answer"] is None and item["citation"] is None
    summary = report["summary"]
    for status in ("answered", "weak", "uncovered"):
        assert summary[status] == sum(q["status"] == status for q in report["questions"])
    assert summary["total"] == len(questions) and summary["threshold"] == strict.threshold
    assert summary["confident_margin"] == strict.config.confident_margin and "weak_margin" not in summary
    assert report["index_version"] == strict.index.version


def test_each_answer_counts_once_for_a_passage_that_contains_it(strict):
    report = coverage_from_file(strict, QUESTIONS, OPTIONS)
    article = strict.index.articles["contractions-muscle-mollet"]
    placed = []
    for section in report.articles[0].sections:
        assert section.answered == sum(p.answered for p in section.passages)
        for passage in section.passages:
            assert article.text[passage.start : passage.end] == passage.text
            assert section.start <= passage.start < passage.end <= section.end
            assert passage.answered + passage.weak == len(passage.questions)
            for number in passage.questions:
                citation = report.questions[number - 1].citation
                assert passage.start <= citation["start"] < citation["end"] <= passage.end
            placed += passage.questions
    covered = [n for n, q in enumerate(report.questions, 1) if q.status != "uncovered"]
    assert sorted(placed) == covered
    assert report.articles[0].weak == report.summary["weak"]


def test_unreached_passages_and_sections_are_reported(strict, tmp_path):
    questions = tmp_path / "q.txt"
    questions.write_text("nerf tibial mollet\nrecette de la tarte aux pommes\n", encoding="utf-8")
    report = coverage_from_file(strict, questions, OPTIONS)
    assert [q.status for q in report.questions][1] == "uncovered" and report.questions[0].citation
    sections = report.articles[0].sections
    reached = [s for s in sections if s.answered or s.weak]
    assert len(reached) == 1 and reached[0].start <= report.questions[0].citation["start"] < reached[0].end
    assert report.summary["unreached_sections"] == len(sections) - 1
    passages = [p for s in sections for p in s.passages]
    assert report.summary["unreached_passages"] == sum(not p.questions for p in passages) == len(passages) - 1
    page = render_html(report)
    assert f"« faible » sous {strict.threshold + strict.config.confident_margin:.3f}" in page  # the core's margin
    for section in sections:
        if section not in reached:
            assert f'<b>{escape(section.title)}</b> <span class="none">— jamais atteinte</span>' in page


def test_reads_txt_csv_and_jsonl_and_refuses_bad_files(tmp_path):
    (tmp_path / "q.txt").write_text("# titre\n\nPremière ?\n  Deuxième ?  \n", encoding="utf-8")
    assert read_questions(tmp_path / "q.txt") == [(3, "Première ?"), (4, "Deuxième ?")]
    (tmp_path / "q.csv").write_text("\ufeffid;Question\n1;Pourquoi, vraiment ?\n2;\n3;Comment ?\n", encoding="utf-8")
    assert [q for _, q in read_questions(tmp_path / "q.csv")] == ["Pourquoi, vraiment ?", "Comment ?"]
    (tmp_path / "q2.csv").write_text('question,id\n"Pourquoi, vraiment ?",1\n', encoding="utf-8")
    assert [q for _, q in read_questions(tmp_path / "q2.csv")] == ["Pourquoi, vraiment ?"]
    (tmp_path / "q.jsonl").write_text('{"question": "Où ?", "id": 1}\n\n{"question": "Quand ?"}\n', encoding="utf-8")
    assert read_questions(tmp_path / "q.jsonl") == [(1, "Où ?"), (3, "Quand ?")]
    bad = {
        "a.csv": "id,texte\n1,x\n",
        "b.jsonl": '{"question": 3}\n',
        "c.jsonl": "pas du json\n",
        "d.txt": "# rien\n",
        "e.docx": "x",
    }
    for name, text in bad.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
        with pytest.raises(CoverageError, match=name):
            read_questions(tmp_path / name)


def test_questions_the_api_refuses_are_skipped_with_their_reason(strict, tmp_path):
    questions = tmp_path / "q.txt"
    questions.write_text("nerf tibial\n" + "é" * 600 + "\ncrampe la nuit\n", encoding="utf-8")
    report = coverage_from_file(strict, questions, OPTIONS)
    assert [q.question for q in report.questions] == ["nerf tibial", "crampe la nuit"]
    assert [(s.line, s.code) for s in report.skipped] == [(2, "question_too_long")]
    assert "ligne 2 : " in render_html(report)


def test_clusters_group_near_duplicates_largest_first(encoder):
    questions = [
        "crampe mollet nuit",
        "Crampe au mollet la nuit ?",
        "crampes mollet nuit",
        "mot de passe oublié",
        "mot de passe oublie",
        "CRAMPE MOLLET NUIT !",
        "livraison commande",
    ]
    clusters = cluster_questions(encoder, questions, min_similarity=0.6)
    assert [c.size for c in clusters] == [4, 2, 1]
    assert {m.question for m in clusters[0].members} == {
        "crampe mollet nuit",
        "Crampe au mollet la nuit ?",
        "crampes mollet nuit",
    }
    assert clusters[0].members[0].count == 2  # "CRAMPE MOLLET NUIT !" is the same question
    assert len(clusters[1].members) == 1 and clusters[1].members[0].count == 2  # accents aside, one question
    assert clusters[1].representative == "mot de passe oublié"  # the spelling seen first
    assert clusters[2].representative == "livraison commande"
    for cluster in clusters:  # complete linkage: every pair is close enough
        vectors = encoder.encode_queries([m.question for m in cluster.members])
        assert (vectors @ vectors.T).min() >= 0.6 - 1e-6
    assert cluster_questions(encoder, [], 0.6) == []


def test_the_representative_is_the_member_closest_to_the_others(encoder):
    questions = ["nerf tibial mollet", "nerf tibial", "nerf tibial mollet douleur", "tibial mollet douleur"]
    cluster = cluster_questions(encoder, questions, min_similarity=0.0)[0]
    vectors = encoder.encode_queries(questions)
    closeness = (vectors @ vectors.T).sum(axis=1)
    assert cluster.representative == questions[int(np.argmax(closeness))]


def test_compare_lists_what_changed(strict, tmp_path, capsys):
    old = coverage_from_file(strict, QUESTIONS, OPTIONS)
    stricter = Answerer(strict.index, strict.encoder, replace(strict.config, threshold=0.45)).warm_up()
    new = coverage_from_file(stricter, QUESTIONS, OPTIONS)
    write_reports(old, tmp_path / "old")
    write_reports(new, tmp_path / "new")
    comparison = compare_reports(
        load_report(tmp_path / "old" / "report.json"), load_report(tmp_path / "new" / "report.json")
    )
    pairs = [(a.status, b.status, a.question) for a, b in zip(old.questions, new.questions)]
    assert [c.question for c in comparison.lost] == [q for a, b, q in pairs if b == "uncovered" != a]
    assert [c.question for c in comparison.weakened] == [q for a, b, q in pairs if (a, b) == ("answered", "weak")]
    assert comparison.lost and comparison.weakened and not comparison.gained and not comparison.moved
    assert (
        cli.main(
            ["coverage", "--compare", str(tmp_path / "old" / "report.json"), str(tmp_path / "new" / "report.json")]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert f"Couverture perdue : {len(comparison.lost)}" in out and comparison.lost[0].question in out


def test_compare_matches_questions_by_text_and_reports_added_removed_and_moved():
    def item(question, status, start=0):
        covered = status != "uncovered"
        return {
            "question": question,
            "status": status,
            "answer": "x" if covered else None,
            "citation": {"doc_id": "d", "start": start, "end": start + 1} if covered else None,
        }

    old = {
        "index_version": "a",
        "questions": [item("q1", "uncovered"), item("q2", "weak"), item("q3", "answered"), item("q4", "answered")],
    }
    new = {
        "index_version": "b",
        "questions": [
            item("q3", "answered", 5),
            item("q1", "answered"),
            item("q2", "answered"),
            item("q5", "uncovered"),
        ],
    }
    c = compare_reports(old, new)
    assert [x.question for x in c.gained] == ["q1"] and [x.question for x in c.strengthened] == ["q2"]
    assert [x.question for x in c.moved] == ["q3"] and [x.question for x in c.removed] == ["q4"]
    assert [x.question for x in c.added] == ["q5"] and (c.old_version, c.new_version) == ("a", "b")


def test_compare_refuses_a_file_that_is_not_a_report(tmp_path, capsys):
    (tmp_path / "x.json").write_text('{"a": 1}', encoding="utf-8")
    assert cli.main(["coverage", "--compare", str(tmp_path / "x.json"), str(tmp_path / "absent.json")]) == 1
    assert "not a coverage report" in capsys.readouterr().err


def test_outputs_are_self_contained_and_escaped(strict, tmp_path):
    questions = tmp_path / "q.csv"
    questions.write_text(
        'question\n"<script>alert(1)</script> nerf tibial"\n"=HYPERLINK(""http://x"")"\n'
        '"<img src=x onerror=alert(2)>"\n',
        encoding="utf-8",
    )
    report = coverage_from_file(strict, questions, OPTIONS)
    paths = write_reports(report, tmp_path / "out")
    page = paths["html"].read_text(encoding="utf-8")
    assert "<script>alert" not in page and "<img" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert page.count("<script>") == 1  # the table-sorting script, nothing else
    for external in ("<link", "<img", "<iframe", "@import", "url("):
        assert external not in page
    assert not re.search(r"<script[^>]*src", page)
    assert "<svg" in page
    rows = list(csv.DictReader(io.StringIO(paths["csv"].read_text(encoding="utf-8-sig"))))
    assert [r["question"] for r in rows] == [
        "<script>alert(1)</script> nerf tibial",
        '\'=HYPERLINK("http://x")',
        "<img src=x onerror=alert(2)>",
    ]
    assert render_csv(report).startswith("n,question,status,score,answer,doc_id")


def test_period_parses_days_and_refuses_nonsense():
    start, end = period("2025-01-01", "2025-01-31")
    assert end - start == 31 * 86400
    start, end = period(None, None, days=7)
    assert round(end - start) == 7 * 86400
    for since, until in (("2025-02-01", "2025-01-01"), ("hier", None), (None, "31/01/2025")):
        with pytest.raises(CoverageError):
            period(since, until)


def test_coverage_needs_exactly_one_source(strict, capsys):
    assert cli.main(["coverage"]) == 2
    assert cli.main(["coverage", str(QUESTIONS), "--from-log"]) == 2
    assert "QUESTIONS_FILE" in capsys.readouterr().err


def test_the_page_shows_the_jsons_numbers_one_row_per_article_and_allows_only_its_own_script(strict, tmp_path):
    paths = write_reports(coverage_from_file(strict, QUESTIONS, OPTIONS), tmp_path)
    page = paths["html"].read_text(encoding="utf-8")
    data = json.loads(paths["json"].read_text(encoding="utf-8"))
    shown = re.findall(r'data-key="(\w+)">([^<]*)<', page)
    assert {k for k, _ in shown} >= {"total", "answered", "weak", "uncovered", "unreached_sections", "sections"}
    assert all(value == str(data["summary"][key]) for key, value in shown)
    assert page.count("<tbody><tr data-text=") == len(data["articles"]) and 'aria-expanded="false"' in page
    assert page.count('<tr data-status="') == len(data["questions"])
    todo = [c for c in data["clusters"] if c["kind"] == "uncovered"]
    assert page.index("<b>" + escape(todo[0]["representative"]) + "</b>") < page.index('id="articles"')
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page).group(1)
    for tag in ("style", "script"):
        (body,) = re.findall(rf"<{tag}>(.*?)</{tag}>", page, re.S)
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"{tag}-src 'sha256-{digest}'" in csp
    assert "unsafe-inline" not in csp


def test_compare_with_out_writes_the_newer_report_with_the_changes_first(strict, tmp_path, capsys):
    old = coverage_from_file(strict, QUESTIONS, OPTIONS)
    stricter = Answerer(strict.index, strict.encoder, replace(strict.config, threshold=0.45)).warm_up()
    write_reports(old, tmp_path / "old")
    write_reports(coverage_from_file(stricter, QUESTIONS, OPTIONS), tmp_path / "new")
    pair = [str(tmp_path / "old" / "report.json"), str(tmp_path / "new" / "report.json")]
    assert cli.main(["coverage", "--compare", *pair, "--out", str(tmp_path / "diff")]) == 0
    page = (tmp_path / "diff" / "compare.html").read_text(encoding="utf-8")
    lost = compare_reports(*(load_report(Path(p)) for p in pair)).lost
    assert f'data-change="lost">{len(lost)}<' in page and page.index('id="changes"') < page.index('id="todo"')
    assert str(tmp_path / "diff" / "compare.html") in capsys.readouterr().out
