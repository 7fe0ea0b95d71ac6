"""The experiments' tests: every one is marked ``research`` and runs only when asked
(``pytest research/tests``, ``make research-test``), with the product's fixtures."""

from __future__ import annotations

import pytest

from tests.conftest import config, encoder, seed_articles, seed_index  # noqa: F401 - fixtures, by name


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        item.add_marker(pytest.mark.research)
