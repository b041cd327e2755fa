"""What a lab target read on its devices reaches result.json and the HTML report."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.scenario.reports import write_html
from harness.scenario.result import ScenarioResult

pytestmark = pytest.mark.unit


def _result() -> ScenarioResult:
    result = ScenarioResult("traffic-ota", "s.yaml", "lab", "labgrid", 1_800_000_000.0)
    sample = {
        "time": 1.0,
        "cpu_percent": 20.0,
        "gpu_percent": 40.0,
        "ram_used_mb": 2900.0,
        "ram_total_mb": 31009.0,
    }
    result.device_reports = {
        "jetson-1": {
            "place": "xavier-1",
            "components": [{"name": "nvds-awsgg-deployment", "version": "1.0.1", "state": "RUNNING"}],
            "resources": [
                {**sample, "temperature_c": {"CPU": 41.5, "GPU": 39.0}},
                {
                    **sample,
                    "cpu_percent": 60.0,
                    "gpu_percent": 80.0,
                    "ram_used_mb": 3100.0,
                    "temperature_c": {"CPU": 44.0},
                },
            ],
        },
        "jetson-2": {
            "place": "xavier-2",
            "components_error": "the device was left powered off",
            "resources": [],
        },
    }
    return result


def test_device_reports_survive_result_json() -> None:
    result = _result()
    assert ScenarioResult.from_dict(result.to_dict()).device_reports == result.device_reports


def test_the_html_report_sums_up_each_device(tmp_path: Path) -> None:
    write_html(_result(), tmp_path / "report.html")
    html = (tmp_path / "report.html").read_text()
    assert '<section id="devices">' in html
    row = (
        '<tr><td>jetson-1</td><td class="num">2</td><td class="num">40 / 60</td><td class="num">60 / 80</td>'
        '<td class="num">3100 of 31009</td><td class="num">44.0</td>'
        "<td>nvds-awsgg-deployment 1.0.1 RUNNING</td></tr>"
    )
    assert row in html
    assert '<td>jetson-2</td><td class="num">0</td>' in html and "the device was left powered off" in html
    # a run without device reports has no such section
    plain = ScenarioResult("s", "s.yaml", "sim", "process", 1_800_000_000.0)
    write_html(plain, tmp_path / "plain.html")
    assert 'id="devices"' not in (tmp_path / "plain.html").read_text()
