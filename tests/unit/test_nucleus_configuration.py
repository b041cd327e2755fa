"""Configuration update (reset → defaults → merge) and recipe variable interpolation."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from fake_device.nucleus.configuration import (
    ConfigurationUpdate,
    ConfigurationUpdateError,
    apply_configuration_update,
    resolve_configuration,
)
from fake_device.nucleus.interpolation import ResolvedService, ResolverContext, interpolate, value_text
from fake_device.nucleus.paths import NucleusPaths

# --- configuration update ----------------------------------------------------------------------

DEFAULTS = {"mqtt": {"port": 1883, "host": "localhost"}, "labels": ["car", "bus"], "debug": False}


@pytest.mark.parametrize(
    ("current", "reset", "merge", "expected"),
    [
        # a new component gets its defaults
        (None, [], None, DEFAULTS),
        # defaults never override a running value, but fill in what is missing
        (
            {"mqtt": {"port": 8883}},
            [],
            None,
            {"mqtt": {"port": 8883, "host": "localhost"}, "labels": ["car", "bus"], "debug": False},
        ),
        # reset one key → its default comes back; a key without default disappears
        (
            {"mqtt": {"port": 8883, "extra": 1}, "labels": ["x"], "debug": True},
            ["/mqtt/port", "/mqtt/extra"],
            None,
            {"mqtt": {"port": 1883, "host": "localhost"}, "labels": ["x"], "debug": True},
        ),
        # reset "" → everything back to defaults (later pointers do not matter)
        ({"mqtt": {"port": 1}, "other": 2}, ["", "/nothing"], None, DEFAULTS),
        # merge: objects merge recursively, lists are replaced whole, types may change, nulls stay
        (
            None,
            [],
            {"mqtt": {"port": 9000}, "labels": ["person"], "debug": {"level": 3}, "token": None},
            {
                "mqtt": {"port": 9000, "host": "localhost"},
                "labels": ["person"],
                "debug": {"level": 3},
                "token": None,
            },
        ),
        # reset and merge together: reset first, merge last
        (
            {"mqtt": {"port": 8883}},
            ["/mqtt"],
            {"mqtt": {"host": "broker"}},
            {"mqtt": {"port": 1883, "host": "broker"}, "labels": ["car", "bus"], "debug": False},
        ),
        # a pointer into a list element is ignored by the nucleus
        ({"labels": ["a", "b"]}, ["/labels/0"], None, {**DEFAULTS, "labels": ["a", "b"]}),
        # pointer escapes: ~1 is '/', ~0 is '~'
        ({"a/b": 1, "c~d": 2}, ["/a~1b", "/c~0d"], None, DEFAULTS),
    ],
)
def test_apply_configuration_update(current, reset, merge, expected) -> None:
    snapshot = copy.deepcopy((current, DEFAULTS, merge))
    assert apply_configuration_update(current, DEFAULTS, reset=reset, merge=merge) == expected
    assert (current, DEFAULTS, merge) == snapshot  # inputs untouched


def test_keys_match_case_insensitively_and_keep_their_first_spelling() -> None:
    result = apply_configuration_update({"MQTT": {"Port": 1}}, DEFAULTS, merge={"mqtt": {"port": 2}})
    assert result == {"MQTT": {"Port": 2, "host": "localhost"}, "labels": ["car", "bus"], "debug": False}
    assert apply_configuration_update({"MQTT": {"Port": 1}}, {}, reset=["/mqtt/port"]) == {"MQTT": {}}


def test_result_shares_nothing_with_inputs() -> None:
    merge = {"labels": ["x"]}
    result = apply_configuration_update(None, DEFAULTS, merge=merge)
    result["labels"].append("y")
    result["mqtt"]["port"] = 0
    assert merge == {"labels": ["x"]} and DEFAULTS["mqtt"]["port"] == 1883


@pytest.mark.parametrize(
    ("previous_timestamp", "expected"),
    # KernelConfigResolverTest.multiTimestampDeploymentSource: running valueB written at
    # previous_timestamp, recipe default valueA, this deployment (t=10000) merges valueC
    [(9_000, "valueC"), (11_000, "valueB")],
)
def test_merge_respects_value_timestamps(previous_timestamp: int, expected: str) -> None:
    resolved = resolve_configuration(
        {"startup": {"paramA": "valueB"}},
        {"startup": {"paramA": "valueA"}},
        ConfigurationUpdate(merge={"startup": {"paramA": "valueC"}}),
        timestamp=10_000,
        timestamps={("startup", "paramA"): previous_timestamp},
    )
    assert resolved.values == {"startup": {"paramA": expected}}


def test_a_value_from_an_older_default_follows_the_new_default() -> None:
    v1 = resolve_configuration(None, {"fps": 10, "model": "a"}, timestamp=1_000)
    assert v1.timestamps == {("fps",): 1, ("model",): 1}
    user = resolve_configuration(
        v1.values, {}, ConfigurationUpdate(merge={"model": "mine"}), timestamp=2_000, timestamps=v1.timestamps
    )
    v2 = resolve_configuration(
        user.values, {"fps": 30, "model": "b"}, timestamp=3_000, timestamps=user.timestamps
    )
    assert v2.values == {"fps": 30, "model": "mine"}


def test_a_default_container_replaces_a_merged_leaf() -> None:
    # Topics.updateChild: a type change always wins, whatever the timestamps
    resolved = resolve_configuration({"mqtt": "off"}, {"mqtt": {"port": 1883}}, timestamp=5)
    assert resolved.values == {"mqtt": {"port": 1883}}


def test_equal_but_differently_typed_values_are_replaced() -> None:
    assert apply_configuration_update({"n": 1}, {}, merge={"n": 1.0}) == {"n": 1.0}
    assert apply_configuration_update({"n": 1}, {}, merge={"n": True}) == {"n": True}


def test_reset_that_is_not_a_pointer_is_an_error() -> None:
    with pytest.raises(ConfigurationUpdateError, match="'mqtt' is not a JSON pointer") as caught:
        apply_configuration_update({}, {}, reset=["mqtt"])
    assert "a reset path starts with '/'" in str(caught.value)


# --- interpolation -----------------------------------------------------------------------------

ROOT = Path("/greengrass/v2")
CONFIG: dict[str, Any] = {
    "port": 8554,
    "name": "cam",
    "enabled": True,
    "none": None,
    "ratio": 0.5,
    "big": 1.0e7,
    "model": {"path": "m.onnx", "batch": 4},
    "labels": ["car", "bus"],
    "a/b": "slash",
}


@pytest.fixture
def context() -> ResolverContext:
    return ResolverContext(
        paths=NucleusPaths(ROOT),
        thing_name="jetson-01",
        services={
            "App": ResolvedService("1.2.0", CONFIG),
            "Dep": ResolvedService("2.0.0", {"url": "rtsp://dep"}),
            "Other": ResolvedService("3.0.0", {"url": "rtsp://other"}),
        },
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{artifacts:path}/run.sh", "/greengrass/v2/packages/artifacts/App/1.2.0/run.sh"),
        (
            "{artifacts:decompressedPath}/package/x",
            "/greengrass/v2/packages/artifacts-unarchived/App/1.2.0/package/x",
        ),
        ("cd {work:path}", "cd /greengrass/v2/work/App"),
        ("{kernel:rootPath}", "/greengrass/v2"),
        ("{iot:thingName}", "jetson-01"),
        ("--port {configuration:/port}", "--port 8554"),
        ("{configuration:/enabled} {configuration:/none}", "true null"),
        ("{configuration:/ratio} {configuration:/big}", "0.5 1.0E7"),
        ("{configuration:/model}", '{"batch":4,"path":"m.onnx"}'),
        ("{configuration:/labels}", '["car","bus"]'),
        ("{configuration:/labels/1}", "bus"),
        ("{configuration:/a~1b}", "slash"),
        ("{configuration:/missing} stays", "{configuration:/missing} stays"),
        ("{configuration:/Port}", "{configuration:/Port}"),  # lookups are case-sensitive
        ("{artifacts:nope} {unknown:path}", "{artifacts:nope} {unknown:path}"),
        ("{Dep:configuration:/url}", "rtsp://dep"),
        ("{Dep:artifacts:path}", "/greengrass/v2/packages/artifacts/Dep/2.0.0"),
        ("{Dep:work:path}", "/greengrass/v2/work/Dep"),
        ("{Other:configuration:/url}", "{Other:configuration:/url}"),  # not a direct dependency
        ("{Gone:configuration:/url}", "{Gone:configuration:/url}"),  # not resolved
        ("{iot:thingName}-{iot:thingName}", "jetson-01-jetson-01"),
    ],
)
def test_interpolation_table(context: ResolverContext, text: str, expected: str) -> None:
    assert interpolate(text, context, "App", dependencies={"Dep", "Gone"}) == expected


def test_interpolation_walks_lifecycles_without_changing_them(context: ResolverContext) -> None:
    lifecycle = {"Run": {"Script": "serve {configuration:/port}", "Setenv": {"P": "{iot:thingName}"}}, "n": 3}
    snapshot = copy.deepcopy(lifecycle)
    assert interpolate(lifecycle, context, "App") == {
        "Run": {"Script": "serve 8554", "Setenv": {"P": "jetson-01"}},
        "n": 3,
    }
    assert lifecycle == snapshot


def test_system_parameters_only_leaves_configuration_placeholders(context: ResolverContext) -> None:
    text = "{configuration:/port} {work:path}"
    assert (
        interpolate(text, context, "App", with_configuration=False)
        == "{configuration:/port} /greengrass/v2/work/App"
    )


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1, "1"),
        (-2.5, "-2.5"),
        (100.0, "100.0"),
        (1.0e-4, "1.0E-4"),
        (12345678.9, "1.23456789E7"),
        ("s", "s"),
    ],
)
def test_value_text_matches_jackson(value: Any, text: str) -> None:
    assert value_text(value) == text
