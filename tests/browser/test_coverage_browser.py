"""The editors' coverage report in Chromium (issue 30), opened as the file an editor gets: the to-do on the
first screen, the folded page under its height budget, filters that narrow the tables, the first screen's
numbers equal to the JSON's, disclosure buttons with aria-expanded, no CSP violation. On an invented help
site of 60 articles (fake encoder, no model) and, where ../shared has it, on the Démarche numérique pages
(loaded as files: their text stays in ../shared)."""

from __future__ import annotations

import json
import os
import re
from dataclasses import replace
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from corpus.load import load
from index.build import build
from service.coverage.compare import compare_reports, load_report
from service.coverage.render import render_comparison, write_reports
from service.coverage.report import Options, coverage_from_file
from service.settings import Settings
from tests.browser.conftest import SCREENSHOTS
from tests.conftest import FAKE_CONFIG, ROOT, FakeEncoder, make_answerer

pytestmark = [pytest.mark.slow, pytest.mark.browser]

WIDTH, HEIGHT = 1280, 1400
BUDGET = 10 * HEIGHT  # the folded page: under 10 screens
DEMARCHE = ROOT.parent / "shared" / "data" / "demarche-numerique" / "site"
RECORD_VIOLATIONS = """window.__violations = [];
document.addEventListener("securitypolicyviolation", e => window.__violations.push(e.effectiveDirective));"""
TOPICS = [
    "la carte de bibliothèque", "le compost collectif", "la navette du marché", "le prêt de vélos",
    "les jardins partagés", "la piscine d'hiver", "le tri du verre", "la fête du quartier",
    "le conseil des jeunes", "la ludothèque", "le cinéma en plein air", "la cantine scolaire",
]  # fmt: skip
ACTIONS = ["obtenir", "renouveler", "payer", "annuler", "signaler un problème avec", "trouver les horaires de"]
OFF_TOPIC = ["Quel temps fera-t-il demain ?", "Combien coûte un billet d'avion pour Tokyo ?", "Qui a gagné la coupe ?"]


def invented_site(folder: Path) -> tuple[Path, Path]:
    """60 Markdown articles (5 topics × 12 variants) with six sections each, and 240 questions about them
    or about nothing they say."""
    folder.mkdir(parents=True, exist_ok=True)
    questions = []
    for n in range(60):
        topic = TOPICS[n % len(TOPICS)]
        lines = [f"# Fiche {n + 1} : {topic}", ""]
        for action in ACTIONS:
            lines += [
                f"## Comment {action} {topic} (fiche {n + 1}) ?",
                "",
                f"Pour {action} {topic}, présentez-vous à l'accueil numéro {n + 3} avec un justificatif.",
                f"Le service répond sous {n % 7 + 2} jours ouvrés et envoie un courriel de confirmation.",
                "",
            ]
            questions.append(f"Comment {action} {topic} ?")
        (folder / f"fiche-{n + 1:02d}.md").write_text("\n".join(lines), encoding="utf-8")
    asked = folder.parent / "questions.txt"
    asked.write_text("\n".join(questions[:200] + OFF_TOPIC * 14) + "\n", encoding="utf-8")
    return folder, asked


