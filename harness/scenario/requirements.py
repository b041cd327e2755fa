"""What a scenario needs from its target, and the findings when the target lacks it.

Each step that acts on a device or a service needs a capability
(:class:`~harness.targets.capabilities.Capability`): ``assert_logs`` and ``after_log`` read
device logs, ``inject kill_device`` cuts a device's power, ``s3_outage`` needs an AWS endpoint
the harness runs, ``expect_iot_core`` reads the MQTT broker the harness runs in IoT Core's place
(real IoT Core cannot be read without the devices' own certificates) … A target that lacks one
refuses the scenario when it is loaded for it (``edge-harness lint scenario --target …``,
``edge-harness run --target …``), naming the step, its line and the capability, instead of
failing the step minutes into the run.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.errors import Diagnostic, DiagnosticReport
from harness.scenario import model as m
from harness.targets.capabilities import Capability
from harness.targets.choice import TargetChoice

__all__ = ["Need", "scenario_needs", "target_findings"]

#: device faults → the capability each needs
_DEVICE_FAULTS = {
    "kill_device": Capability.POWER,
    "restart_device": Capability.POWER,
    "pause_device": Capability.PAUSE,
    "partition_device": Capability.PARTITION,
}
#: a service fault's service → the capability it needs
_SERVICE_FAULTS = {
    "aws": Capability.EMULATED_AWS,
    "kafka": Capability.OWN_KAFKA,
    "triton": Capability.TRITON,
}
#: which targets have each capability (for hints): the built-in ones and a lab with the defaults
_WHO_HAS = {
    Capability.LOGS: "--target sim, --target lab",
    Capability.COMPONENT_STATES: "--target lab",
    Capability.COMPONENT_CONTROL: "--target lab",
    Capability.POWER: "--target sim, --target lab (a power switch in the lab manager)",
    Capability.PAUSE: "--target sim",
    Capability.PARTITION: "--target sim --backend docker, --target lab",
    Capability.RESOURCES: "--target lab",
    Capability.EMULATED_AWS: "--target sim, --target lab with aws: endpoint in the lab file",
    Capability.OWN_KAFKA: "--target sim, --target lab, without an external broker",
    Capability.TRITON: "--target sim",
    Capability.IOT_CORE: "--target sim (either backend)",
}


@dataclass(frozen=True)
class Need:
    """One capability the scenario needs: where (a JSON pointer and line) and why."""

    capability: Capability
    pointer: str
    line: int
    what: str  # "step 3 'kill it' (inject kill_device)"


def _step_label(index: int, step: m.Step) -> str:
    kind = f"inject {step.fault}" if isinstance(step, m.InjectStep) else step.kind
    return f"step {index + 1} {step.name!r} ({kind})"


def scenario_needs(scenario: m.Scenario) -> list[Need]:
    """Every capability the scenario needs, in the order of the file."""
    needs: list[Need] = []
    if scenario.services.triton is not None:
        needs.append(Need(Capability.TRITON, "/services/triton", 0, "services.triton"))
    for index, step in enumerate(scenario.steps):
        at, label = f"/steps/{index}", _step_label(index, step)
        for capability, pointer in _step_needs(step, at):
            needs.append(Need(capability, pointer, step.line, label))
    return needs


def _step_needs(step: m.Step, at: str) -> list[tuple[Capability, str]]:
    if isinstance(step, m.AssertLogsStep):
        return [(Capability.LOGS, at)]
    if isinstance(step, m.ExpectIotCoreStep):
        return [(Capability.IOT_CORE, at)]
    if not isinstance(step, m.InjectStep):
        return []
    found = [(Capability.LOGS, f"{at}/after_log")] if step.after_log is not None else []
    if step.fault in _DEVICE_FAULTS:
        found.append((_DEVICE_FAULTS[step.fault], at))
    elif step.service_action is not None and step.service in _SERVICE_FAULTS:
        found.append((_SERVICE_FAULTS[step.service], at))
    elif step.fault == "s3_outage":
        found.append((Capability.EMULATED_AWS, at))
    return found


def target_findings(scenario: m.Scenario, target: TargetChoice) -> DiagnosticReport:
    """An error for each need of the scenario that ``target`` cannot meet."""
    report = DiagnosticReport()
    for need in scenario_needs(scenario):
        if need.capability in target.capabilities:
            continue
        report.add(
            Diagnostic(
                "error",
                str(scenario.path),
                f"at {need.pointer}: {need.what} needs {need.capability.value}, which {target.label} "
                "does not have",
                location=str(need.line) if need.line else "",
                hint=f"targets with {need.capability.value}: {_WHO_HAS[need.capability]}",
            )
        )
    return report
