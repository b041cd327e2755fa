"""Rules behind the device's IoT Core connection, local deployments and the new scenario steps."""

from __future__ import annotations

from pathlib import Path

import pytest

from fake_device.nucleus.local_deployments import created_on_text, local_document
from fake_device.nucleus.logs import NucleusLog
from fake_device.nucleus.mqtt import IotCoreConnection, MqttRequestError, parse_endpoint, validate_topic
from fake_device.nucleus.store import EffectiveConfig
from harness.errors import HarnessError, ValidationError
from harness.mqtt_topics import filter_covers, topic_matches
from harness.scenario.load import load_scenario
from harness.scenario.model import ExpectIotCoreStep, SetSecretStep

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("topic_filter", "topic", "matches"),
    [
        ("a/#", "a", True),
        ("a/#", "a/b/c", True),
        ("a/+", "a/b", True),
        ("a/+", "a/b/c", False),
        ("+/b", "a/b", True),
        ("#", "$aws/things/x", False),
        ("$aws/things/+/shadow", "$aws/things/x/shadow", True),
        ("a/b", "a/b/", False),
    ],
)
def test_topic_filters_match_as_mqtt_says(topic_filter: str, topic: str, matches: bool) -> None:
    assert topic_matches(topic_filter, topic) is matches


def test_a_broad_filter_covers_narrower_ones() -> None:
    assert filter_covers("a/#", "a/+/c")
    assert filter_covers("a/+", "a/b")
    assert not filter_covers("a/+", "a/#")
    assert not filter_covers("a/b", "a/+")


@pytest.mark.parametrize(
    ("topic", "publish", "message"),
    [
        ("", True, "Topic must not be empty"),
        ("a/+", True, "Publish topics must not contain wildcard characters of '#' or '+'"),
        ("a/b/c/d/e/f/g/h/i", True, "The request topic must have no more than 7 forward slashes (/)"),
        ("x" * 257, False, "The topic size of request must be no larger than 256 bytes"),
    ],
)
def test_topics_are_checked_as_the_nucleus_checks_them(topic: str, publish: bool, message: str) -> None:
    with pytest.raises(MqttRequestError) as caught:
        validate_topic(topic, publish=publish)
    assert str(caught.value).startswith(message)


def test_basic_ingest_topics_do_not_count_their_prefix() -> None:
    validate_topic("$aws/rules/my_rule/a/b/c/d/e/f/g", publish=True)  # 7 slashes after the prefix


def test_an_offline_device_refuses_with_the_nucleus_words(tmp_path: Path) -> None:
    connection = IotCoreConnection(None, "thing", NucleusLog(tmp_path))
    with pytest.raises(MqttRequestError, match="configured to run offline"):
        connection.publish("a/b", b"x", 1)
    with pytest.raises(MqttRequestError, match="Device is not configured to connect to AWS"):
        connection.subscribe("a/#", 1, lambda *_: None)


def test_a_bad_endpoint_is_a_clear_error() -> None:
    assert parse_endpoint("mqtt://127.0.0.1:1883") == ("127.0.0.1", 1883)
    with pytest.raises(HarnessError, match="bad IoT Core MQTT endpoint 'http://x:1'"):
        parse_endpoint("http://x:1")


def test_a_local_deployment_merges_into_the_local_roots() -> None:
    current = EffectiveConfig(
        services={"A": {"version": "1.0.0"}, "B": {"version": "2.0.0"}, "C": {"version": "3.0.0"}},
        group_roots={"LOCAL_DEPLOYMENT": {"A": {"version": "1.0.0"}, "B": {"version": "2.0.0"}}},
    )
    request = {
        "rootComponentsToRemove": ["B"],
        "rootComponentVersionsToAdd": {"D": "1.2.0"},
        "componentToConfiguration": {"C": {"MERGE": {"x": 1}, "RESET": ["/y"]}},
    }
    document = local_document("id-1", request, current, 5)
    assert document["configurationArn"] == "LOCAL_DEPLOYMENT"
    assert document["componentUpdatePolicy"]["action"] == "SKIP_NOTIFY_COMPONENTS"
    assert document["components"] == {
        "A": {"version": "1.0.0"},
        "D": {"version": "1.2.0"},
        "C": {
            "version": "*",
            "rootComponent": False,
            "configurationUpdate": {"merge": {"x": 1}, "reset": ["/y"]},
        },
    }
    grouped = local_document("id-2", {"groupName": "lab"}, current, 5)
    assert (grouped["configurationArn"], grouped["components"]) == ("thinggroup/lab", {})
    assert created_on_text(0) == "01-01-1970 00:00:00 UTC"


_SCENARIO = """\
name: ipc-steps
devices:
  - {name: gw, thing_group: g}
steps:
  - {kind: set_secret, secret: db, value: "pw"}
  - kind: expect_iot_core
    topic: TOPIC
    within_s: 5
    where: [{path: version, equals: "1"}]
  - kind: expect_shadow
    thing: THING
    where: [{path: state.reported.fps, equals: 15}]
    within_s: 5
  - kind: sleep
    seconds: 1
    name: "${secret.SECRET.arn}"
"""


def _scenario(
    tmp_path: Path, topic: str = "fleet/+/telemetry", thing: str = "gw-1", secret: str = "db"
) -> Path:
    path = tmp_path / "scenario.yaml"
    path.write_text(_SCENARIO.replace("TOPIC", topic).replace("THING", thing).replace("SECRET", secret))
    return path


def test_the_new_steps_load(tmp_path: Path) -> None:
    scenario = load_scenario(_scenario(tmp_path))
    kinds = [step.kind for step in scenario.steps]
    assert kinds == ["set_secret", "expect_iot_core", "expect_shadow", "sleep"]
    assert isinstance(scenario.steps[0], SetSecretStep) and scenario.steps[0].secret == "db"
    iot = scenario.steps[1]
    assert isinstance(iot, ExpectIotCoreStep) and (iot.min_count, iot.match, iot.from_start) == (
        1,
        "all",
        True,
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"topic": "fleet/#/x"}, "'fleet/#/x' is not an MQTT topic filter"),
        ({"topic": "fleet/a+/x"}, "'fleet/a+/x' is not an MQTT topic filter"),
        ({"thing": "gw-9"}, "no thing 'gw-9'"),
        ({"secret": "other"}, "no set_secret step creates secret 'other'"),
    ],
)
def test_the_new_steps_report_bad_input(tmp_path: Path, change: dict[str, str], message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        load_scenario(_scenario(tmp_path, **change))
    assert message in str(caught.value)
