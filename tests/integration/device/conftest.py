"""Fixtures of the device tests."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def device_root() -> Iterator[Path]:
    """A device root any user can reach (pytest's own temporary folders are owner-only, and
    component scripts run as an unprivileged user when the tests run as root)."""
    base = Path(tempfile.mkdtemp(prefix="edge-harness-device-"))
    os.chmod(base, 0o755)
    try:
        yield base / "greengrass" / "v2"
    finally:
        shutil.rmtree(base, ignore_errors=True)
