"""accessControl policies and the nucleus's wildcard rules (WildcardTrie, AuthorizationModule)."""

from __future__ import annotations

from typing import Any

import pytest

from fake_device.nucleus.ipc.authorization import (
    AuthorizationError,
    Authorizer,
    ResourceLookup,
    resource_pattern,
    validate_resource,
)
from fake_device.nucleus.store import EffectiveConfig

STANDARD = ResourceLookup.STANDARD
MQTT = ResourceLookup.MQTT_STYLE
PUBLISH = "aws.greengrass#PublishToTopic"
SUBSCRIBE = "aws.greengrass#SubscribeToTopic"


@pytest.mark.parametrize(
    ("resource", "lookup", "topic", "expected"),
    [
        ("a/b", STANDARD, "a/b", True),
        ("a/b", STANDARD, "a/bc", False),
        ("a/*", STANDARD, "a/b/c", True),  # * crosses levels
        ("*", STANDARD, "", True),
        ("a*c", STANDARD, "abbbc", True),
        ("a*c", STANDARD, "abbb", False),
        ("a/#", STANDARD, "a/b", False),  # no MQTT wildcards for STANDARD lookups
        ("a/#", STANDARD, "a/#", True),
        ("a/+/c", STANDARD, "a/b/c", False),
        ("a/#", MQTT, "a", True),
        ("a/#", MQTT, "a/", True),
        ("a/#", MQTT, "a/b/c", True),
        ("a/#", MQTT, "ab", False),
        ("#", MQTT, "anything/at/all", True),
        ("a#", MQTT, "ab", False),  # '#' not after '/' is a character
        ("a#", MQTT, "a#", True),
        ("a/#/c", MQTT, "a/x/c", False),
        ("a/+/c", MQTT, "a/b/c", True),
        ("a/+/c", MQTT, "a/b/x/c", False),
        ("a/+", MQTT, "a/b", True),
        ("a/+", MQTT, "a/b/c", False),
        ("+/b", MQTT, "x/b", True),
        ("a+/b", MQTT, "ax/b", False),
        ("a/*xy/#", MQTT, "a/12xy", True),
        ("${*}", STANDARD, "*", True),
        ("${*}", STANDARD, "x", False),
        ("cost${$}", STANDARD, "cost$", True),
    ],
)
def test_resource_patterns(resource: str, lookup: ResourceLookup, topic: str, expected: bool) -> None:
    assert bool(resource_pattern(resource, lookup).fullmatch(topic)) is expected


@pytest.mark.parametrize(
    ("resource", "problem"),
    [
        ("", "Resource cannot be empty"),
        ("a?b", "Resource contains invalid character: '?'"),
        ("${c}", "invalid escape sequence: ${c}"),
        ("${*", "invalid escape sequence. You can use"),
        ("${?}", None),
        ("plain/topic", None),
    ],
)
def test_resource_validation(resource: str, problem: str | None) -> None:
    found = validate_resource(resource)
    assert (found is None) if problem is None else (found is not None and problem in found)


def _config(**access: dict[str, Any]) -> EffectiveConfig:
    services = {name: {"configuration": {"accessControl": acl}} for name, acl in access.items()}
    return EffectiveConfig(services=services)


def test_policy_grants_its_own_component_only() -> None:
    config = _config(
        Camera={
            "aws.greengrass.ipc.pubsub": {
                "camera:pubsub:1": {"operations": [PUBLISH], "resources": ["detections/*"]},
            }
        }
    )
    authorizer = Authorizer(lambda: config)
    authorizer.check("aws.greengrass.ipc.pubsub", "Camera", PUBLISH, "detections/cam1")
    with pytest.raises(AuthorizationError) as denied:
        authorizer.check("aws.greengrass.ipc.pubsub", "Other", PUBLISH, "detections/cam1")
    assert str(denied.value) == (
        "Principal Other is not authorized to perform "
        "aws.greengrass.ipc.pubsub:aws.greengrass#PublishToTopic on resource detections/cam1"
    )
    with pytest.raises(AuthorizationError):
        authorizer.check("aws.greengrass.ipc.pubsub", "Camera", SUBSCRIBE, "detections/cam1")
    with pytest.raises(AuthorizationError):
        authorizer.check("aws.greengrass.ipc.pubsub", "Camera", PUBLISH, "other/topic")


def test_star_operation_case_insensitive_fields_and_bad_resources_skipped() -> None:
    warnings: list[str] = []
    config = _config(
        Camera={
            "aws.greengrass.ipc.pubsub": {
                "p1": {"Operations": ["*"], "Resources": ["bad?", "ok/topic"]},
                "p2": {"resources": ["no/operations"]},
            },
            "not.an.ipc.service": {"p3": {"operations": ["*"], "resources": ["*"]}},
        }
    )
    authorizer = Authorizer(lambda: config, warn=warnings.append)
    authorizer.check("aws.greengrass.ipc.pubsub", "Camera", SUBSCRIBE, "ok/topic")
    with pytest.raises(AuthorizationError):
        authorizer.check("aws.greengrass.ipc.pubsub", "Camera", PUBLISH, "no/operations")
    assert any("bad?" in w for w in warnings)
    assert any("has no operations" in w for w in warnings)
    assert any("not.an.ipc.service" in w for w in warnings)


def test_unregistered_operation_and_empty_resource() -> None:
    authorizer = Authorizer(lambda: _config())
    operation = "aws.greengrass#GetConfiguration"
    with pytest.raises(AuthorizationError, match=f"not registered for operation {operation}$"):
        authorizer.check("aws.greengrass.ipc.pubsub", "A", operation, "t")
    with pytest.raises(AuthorizationError, match="Resource cannot be empty"):
        authorizer.check("aws.greengrass.ipc.pubsub", "A", PUBLISH, "")


def test_mqtt_proxy_matches_mqtt_style_and_policies_follow_the_config() -> None:
    policy = {"p": {"operations": ["*"], "resources": ["telemetry/+/temp"]}}
    holder = {"config": _config(A={"aws.greengrass.ipc.mqttproxy": policy})}
    authorizer = Authorizer(lambda: holder["config"])
    mqttproxy, publish = "aws.greengrass.ipc.mqttproxy", "aws.greengrass#PublishToIoTCore"
    authorizer.check(mqttproxy, "A", publish, "telemetry/room1/temp", MQTT)
    with pytest.raises(AuthorizationError):
        authorizer.check(mqttproxy, "A", publish, "telemetry/room1/temp", STANDARD)
    holder["config"] = _config()  # a new committed configuration without the policy
    with pytest.raises(AuthorizationError):
        authorizer.check(mqttproxy, "A", publish, "telemetry/room1/temp", MQTT)
