"""Each index's own abstention threshold: measured on its corpus with the off-topic bank, stored in the
manifest with how it was chosen, read back at the next start, measured again when the scoring changes."""

from dataclasses import replace

import pytest

from index import store
from index.build import build
from service.core import abstention
from service.settings import Settings
from service.startup import answerer_for, load_answerer
from tests.conftest import FAKE_CONFIG, SEED, FakeEncoder

OFF_TOPIC = ["Comment changer le mot de passe du wifi ?", "Quelle est la recette de la pâte à crêpes ?"]


def test_the_bank_is_varied_french_and_has_no_duplicates():
    questions = abstention.bank_questions()
    assert len(questions) >= 200 and len(set(questions)) == len(questions)
    assert all(q.endswith("?") or " " in q for q in questions)
    assert sum(any(c in q for c in "éèàçêô") for q in questions) > len(questions) / 3


def test_the_rule_follows_the_bank_and_never_goes_under_the_floor():
    values = [0.1, 0.2, 0.3, 0.4]  # mean 0.25, population standard deviation 0.1118
    assert abstention.rule_threshold(values, 2.0, 0.0) == pytest.approx(0.25 + 2 * 0.111803, abs=1e-6)
    assert abstention.rule_threshold(values, 2.0, 0.6) == 0.6
    shifted = [v + 0.2 for v in values]  # a corpus where every off-topic question scores 0.2 higher
    assert abstention.rule_threshold(shifted, 2.0, 0.0) == pytest.approx(
        abstention.rule_threshold(values, 2.0, 0.0) + 0.2
    )


def test_an_index_measures_its_threshold_stores_it_and_reads_it_back(tmp_path, seed_articles, monkeypatch):
    monkeypatch.delenv("SOURCIER_THRESHOLD", raising=False)
    encoder = FakeEncoder()
    folder = store.save(build(seed_articles, encoder, FAKE_CONFIG), tmp_path / "index")
    config = Settings().answer_config()
    assert config.threshold is None
    index = store.load(folder, FAKE_CONFIG)
    first = answerer_for(index, encoder, config, folder)
    measured = first.abstention
    assert first.measured_now and measured is not None
    assert measured.questions == len(abstention.bank_questions()) == len(measured.scores)
    assert measured.scores == sorted(measured.scores)
    want = abstention.rule_threshold(measured.scores, config.abstain_deviations, config.abstain_floor)
    assert first.threshold == measured.threshold == pytest.approx(want, abs=1e-4)
    record = store.read_manifest(folder).abstention
    assert record is not None and record["method"] == abstention.METHOD and record["scoring"] == config.scoring()
    assert store.load(folder, FAKE_CONFIG).version == index.version  # the files are untouched

    again = answerer_for(store.load(folder, FAKE_CONFIG), encoder, config, folder)
    assert not again.measured_now and again.threshold == first.threshold
    for question in OFF_TOPIC:
        result = again.answer(question)
        assert not result.answered and "seuil" in result.reason

    stored = store.load(folder, FAKE_CONFIG)
    stricter = answerer_for(stored, encoder, replace(config, abstain_deviations=0.0, abstain_floor=0.95), folder)
    assert not stricter.measured_now and stricter.threshold == 0.95
    reweighted = answerer_for(stored, encoder, replace(config, sentence_weight=0.5), folder)
    assert reweighted.measured_now  # other scoring settings: the stored scores mean something else


def test_an_explicit_threshold_wins_and_measures_nothing(seed_index):
    answerer = answerer_for(seed_index, FakeEncoder(), Settings().answer_config(threshold=0.2))
    assert answerer.threshold == 0.2 and answerer.abstention is None and not answerer.measured_now


def test_another_bank_is_measured_again(tmp_path, seed_articles, monkeypatch):
    encoder = FakeEncoder()
    folder = store.save(build(seed_articles, encoder, FAKE_CONFIG), tmp_path / "index")
    config = replace(Settings().answer_config(), threshold=None)
    answerer_for(store.load(folder, FAKE_CONFIG), encoder, config, folder)
    bank = tmp_path / "bank.txt"
    bank.write_text("# autre banque\nQuel temps fera-t-il demain ?\nOù est la gare ?\n", encoding="utf-8")
    monkeypatch.setattr(abstention, "BANK_FILE", bank)
    other = answerer_for(store.load(folder, FAKE_CONFIG), encoder, config, folder)
    assert other.measured_now and other.abstention is not None and other.abstention.questions == 2


def test_the_service_start_reads_the_stored_threshold(tmp_path, seed_articles, monkeypatch):
    encoder = FakeEncoder()
    folder = store.save(build(seed_articles, encoder, FAKE_CONFIG), tmp_path / "index")
    monkeypatch.delenv("SOURCIER_THRESHOLD", raising=False)
    monkeypatch.setattr(Settings, "load_encoder", lambda self: encoder)
    settings = Settings(model=FakeEncoder.name, index_dir=folder, corpus=[SEED])
    monkeypatch.setattr(Settings, "index_config", lambda self: FAKE_CONFIG)
    first = load_answerer(settings)
    second = load_answerer(settings)
    assert first.measured_now and not second.measured_now and second.threshold == first.threshold


def test_a_read_only_index_folder_only_costs_the_measurement_again(tmp_path, seed_articles, caplog, monkeypatch):
    encoder = FakeEncoder()
    folder = store.save(build(seed_articles, encoder, FAKE_CONFIG), tmp_path / "index")
    index = store.load(folder, FAKE_CONFIG)
    config = replace(Settings().answer_config(), threshold=None)

    def read_only(*args):
        raise PermissionError(13, "Read-only file system")

    monkeypatch.setattr(store.os, "replace", read_only)  # as on a read-only mount (the tests run as root)
    answerer = answerer_for(index, encoder, config, folder)
    monkeypatch.undo()
    assert answerer.abstention is not None and store.read_manifest(folder).abstention is None
    assert "could not store the abstention measurement" in caplog.text
