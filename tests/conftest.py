"""Markers follow the folder: tests/unit → ``unit``, tests/integration → ``integration``,
tests/e2e → ``e2e``, so ``pytest -m unit`` selects by kind even if a module forgets its marker."""

from __future__ import annotations

from pathlib import Path

import pytest

_KINDS = ("unit", "integration", "e2e")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    root = Path(__file__).parent
    for item in items:
        try:
            kind = Path(item.fspath).relative_to(root).parts[0]
        except ValueError:
            continue
        if kind in _KINDS:
            item.add_marker(getattr(pytest.mark, kind))
