"""The HTML report rendered by a real browser: it draws, is not blank, and shows the verdict.

Parsing the HTML (tests/unit/test_scenario_reports.py) cannot tell whether the page *looks* right:
whether the inline SVGs scale, the CSS applies, the badge shows. Headless Chromium renders it to a
PNG, which is checked for its size, for not being blank, and for the FAILED badge's colour. Needs
the ``chromium`` binary (Debian package ``chromium``); skipped without it.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import signal
import subprocess
from pathlib import Path
from types import ModuleType

import cv2
import numpy as np
import pytest

from harness.scenario.reports import write_html
from harness.scenario.reports.html import BADGE_FAILED

pytestmark = pytest.mark.integration

WIDTH, HEIGHT = 1280, 3000
TIMEOUT_S = 90


def _browser() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("chromium not installed: apt-get install chromium")


def _sample_results() -> ModuleType:
    """The unit test's hand-built scenario result, so both tests look at the same run."""
    path = Path(__file__).resolve().parents[1] / "unit" / "test_scenario_reports.py"
    spec = importlib.util.spec_from_file_location("_scenario_report_samples", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _screenshot(browser: str, page: Path, png: Path, profile: Path) -> None:
    command = [
        browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
        "--disable-dev-shm-usage", "--disable-extensions", "--disable-background-networking",
        f"--user-data-dir={profile}", f"--screenshot={png}", f"--window-size={WIDTH},{HEIGHT}",
        page.as_uri(),
    ]  # fmt: skip
    # its own process group: Chromium forks zygote, GPU and renderer processes, and all of them
    # must go if it hangs
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True, env={**os.environ}
    )
    try:
        output, _ = process.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        pytest.fail(f"chromium did not finish the screenshot within {TIMEOUT_S} s")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # children that outlived the browser
    tail = output.decode(errors="replace")[-2000:]
    assert png.is_file(), f"chromium wrote no screenshot (exit {process.returncode}):\n{tail}"


def test_report_renders_in_chromium(tmp_path: Path) -> None:
    browser = _browser()
    page = write_html(_sample_results().make_result(), tmp_path / "report.html")
    png = tmp_path / "report.png"
    _screenshot(browser, page, png, tmp_path / "profile")

    image = cv2.imread(str(png), cv2.IMREAD_COLOR)
    assert image is not None, "the screenshot is not a readable PNG"
    assert image.shape[:2] == (HEIGHT, WIDTH)
    assert float(image.std()) > 20.0, "the page rendered (almost) blank"
    # the FAILED badge and the red top border, in the badge's colour (BGR in OpenCV)
    red = tuple(int(BADGE_FAILED[i : i + 2], 16) for i in (5, 3, 1))
    close = np.all(np.abs(image[:200].astype(int) - np.array(red)) <= 8, axis=2)
    assert int(close.sum()) > 2000, "no FAILED badge colour near the top of the page"
    # charts drew: plenty of distinct colours below the header (a blank SVG would leave few)
    colours = np.unique(image[400:].reshape(-1, 3) // 16, axis=0)
    assert len(colours) > 40
