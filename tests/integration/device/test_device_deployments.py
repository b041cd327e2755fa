"""Deployments on a simulated core device against the real AWS endpoint: states, failures,
rollback, upgrades, configuration, manifests, digests and archives.

Every component here is a few lines of shell; results are read the way an operator reads them
(ListEffectiveDeployments, ListInstalledComponents) and from the device's log files.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

from fleet import Operator, component_log, processes_with, running_device, unique, wait_for, zip_bytes


def test_failing_run_breaks_after_three_errors_and_rolls_back(aws_endpoint, device_root: Path) -> None:
    operator = Operator(aws_endpoint)
    name = unique("com.example.Flaky")
    marker = unique("keepalive")
    operator.component(name, "1.0.0", {"Run": f"echo v1 up; sleep 600; echo {marker}"})
    operator.component(name, "1.0.1", {"Run": "echo v2 failing; exit 3"})
    group, group_arn = operator.group()
    thing = unique("jetson")
    with running_device(aws_endpoint, device_root, thing, group) as device:
        first = operator.wait_deployment(thing, operator.deploy(group_arn, {name: "1.0.0"}))
        assert first["coreDeviceExecutionStatus"] == "SUCCEEDED"
        second = operator.wait_deployment(thing, operator.deploy(group_arn, {name: "1.0.1"}))
        assert second["coreDeviceExecutionStatus"] == "FAILED"
        assert second["reason"] == "FAILED_ROLLBACK_COMPLETE"
        assert second["statusDetails"]["errorStack"] == [
            "DEPLOYMENT_FAILURE",
            "COMPONENT_UPDATE_ERROR",
            "COMPONENT_BROKEN",
        ]
        assert second["statusDetails"]["errorTypes"] == ["USER_COMPONENT_ERROR"]
        service = device.services[name]
        assert service.spec.version == "1.0.0"
        assert wait_for(lambda: service.state == "RUNNING", what="1.0.0 running again")
        assert len(processes_with(marker)) == 1
    log = component_log(device_root, name)
    assert log.count("v2 failing") == 3
    assert log.count("newState=BROKEN") == 1
    assert "RUN_ERROR" in log
    assert operator.installed(thing)[name]["componentVersion"] == "1.0.0"
    assert not processes_with(marker), "the device left a component process behind"


def test_do_nothing_leaves_the_broken_component(aws_endpoint, device_root: Path) -> None:
    operator = Operator(aws_endpoint)
    name = unique("com.example.Broken")
    operator.component(name, "1.0.0", {"Run": "exit 1"})
    group, group_arn = operator.group()
    thing = unique("jetson")
    with running_device(aws_endpoint, device_root, thing, group) as device:
        deployment = operator.deploy(group_arn, {name: "1.0.0"}, failure_handling="DO_NOTHING")
        result = operator.wait_deployment(thing, deployment)
        assert result["reason"] == "FAILED_ROLLBACK_NOT_REQUESTED"
        assert device.services[name].state == "BROKEN"
        assert wait_for(lambda: operator.installed(thing)[name]["lifecycleState"] == "BROKEN")


def test_install_timeout_is_an_error_and_a_first_deployment_rolls_back_to_nothing(
    aws_endpoint, device_root: Path
) -> None:
    operator = Operator(aws_endpoint)
    name = unique("com.example.SlowInstall")
    operator.component(name, "1.0.0", {"Install": {"Script": "sleep 30", "Timeout": 1}, "Run": "echo never"})
    group, group_arn = operator.group()
    thing = unique("jetson")
    with running_device(aws_endpoint, device_root, thing, group) as device:
        result = operator.wait_deployment(thing, operator.deploy(group_arn, {name: "1.0.0"}))
        assert result["reason"] == "FAILED_ROLLBACK_COMPLETE"
        assert name not in device.services
    log = component_log(device_root, name)
    assert log.count("INSTALL_TIMEOUT") == 3
    assert "never" not in log.replace("echo never", "")


def test_skipif_skips_steps(aws_endpoint, device_root: Path) -> None:
    operator = Operator(aws_endpoint)
    name = unique("com.example.Skip")
    operator.component(
        name,
        "1.0.0",
        {
            "Install": {"Script": "echo install-ran; exit 1", "Skipif": "onpath sh"},
            "Run": {"Script": "echo run-ran", "Skipif": "exists {work:path}"},
        },
    )
    group, group_arn = operator.group()
    thing = unique("jetson")
    with running_device(aws_endpoint, device_root, thing, group) as device:
        result = operator.wait_deployment(thing, operator.deploy(group_arn, {name: "1.0.0"}))
        assert result["reason"] == "SUCCESSFUL"
        assert device.services[name].state == "FINISHED"
    log = component_log(device_root, name)
    for ran in ("install-ran", "run-ran"):
        assert f"stdout. {ran}" not in log
    assert "Nothing done" in (device_root / "logs" / "greengrass.log").read_text()


def test_upgrade_stops_the_old_version_before_the_new_one_starts(aws_endpoint, device_root: Path) -> None:
    operator = Operator(aws_endpoint)
    name = unique("com.example.App")
    marker = unique("app")
    events = "{work:path}/events.txt"
    for version in ("1.0.0", "1.0.1"):
        operator.component(
            name,
            version,
            {
                "Install": f"echo install {version} >> {events}",
                "Run": f"echo run {version} >> {events}; sleep 600; echo {marker}-{version}",
                "Shutdown": f"echo shutdown {version} >> {events}",
            },
        )
    group, group_arn = operator.group()
    thing = unique("jetson")
    with running_device(aws_endpoint, device_root, thing, group) as device:
        assert operator.wait_deployment(thing, operator.deploy(group_arn, {name: "1.0.0"}))["reason"] == (
            "SUCCESSFUL"
        )
        assert operator.wait_deployment(thing, operator.deploy(group_arn, {name: "1.0.1"}))["reason"] == (
            "SUCCESSFUL"
        )
        assert device.services[name].state == "RUNNING"
        assert not processes_with(f"{marker}-1.0.0")
        assert len(processes_with(f"{marker}-1.0.1")) == 1
        lines = (device_root / "work" / name / "events.txt").read_text().splitlines()
    assert lines == ["install 1.0.0", "run 1.0.0", "shutdown 1.0.0", "install 1.0.1", "run 1.0.1"]
    effective = (device_root / "config" / "effectiveConfig.yaml").read_text()
    assert "1.0.1" in effective and "version: 1.0.0" not in effective


def test_configuration_merge_and_reset_reach_the_scripts(aws_endpoint, device_root: Path) -> None:
    operator = Operator(aws_endpoint)
    name = unique("com.example.Configured")
    operator.component(
        name,
        "1.0.0",
        {"Run": "echo 'fps={configuration:/fps} model={configuration:/model} missing={configuration:/nope}'"},
        defaults={"fps": 15, "model": {"name": "A", "classes": 1}},
    )
    group, group_arn = operator.group()
    thing = unique("jetson")
    with running_device(aws_endpoint, device_root, thing, group):
        merge = {name: {"componentVersion": "1.0.0", "configurationUpdate": {"merge": {"fps": 30}}}}
        assert operator.wait_deployment(thing, operator.deploy(group_arn, merge))["reason"] == "SUCCESSFUL"
        assert 'fps=30 model={"classes":1,"name":"A"} missing={configuration:/nope}' in component_log(
            device_root, name
        )
        reset = {name: {"componentVersion": "1.0.0", "configurationUpdate": {"reset": ["/fps"]}}}
        assert operator.wait_deployment(thing, operator.deploy(group_arn, reset))["reason"] == "SUCCESSFUL"
        assert wait_for(lambda: "fps=15 model=" in component_log(device_root, name), what="reset fps")


def test_manifest_follows_the_device_architecture(aws_endpoint, device_root: Path) -> None:
    operator = Operator(aws_endpoint)
    name = unique("com.example.MultiArch")
    operator.component(
        name,
        "1.0.0",
        manifests=[
            {"Platform": {"os": "linux", "architecture": "aarch64"}, "Lifecycle": {"Run": "echo on-jetson"}},
            {"Platform": {"os": "linux", "architecture": "amd64"}, "Lifecycle": {"Run": "echo on-x86"}},
        ],
    )
    group, group_arn = operator.group()
    jetson, host = unique("jetson"), unique("host")
    with (
        running_device(aws_endpoint, device_root / "a", jetson, group, profile="jetson-agx-xavier"),
        running_device(aws_endpoint, device_root / "b", host, group, profile="x86-64-host"),
    ):
        deployment = operator.deploy(group_arn, {name: "1.0.0"})
        assert operator.wait_deployment(jetson, deployment)["reason"] == "SUCCESSFUL"
        assert operator.wait_deployment(host, deployment)["reason"] == "SUCCESSFUL"
    assert "stdout. on-jetson" in component_log(device_root / "a", name)
    assert "stdout. on-x86" in component_log(device_root / "b", name)

    arm = unique("arm")
    with running_device(
        aws_endpoint, device_root / "c", arm, group, platform_override={"architecture": "arm"}
    ):
        result = operator.wait_deployment(arm, deployment)
        assert result["reason"] == "FAILED_NO_STATE_CHANGE"
    greengrass_log = (device_root / "c" / "logs" / "greengrass.log").read_text()
    assert "architecture=arm" in greengrass_log or "'architecture': 'arm'" in greengrass_log


def test_digest_mismatch_fails_without_state_change(aws_endpoint, device_root: Path) -> None:
    operator = Operator(aws_endpoint)
    name = unique("com.example.Tampered")
    marker = unique("tampered")
    operator.component(name, "1.0.0", {"Run": f"sleep 600; echo {marker}"})
    operator.component(
        name, "1.0.1", {"Run": "cat {artifacts:decompressedPath}/app/x.txt"}, files={"x.txt": "original"}
    )
    # replaced after CreateComponentVersion computed the digest
    operator.upload(f"{name}/1.0.1/app.zip", b"PK-not-the-same-bytes")
    group, group_arn = operator.group()
    thing = unique("jetson")
    with running_device(aws_endpoint, device_root, thing, group) as device:
        assert operator.wait_deployment(thing, operator.deploy(group_arn, {name: "1.0.0"}))["reason"] == (
            "SUCCESSFUL"
        )
        result = operator.wait_deployment(thing, operator.deploy(group_arn, {name: "1.0.1"}))
        assert result["reason"] == "FAILED_NO_STATE_CHANGE"
        assert result["statusDetails"]["errorStack"][-1] == "ARTIFACT_CHECKSUM_MISMATCH"
        assert device.services[name].spec.version == "1.0.0"
        assert device.services[name].state == "RUNNING"
        assert len(processes_with(marker)) == 1
    assert not (device_root / "packages" / "artifacts" / name / "1.0.1" / "app.zip").exists()


def test_zip_slip_archive_is_refused(aws_endpoint, device_root: Path) -> None:
    operator = Operator(aws_endpoint)
    name = unique("com.example.Slip")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("ok.txt", "fine")
        archive.writestr("../../../../../../escaped.txt", "evil")
    operator.component(name, "1.0.0", {"Run": "echo hi"}, archive=buffer.getvalue())
    group, group_arn = operator.group()
    thing = unique("jetson")
    with running_device(aws_endpoint, device_root, thing, group):
        result = operator.wait_deployment(thing, operator.deploy(group_arn, {name: "1.0.0"}))
    assert result["reason"] == "FAILED_NO_STATE_CHANGE"
    assert result["statusDetails"]["errorStack"][-1] == "IO_UNZIP_ERROR"
    outside = [p for p in device_root.parent.parent.rglob("escaped.txt")]
    assert outside == []
    assert not (device_root / "packages" / "artifacts-unarchived" / name / "1.0.0" / "app").exists()


def test_seed_recipe_as_written_fails_and_says_where_the_archive_went(
    aws_endpoint, device_root: Path
) -> None:
    """The seed's recipe runs ``cd {artifacts:decompressedPath}/nvds-aws-gg`` although package.zip
    unpacks into ``{artifacts:decompressedPath}/package/``: it fails on a device, so it fails here."""
    operator = Operator(aws_endpoint)
    name = unique("com.example.DeepStreamApp")
    package = {"nvds-aws-gg/deepstream_app.py": "print('app')\n", "nvds-aws-gg/requirements.txt": ""}
    operator.component(
        name,
        "1.0.0",
        {
            "Install": "echo installing",
            "Run": "cd {artifacts:decompressedPath}/nvds-aws-gg && python3 deepstream_app.py",
        },
        archive=zip_bytes(package),
        archive_name="package.zip",
    )
    group, group_arn = operator.group()
    thing = unique("jetson")
    with running_device(aws_endpoint, device_root, thing, group):
        result = operator.wait_deployment(thing, operator.deploy(group_arn, {name: "1.0.0"}))
    assert result["reason"] == "FAILED_ROLLBACK_COMPLETE"
    log = component_log(device_root, name)
    assert "nvds-aws-gg" in log and ("can't cd" in log or "No such file" in log)
    main_log = (device_root / "logs" / "greengrass.log").read_text()
    unpacked = f"{device_root}/packages/artifacts-unarchived/{name}/1.0.0/package/ (top level: nvds-aws-gg/)"
    assert unpacked in main_log


def test_device_status_command_shows_components(aws_endpoint, device_root: Path) -> None:
    from click.testing import CliRunner

    from harness.cli import main

    operator = Operator(aws_endpoint)
    name = unique("com.example.Status")
    operator.component(name, "2.1.0", {"Run": "exec sleep 600"})
    group, group_arn = operator.group()
    thing = unique("jetson")
    with running_device(aws_endpoint, device_root, thing, group):
        assert operator.wait_deployment(thing, operator.deploy(group_arn, {name: "2.1.0"}))["reason"] == (
            "SUCCESSFUL"
        )
        arguments = ["device", "status", "--root", str(device_root), "--format", "json"]
        result = CliRunner().invoke(main, arguments)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["thing"] == thing
    expected = {"version": "2.1.0", "state": "RUNNING", "statusCode": "NONE", "root": True}
    assert report["components"][name] == expected


def test_dependencies_are_resolved_installed_first_and_interpolated(aws_endpoint, device_root: Path) -> None:
    operator = Operator(aws_endpoint)
    base, app = unique("com.example.Base"), unique("com.example.App")
    for version in ("1.0.0", "1.5.0", "2.0.0"):
        operator.component(
            base,
            version,
            {"Run": f"echo base {version} up > up.txt; sleep 600"},
            defaults={"port": 9092},
        )
    operator.component(
        app,
        "1.0.0",
        # runs only once the HARD dependency is RUNNING, so its file is there
        {"Run": f"cat ../{base}/up.txt && echo 'app up, base port {{{base}:configuration:/port}}'"},
        dependencies={base: {"VersionRequirement": ">=1.0.0 <2.0.0", "DependencyType": "HARD"}},
    )
    group, group_arn = operator.group()
    thing = unique("jetson")
    with running_device(aws_endpoint, device_root, thing, group) as device:
        result = operator.wait_deployment(thing, operator.deploy(group_arn, {app: "1.0.0"}))
        assert result["reason"] == "SUCCESSFUL", result
        assert device.services[base].spec.version == "1.5.0"  # newest that satisfies <2.0.0
        assert wait_for(lambda: device.services[app].state == "FINISHED")
    log = component_log(device_root, app)
    assert "stdout. base 1.5.0 up." in log
    assert "stdout. app up, base port 9092." in log
    answer = operator.gg.list_installed_components(coreDeviceThingName=thing, topologyFilter="ALL")
    installed = {c["componentName"]: c for c in answer["installedComponents"]}
    assert installed[base]["isRoot"] is False and installed[app]["isRoot"] is True
    assert installed[base]["componentVersion"] == "1.5.0"
