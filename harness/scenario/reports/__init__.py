"""Reports of a scenario run, all written from one :class:`~harness.scenario.result.ScenarioResult`.

* :func:`write_junit` — JUnit XML for CI test tabs (one testcase per step);
* :func:`write_openmetrics` — OpenMetrics text for dashboards and run-to-run comparison;
* :func:`write_html` — one self-contained HTML page for a person (see docs/reports.md).

:func:`write_reports` writes the usual set into a report folder; each writer can also be called
alone (the runner's ``--junit FILE`` goes wherever CI wants it).
"""

from __future__ import annotations

from pathlib import Path

from harness.scenario.reports.html import render_html, write_html
from harness.scenario.reports.junit import build_junit, write_junit
from harness.scenario.reports.openmetrics import render_openmetrics, write_openmetrics
from harness.scenario.result import ScenarioResult

#: file names inside a report folder
HTML_NAME, METRICS_NAME, RESULT_NAME, JUNIT_NAME = "report.html", "metrics.txt", "result.json", "junit.xml"


def write_reports(
    result: ScenarioResult, directory: str | Path, *, junit: str | Path | None = None
) -> dict[str, Path]:
    """Write ``result.json``, ``report.html``, ``metrics.txt`` and the JUnit XML; returns {kind: path}.

    The JUnit file goes to ``junit`` if given, else ``junit.xml`` in ``directory``. ``result.json``
    comes first so that the run's facts survive even if a report cannot be drawn.
    """
    folder = Path(directory)
    return {
        "result": result.save(folder / RESULT_NAME),
        "html": write_html(result, folder / HTML_NAME),
        "openmetrics": write_openmetrics(result, folder / METRICS_NAME),
        "junit": write_junit(result, Path(junit) if junit is not None else folder / JUNIT_NAME),
    }


__all__ = [
    "build_junit",
    "render_html",
    "render_openmetrics",
    "write_html",
    "write_junit",
    "write_openmetrics",
    "write_reports",
]
