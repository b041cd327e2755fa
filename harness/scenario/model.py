"""The typed form of a scenario file, what the runner works from.

Every class is a frozen dataclass: a loaded scenario is a value that steps read but never change.
:func:`harness.scenario.load.load_scenario` builds it only after the file passed every check, so
the runner can rely on what the checks promise (a deploy step's versions are listed under
``components``, a ``wait_for`` deployment names an earlier deploy step, thing names exist, every
file exists, ``${…}`` names are known) and defaults are filled in (``schema.DEFAULTS``).

Strings may hold ``${…}`` references (:mod:`harness.scenario.variables`); they are kept as
written, because their values (ports, the bucket) exist only while the scenario runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

from harness.scenario.variables import references

__all__ = [
    "AccuracySpec",
    "AssertLogsStep",
    "ComponentDeploySpec",
    "ComponentVersionSpec",
    "DeployStep",
    "DeviceSpec",
    "Devices",
    "ExpectIotCoreStep",
    "ExpectMessagesStep",
    "ExpectShadowStep",
    "ImprovesOn",
    "InjectStep",
    "LogTrigger",
    "Predicate",
    "Scenario",
    "SequenceSpec",
    "ServicesSpec",
    "SetSecretStep",
    "SleepStep",
    "SnapshotStep",
    "Step",
    "TritonSpec",
    "UpdateShadowStep",
    "WaitForStep",
    "WorldSpec",
]

#: Which devices a step looks at: "all", "any", or the thing names.
Devices = str | tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class TritonSpec:
    """``services.triton``: a Triton server for the scenario, serving ``models`` (absolute)."""

    models: Path


@dataclass(frozen=True, kw_only=True)
class ServicesSpec:
    """``services``: how to run things and which broker to use."""

    backend: str = "process"
    kafka_external: str | None = None  # host:port of a running broker; None = start one
    topics: tuple[str, ...] = ()
    triton: TritonSpec | None = None  # None: no Triton server is started
    #: docker backend: service or "device" → image to run; None policy = $EDGE_HARNESS_IMAGE_POLICY
    images: dict[str, str] = field(default_factory=dict)
    image_policy: str | None = None
    #: ``services.aws``: check credentials as AWS does; the artifact bucket's policy file
    aws_enforce: bool = False
    aws_bucket_policy: Path | None = None


@dataclass(frozen=True, kw_only=True)
class WorldSpec:
    """``world``: the synthetic world whose clip the app plays (ground truth for accuracy)."""

    seed: int = 0
    seconds: float = 10


@dataclass(frozen=True, kw_only=True)
class DeviceSpec:
    """One ``devices`` entry: ``count`` core devices of one profile in one thing group."""

    name: str
    count: int = 1
    profile: str = "x86-64-host"
    thing_group: str

    @property
    def things(self) -> list[str]:
        """Thing names ``<name>-1`` … ``<name>-<count>``."""
        return [f"{self.name}-{n}" for n in range(1, self.count + 1)]


@dataclass(frozen=True, kw_only=True)
class ComponentVersionSpec:
    """One component version to publish: its recipe and, if it has artifacts, their spec."""

    name: str
    version: str
    recipe: Path  # absolute
    artifact: Path | None = None  # absolute; None for a recipe without artifacts


@dataclass(frozen=True, kw_only=True)
class ComponentDeploySpec:
    """One component of a deploy step: version and configurationUpdate (reset, then merge)."""

    version: str
    merge: dict[str, Any] | None = None
    reset: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Predicate:
    """One ``where`` entry. Exactly one of ``equals``, ``matches``, ``min_items`` (each with
    ``path``) or ``object_label_in`` (without ``path``) is set; ``op`` says which."""

    path: str | None = None
    equals: Any = None
    matches: str | None = None
    min_items: int | None = None
    object_label_in: tuple[str, ...] | None = None
    line: int = 0

    @property
    def op(self) -> str:
        for name in ("equals", "matches", "min_items", "object_label_in"):
            if getattr(self, name) is not None:
                return name
        raise AssertionError("a predicate without an operator passed the checks")


@dataclass(frozen=True, kw_only=True)
class AccuracySpec:
    """Bounds on the scores against the world's truth; None = not checked."""

    min_roi_precision: float | None = None
    min_roi_recall: float | None = None
    min_class_accuracy: float | None = None
    max_count_error: float | None = None
    improves_on: ImprovesOn | None = None


