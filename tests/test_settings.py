from pathlib import Path

import pytest

from service.core.calibration import CalibrationError, calibrated_threshold
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


def test_the_calibrated_threshold_is_refused_for_other_scoring_settings(monkeypatch):
    monkeypatch.delenv("SOURCIER_THRESHOLD", raising=False)
    calibrated = Settings().answer_config().threshold  # the shipped calibration fits the defaults
    assert 0 < calibrated < 1
    monkeypatch.setenv("SOURCIER_SENTENCE_WEIGHT", "0.5")
    with pytest.raises(CalibrationError, match=r"sentence_weight 0\.7 \(configured 0\.5\).*eval\.calibrate"):
        Settings().answer_config()
    monkeypatch.setenv("SOURCIER_THRESHOLD", "0.4")  # an explicit threshold is the operator's choice
    assert Settings().answer_config().threshold == 0.4


def test_a_calibration_entry_without_the_active_runtime_names_the_command(tmp_path):
    path = tmp_path / "calibration.json"
    path.write_text("{}", encoding="utf-8")
    active = Settings(runtime="torch").calibrated_settings(Settings().answer_config(threshold=0.0))
    with pytest.raises(CalibrationError, match="no calibrated threshold for 'embeddinggemma-300m torch full'"):
        calibrated_threshold(active, path)
