"""The pytest plugin as a user's suite sees it: fixtures, the ``edge_harness`` marker, options.

Each case writes a small user suite with ``pytester`` and runs it in a child pytest process, so
the services it starts are started and stopped in that process, exactly as in a user's CI run;
afterwards no tritonserver, tansu or moto process of that run may be left. The child finds the
plugin through its ``pytest11`` entry point, as an installed edge-harness is found.
"""

from __future__ import annotations

import textwrap
import time
import uuid
import xml.etree.ElementTree as ET

import psutil
import pytest

pytest_plugins = ["pytester"]
pytestmark = pytest.mark.integration

#: set in the child's environment; every process the run starts inherits it
RUN_MARKER = "EDGE_HARNESS_PLUGIN_TEST_RUN"
SERVICE_NAMES = ("tritonserver", "tansu", "aws_server")

USER_SUITE = textwrap.dedent(
    '''
    """A user's suite: services, a core device, a scenario and the marker."""

    import io
    import zipfile

    import pytest

    from harness.testing import wait_for

    RECIPE = """\\
    RecipeFormatVersion: "2020-01-25"
    ComponentName: com.example.PluginHello
    ComponentVersion: "1.0.0"
    Manifests:
      - Platform: {os: linux}
        Lifecycle:
          Run: "sh {artifacts:decompressedPath}/app/run.sh"
        Artifacts:
          - URI: s3://placeholder/app.zip
            Unarchive: ZIP
    """

    SCENARIO = """\\
    name: plugin-smoke
    devices:
      - name: box
        profile: x86-64-host
        thing_group: plugin-boxes
    components:
      com.example.ScenarioHello:
        "1.0.0":
          recipe: hello.yaml
    steps:
      - kind: deploy
        id: hello
        target: plugin-boxes
        components:
          com.example.ScenarioHello: {version: "1.0.0"}
      - kind: wait_for
        deployment: hello
        timeout_s: 60
      - kind: wait_for
        component: com.example.ScenarioHello
        state: RUNNING
        timeout_s: 60
    """

    SCENARIO_RECIPE = """\\
    RecipeFormatVersion: "2020-01-25"
    ComponentName: com.example.ScenarioHello
    ComponentVersion: "1.0.0"
    Manifests:
      - Platform: {os: linux}
        Lifecycle:
          Run: "echo scenario hello; sleep 600"
    """


    def test_aws(aws, aws_endpoint):
        assert aws is aws_endpoint
        s3 = aws.client("s3")
        s3.create_bucket(Bucket="plugin-bucket")
        s3.put_object(Bucket="plugin-bucket", Key="k", Body=b"v")
        assert s3.get_object(Bucket="plugin-bucket", Key="k")["Body"].read() == b"v"


    def test_kafka(kafka, kafka_broker):
        assert kafka is kafka_broker
        kafka.create_topic("plugin-topic")
        producer = kafka.producer()
        producer.produce("plugin-topic", b"hello from the plugin")
        producer.flush(10)
        records = kafka.read_messages("plugin-topic", max_messages=1, timeout=15)
        assert [r.value for r in records] == [b"hello from the plugin"]


    def test_triton(triton, triton_server):
        assert triton is triton_server
        assert triton.http_url.startswith("127.0.0.1:")


    def test_core_device(core_device, tmp_path):
        recipe = tmp_path / "recipe.yaml"
        recipe.write_text(RECIPE)
        archive = tmp_path / "app.zip"
        with zipfile.ZipFile(archive, "w") as zipped:
            zipped.writestr("run.sh", "echo plugin hello from $(id -un); sleep 600\\n")
        published = core_device.fleet.publish(recipe, archive)
        deployment = core_device.fleet.deploy(
            core_device.group_arn, {published.name: {"version": published.version}}, name="plugin-hello"
        )
        outcome = core_device.wait_deployment(deployment)
        assert outcome["coreDeviceExecutionStatus"] == "SUCCEEDED", (outcome, core_device.logs()[-3000:])

        def running():
            installed = core_device.fleet.installed(core_device.thing).get(published.name)
            return installed and installed["lifecycleState"] == "RUNNING"

        wait_for(running, 60, "the component RUNNING in ListInstalledComponents")
        wait_for(lambda: "plugin hello" in core_device.logs(published.name), 30, "the component's log")
        assert core_device.device.services[published.name].state == "RUNNING"
        assert core_device.root.is_dir() and core_device.group.startswith("edge-harness-group-")


    def test_core_devices(core_devices):
        devices = core_devices(2)
        assert len({d.thing for d in devices}) == 2
        assert len({d.group for d in devices}) == 1
        assert devices[0].fleet is devices[1].fleet


    def test_scenario(scenario, tmp_path):
        (tmp_path / "hello.yaml").write_text(SCENARIO_RECIPE)
        path = tmp_path / "plugin.yaml"
        path.write_text(SCENARIO)
        result = scenario(path)
        assert result.passed, [(s.name, s.status, s.message) for s in result.steps]


    @pytest.mark.edge_harness(requires=["real-aws"])
    def test_needs_real_aws():
        raise AssertionError("must have been skipped")
    '''
)


