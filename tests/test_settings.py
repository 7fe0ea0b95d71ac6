from pathlib import Path

import pytest

from service.settings import ROOT, Settings
from service.settings_table import END, START, TableError, documented, shown, table, write

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def test_the_readmes_settings_table_is_the_one_generated_from_the_settings():
    """No default written twice: the README's table is ``sourcier settings``' output, every field described."""
    assert all(field.description for field in Settings.model_fields.values())
    assert documented(README) == table(), "run: sourcier settings --write README.md"
    rows = table().splitlines()[2:]
    assert [row.split("`")[1] for row in rows] == [f"SOURCIER_{name.upper()}" for name in Settings.model_fields]


def test_defaults_are_shown_as_a_reader_writes_them():
    assert shown(None) == "unset" and shown("") == "empty" and shown(False) == "`false`"
    assert shown(ROOT / "var" / "index") == "`var/index`" and shown(Path.home() / "m") == "`~/m`"
    assert shown([ROOT / "corpus"]) == '`["corpus"]`' and shown(["é ’"]) == '`["é ’"]`'


def test_the_settings_table_is_written_between_its_markers(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"# Titre\n\n{START}\nancienne table\n{END}\n\nLa suite.\n", encoding="utf-8")
    assert write(readme) is True and write(readme) is False  # once written, up to date
    text = readme.read_text(encoding="utf-8")
    assert documented(text) == table() and text.startswith("# Titre") and text.endswith("La suite.\n")
    (tmp_path / "bare.md").write_text("sans marqueurs", encoding="utf-8")
    with pytest.raises(TableError):
        write(tmp_path / "bare.md")


def test_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("SOURCIER_THRESHOLD", "0.42")
    monkeypatch.setenv("SOURCIER_CORS_ORIGINS", '["https://exemple.fr"]')
    settings = Settings()
    assert settings.answer_config().threshold == 0.42 and settings.cors_origins == ["https://exemple.fr"]


def test_without_a_threshold_setting_each_index_sets_its_own(monkeypatch):
    monkeypatch.delenv("SOURCIER_THRESHOLD", raising=False)
    monkeypatch.setenv("SOURCIER_ABSTAIN_DEVIATIONS", "2.5")
    config = Settings().answer_config()
    assert config.threshold is None and config.abstain_deviations == 2.5
    assert Settings().answer_config(threshold=0.1).threshold == 0.1  # the evaluation's explicit one wins
