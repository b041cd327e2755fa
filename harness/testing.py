"""Simulated core devices for tests: the library behind the pytest plugin's device fixtures.

A test that needs a Greengrass core device runs a :class:`~fake_device.nucleus.kernel.CoreDevice`
in-process, polling on a thread, against the AWS endpoint. In-process (rather than an
``edge-harness device run`` subprocess, as scenarios do) because a test then sees the device's
objects directly and pays no interpreter start-up; tests that must SIGKILL a device use a
subprocess instead.

Device roots live in a temporary folder every user may enter: pytest's own temporary folders are
owner-only (0700), and when the tests run as root the component scripts run as the unprivileged
``nobody``, which could not reach its work folder below them.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import tempfile
import threading
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import psutil

    from fake_device.nucleus.kernel import CoreDevice
    from harness.scenario.fleet import FleetOperator
    from harness.services.aws import AwsEndpoint

T = TypeVar("T")

#: the profile of a device a test boots when it does not say: the machine the tests run on
DEFAULT_PROFILE = "x86-64-host"


def unique(prefix: str) -> str:
    """``prefix`` plus a random suffix: names (things, groups, buckets) never collide across tests
    that share one AWS endpoint."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def zip_bytes(files: Mapping[str, str | bytes], *, folder: str = "") -> bytes:
    """A ZIP archive of ``files`` (name → content) in memory, for a component's artifact."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(f"{folder}{name}", content)
    return buffer.getvalue()


@contextlib.contextmanager
def world_traversable_dir(prefix: str = "edge-harness-") -> Iterator[Path]:
    """A fresh temporary folder with mode 0755, removed on exit.

    Device roots and scenario work folders go here, not under pytest's ``tmp_path``, because the
    component user must be able to traverse every parent of its work folder.
    """
    base = Path(tempfile.mkdtemp(prefix=prefix))
    os.chmod(base, 0o755)
    try:
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


def component_log(root: Path, component: str) -> str:
    """The log a device wrote for ``component`` (``greengrass`` is the nucleus's own); "" if none."""
    path = Path(root) / "logs" / f"{component}.log"
    return path.read_text(errors="replace") if path.exists() else ""


def wait_for(predicate: Callable[[], T], timeout: float = 30.0, what: str = "condition") -> T:
    """Poll ``predicate`` until it returns something truthy and return that; AssertionError after
    ``timeout`` seconds, so a test fails with what it waited for instead of hanging."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def processes_with(marker: str) -> list[psutil.Process]:
    """Live processes whose command line contains ``marker`` (component scripts carry one), to
    check that nothing a device started outlived it."""
    import psutil

    found = []
    for process in psutil.process_iter(["cmdline"]):
        if marker in " ".join(process.info.get("cmdline") or []):
            found.append(process)
    return found


@contextlib.contextmanager
def running_device(
    endpoint: AwsEndpoint, root: Path, thing: str, group: str, **options: Any
) -> Iterator[CoreDevice]:
    """A device booted on ``root`` and polling on a thread; stopped (components too) on exit.

    ``options`` go to :class:`CoreDevice` (``profile``, ``poll_interval`` — 0.2 s unless given, so
    deployments are picked up quickly —, ``artifact_options``, …).
    """
    from fake_device.nucleus.kernel import CoreDevice

    options.setdefault("poll_interval", 0.2)
    # on an enforcing endpoint the device signs with credentials of its own, bound to its thing
    credentials = endpoint.device_credentials(thing)
    signing = (
        {
            "aws_access_key_id": credentials["AWS_ACCESS_KEY_ID"],
            "aws_secret_access_key": credentials["AWS_SECRET_ACCESS_KEY"],
            "aws_session_token": credentials["AWS_SESSION_TOKEN"],
        }
        if credentials
        else {}
    )
    device = CoreDevice(
        root,
        thing,
        client_factory=lambda service: endpoint.client(service, **signing),
        thing_groups=(group,),
        extra_environment={**endpoint.environment(), **credentials},
        **options,
    )
    device.boot()
    thread = threading.Thread(target=device.run, name=f"device-{thing}", daemon=True)
    thread.start()
    try:
        yield device
    finally:
        device.stop()
        thread.join(30)


@dataclass
class CoreDeviceHandle:
    """One running simulated core device and the cloud side a test drives it through.

    ``fleet`` is a :class:`~harness.scenario.fleet.FleetOperator` on the same endpoint: publish a
    recipe (and its artifact) with ``fleet.publish``, deploy to ``group_arn`` with
    ``fleet.deploy``, then wait with :meth:`wait_deployment` / :meth:`wait_component`, which read
    what the device reported through the public APIs, as a check against real AWS would.
    """

    thing: str
    group: str
    group_arn: str
    root: Path
    device: CoreDevice
    fleet: FleetOperator

    def logs(self, component: str = "greengrass") -> str:
        """The component's log so far (``greengrass``: the nucleus's log); "" before it wrote one."""
        return component_log(self.root, component)

    def deploy(self, components: Mapping[str, str], *, failure_handling: str = "ROLLBACK") -> str:
        """Deploy ``{component: version}`` to this device's thing group; the deployment id."""
        return self.fleet.deploy(
            self.group_arn,
            {name: {"version": version} for name, version in components.items()},
            name=unique("deployment"),
            failure_handling=failure_handling,
        )

    def wait_deployment(self, deployment_id: str, timeout: float = 90.0) -> dict[str, Any]:
        """The effective deployment once this device reported a final status for it
        (ListEffectiveDeployments); AssertionError with the last status after ``timeout``."""
        last: list[dict[str, Any] | None] = [None]

        def final() -> dict[str, Any] | None:
            last[0] = self.fleet.effective_deployment(self.thing, deployment_id)
            status = last[0] and last[0].get("coreDeviceExecutionStatus")
            return last[0] if status and status not in ("QUEUED", "IN_PROGRESS") else None

        try:
            return wait_for(final, timeout, f"deployment {deployment_id} on {self.thing}")
        except AssertionError as err:
            raise AssertionError(f"{err} (last seen: {last[0]})") from None

    def wait_component(
        self, component: str, state: str = "RUNNING", *, version: str | None = None, timeout: float = 60.0
    ) -> dict[str, Any]:
        """The installed component once it reports ``state`` (ListInstalledComponents)."""

        def reached() -> dict[str, Any] | None:
            found = self.fleet.installed(self.thing).get(component)
            wanted = found and found.get("lifecycleState") == state
            if wanted and (version is None or found.get("componentVersion") == version):
                return found
            return None

        try:
            return wait_for(reached, timeout, f"{component} {state} on {self.thing}")
        except AssertionError as err:
            seen = self.fleet.installed(self.thing).get(component)
            log = self.logs(component)[-2000:]
            raise AssertionError(f"{err} (last seen: {seen}); its log:\n{log}") from None