@dataclass(frozen=True, kw_only=True)
class ImprovesOn:
    """``accuracy.improves_on``: each of ``metrics`` strictly better than the figures of the
    earlier expect_messages step ``step`` (an id) — e.g. an OTA update's new detector against the
    one it replaced, scored on the same clip."""

    step: str
    metrics: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class Step:
    """What every step has. ``line`` is the 1-based line of the step in the file (for reports);
    ``name`` defaults to ``<kind>-<index>`` (index as in /steps/<index>), ``id`` to ``name``."""

    kind: str
    name: str
    id: str
    line: int
    continue_on_failure: bool = False


@dataclass(frozen=True, kw_only=True)
class DeployStep(Step):
    target: str  # a thing group name, or "thing:<thing name>"
    components: dict[str, ComponentDeploySpec]
    failure_handling: str = "ROLLBACK"
    timeout_s: int | None = None  # componentUpdatePolicy timeoutInSeconds; None = the service's


@dataclass(frozen=True, kw_only=True)
class WaitForStep(Step):
    """``what`` says which of deployment / component / device the step waits for; the fields of
    the other two are None. ``status`` is filled in (SUCCEEDED, HEALTHY) where it applies."""

    what: str  # "deployment" | "component" | "device"
    deployment: str | None = None  # id of an earlier deploy step
    status: str | None = None
    reason_contains: str | None = None
    component: str | None = None
    state: str | None = None
    version: str | None = None
    devices: Devices = "all"
    timeout_s: float = 120


@dataclass(frozen=True, kw_only=True)
class SequenceSpec:
    """``expect_messages.sequence``: the number at ``field`` goes up by ``step`` per message,
    separately for each value at ``per`` (None: one sequence for the topic)."""

    field: str
    per: str | None = None
    step: float = 1


@dataclass(frozen=True, kw_only=True)
class ExpectMessagesStep(Step):
    """``min_count`` is 1 when neither it nor ``min_rate_per_s`` was given."""

    topic: str
    within_s: float
    min_count: int | None = None
    min_rate_per_s: float | None = None
    schema: str = "minimal"
    where: tuple[Predicate, ...] = ()
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None
    accuracy: AccuracySpec | None = None
    max_gap_s: float | None = None
    max_outage_s: float | None = None
    match: str = "all"  # "all": every message satisfies every predicate; "any": one message does
    sequence: SequenceSpec | None = None


@dataclass(frozen=True, kw_only=True)
class AssertLogsStep(Step):
    """Exactly one of ``component``/``source`` and one of ``contains``/``regex`` is set."""

    component: str | None = None
    source: str | None = None  # "greengrass": the nucleus log
    contains: str | None = None
    regex: str | None = None
    within_s: float
    absent: bool = False
    from_start: bool = False  # True: the whole log; False: lines written after the step started
    devices: Devices = "all"


@dataclass(frozen=True, kw_only=True)
class LogTrigger:
    """``inject.after_log``: wait for a line (``contains`` or ``regex``, one is set) in the logs of
    ``devices`` — a component's log, or the nucleus log when ``component`` is None — then inject.
    ``devices`` is filled in: the step's device if it has one, else "all"."""

    contains: str | None = None
    regex: str | None = None
    devices: Devices = "all"
    component: str | None = None
    within_s: float = 120


