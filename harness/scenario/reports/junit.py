"""JUnit XML: the report every CI system already shows (test tab, failure annotations, history).

Written with junitparser rather than ElementTree by hand: it knows the Ant/Jenkins JUnit schema
(element order, the ``tests``/``failures``/``errors``/``skipped`` counts it keeps in step with
the cases), it has no dependencies of its own, and the tests read the file back with the same
library a CI plugin would use.

One ``<testsuite>`` per scenario; one ``<testcase>`` per step, named ``"<index>: <step name>"``
with the scenario as ``classname`` so CI groups a scenario's steps together and keeps their
order. The result's properties (target, backend, device profiles, component versions, commit)
become ``<properties>``, so a failing run in CI history says what it ran against.
"""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime
from pathlib import Path

from junitparser import Error, Failure, JUnitXml, Skipped, TestCase, TestSuite

from harness.scenario.result import ScenarioResult, StepResult, write_atomic

# XML 1.0 forbids most control characters, and terminal colour codes in a log excerpt are noise
# in a CI page; both are common in component logs.
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
#: JUnit viewers show the failure message on one line; the full text goes in the element body
_MESSAGE_MAX = 500


def xml_text(text: str) -> str:
    """``text`` without ANSI colour codes and without characters XML 1.0 cannot carry."""
    return _NOT_XML.sub("\ufffd", _ANSI.sub("", text))


def _one_line(text: str) -> str:
    line = " ".join(xml_text(text).split())
    return line if len(line) <= _MESSAGE_MAX else line[: _MESSAGE_MAX - 1] + "…"


def failure_text(step: StepResult) -> str:
    """The body of ``<failure>``/``<error>``: the message, the figures, then each log excerpt."""
    parts = [step.message] if step.message else []
    if step.details:
        parts.append("details:\n" + json.dumps(step.details, indent=2, sort_keys=True, default=str))
    for name, excerpt in step.logs.items():
        parts.append(f"--- {name} ---\n{excerpt.rstrip()}")
    return xml_text("\n\n".join(parts))


def _testcase(result: ScenarioResult, step: StepResult) -> TestCase:
    case = TestCase(
        name=xml_text(step.title), classname=xml_text(result.scenario), time=round(step.duration_s, 3)
    )
    if step.status in ("failed", "error"):
        outcome = (Failure if step.status == "failed" else Error)(
            _one_line(step.message), xml_text(step.kind)
        )
        outcome.text = failure_text(step)
        case.result = [outcome]
    elif step.status == "skipped":
        case.result = [Skipped(_one_line(step.message) or None)]
    out = [step.message] if step.message else []
    if step.details and step.status not in ("failed", "error"):  # failures carry them already
        out.append(json.dumps(step.details, sort_keys=True, default=str))
    if out:
        case.system_out = xml_text("\n".join(out))
    return case


def build_junit(result: ScenarioResult) -> JUnitXml:
    """The JUnit document of ``result`` (one suite), for writing or further editing."""
    suite = TestSuite(xml_text(result.scenario))
    suite.timestamp = datetime.fromtimestamp(result.started, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if result.properties.get("host"):
        suite.hostname = xml_text(result.properties["host"])
    fixed = {
        "scenario": result.scenario,
        "path": result.path,
        "target": result.target,
        "backend": result.backend,
    }
    for name, value in {**fixed, **result.properties}.items():
        suite.add_property(xml_text(name), xml_text(str(value)))
    for step in result.steps:
        suite.add_testcase(_testcase(result, step))
    xml = JUnitXml(xml_text(result.scenario))
    xml.add_testsuite(suite)
    xml.update_statistics()  # counts of the suite and of the whole document, from the cases
    # the time is the scenario's wall time (services, uploads …), not the sum of its steps
    suite.time = xml.time = round(result.duration_s, 3)
    return xml


def write_junit(result: ScenarioResult, path: str | Path) -> Path:
    """Write the JUnit XML of ``result`` to ``path`` (whole or not at all); returns the path."""
    target = Path(path)
    buffer = io.BytesIO()
    build_junit(result).write(buffer, pretty=True)
    write_atomic(target, buffer.getvalue())
    return target
