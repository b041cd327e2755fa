"""The merge's check that a new effective configuration can be read back at boot.

Each bound is tried at its edge: a configuration exactly at the bound is committable and the
device's reader loads the file it makes; one value, level or character more is refused by the
check, naming the component and the bound, and the reader refuses that file too (so the check and
the reader cannot drift apart).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fake_device.nucleus.config_bounds import _shape, check_committable
from fake_device.nucleus.store import EffectiveConfig, load_effective_config
from harness import yamldoc
from harness.errors import HarnessError
from harness.yamldoc import MAX_YAML_CHARS, MAX_YAML_DEPTH

pytestmark = pytest.mark.unit

APP = "com.example.App"
OTHER = "com.example.Other"


def _config(**configurations: Any) -> EffectiveConfig:
    services = {
        name.replace("_", "."): {"version": "1.0.0", "lifecycle": {"run": "true"}, "configuration": value}
        for name, value in configurations.items()
    }
    return EffectiveConfig(
        thing_name="jetson-1",
        root_path="/greengrass/v2",
        services=services,
        group_roots={"thing/jetson-1": {name: {"groupConfigArn": "a"} for name in services}},
    )


def _app(value: Any, **others: Any) -> EffectiveConfig:
    return _config(com_example_App=value, **others)


def _nested(levels: int) -> dict[str, Any]:
    node: dict[str, Any] = {"leaf": 1}
    for _ in range(levels - 1):
        node = {"a": node}
    return node


def _reads_back(config: EffectiveConfig, tmp_path: Path) -> bool:
    path = tmp_path / "effectiveConfig.yaml"
    config.save(path)
    try:
        load_effective_config(path)
    except HarnessError:
        return False
    return True


def test_an_ordinary_configuration_is_committable(tmp_path: Path) -> None:
    config = _app({"threshold": 0.5, "topics": ["a", "b"]})
    assert check_committable(config, [APP]) is None
    assert _reads_back(config, tmp_path)


def test_values_at_the_bound_pass_and_one_more_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """At a lower bound (the check and the reader both read it from harness.yamldoc): 100,000
    values take the pure-Python YAML emitter and parser tens of seconds; the counting is the same."""
    monkeypatch.setattr(yamldoc, "MAX_YAML_NODES", 2_000)
    base = _shape(_app({"items": []}).to_document())[0]
    at_bound = _app({"items": [0] * (yamldoc.MAX_YAML_NODES - base)})
    assert _shape(at_bound.to_document())[0] == yamldoc.MAX_YAML_NODES
    assert check_committable(at_bound, [APP]) is None
    assert _reads_back(at_bound, tmp_path)

    over = _app({"items": [0] * (yamldoc.MAX_YAML_NODES - base + 1)})
    failure = check_committable(over, [APP])
    assert failure is not None and failure.code == "COMPONENT_CONFIGURATION_NOT_VALID"
    assert failure.error_stack == ("DEPLOYMENT_FAILURE", "COMPONENT_CONFIGURATION_NOT_VALID")
    assert f"Component {APP} takes " in failure.message
    assert f"which would hold {yamldoc.MAX_YAML_NODES + 1:,}; the device reads at most" in failure.message
    assert f"at most {yamldoc.MAX_YAML_NODES:,} at boot" in failure.message
    assert failure.hint is not None and "artifact" in failure.hint
    assert not _reads_back(over, tmp_path)


def test_depth_at_the_bound_passes_and_one_more_level_fails(tmp_path: Path) -> None:
    # the document, services: and the component's entry are the three levels above it
    at_bound = _app(_nested(MAX_YAML_DEPTH - 3))
    assert _shape(at_bound.to_document())[1] == MAX_YAML_DEPTH
    assert check_committable(at_bound, [APP]) is None
    assert _reads_back(at_bound, tmp_path)

    over = _app(_nested(MAX_YAML_DEPTH - 2))
    failure = check_committable(over, [APP])
    assert failure is not None
    assert f"component {APP} nests {MAX_YAML_DEPTH + 1} levels deep in the device's" in failure.message
    assert f"at most {MAX_YAML_DEPTH} levels at boot" in failure.message
    assert not _reads_back(over, tmp_path)


def test_a_configuration_nested_far_too_deep_is_a_failure_not_a_recursion_error() -> None:
    failure = check_committable(_app(_nested(800)), [APP])
    assert failure is not None and "nests 803 levels deep" in failure.message


def test_characters_at_the_bound_pass_and_one_more_fails(tmp_path: Path) -> None:
    # the text around a long plain scalar (its length adds one character per character)
    around = len(_app({"blob": "x" * 10_000}).to_yaml()) - 10_000
    at_bound = _app({"blob": "x" * (MAX_YAML_CHARS - around)})
    assert len(at_bound.to_yaml()) == MAX_YAML_CHARS
    assert check_committable(at_bound, [APP]) is None
    assert _reads_back(at_bound, tmp_path)

    over = _app({"blob": "x" * (MAX_YAML_CHARS - around + 1)})
    failure = check_committable(over, [APP])
    assert failure is not None
    assert f"Component {APP} takes about 1,04" in failure.message
    assert f"{MAX_YAML_CHARS + 1:,} characters long; the device reads at most {MAX_YAML_CHARS:,}" in (
        failure.message
    )
    assert not _reads_back(over, tmp_path)


def test_the_message_names_the_component_the_deployment_changes() -> None:
    """Of two large components, the one the deployment adds or changes is named (it is the one the
    operator can change); with none changed, the largest."""
    half = yamldoc.MAX_YAML_NODES // 2
    config = _app([0] * half, com_example_Other=[0] * (half + 10))
    changed = check_committable(config, [APP])
    assert changed is not None and f"Component {APP} takes" in changed.message
    largest = check_committable(config, [])
    assert largest is not None and f"Component {OTHER} takes" in largest.message


class _Host:
    """The device side of the configuration operations: one configuration, committed in place."""

    def __init__(self, config: EffectiveConfig) -> None:
        import threading

        self.config = config
        self.config_lock = threading.Lock()
        self.commits = 0

    def commit_configuration(self, config: EffectiveConfig) -> None:
        self.config = config
        self.commits += 1


def test_an_ipc_update_that_would_pass_a_bound_is_refused_and_commits_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """UpdateConfiguration merges into the effective configuration too: past a bound it answers
    InvalidArgumentsError with the bound, and the configuration stays as it was."""
    from fake_device.nucleus.ipc.configuration import ConfigurationAgent
    from fake_device.nucleus.ipc.model import InvalidArgumentsError
    from fake_device.nucleus.ipc.server import Call

    monkeypatch.setattr(yamldoc, "MAX_YAML_NODES", 2_000)
    host = _Host(_app({"small": 1}))
    agent = ConfigurationAgent(host, clock=lambda: 1000.0)

    def update(value: Any) -> None:
        request = {"timestamp": 999.0, "valueToMerge": value, "keyPath": []}
        agent.update_configuration(Call(APP, "aws.greengrass#UpdateConfiguration", request, None))  # type: ignore[arg-type]

    update({"more": [1, 2, 3]})
    assert host.commits == 1 and host.config.services[APP]["configuration"]["more"] == [1, 2, 3]
    with pytest.raises(InvalidArgumentsError) as refused:
        update({"items": [0] * 2_500})
    assert f"the device reads at most {yamldoc.MAX_YAML_NODES:,} at boot" in str(refused.value)
    assert host.commits == 1 and "items" not in host.config.services[APP]["configuration"]
