"""Random sequences of deployments, failing upgrades and device restarts never leave a device in
an inconsistent state (hypothesis drives the sequence; the cloud and the device are real)."""

from __future__ import annotations

import json
from pathlib import Path

from fleet import FAST_RETRIES, Operator, processes_with, unique
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fake_device.nucleus.kernel import CoreDevice

GOOD = ("1.0.0", "1.0.1")
BAD = "2.0.0"  # Run exits 1: BROKEN, then rolled back
STEPS = st.lists(
    st.sampled_from(["deploy-1.0.0", "deploy-1.0.1", "deploy-bad", "restart"]), min_size=1, max_size=4
)


def _running_versions(marker: str) -> list[str]:
    """Versions of the component whose run script (``sh -c …; echo <marker>-<version>``) lives."""
    return [
        " ".join(p.info["cmdline"]).rsplit("-", 1)[-1]
        for p in processes_with(marker)
        if p.info["cmdline"][0] == "sh"
    ]


@settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck))
@given(steps=STEPS)
def test_random_sequences_stay_consistent(aws_endpoint, device_root: Path, steps: list[str]) -> None:
    operator = Operator(aws_endpoint)
    name = unique("com.example.Seq")
    marker = unique("seq")
    for version in GOOD:
        operator.component(name, version, {"Run": f"sleep 600; echo {marker}-{version}"})
    operator.component(name, BAD, {"Run": "exit 1"})
    group, group_arn = operator.group()
    thing = unique("jetson")
    root = device_root / thing

    def boot() -> CoreDevice:
        device = CoreDevice(
            root,
            thing,
            client_factory=aws_endpoint.client,
            thing_groups=(group,),
            poll_interval=0.1,
            artifact_options=FAST_RETRIES,
        )
        device.boot()
        return device

    device = boot()
    expected: str | None = None  # the version that must run after each step
    try:
        for step in steps:
            if step == "restart":
                device.stop()
                device = boot()
            else:
                version = BAD if step == "deploy-bad" else step.removeprefix("deploy-")
                deployment = operator.deploy(group_arn, {name: version})
                assert any(device.poll_once() for _ in range(50)), "the job never reached the device"
                result = operator.wait_deployment(thing, deployment)
                if version == BAD:
                    assert result["reason"] == "FAILED_ROLLBACK_COMPLETE", result
                else:
                    assert result["reason"] == "SUCCESSFUL", result
                    expected = version
            # invariants: one version at most, the committed one, running once
            config = json.dumps((root / "config" / "effectiveConfig.yaml").read_text())
            if expected is None:
                assert name not in device.services
                assert name not in config
            else:
                service = device.services[name]
                assert service.spec.version == expected
                assert f"version: {expected}" in json.loads(config)
                assert service.wait_for(lambda s: s.state == "RUNNING", 30)
                assert _running_versions(marker) == [expected]
            assert not (root / "deployments" / "current.json").exists()
    finally:
        device.stop()
    assert _running_versions(marker) == []