def _run_id() -> str:
    return uuid.uuid4().hex


def _leftovers(run_id: str) -> list[str]:
    """Service processes (tritonserver, tansu, moto's server) started by the run ``run_id``."""
    found = []
    for process in psutil.process_iter(["pid", "cmdline"]):
        try:
            cmdline = " ".join(process.info.get("cmdline") or [])
            if not any(name in cmdline for name in SERVICE_NAMES):
                continue
            if process.environ().get(RUN_MARKER) != run_id or process.status() == psutil.STATUS_ZOMBIE:
                continue
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        found.append(f"{process.pid} {cmdline[:120]}")
    return found


def _assert_nothing_left(run_id: str) -> None:
    deadline = time.monotonic() + 15
    while (left := _leftovers(run_id)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not left, f"service processes of the run outlived it: {left}"


def test_user_suite(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    run_id = _run_id()
    monkeypatch.setenv(RUN_MARKER, run_id)
    monkeypatch.delenv("EDGE_HARNESS_TARGET", raising=False)
    pytester.makepyfile(test_user_suite=USER_SUITE)
    junit = pytester.path / "junit.xml"
    result = pytester.runpytest_subprocess(
        "--strict-markers", "-rs", "-p", "no:cacheprovider", f"--junitxml={junit}", timeout=540
    )
    try:
        result.assert_outcomes(passed=6, skipped=1)
        result.stdout.fnmatch_lines(
            ["*SKIPPED*real-aws: EDGE_HARNESS_TARGET is not set*EDGE_HARNESS_TARGET=aws*"]
        )
        cases = {case.get("name"): case for case in ET.parse(junit).getroot().iter("testcase")}
        properties = {prop.get("name"): prop.get("value") for prop in cases["test_scenario"].iter("property")}
        assert properties["edge_harness.scenario.summary"].startswith("plugin-smoke: passed (3 passed)")
        scenario_junit = ET.parse(properties["edge_harness.scenario.junit"]).getroot()
        steps = [case.get("name") for case in scenario_junit.iter("testcase")]
        assert len(steps) == 3 and steps[0].startswith("1: "), steps
    except AssertionError:
        print(result.stdout.str()[-8000:], result.stderr.str()[-4000:], sep="\n")
        raise
    finally:
        _assert_nothing_left(run_id)


def test_unknown_feature_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.edge_harness(requires=["gpu", "quantum"])
        def test_typo():
            pass
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=120)
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str()
    result.stderr.fnmatch_lines(
        ["*unknown feature 'quantum'*known features: chromium, docker, ffmpeg, gpu, real-aws*"]
    )


def test_docker_backend_skips_in_process_device_fixtures(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_id = _run_id()
    monkeypatch.setenv(RUN_MARKER, run_id)
    pytester.makepyfile(
        """
        def test_device(core_device):
            raise AssertionError("must have been skipped")
        """
    )
    result = pytester.runpytest_subprocess(
        "-rs", "-p", "no:cacheprovider", "--eh-backend", "docker", timeout=120
    )
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*core_device runs the nucleus in this test's process*"])
    _assert_nothing_left(run_id)
