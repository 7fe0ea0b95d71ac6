"""Calibrated abstention thresholds (``calibration.json``, written by ``python -m eval.calibrate``).

A threshold is only meaningful for the scores it was fitted on: the model, runtime and size (int8
moves vectors), the units, and the scoring settings (weights, margins, candidate counts). Each entry
records them; ``calibrated_threshold`` refuses an entry whose recorded settings differ from the
active ones, naming each difference and the command that recalibrates. Refused rather than warned:
a threshold fitted for other weights abstains on the wrong questions without any visible sign, and
the one who changed a weight is the one at the console when the service refuses to start.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CALIBRATION_FILE = Path(__file__).resolve().parent / "calibration.json"
RECALIBRATE = "python -m eval.calibrate --set seed --set piaf-ci --write"


class CalibrationError(ValueError):
    """No threshold fits the active settings; the message says why and what to run."""


def calibration_key(model: str, runtime: str, dims: int | None) -> str:
    """Scores shift with the runtime (int8 moves vectors) and the size, so each has its own threshold."""
    return f"{model} {runtime} {dims or 'full'}"


def read_calibrations(path: Path = CALIBRATION_FILE) -> dict[str, dict[str, Any]]:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def calibrated_threshold(active: dict[str, Any], path: Path = CALIBRATION_FILE) -> float:
    """The threshold chosen on data for the ``active`` settings (model, runtime, dims, units and
    scoring, by setting name). ``onnx`` fp32 uses torch's when it has none of its own: its vectors
    equal torch's (cosine ≥ 0.999, checked at export)."""
    data = read_calibrations(path)
    key = calibration_key(active["model"], active["runtime"], active["dims"])
    entry, ignored = data.get(key), set()
    if entry is None and active["runtime"] == "onnx":
        entry, ignored = data.get(calibration_key(active["model"], "torch", active["dims"])), {"runtime"}
    if entry is None:
        raise CalibrationError(f"no calibrated threshold for {key!r}: set SOURCIER_THRESHOLD or run `{RECALIBRATE}`")
    differences = [
        f"{name} {recorded!r} (configured {active.get(name)!r})"
        for name, recorded in entry.get("settings", {}).items()
        if name not in ignored and active.get(name) != recorded
    ]
    if differences:
        raise CalibrationError(
            f"the threshold for {key!r} was calibrated with other settings: "
            + "; ".join(differences)
            + f" — run `{RECALIBRATE}`, or set SOURCIER_THRESHOLD to choose one yourself"
        )
    return float(entry["threshold"])
