"""JSON Schema of scenario files (``scenarios/*.yaml``), the single source of the format's shape.

The schema is kept as Python data so that the loader, the defaults of the typed model and the
copy that editors read (``schemas/scenario.schema.json``) cannot disagree: the JSON file is
generated from :data:`SCENARIO_SCHEMA` by ``python -m harness.scenario.schema`` and a unit test
fails when the two drift. Every property carries a ``description`` (editors show it as help on
hover and in completion) and, where the loader fills one in, its ``default``.

Steps are a ``oneOf`` told apart by the ``kind`` constant: :func:`harness.yamldoc.schema_errors`
then reports the errors of the branch the step names instead of "not valid under any of the given
schemas". Rules that need more than one place of the file (a deploy step's component version must
be listed under ``components``, a target must be a known thing group, …) are checked by
:mod:`harness.scenario.load`, not here.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from harness.world_bounds import MAX_SECONDS, SECONDS_HINT, SECONDS_SCHEMA, SEED_SCHEMA

__all__ = [
    "BACKENDS",
    "COMPONENT_STATES",
    "DEFAULTS",
    "DEPLOYMENT_STATUSES",
    "DEVICE_STATUSES",
    "FAILURE_HANDLING",
    "FAULTS",
    "FAULT_SERVICES",
    "LOG_SOURCES",
    "MATCH_MODES",
    "MESSAGE_SCHEMAS",
    "SCENARIO_SCHEMA",
    "STEP_KINDS",
    "schema_json",
]

BACKENDS = ("process", "docker")
FAILURE_HANDLING = ("ROLLBACK", "DO_NOTHING")
# coreDeviceExecutionStatus of ListEffectiveDeployments (what a core device reports for a deployment).
DEPLOYMENT_STATUSES = (
    "IN_PROGRESS",
    "QUEUED",
    "FAILED",
    "COMPLETED",
    "TIMED_OUT",
    "CANCELED",
    "REJECTED",
    "SUCCEEDED",
)
# GetCoreDevice status.
DEVICE_STATUSES = ("HEALTHY", "UNHEALTHY")
# Lifecycle states of a component on a core device (Lifecycle.java, docs/device.md).
COMPONENT_STATES = ("NEW", "INSTALLED", "STARTING", "RUNNING", "STOPPING", "ERRORED", "BROKEN", "FINISHED")
MESSAGE_SCHEMAS = ("minimal", "full", "none")
MATCH_MODES = ("all", "any")
#: accuracy figures ``accuracy.improves_on`` compares; for count_error lower is better
ACCURACY_METRICS = ("roi_precision", "roi_recall", "class_accuracy", "count_error")
FAULTS = (
    "kill_device",
    "restart_device",
    "pause_device",
    "partition_device",
    "pause_service",
    "stop_service",
    "kill_service",
    "stop_kafka",
    "stop_triton",
    "s3_outage",
    "replace_artifact",
)
#: the services a fault may name (services.triton must declare the Triton server)
FAULT_SERVICES = ("kafka", "triton", "aws")
LOG_SOURCES = ("greengrass",)
STEP_KINDS = (
    "deploy",
    "wait_for",
    "expect_messages",
    "assert_logs",
    "inject",
    "sleep",
    "snapshot",
    "expect_iot_core",
    "set_secret",
    "update_shadow",
    "expect_shadow",
)

#: Core devices one ``devices`` entry may ask for: each simulated one runs its own nucleus
#: processes, so a count in the thousands is a typo that would exhaust the machine, not a fleet.
MAX_DEVICE_COUNT = 100

#: What the loader fills in for an absent key; the schema's ``default`` annotations come from here.
DEFAULTS: dict[str, Any] = {
    "backend": "process",
    "world_seed": 0,
    "world_seconds": 10,
    "device_count": 1,
    "device_profile": "x86-64-host",
    "continue_on_failure": False,
    "failure_handling": "ROLLBACK",
    "deployment_status": "SUCCEEDED",
    "device_status": "HEALTHY",
    "component_state": "RUNNING",
    "devices": "all",
    "wait_timeout_s": 120,
    "min_count": 1,
    "message_schema": "minimal",
    "match": "all",
    "absent": False,
    "from_start": False,
    "after_log_within_s": 120,
    "sequence_step": 1,
    "outage_status": 503,
    "iot_core_from_start": True,
}

_DRAFT = "https://json-schema.org/draft/2020-12/schema"

# AWS IoT names: thing names and thing-group names are [a-zA-Z0-9:_-]+, at most 128 characters.
# A device's name is the prefix of its things (<name>-<n>), so it leaves room for the number
# and has no ':' (``thing:<name>`` targets are split at the first colon).
_DEVICE_NAME = r"^[A-Za-z0-9_-]+$"
_GROUP_NAME = r"^[A-Za-z0-9:_-]+$"
# Greengrass component names (component-common ComponentRecipe.java COMPONENT_NAME_PATTERN).
_COMPONENT_NAME = r"^[A-Za-z0-9._-]+$"
_VARIABLE_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
# Kafka topic names, with ${…} references allowed in them.
_TOPIC = r"^(?:[A-Za-z0-9._-]|\$\{[^{}]*\})+$"


def _seconds(description: str, **extra: Any) -> dict[str, Any]:
    return {"type": "number", "exclusiveMinimum": 0, "description": description, **extra}


def _text(description: str, **extra: Any) -> dict[str, Any]:
    return {"type": "string", "minLength": 1, "description": description, **extra}


_DEVICES = {
    "type": ["string", "array"],
    "minLength": 1,
    "minItems": 1,
    "items": {"type": "string", "minLength": 1, "description": "a thing name, e.g. jetson-1"},
    "description": (
        "Which core devices: 'all' (every one must satisfy the step), 'any' (one is enough), "
        "a thing name, or a list of thing names (each must satisfy it). Things are named "
        "<device name>-<n>, n from 1."
    ),
    "default": DEFAULTS["devices"],
}

_COMMON_STEP_PROPERTIES: dict[str, Any] = {
    "name": _text(
        "Name shown in reports. Default: the kind and the step's index in the list, e.g. 'deploy-0'."
    ),
    "id": _text(
        "Handle by which other steps refer to this one (wait_for: {deployment: <id>}). "
        "Default: the step's name. Ids must be unique."
    ),
    "continue_on_failure": {
        "type": "boolean",
        "default": DEFAULTS["continue_on_failure"],
        "description": "Run the next steps even if this one fails (the scenario still fails).",
    },
}


def _step(kind: str, description: str, properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    """One ``oneOf`` branch: ``kind`` const plus the properties every step has."""
    return {
        "type": "object",
        "title": kind,
        "description": description,
        "additionalProperties": False,
        "required": ["kind", *required],
        "properties": {
            "kind": {"const": kind, "description": f"Step kind: {description}"},
            **_COMMON_STEP_PROPERTIES,
            **properties,
        },
    }


_DEPLOY = _step(
    "deploy",
    "create a Greengrass deployment of component versions listed under components.",
    {
        "target": _text(
            "Thing group name of one of the devices (a thing-group deployment), or "
            "'thing:<thing name>' (a deployment to one core device)."
        ),
        "components": {
            "type": "object",
            "minProperties": 1,
            "description": "Component name → version and configuration update for this deployment.",
            "propertyNames": {"pattern": _COMPONENT_NAME},
            "additionalProperties": {
                "type": "object",
                "additionalProperties": False,
                "required": ["version"],
                "description": "The version to deploy and its configuration update.",
                "properties": {
                    "version": _text("Component version; must be listed under components.<name>."),
                    "configuration": {
                        "type": "object",
                        "additionalProperties": False,
                        "description": (
                            "configurationUpdate of the deployment: reset runs first, then merge."
                        ),
                        "properties": {
                            "merge": {
                                "type": "object",
                                "description": (
                                    "Configuration merged into the component's (strings may use ${…})."
                                ),
                            },
                            "reset": {
                                "type": "array",
                                "description": (
                                    "JSON pointers of keys reset to the recipe's defaults; "
                                    "'' resets everything."
                                ),
                                "items": {
                                    "type": "string",
                                    "pattern": r"^(/.*)?$",
                                    "description": "a JSON pointer such as /RtspPort",
                                },
                            },
                        },
                    },
                },
            },
        },
        "failure_handling": {
            "enum": list(FAILURE_HANDLING),
            "default": DEFAULTS["failure_handling"],
            "description": (
                "failureHandlingPolicy: ROLLBACK restores the previous configuration when the "
                "deployment fails; DO_NOTHING leaves the device as it is."
            ),
        },
        "timeout_s": {
            "type": "integer",
            "minimum": 1,
            "description": (
                "componentUpdatePolicy timeoutInSeconds: how long components may take to agree "
                "to the update. Default: the service's (60 s)."
            ),
        },
    },
    ["target", "components"],
)

_WAIT_FOR = _step(
    "wait_for",
    "wait until a deployment, a component or a core device reaches a status.",
    {
        "deployment": _text(
            "Id of an earlier deploy step: wait until the deployment has a final status on "
            "each of its devices, then check it."
        ),
        "component": _text("Component name (listed under components): wait for its state."),
        "device": {
            **_DEVICES,
            "description": (
                "Wait for the status of core devices: 'all', 'any', a thing name or a list of thing names."
            ),
        },
        "status": {
            "enum": [*DEPLOYMENT_STATUSES, *DEVICE_STATUSES],
            "description": (
                "With deployment: the status each device must report (coreDeviceExecutionStatus; "
                "default SUCCEEDED). With device: HEALTHY or UNHEALTHY (default HEALTHY)."
            ),
        },
        "reason_contains": _text(
            "With deployment: a text the status reason must contain, e.g. FAILED_ROLLBACK_COMPLETE."
        ),
        "state": {
            "enum": list(COMPONENT_STATES),
            "default": DEFAULTS["component_state"],
            "description": "With component: the lifecycle state to wait for.",
        },
        "version": _text("With component: the version that must be in that state."),
        "devices": {
            **_DEVICES,
            "description": (
                "With component: on which core devices — 'all' (each), 'any' (one is enough), a "
                "thing name or a list of thing names."
            ),
        },
        "timeout_s": _seconds(
            "Give up (the step fails) after this many seconds.", default=DEFAULTS["wait_timeout_s"]
        ),
    },
    [],
)

_PREDICATE = {
    "type": "object",
    "additionalProperties": False,
    "minProperties": 1,
    "description": (
        "A check on each message: path plus one of equals, matches, min_items; or object_label_in alone."
    ),
    "properties": {
        "path": _text(
            "Where in the JSON message: dotted keys, [n] for an item, [*] for every item, "
            "e.g. sensorId, objects[0], objects[*]."
        ),
        "equals": {
            "type": ["string", "number", "boolean", "array", "object"],
            "description": "Every value at path equals this.",
        },
        "matches": _text("A regular expression (Python re.search) every string at path matches."),
        "min_items": {
            "type": "integer",
            "minimum": 0,
            "description": "The list at path has at least this many items.",
        },
        "object_label_in": {
            "type": "array",
            "minItems": 1,
            "items": {"type": "string", "minLength": 1},
            "description": "Every object of a minimal-schema message has one of these labels.",
        },
    },
}

_EXPECT_MESSAGES = _step(
    "expect_messages",
    "read a Kafka topic for a while and check the messages.",
    {
        "topic": _text("Kafka topic (may use ${…})."),
        "within_s": _seconds("Length of the window, starting when the step starts."),
        "min_count": {
            "type": "integer",
            "minimum": 0,
            "description": (
                "At least this many messages in the window. Default 1 unless min_rate_per_s is given."
            ),
        },
        "min_rate_per_s": _seconds("At least this many messages per second over the window."),
        "schema": {
            "enum": list(MESSAGE_SCHEMAS),
            "default": DEFAULTS["message_schema"],
            "description": (
                "Shape every message must have: DeepStream's minimal schema (payload-type 1), "
                "its full schema (payload-type 0), or none (any JSON)."
            ),
        },
        "where": {
            "type": "array",
            "description": "Predicates on the messages' content (see match).",
            "items": _PREDICATE,
        },
        "match": {
            "enum": list(MATCH_MODES),
            "default": DEFAULTS["match"],
            "description": (
                "all: every message satisfies every predicate of where; any: at least one "
                "message satisfies all of them."
            ),
        },
        "latency": {
            "type": "object",
            "additionalProperties": False,
            "minProperties": 1,
            "description": "Frame→Kafka latency budgets (receive time − the message's @timestamp).",
            "properties": {
                "p50_ms": _seconds("Median latency at most this many milliseconds."),
                "p95_ms": _seconds("95th percentile latency at most this many milliseconds."),
            },
        },
        "accuracy": {
            "type": "object",
            "additionalProperties": False,
            "minProperties": 1,
            "description": "Scores against the ground truth of the scenario's world (needs world).",
            "properties": {
                "min_roi_precision": {
                    "type": "number",
                    "minimum": 0,
                    "maximum": 1,
                    "description": "Precision of ROI entry events at least this.",
                },
                "min_roi_recall": {
                    "type": "number",
                    "minimum": 0,
                    "maximum": 1,
                    "description": "Recall of ROI entry events at least this.",
                },
                "min_class_accuracy": {
                    "type": "number",
                    "minimum": 0,
                    "maximum": 1,
                    "description": (
                        "Share of the objects rightly reported in the ROI whose label is the vehicle's "
                        "class at least this (a label that is not a world class, like 'vehicle', is "
                        "never right)."
                    ),
                },
                "max_count_error": {
                    "type": "number",
                    "minimum": 0,
                    "description": "Relative error of the vehicle count at most this (0.25 = 25 %).",
                },
                "improves_on": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["step", "metrics"],
                    "description": (
                        "Each of metrics strictly better than in an earlier expect_messages step with "
                        "accuracy (lower for count_error): e.g. the detector an OTA update ships "
                        "against the one it replaces, on the same clip."
                    ),
                    "properties": {
                        "step": _text("Id of an earlier expect_messages step that has accuracy."),
                        "metrics": {
                            "type": "array",
                            "minItems": 1,
                            "uniqueItems": True,
                            "items": {"enum": list(ACCURACY_METRICS)},
                            "description": "The figures that must improve.",
                        },
                    },
                },
            },
        },
        "max_gap_s": _seconds("No stretch of the window longer than this without a message."),
        "max_outage_s": _seconds(
            "The topic's silence that the window's first message ends — from the last message received "
            "before the window (the old version's last one, across an update), or from the window's "
            "start if there was none — at most this many seconds."
        ),
        "sequence": {
            "type": "object",
            "additionalProperties": False,
            "required": ["field"],
            "description": (
                "No loss, no duplicates: per group, the numbers at field (e.g. DeepStream's frame "
                "number, id) have no duplicates and no gap larger than step, counting on from the "
                "group's last value received before the window."
            ),
            "properties": {
                "field": _text(
                    "Path of a number in each message (an integer or a string of digits), e.g. id "
                    "(the minimal schema's frame number)."
                ),
                "per": _text(
                    "Path of the value that groups the messages (one sequence per sender), e.g. "
                    "sensorId. Default: one sequence for the whole topic."
                ),
                "step": _seconds(
                    "The expected increment between consecutive values; a larger one is a gap "
                    "(messages lost).",
                    default=DEFAULTS["sequence_step"],
                ),
            },
        },
    },
    ["topic", "within_s"],
)

_ASSERT_LOGS = _step(
    "assert_logs",
    "look for a line in a component's log or the nucleus log of the devices.",
    {
        "component": _text("Component whose log (logs/<component>.log) is searched."),
        "source": {
            "enum": list(LOG_SOURCES),
            "description": "greengrass: the nucleus log (logs/greengrass.log) instead of a component's.",
        },
        "contains": _text("A text the line contains (may use ${…})."),
        "regex": _text("A regular expression (Python re.search) the line matches."),
        "within_s": _seconds("How long to wait for the line; with absent: how long it must stay away."),
        "absent": {
            "type": "boolean",
            "default": DEFAULTS["absent"],
            "description": "true: the line must NOT appear within within_s.",
        },
        "from_start": {
            "type": "boolean",
            "default": DEFAULTS["from_start"],
            "description": (
                "true: search the whole log, from the device's first line; false: only lines "
                "written after the step started."
            ),
        },
        "devices": _DEVICES,
    },
    ["within_s"],
)

_AFTER_LOG = {
    "type": "object",
    "additionalProperties": False,
    "minProperties": 1,
    "description": (
        "Inject only once this line appears in a device log (lines written after the previous "
        "step ended), e.g. to kill a device while it installs; the step fails if it does not "
        "appear within within_s."
    ),
    "properties": {
        "contains": _text("A text the line contains (may use ${…})."),
        "regex": _text("A regular expression (Python re.search) the line matches."),
        "device": {
            **{key: value for key, value in _DEVICES.items() if key != "default"},
            "description": (
                "Whose log: 'all' (the line in each device's log), 'any' (one is enough), a thing "
                "name or a list. Default: the step's device, else all."
            ),
        },
        "component": _text(
            "The component whose log (logs/<component>.log) is watched. Default: the nucleus log "
            "(logs/greengrass.log)."
        ),
        "within_s": _seconds(
            "How long to wait for the line before the step fails.", default=DEFAULTS["after_log_within_s"]
        ),
    },
}

_INJECT = _step(
    "inject",
    "make something go wrong.",
    {
        "fault": {
            "enum": list(FAULTS),
            "description": (
                "kill_device: SIGKILL a core device (with duration_s it is started again after "
                "that long); restart_device: kill and start it again; pause_device: freeze it for "
                "duration_s; partition_device: cut it off the network for duration_s (docker "
                "backend); pause_service, stop_service, kill_service: freeze, stop or SIGKILL "
                "service (with duration_s it is resumed or restarted after that long); stop_kafka, "
                "stop_triton: stop_service of kafka or triton; s3_outage: S3 requests fail with "
                "status for duration_s; replace_artifact: replace the uploaded ZIP of "
                "component@version with file."
            ),
        },
        "device": _text(
            "kill_device, restart_device, pause_device, partition_device: the thing name (may use ${…})."
        ),
        "service": {
            "enum": list(FAULT_SERVICES),
            "description": (
                "pause_service, stop_service, kill_service: which service (triton needs services.triton)."
            ),
        },
        "duration_s": _seconds(
            "How long the fault lasts; then the device or service is resumed or started again. "
            "Without it a stopped or killed device or service stays down."
        ),
        "status": {
            "type": "integer",
            "minimum": 400,
            "maximum": 599,
            "default": DEFAULTS["outage_status"],
            "description": "s3_outage: the HTTP status S3 requests get (503: ServiceUnavailable).",
        },
        "component": _text("replace_artifact: the component."),
        "version": _text("replace_artifact: the version whose uploaded ZIP is replaced."),
        "file": _text("replace_artifact: the file uploaded instead, relative to the scenario file."),
        "after_log": _AFTER_LOG,
    },
    ["fault"],
)

_SLEEP = _step(
    "sleep",
    "wait a fixed time.",
    {"seconds": _seconds("How long to wait.")},
    ["seconds"],
)

_EXPECT_IOT_CORE = _step(
    "expect_iot_core",
    "check the MQTT messages core devices sent to IoT Core on a topic filter (PublishToIoTCore).",
    {
        "topic": _text(
            "MQTT topic filter (+ one level, # the rest), e.g. fleet/${device.1.thing}/telemetry "
            "(may use ${…})."
        ),
        "within_s": _seconds("How long to wait for the messages, from the step's start."),
        "min_count": {
            "type": "integer",
            "minimum": 1,
            "default": DEFAULTS["min_count"],
            "description": "At least this many messages (that satisfy where, per match).",
        },
        "where": {
            "type": "array",
            "description": (
                "Predicates on the JSON payloads (see match); a payload that is not JSON fails them."
            ),
            "items": _PREDICATE,
        },
        "match": {
            "enum": list(MATCH_MODES),
            "default": DEFAULTS["match"],
            "description": (
                "all: every message must satisfy where, and min_count of them arrive; any: min_count "
                "messages that satisfy where arrive (others are ignored)."
            ),
        },
        "from_start": {
            "type": "boolean",
            "default": DEFAULTS["iot_core_from_start"],
            "description": (
                "true: count messages since the services started (the harness subscribes to every "
                "expect_iot_core filter before the devices boot); false: only those after the step started."
            ),
        },
    },
    ["topic", "within_s"],
)

_SET_SECRET = _step(
    "set_secret",
    "create a secret in Secrets Manager, or give it a new value (its ARN is then ${secret.<name>.arn}).",
    {
        "secret": _text("The secret's name, e.g. db-password.", pattern=r"^[A-Za-z0-9/_+=.@-]+$"),
        "value": _text("The secret string (may use ${…})."),
    },
    ["secret", "value"],
)

_SHADOW_TARGET = {
    "thing": _text("The thing whose shadow it is, e.g. ${device.1.thing} (may use ${…})."),
    "shadow": _text("A named shadow; omit for the classic shadow.", pattern=r"^[A-Za-z0-9:_-]+$"),
}

_UPDATE_SHADOW = _step(
    "update_shadow",
    "update a device shadow from the cloud side (iot-data UpdateThingShadow), e.g. its desired state.",
    {
        **_SHADOW_TARGET,
        "state": {
            "type": "object",
            "minProperties": 1,
            "additionalProperties": False,
            "description": "The shadow document's state: desired and/or reported (strings may use ${…}).",
            "properties": {
                "desired": {"type": ["object", "null"], "description": "The desired state to merge."},
                "reported": {"type": ["object", "null"], "description": "The reported state to merge."},
            },
        },
    },
    ["thing", "state"],
)

_EXPECT_SHADOW = _step(
    "expect_shadow",
    "wait until a device shadow (iot-data GetThingShadow) satisfies predicates.",
    {
        **_SHADOW_TARGET,
        "where": {
            "type": "array",
            "minItems": 1,
            "description": "Predicates on the shadow document, e.g. path state.reported.fps.",
            "items": _PREDICATE,
        },
        "within_s": _seconds("How long to wait for the shadow to satisfy every predicate."),
    },
    ["thing", "where", "within_s"],
)

_SNAPSHOT = _step(
    "snapshot",
    "grab frames of a video stream (the app's RTSP output, annotated by its OSD) for the report.",
    {
        "url": _text("The stream, e.g. rtsp://127.0.0.1:${free_port.rtsp}/ds-test (may use ${…})."),
        "frames": {
            "type": "integer",
            "minimum": 1,
            "maximum": 8,
            "default": 1,
            "description": "How many thumbnails to keep, one per second.",
        },
        "timeout_s": _seconds("How long to try to open the stream and read the frames."),
    },
    ["url"],
)

SCENARIO_SCHEMA: dict[str, Any] = {
    "$schema": _DRAFT,
    "title": "edge-harness scenario",
    "description": (
        "A declarative test of Greengrass core devices: the services and devices to start, the "
        "component versions to publish, and the steps to run (edge-harness run FILE)."
    ),
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "devices", "steps"],
    "properties": {
        "name": _text(
            "Scenario name: lower-case letters, digits and '-'. Used in deployment names and reports.",
            pattern=r"^[a-z0-9][a-z0-9-]*$",
        ),
        "description": {"type": "string", "description": "Free text: what the scenario shows."},
        "services": {
            "type": "object",
            "additionalProperties": False,
            "description": "The services the scenario runs against.",
            "properties": {
                "backend": {
                    "enum": list(BACKENDS),
                    "default": DEFAULTS["backend"],
                    "description": "How services and devices run: local processes, or docker containers.",
                },
                "kafka": {
                    "type": "object",
                    "additionalProperties": False,
                    "description": "The Kafka broker. Absent or {}: one is started for the scenario.",
                    "properties": {
                        "external": _text(
                            "host:port of a broker that is already running; none is started.",
                            pattern=r"^\S+:[0-9]{1,5}$",
                        ),
                    },
                },
                "aws": {
                    "type": "object",
                    "additionalProperties": False,
                    "description": "The emulated AWS endpoint. Absent or {}: it accepts any credentials.",
                    "properties": {
                        "enforce": {
                            "type": "boolean",
                            "default": False,
                            "description": (
                                "Check credentials as AWS does: SigV4 signatures, IAM and bucket "
                                "policies for S3, each device's own credentials reaching only its "
                                "thing (docs/cloud.md, Enforcing mode)."
                            ),
                        },
                        "bucket_policy": _text(
                            "A bucket policy (JSON, may use ${…}) put on the artifact bucket before "
                            "publishing, relative to the scenario file. With enforce, it alone decides "
                            "whether devices may read their artifacts; without, their role may read "
                            "the bucket."
                        ),
                    },
                },
                "triton": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["models"],
                    "description": (
                        "A Triton server started before the devices, for apps whose nvinferserver "
                        "config reaches Triton over gRPC (triton { grpc { url } }): use "
                        "${triton.grpc} and ${triton.http}."
                    ),
                    "properties": {
                        "models": _text(
                            "The Triton model repository it serves, relative to the scenario file."
                        ),
                    },
                },
                "images": {
                    "type": "object",
                    "additionalProperties": False,
                    "description": (
                        "Docker backend: which images run the services and devices (docs/containers.md). "
                        "Unnamed ones follow policy."
                    ),
                    "properties": {
                        "policy": {
                            "enum": ["auto", "upstream", "built"],
                            "description": (
                                "auto (default, or $EDGE_HARNESS_IMAGE_POLICY): Triton and Kafka from "
                                "their projects' images where the engine has them or a registry serves "
                                "them, else the harness's own, built offline; upstream: always the "
                                "projects' images; built: always the harness's own."
                            ),
                        },
                        **{
                            name: {
                                "type": "string",
                                "minLength": 1,
                                "description": f"Run this image for {what} (in the engine or pulled).",
                            }
                            for name, what in (
                                ("triton", "Triton: an upstream tritonserver image or the harness's"),
                                ("kafka", "the broker: an upstream Kafka image or the harness's"),
                                ("aws", "the AWS endpoint: the harness's aws image"),
                                ("device", "each simulated device: the harness's device image"),
                            )
                        },
                    },
                },
                "topics": {
                    "type": "array",
                    "description": "Kafka topics created before the first step.",
                    "items": {
                        "type": "string",
                        "pattern": _TOPIC,
                        "description": "a topic name: letters, digits, '.', '_', '-' (may use ${…})",
                    },
                },
            },
        },
        "world": {
            "type": "object",
            "additionalProperties": False,
            "description": (
                "The synthetic world of the clip the app plays: its ground truth scores accuracy "
                "expectations. Should be the same world as the artifact's clip."
            ),
            "properties": {
                "seed": {
                    **SEED_SCHEMA,
                    "default": DEFAULTS["world_seed"],
                    "description": "Random seed of the world: an integer from 0 to 2**63-1.",
                },
                "seconds": {
                    **SECONDS_SCHEMA,
                    "default": DEFAULTS["world_seconds"],
                    "description": f"Length of the clip, at most {MAX_SECONDS} s ({SECONDS_HINT} for more).",
                },
            },
        },
        "devices": {
            "type": "array",
            "minItems": 1,
            "description": "Simulated core devices, each entry one or more things of one profile.",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name", "thing_group"],
                "description": "Core devices named <name>-1 … <name>-<count>.",
                "properties": {
                    "name": _text(
                        "Thing name prefix: the things are <name>-<n>, n from 1.",
                        pattern=_DEVICE_NAME,
                        maxLength=120,
                    ),
                    "count": {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": MAX_DEVICE_COUNT,
                        "default": DEFAULTS["device_count"],
                        "description": f"How many core devices (1 to {MAX_DEVICE_COUNT}; each simulated "
                        "device is a nucleus process on this machine).",
                    },
                    "profile": _text(
                        "Device profile: a file stem in fake_device/profiles "
                        "(jetson-agx-xavier, x86-64-host).",
                        default=DEFAULTS["device_profile"],
                    ),
                    "thing_group": _text(
                        "Thing group the devices join; deploy steps target it.",
                        pattern=_GROUP_NAME,
                        maxLength=128,
                    ),
                },
            },
        },
        "components": {
            "type": "object",
            "description": "Component versions published before the first step: name → version → files.",
            "propertyNames": {"pattern": _COMPONENT_NAME},
            "additionalProperties": {
                "type": "object",
                "minProperties": 1,
                "description": 'Semantic version (quote it: "1.0.0") → recipe and artifact.',
                "additionalProperties": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["recipe"],
                    "description": "The files of one component version.",
                    "properties": {
                        "recipe": _text(
                            "Recipe file (YAML or JSON), relative to the scenario file. Its "
                            "ComponentName and ComponentVersion must be the keys it is listed under."
                        ),
                        "artifact": _text(
                            "Artifact spec (artifact.yaml), relative to the scenario file; its ZIP is "
                            "built and uploaded for the recipe's artifact URI. Omit for a recipe "
                            "without artifacts."
                        ),
                    },
                },
            },
        },
        "variables": {
            "type": "object",
            "description": "User variables, used in strings as ${var.NAME}.",
            "propertyNames": {"pattern": _VARIABLE_NAME},
            "additionalProperties": {
                "type": ["string", "number"],
                "description": "The value (numbers are used as text); may use the built-in ${…} names.",
            },
        },
        "steps": {
            "type": "array",
            "minItems": 1,
            "description": (
                "What to do, in order. The first failing step ends the run unless continue_on_failure."
            ),
            "items": {
                "oneOf": [
                    _DEPLOY,
                    _WAIT_FOR,
                    _EXPECT_MESSAGES,
                    _ASSERT_LOGS,
                    _INJECT,
                    _SLEEP,
                    _SNAPSHOT,
                    _EXPECT_IOT_CORE,
                    _SET_SECRET,
                    _UPDATE_SHADOW,
                    _EXPECT_SHADOW,
                ]
            },
        },
    },
}


def schema_json() -> str:
    """The schema as the text of ``schemas/scenario.schema.json`` (what editors read)."""
    return json.dumps(SCENARIO_SCHEMA, indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    sys.stdout.write(schema_json())