@dataclass(frozen=True, kw_only=True)
class InjectStep(Step):
    """``service`` is filled in for the legacy names too (stop_kafka → kafka, stop_triton →
    triton), so the runner reads one field; see :attr:`service_action`."""

    fault: str
    device: str | None = None  # kill_device, restart_device, pause_device, partition_device
    service: str | None = None  # pause_service, stop_service, kill_service, stop_kafka, stop_triton
    duration_s: float | None = None
    status: int | None = None  # s3_outage: the HTTP status (503 when not given)
    component: str | None = None  # replace_artifact
    version: str | None = None  # replace_artifact
    file: Path | None = None  # replace_artifact; absolute
    after_log: LogTrigger | None = None

    @property
    def service_action(self) -> str | None:
        """``pause``, ``stop`` or ``kill`` for a service fault, None for the others."""
        if self.fault in ("stop_kafka", "stop_triton"):
            return "stop"
        if self.fault.endswith("_service"):
            return self.fault.removesuffix("_service")
        return None


@dataclass(frozen=True, kw_only=True)
class SleepStep(Step):
    seconds: float


@dataclass(frozen=True, kw_only=True)
class SnapshotStep(Step):
    """Frames of a video stream (the app's RTSP output) kept as report thumbnails."""

    url: str
    frames: int = 1
    timeout_s: float = 30.0


@dataclass(frozen=True, kw_only=True)
class ExpectIotCoreStep(Step):
    """MQTT messages devices sent to IoT Core on ``topic`` (a filter); ``where`` as for Kafka."""

    topic: str
    within_s: float
    min_count: int = 1
    where: tuple[Predicate, ...] = ()
    match: str = "all"
    from_start: bool = True


@dataclass(frozen=True, kw_only=True)
class SetSecretStep(Step):
    """Create or update the Secrets Manager secret ``secret`` with the string ``value``."""

    secret: str
    value: str


@dataclass(frozen=True, kw_only=True)
class UpdateShadowStep(Step):
    """``state`` ({desired, reported}) into the shadow of ``thing`` (``shadow`` None: classic)."""

    thing: str
    shadow: str | None = None
    state: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class ExpectShadowStep(Step):
    """The shadow of ``thing`` satisfies every predicate of ``where`` within ``within_s``."""

    thing: str
    shadow: str | None = None
    where: tuple[Predicate, ...] = ()
    within_s: float


@dataclass(frozen=True, kw_only=True)
class Scenario:
    """A whole scenario file. ``path`` is the file (absolute); ``variables`` are the user
    variables (``${var.NAME}``) as text, possibly referring to built-in names."""

    name: str
    description: str = ""
    path: Path
    services: ServicesSpec = field(default_factory=ServicesSpec)
    world: WorldSpec | None = None
    devices: tuple[DeviceSpec, ...]
    components: dict[str, dict[str, ComponentVersionSpec]] = field(default_factory=dict)
    variables: dict[str, str] = field(default_factory=dict)
    steps: tuple[Step, ...]

    @property
    def things(self) -> list[str]:
        """Every thing name, in the order of ``devices`` (``${device.<n>.thing}`` is the n-th)."""
        return [thing for device in self.devices for thing in device.things]

    @property
    def thing_groups(self) -> list[str]:
        """The thing groups of the devices, each once, in order."""
        return list(dict.fromkeys(device.thing_group for device in self.devices))

    def device_of(self, thing: str) -> DeviceSpec:
        """The ``devices`` entry a thing belongs to; KeyError for an unknown thing."""
        for device in self.devices:
            if thing in device.things:
                return device
        raise KeyError(thing)

    def step(self, step_id: str) -> Step:
        """The step with this id; KeyError if there is none."""
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)

    def references(self) -> list[str]:
        """Every ``${…}`` name used anywhere in the scenario, sorted, each once — e.g. to know
        which ``free_port.<name>`` ports to allocate before substituting."""
        found: set[str] = set()
        for item in fields(self):
            if item.name != "description":  # free text, not substituted
                _collect(getattr(self, item.name), found)
        return sorted(found)


def _collect(value: Any, found: set[str]) -> None:
    if isinstance(value, str):
        found.update(references(value))
    elif is_dataclass(value) and not isinstance(value, type):
        for item in fields(value):
            _collect(getattr(value, item.name), found)
    elif isinstance(value, dict):
        for item in value.values():
            _collect(item, found)
    elif isinstance(value, list | tuple):
        for item in value:
            _collect(item, found)