def report_of(corpus: Path, asked: Path, out: Path, threshold: float) -> dict:
    encoder = FakeEncoder()
    answerer = make_answerer(build(load([corpus]), encoder, FAKE_CONFIG), encoder, threshold, base_url="http://t")
    options = replace(Options.from_settings(Settings()), cluster_similarity=0.5)
    write_reports(coverage_from_file(answerer, asked, options), out)
    return json.loads((out / "report.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def invented(tmp_path_factory) -> tuple[Path, dict]:
    folder = tmp_path_factory.mktemp("coverage-site")
    corpus, asked = invented_site(folder / "site")
    data = report_of(corpus, asked, folder / "report", threshold=0.45)
    assert {q["status"] for q in data["questions"]} == {"answered", "weak", "uncovered"}, "retune the threshold"
    return folder / "report", data


def opened(page: Page, report: Path, name: str = "report.html") -> Page:
    page.set_viewport_size({"width": WIDTH, "height": HEIGHT})
    page.add_init_script(RECORD_VIOLATIONS)
    page.goto((report / name).as_uri())
    return page


def test_the_todo_opens_on_the_first_screen_and_the_folded_page_fits_the_budget(page: Page, invented):
    report, data = invented
    opened(page, report)
    first = page.locator("ol.todo li").first
    todo = [c for c in data["clusters"] if c["kind"] == "uncovered"]
    expect(first.locator("b")).to_have_text(todo[0]["representative"])
    box = first.bounding_box()
    assert box is not None and box["y"] + box["height"] <= HEIGHT
    assert page.evaluate("document.documentElement.scrollHeight") < BUDGET
    page.screenshot(path=str(SCREENSHOTS / "coverage-first-screen.png"))
    assert page.evaluate("window.__violations") == []


def test_every_number_on_the_first_screen_is_the_jsons(page: Page, invented):
    report, data = invented
    opened(page, report)
    shown = page.locator("[data-key]")
    assert shown.count() >= 8
    for i in range(shown.count()):
        cell = shown.nth(i)
        box = cell.bounding_box()
        if box is not None and box["y"] < HEIGHT:
            assert cell.inner_text() == str(data["summary"][cell.get_attribute("data-key")])


def test_filters_narrow_the_tables_and_say_how_many_rows_are_left(page: Page, invented):
    report, data = invented
    opened(page, report)
    articles = page.locator("#articles-table > tbody:visible")
    assert articles.count() == len(data["articles"]) == 60
    page.get_by_label("Filtrer les articles (titre, section)").fill("ludotheque")  # accents aside
    expected = sum("ludothèque" in a["title"] for a in data["articles"])
    expect(articles).to_have_count(expected)
    expect(page.locator("[data-filters=articles-table] output")).to_have_text(f"{expected} / 60")
    rows = page.locator("#questions-table tbody tr:visible")
    page.get_by_role("combobox", name="Statut").select_option("weak")
    expect(rows).to_have_count(data["summary"]["weak"])
    page.get_by_label("Filtrer les questions").fill("piscine")
    weak_pool = [q for q in data["questions"] if q["status"] == "weak" and "piscine" in q["question"]]
    expect(rows).to_have_count(len(weak_pool))
    assert page.evaluate("window.__violations") == []


def test_an_article_unfolds_to_its_sections_and_the_tables_sort(page: Page, invented):
    report, data = invented
    opened(page, report)
    toggle = page.locator("#articles-table button.toggle").first
    expect(toggle).to_have_attribute("aria-expanded", "false")
    detail = page.locator(f"#{toggle.get_attribute('aria-controls')}")
    expect(detail).to_be_hidden()
    toggle.press("Enter")  # the keyboard opens it as a click does
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(detail).to_be_visible()
    expect(detail.locator("li > b")).to_have_count(len(data["articles"][0]["sections"]))
    header = page.locator("#questions-table thead th").nth(3)
    header.locator("button").click()
    expect(header).to_have_attribute("aria-sort", "ascending")
    scores = [float(s) for s in page.locator("#questions-table tbody td:nth-child(4)").all_inner_texts() if s]
    assert scores == sorted(scores) and len(scores) == data["summary"]["answered"] + data["summary"]["weak"]
    for level in ("h1", "h2"):
        assert page.locator(level).count() >= 1
    assert page.evaluate("window.__violations") == []


def test_the_comparison_page_has_the_same_layout_with_the_changes_first(page: Page, invented, tmp_path):
    report, data = invented
    older = json.loads(json.dumps(data))
    older["questions"][0]["status"] = "uncovered"
    (tmp_path / "old.json").write_text(json.dumps(older), encoding="utf-8")
    comparison = compare_reports(load_report(tmp_path / "old.json"), data)
    (tmp_path / "compare.html").write_text(render_comparison(comparison, data), encoding="utf-8")
    opened(page, tmp_path, "compare.html")
    expect(page.locator("[data-change=gained]")).to_have_text(str(len(comparison.gained)))
    assert page.locator("ol.todo li").first.bounding_box()["y"] < HEIGHT
    assert page.evaluate("document.documentElement.scrollHeight") < BUDGET


@pytest.mark.skipif(not DEMARCHE.is_dir() and not os.environ.get("CI"), reason="needs ../shared/data")
def test_on_the_demarche_numerique_pages_the_report_stays_small_and_short(page: Page, tmp_path):
    from bench.coverage_report import questions

    asked = tmp_path / "questions.txt"
    asked.write_text("\n".join(questions(DEMARCHE, 500)) + "\n", encoding="utf-8")
    data = report_of(DEMARCHE, asked, tmp_path, threshold=0.45)
    assert data["summary"]["articles"] >= 100 and data["summary"]["total"] == 500
    assert (tmp_path / "report.html").stat().st_size < 2_000_000
    opened(page, tmp_path)
    assert page.evaluate("document.documentElement.scrollHeight") < BUDGET
    first = page.locator("ol.todo li").first
    if first.count():
        assert first.bounding_box()["y"] + first.bounding_box()["height"] <= HEIGHT
    assert re.fullmatch(r"\d+ / \d+", page.locator("[data-filters=articles-table] output").inner_text())
    page.screenshot(path=str(SCREENSHOTS / "coverage-demarche-numerique.png"))
    assert page.evaluate("window.__violations") == []
