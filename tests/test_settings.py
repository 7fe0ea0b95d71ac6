from pathlib import Path

from service.settings import Settings

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_documented_in_the_readme():
    for name, field in Settings.model_fields.items():
        assert f"SOURCIER_{name.upper()}" in README, name
        assert field.description, name


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
