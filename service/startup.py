"""From settings to a running Answerer: the encoder, the index (refused when built with another
model or settings) and the answering configuration. Used by the API's lifespan, the CLI and eval."""

from __future__ import annotations

from index import store
from service.core.answer import Answerer
from service.settings import Settings


def load_answerer(settings: Settings) -> Answerer:
    """Load the encoder and the index from ``settings`` and check them against each other."""
    encoder = settings.load_encoder()
    index = store.load(settings.index_dir, settings.index_config(), encoder.name, encoder.dims, runtime=encoder.runtime)
    return Answerer(index, encoder, settings.answer_config())