@contextlib.contextmanager
def core_devices(
    endpoint: AwsEndpoint,
    count: int = 1,
    *,
    profile: str = DEFAULT_PROFILE,
    group: str | None = None,
    fleet: FleetOperator | None = None,
    **options: Any,
) -> Iterator[list[CoreDeviceHandle]]:
    """``count`` devices booted against ``endpoint`` in thing group ``group`` (a fresh one if
    None, shared by all of them so one deployment reaches every device), each on its own root in
    one world-traversable folder. All are stopped, components too, on exit — also on failure."""
    from harness.scenario.fleet import FleetOperator

    if count < 1:
        raise ValueError(f"count must be at least 1, not {count}")
    fleet = fleet or FleetOperator(endpoint.client)
    endpoint.allow_device_artifacts(fleet.bucket)  # enforcing: the devices' role reads the bucket
    group = group or unique("edge-harness-group")
    group_arn = fleet.thing_group_arn(group)
    with contextlib.ExitStack() as stack:
        base = stack.enter_context(world_traversable_dir("edge-harness-device-"))
        handles = []
        for _ in range(count):
            thing = unique("core-device")
            root = base / thing / "greengrass" / "v2"
            device = stack.enter_context(
                running_device(endpoint, root, thing, group, profile=profile, **options)
            )
            handles.append(CoreDeviceHandle(thing, group, group_arn, root, device, fleet))
        yield handles
