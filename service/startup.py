"""From settings to a running Answerer: the encoder, the index (refused when built with another
model or settings) and the answering configuration. Used by the API's lifespan, hot reload, the CLI and eval."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from index import store
from index.encoder import Encoder
from index.manifest import Manifest
from index.search import Index
from service.core import abstention
from service.core.abstention import Abstention
from service.core.answer import Answerer
from service.core.config import AnswerConfig
from service.settings import Settings

log = logging.getLogger(__name__)


def load_answerer(settings: Settings, encoder: Encoder | None = None) -> Answerer:
    """Load the index from ``settings`` with ``encoder`` (else the settings' own, loaded now) and check
    them against each other."""
    encoder = encoder or settings.load_encoder()
    index = store.load(settings.index_dir, settings.index_config(), encoder.name, encoder.dims, runtime=encoder.runtime)
    return answerer_for(index, encoder, settings.answer_config(), settings.index_dir)


def shared_loader() -> Callable[[Settings], Answerer]:
    """``load_answerer`` that loads the encoder once, for the first site, and gives it to every other
    site's index: the model is the process's biggest memory by far (sites share the settings that
    choose it, ``service.sites.PER_SITE`` leaves them out)."""
    encoders: dict[tuple[Any, ...], Encoder] = {}

    def load(settings: Settings) -> Answerer:
        key = (settings.model, str(settings.model_cache), settings.runtime, settings.dims, settings.threads)
        if key not in encoders:
            encoders[key] = settings.load_encoder()
        return load_answerer(settings, encoders[key])

    return load


def answerer_for(index: Index, encoder: Encoder, config: AnswerConfig, folder: Path | None = None) -> Answerer:
    """The warmed-up Answerer of ``index``: the one way to get one, at start, in the CLI and on hot reload.
    When it had to measure the index's abstention threshold (an index older than the measurement, or
    other scoring settings), the measurement is stored in the manifest at ``folder`` so that the next
    start reads it. A folder that cannot be written only costs the measurement again."""
    answerer = Answerer(index, encoder, config).warm_up()
    if answerer.measured_now and answerer.abstention is not None and folder is not None:
        try:
            store.record_abstention(folder, index.version, answerer.abstention.to_dict())
        except (OSError, store.StoreError) as exc:
            log.warning("could not store the abstention measurement in %s: %s", folder, exc)
    return answerer


def stored_abstention(settings: Settings, manifest: Manifest) -> Abstention | None:
    """The abstention measurement ``manifest`` holds under these settings' rule (even when a
    SOURCIER_THRESHOLD wins over it), or None when it must be measured (``answerer_for`` does)."""
    config = replace(settings.answer_config(), threshold=None)
    return abstention.stored(manifest.abstention, config.scoring(), config.abstain_deviations, config.abstain_floor)
