"""The simulated core device: identity, services, the deployment loop, crash recovery.

:class:`CoreDevice` plays the nucleus's ``Kernel`` + ``DeploymentService`` +
``DefaultActivator`` + ``FleetStatusService``. It talks to the cloud only through the APIs a
real core device calls (boto3 clients made by ``client_factory``): ``iot`` to register its
thing and join its thing groups (what the installer's ``--provision`` does), ``iot-jobs-data``
for deployments (``IotJobsHelper``), ``greengrassv2`` ``ResolveComponentCandidates``, ``s3``
for artifacts and ``iot-data`` ``Publish`` for fleet status.

One deployment at a time (``DeploymentService``): the job is taken with
StartNextPendingJobExecution, checked for staleness (a thing-group deployment older than the last
one applied for that group is REJECTED), resolved and prepared (:mod:`.deployment`; any failure is
FAILED_NO_STATE_CHANGE), then merged (``DeploymentConfigMerger``): the new effective configuration
is committed, new components start, changed ones restart or reinstall (the old version's shutdown
runs first), and the device waits until every changed component is RUNNING or FINISHED
(SUCCESSFUL) or one turns BROKEN.
A broken deployment is rolled back (``failureHandlingPolicy`` ROLLBACK →
FAILED_ROLLBACK_COMPLETE, or FAILED_UNABLE_TO_ROLLBACK if the old configuration does not come
back) or left (DO_NOTHING → FAILED_ROLLBACK_NOT_REQUESTED). The result goes to the job
(UpdateJobExecution with the nucleus's status details) and to fleet status.

A deployment is canceled (a cloud job canceled, or ``CancelLocalDeployment``) as
``DeploymentService.cancelCurrentDeployment`` does it: before the merge (resolution, download,
while components defer the update) nothing is applied and deferring components hear that the
update is off (a postUpdateEvent); after the merge, while the device waits for the changed
components, it stops waiting, keeps what was merged (no rollback), removes the components the
deployment dropped and does not record the deployment for its target. A cloud job gets no status
(IoT Jobs refuses updates to a canceled execution); a local one reports CANCELED with no details.
Once the result is known the deployment cannot be canceled. Deployments with bootstrap steps are
not canceled once their bootstrap has begun (``KernelUpdateDeploymentTask``).

Every stage is recorded in ``deployments/current.json`` before it starts, so a device killed at
any moment and started again on the same root converges: it starts the components of the
committed configuration, then finishes (or rolls back) the deployment it was applying, or
reports the result it had not reported yet.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from fake_device.deepstream.gst.environment import deepstream_environment
from fake_device.nucleus import DeploymentError
from fake_device.nucleus.bootstrap import LOGGER as BOOTSTRAP_LOGGER
from fake_device.nucleus.bootstrap import (
    NO_OP,
    REQUEST_REBOOT,
    bootstrap_failure,
    bootstrap_tasks,
    bootstrap_timeout,
    is_error_code,
)
from fake_device.nucleus.config_bounds import check_committable
from fake_device.nucleus.deployment import (
    NUCLEUS_COMPONENT,
    DeploymentDocument,
    json_list,
    nucleus_recipe,
    prepare_components,
    recipe_file_name,
    resolve_components,
)
from fake_device.nucleus.errorcodes import classify_component_error, error_report
from fake_device.nucleus.interpreter import ComponentPython, component_python
from fake_device.nucleus.ipc import IpcService
from fake_device.nucleus.ipc.configuration import DEFAULT_VALIDATION_TIMEOUT, ValidationRequest
from fake_device.nucleus.lifecycle import ComponentService, ServiceSpec, State
from fake_device.nucleus.local_deployments import (
    LocalDeployments,
    copy_recipes_and_artifacts,
    is_local,
    local_document,
)
from fake_device.nucleus.logs import NucleusLog
from fake_device.nucleus.mqtt import IotCoreConnection
from fake_device.nucleus.paths import NucleusPaths
from fake_device.nucleus.platform import current_platform
from fake_device.nucleus.reaper import Reaper
from fake_device.nucleus.shell import ProcessRegistry, RunAs, kill_recorded
from fake_device.nucleus.store import (
    DeploymentRecord,
    EffectiveConfig,
    atomic_write,
    from_document,
    load_effective_config,
)
from fake_device.profiles import DeviceProfile, load_profile
from harness.errors import HarnessError
from harness.lint.recipe_lifecycle import DEFAULT_TIMEOUTS

__all__ = ["NUCLEUS_VERSION", "CoreDevice", "DeploymentResult"]

#: the nucleus version the simulator reports (ggcVersion in fleet status)
NUCLEUS_VERSION = "2.14.0"
SERVICE_POLL_SECONDS = 1.0
#: the longest wait between two job polls while the endpoint does not answer
POLL_BACKOFF_MAX_S = 8.0
LOGGER = "com.aws.greengrass.deployment.DeploymentService"
MERGER = "com.aws.greengrass.deployment.DeploymentConfigMerger"
#: DeploymentRecord stages of a deployment with bootstrap steps
KERNEL_UPDATE_STAGES = ("bootstrap", "activation", "kernel-rollback")


@dataclass
class DeploymentResult:
    """``DeploymentResult``: detailed status and the failure, as reported to the cloud."""

    detailed: str  # SUCCESSFUL | FAILED_NO_STATE_CHANGE | FAILED_ROLLBACK_* | REJECTED
    failure_cause: str = ""
    error_stack: tuple[str, ...] = ()
    error_types: tuple[str, ...] = ()

    @property
    def job_status(self) -> str:
        return {"SUCCESSFUL": "SUCCEEDED", "REJECTED": "REJECTED"}.get(self.detailed, "FAILED")

    def status_details(self) -> dict[str, str]:
        """UpdateJobExecution statusDetails (``DeploymentService`` keys, values ≤ 1024 chars)."""
        details = {"detailed-deployment-status": self.detailed}
        if self.error_stack:
            details["deployment-error-stack"] = json_list(list(self.error_stack))
            details["deployment-error-types"] = json_list(list(self.error_types))
            details["deployment-failure-cause"] = self.failure_cause
        return {k: v[:1024] for k, v in details.items()}

    def to_json(self) -> dict[str, Any]:
        return {
            "detailed": self.detailed,
            "failure_cause": self.failure_cause,
            "error_stack": list(self.error_stack),
            "error_types": list(self.error_types),
        }

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> DeploymentResult:
        stack = tuple(data.get("error_stack", ()))
        types = tuple(data.get("error_types", ()))
        return DeploymentResult(data["detailed"], data.get("failure_cause", ""), stack, types)

    @staticmethod
    def failed(detailed: str, error: DeploymentError) -> DeploymentResult:
        stack, types = error_report(error.error_stack, error.error_types)
        return DeploymentResult(detailed, str(error.message), stack, types)


class _Cancelled(Exception):
    """The deployment was canceled before its result was known (``merged``: after the merge)."""

    def __init__(self, job_id: str, *, merged: bool = False) -> None:
        super().__init__(job_id)
        self.merged = merged


class CoreDevice:
    """One simulated Greengrass core device on a root folder."""

    def __init__(
        self,
        root: Path,
        thing_name: str,
        *,
        client_factory: Callable[[str], Any],
        thing_groups: tuple[str, ...] = (),
        profile: DeviceProfile | str = "jetson-agx-xavier",
        platform_override: Mapping[str, Any] | None = None,
        poll_interval: float = 1.0,
        component_user: str = "nobody",
        echo: Callable[[str], None] | None = None,
        extra_environment: Mapping[str, str] | None = None,
        artifact_options: Mapping[str, Any] | None = None,
        give_up_after: float | None = None,
        iot_core_endpoint: str | None = None,
    ) -> None:
        self.paths = NucleusPaths(Path(root))
        self.thing_name = thing_name
        self.thing_groups = tuple(thing_groups)
        self.profile = load_profile(profile) if isinstance(profile, str) else profile
        self.platform = current_platform(self.profile.platform, platform_override)
        self.poll_interval = poll_interval
        self.give_up_after = give_up_after
        self.component_user = component_user
        self.extra_environment = dict(extra_environment or {})
        self.artifact_options = dict(artifact_options or {})
        self._factory = client_factory
        self._clients: dict[str, Any] = {}
        self.log = NucleusLog(self.paths.logs_path, echo=echo)
        self.registry: ProcessRegistry | None = None
        self.services: dict[str, ComponentService] = {}
        self.config = EffectiveConfig()
        self._state_condition = threading.Condition()
        self._stop = threading.Event()
        self._reaper: Reaper | None = None
        self._sequence = 0
        self._status_lock = threading.Lock()
        self._deployment_in_progress = False
        self._last_deployment: dict[str, Any] | None = None
        self._config_lock = threading.RLock()
        # the MQTT connection to IoT Core (mqtt://host:port of the harness's broker; None: offline)
        self.iot_core = IotCoreConnection(iot_core_endpoint, thing_name, self.log)
        self.local_deployments = LocalDeployments(self.paths.deployments_path / "local.json")
        self.ipc = IpcService(self, self.paths.root / "ipc.socket")
        self._cloud_gone = False
        self._bootstrapping: ComponentService | None = None  # the service whose bootstrap step runs
        self._python: ComponentPython | None = None
        self._launched_at = 0.0

    # -- clients ---------------------------------------------------------------------------------
    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self._factory(service)
        return self._clients[service]

    @property
    def run_path(self) -> Path:
        return self.paths.root / "run"

    @property
    def current_record_path(self) -> Path:
        return self.paths.deployments_path / "current.json"

    # -- LifecycleHost ---------------------------------------------------------------------------
    @property
    def state_condition(self) -> threading.Condition:
        return self._state_condition

    def work_path(self, component: str) -> Path:
        return self.paths.work_path(component)

    def base_environment(self, spec: ServiceSpec) -> dict[str, str]:
        """What ``ShellRunner`` and the nucleus's ``setenv`` give every script."""
        # The device image's python3 is the harness's interpreter, which carries the DeepStream
        # emulation (on a Jetson: the system python3 with pyds and the DeepStream SDK), or its
        # mirror when the component user cannot reach it (interpreter.py).
        system_path = os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin")
        python_dir = str(self.python.bin_dir)
        env = {
            "PATH": f"{python_dir}{os.pathsep}{system_path}",
            "HOME": os.environ.get("HOME", "/root"),
            "LANG": os.environ.get("LANG", "C.UTF-8"),
            **self.extra_environment,
            **self.profile.env,
            "SVCUID": self.ipc.token_for(spec.name),
            "AWS_CONTAINER_AUTHORIZATION_TOKEN": self.ipc.token_for(spec.name),
            "GG_ROOT_CA_PATH": str(self.paths.root / "rootCA.pem"),
            "AWS_IOT_THING_NAME": self.thing_name,
            "GGC_VERSION": NUCLEUS_VERSION,
            "GREENGRASS_COMPONENT_VERSION": spec.version,
            "AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT": str(self.ipc.socket_path),
        }
        env = deepstream_environment(env)  # pyds, nv* elements, gst-launch-1.0 as on a Jetson
        rest = [p for p in env["PATH"].split(os.pathsep) if p and p != python_dir]
        # before the interpreter's own folder; bin/ holds greengrass-cli while the CLI is deployed
        env["PATH"] = os.pathsep.join([str(self.paths.root / "bin"), python_dir, *rest])
        return env

    def run_as(self, spec: ServiceSpec, privileged: bool) -> RunAs | None:
        """Scripts without RequiresPrivilege run as the component user when the device is root."""
        if privileged or os.geteuid() != 0:
            return None
        return RunAs.lookup(self.component_user)

    def dependency_state(self, name: str) -> State | None:
        service = self.services.get(name)
        return service.state if service else None

    def state_changed(self, service: ComponentService, old: State, new: State) -> None:
        with self._state_condition:
            self._state_condition.notify_all()
        if self.services.get(service.name) is service:
            self.write_status()
            self.publish_status("COMPONENT_STATUS_CHANGE", [service])

    @property
    def status_file(self) -> Path:
        return self.run_path / "status.json"

    def write_status(self) -> None:
        """``run/status.json``: what ``edge-harness device status`` shows (the greengrass-cli
        ``component list`` of the simulator)."""
        with self._status_lock:
            status = {
                "thing": self.thing_name,
                "platform": self.platform,
                "pid": os.getpid(),
                "updated": time.time(),
                "deployment": (self._last_deployment or {}).get("id"),
                "components": {
                    name: {
                        "version": s.spec.version,
                        "state": str(s.state),
                        "statusCode": s.status_code,
                        "statusReason": s.status_reason,
                    }
                    for name, s in sorted(self.services.items())
                },
            }
            atomic_write(self.status_file, json.dumps(status, indent=1))

    # -- boot and shutdown -----------------------------------------------------------------------
    def boot(self) -> None:
        """Prepare the root, register in the cloud, start the committed components and finish
        an interrupted deployment."""
        self._check_root_reachable()
        self._check_component_python()
        self.paths.ensure()
        self.run_path.mkdir(exist_ok=True)
        registry_file = self.run_path / "processes.json"
        survivors = kill_recorded(registry_file)
        self.registry = ProcessRegistry(registry_file)
        self._reaper = Reaper(registry_file)
        self.log.info(
            "com.aws.greengrass.lifecyclemanager.Kernel",
            "system-start",
            "Launching Nucleus",
            thingName=self.thing_name,
            platform=self.platform,
            root=self.paths.root,
            killedLeftoverProcessGroups=survivors,
        )
        self._register()
        nucleus = self.paths.recipes_path / recipe_file_name(NUCLEUS_COMPONENT, NUCLEUS_VERSION)
        if not nucleus.exists():  # what the installer leaves in the component store
            atomic_write(nucleus, nucleus_recipe(NUCLEUS_VERSION))
        self.config = load_effective_config(self.paths.effective_config_file)
        self.config.thing_name = self.thing_name
        self.config.root_path = str(self.paths.root)
        self._commit(self.config)  # Kernel.writeEffectiveConfig at launch
        self.ipc.start()  # IPCEventStreamService starts before the components
        self.iot_core.start()  # connects in the background
        record = DeploymentRecord.load(self.current_record_path)
        if record is not None:
            self._finish_interrupted_commit(record)
        if record is not None and record.stage == "prepare":
            self.log.info(
                LOGGER,
                "deployment-resume",
                "Restarting a deployment interrupted before the merge",
                DeploymentId=record.job_id,
            )
        self._launched_at = time.time()
        if record is None or record.stage != "bootstrap":  # Kernel.launch: BOOTSTRAP runs tasks first
            self._apply_services(self.config.specs())
            self.write_status()
            self.publish_status("NUCLEUS_LAUNCH", list(self.services.values()), complete=True)
        if record is not None:
            self._resume(record)

    @property
    def python(self) -> ComponentPython:
        """The Python on the components' PATH (checked at boot)."""
        if self._python is None:
            self._python = ComponentPython(Path(sys.executable).parent, mirrored=False)
        return self._python

    def _check_component_python(self) -> None:
        """Scripts without RequiresPrivilege must get the device's Python, not whatever else is
        on PATH: use it, or a mirror of it the component user can run, or refuse to boot."""
        run_as = RunAs.lookup(self.component_user) if os.geteuid() == 0 else None
        self._python = component_python(run_as)
        if self._python.mirrored:
            self.log.info(
                "com.aws.greengrass.lifecyclemanager.Kernel",
                "component-python",
                f"The component user cannot run {sys.executable}; components get its mirror",
                componentUser=self.component_user,
                python=self._python.bin_dir / "python3",
            )

    def _check_root_reachable(self) -> None:
        """Scripts without RequiresPrivilege run as the component user, who must be able to walk
        down to the root (on a device /greengrass/v2 is rwxr-xr-x); say so before a deployment
        fails with "Permission denied" in a component log."""
        if os.geteuid() != 0:
            return
        run_as = RunAs.lookup(self.component_user)
        for folder in reversed(self.paths.root.parents):
            if not folder.exists():
                break  # created by ensure() with rwxr-xr-x
            info = folder.stat()
            if info.st_mode & 0o001 or (info.st_uid == run_as.uid and info.st_mode & 0o100):
                continue
            raise HarnessError(
                f"the component user {run_as.user!r} cannot reach the device root {self.paths.root}: "
                f"{folder} is mode {info.st_mode & 0o777:o}",
                hint="put --root under a folder every user may enter (e.g. /tmp or /greengrass), or "
                "choose another --component-user",
            )

    def _register(self) -> None:
        """Create the thing and join the thing groups (the installer's provisioning)."""
        iot = self.client("iot")
        try:
            iot.create_thing(thingName=self.thing_name)
        except ClientError as err:
            if err.response["Error"]["Code"] != "ResourceAlreadyExistsException":
                raise
        for group in self.thing_groups:
            with contextlib.suppress(ClientError):
                iot.create_thing_group(thingGroupName=group)
            iot.add_thing_to_thing_group(thingGroupName=group, thingName=self.thing_name)

    def request_stop(self, *, cloud_gone: bool = False) -> None:
        """Ask :meth:`run` to return (safe from a signal handler); :meth:`stop` does the rest.

        ``cloud_gone``: the harness that ran the AWS endpoint died, so the shutdown does not try
        to report anything (each attempt would only wait out botocore's retries).
        """
        if cloud_gone:
            self._cloud_gone = True
        self._stop.set()

    def stop(self) -> None:
        """Stop every component (dependers first), then the reaper."""
        self._stop.set()
        bootstrapping = self._bootstrapping
        if bootstrapping is not None:
            bootstrapping.close()
        order = self._stop_order(list(self.services))
        for name in order:
            service = self.services.get(name)
            if service is not None:
                service.close()
        self.ipc.close()
        self.iot_core.close()
        if self._reaper is not None:
            self._reaper.close()
            self._reaper = None
        self.log.info("com.aws.greengrass.lifecyclemanager.Kernel", "system-shutdown", "Nucleus stopped")

    def _stop_order(self, names: list[str]) -> list[str]:
        order: list[str] = []
        seen: set[str] = set()

        def visit(name: str) -> None:
            if name in seen:
                return
            seen.add(name)
            for other in names:
                service = self.services.get(other)
                if service is not None and name in service.spec.dependencies:
                    visit(other)
            order.append(name)

        for name in names:
            visit(name)
        return order

    def run(self) -> None:
        """Poll for deployments until :meth:`stop` (or a signal handler) sets the stop flag.

        A poll that fails (the endpoint is down or unreachable) is retried with a doubling delay
        up to :data:`POLL_BACKOFF_MAX_S`, so an outage costs a log line every few seconds rather
        than two a second; after ``give_up_after`` seconds of failed polls (no answer, or an
        error answer) the device stops with an error instead of retrying for ever (None: never).
        """
        failing_since: float | None = None
        delay = self.poll_interval
        while not self._stop.is_set():
            try:
                handled = self.poll_once()
            except (ClientError, BotoCoreError) as err:
                now = time.monotonic()
                if failing_since is None:
                    failing_since, delay = now, self.poll_interval
                else:
                    delay = min(delay * 2, max(POLL_BACKOFF_MAX_S, self.poll_interval))
                failing_for = now - failing_since
                if self.give_up_after is not None and failing_for >= self.give_up_after:
                    self.log.error(
                        LOGGER,
                        "jobs-poll-give-up",
                        f"Every job poll failed for {failing_for:.0f} s; stopping",
                        lastError=str(err),
                    )
                    raise HarnessError(
                        f"device {self.thing_name}: every poll of the IoT Jobs endpoint failed for "
                        f"{failing_for:.0f} s (last error: {err})",
                        hint="is the AWS endpoint running? --give-up-after sets how long a device "
                        "retries (0: for ever)",
                    ) from None
                self.log.warn(LOGGER, "jobs-poll-error", str(err), retryInSeconds=round(delay, 2))
                self._stop.wait(delay)
                continue
            if failing_since is not None:
                self.log.info(
                    LOGGER,
                    "jobs-poll-recovered",
                    "The IoT Jobs endpoint answers again",
                    failedForSeconds=round(time.monotonic() - failing_since, 1),
                )
                failing_since = None
            if not handled:
                self._stop.wait(self.poll_interval)

    # -- jobs ------------------------------------------------------------------------------------
    def poll_once(self) -> bool:
        """Take the next local deployment or pending job, if any, and apply it. Returns whether
        there was one."""
        local = self.local_deployments.next()
        if local is not None:
            deployment_id, request = local
            document = local_document(deployment_id, request, self.config, int(time.time() * 1000))
            document["localRequest"] = request
            record = DeploymentRecord(job_id=deployment_id, document=document)
            record.save(self.current_record_path)
            self.log.info(
                LOGGER, "deployment-received", "Received local deployment", DeploymentId=deployment_id
            )
            self._apply(record)
            return True
        answer = self.client("iot-jobs-data").start_next_pending_job_execution(
            thingName=self.thing_name, statusDetails={}
        )
        execution = answer.get("execution")
        if not execution:
            return False
        job_id = execution["jobId"]
        try:
            document = json.loads(execution.get("jobDocument") or "{}")
        except ValueError:
            document = {"unparsable": execution.get("jobDocument")}
        record = DeploymentRecord(job_id=job_id, document=document)
        record.save(self.current_record_path)
        self.log.info(LOGGER, "deployment-received", "Received deployment", DeploymentId=job_id)
        self._apply(record)
        return True

    def _job_cancelled(self, job_id: str) -> bool:
        if self.local_deployments.known(job_id):
            return self.local_deployments.cancel_requested(job_id)
        try:
            answer = self.client("iot-jobs-data").describe_job_execution(
                jobId=job_id, thingName=self.thing_name
            )
        except ClientError as err:
            return err.response["Error"]["Code"] == "ResourceNotFoundException"
        return answer["execution"]["status"] in ("CANCELED", "REMOVED", "TIMED_OUT")

    def _check_cancelled(self, job_id: str) -> None:
        if self._job_cancelled(job_id):
            raise _Cancelled(job_id)

    def _cancel_seen(self, job_id: str) -> bool:
        """:meth:`_job_cancelled` for the waits: an endpoint that does not answer is no cancellation
        (the device learns of it at a later check, as a device offline learns late)."""
        try:
            return self._job_cancelled(job_id)
        except (ClientError, BotoCoreError):
            return False

    # -- applying a deployment -------------------------------------------------------------------
    def _apply(self, record: DeploymentRecord) -> None:
        self._deployment_in_progress = True
        try:
            result = self._prepare_and_merge(record)
        except _Cancelled as cancelled:
            self._cancelled(record, merged=cancelled.merged)
            return
        if result is not None:
            self._finish(record, result)

    def _cancelled(self, record: DeploymentRecord, *, merged: bool) -> None:
        """``cancelCurrentDeployment``: the deployment ends without a result of its own."""
        self.log.warn(
            LOGGER,
            "",
            "Cancelling deployment, changes may already have been applied. "
            "Make a new deployment to revert the update",
            DeploymentId=record.job_id,
        )
        if merged:
            # DefaultActivator goes on after the cancelled wait: the dropped components go
            self._remove_obsolete(self.config.specs())
        self.log.info(LOGGER, "", "Deployment was cancelled", DeploymentId=record.job_id)
        self._deployment_in_progress = False
        if self.local_deployments.known(record.job_id):
            self.local_deployments.update(record.job_id, "CANCELED", {})
            document = record.document
            self.publish_status(
                "LOCAL_DEPLOYMENT",
                list(self.services.values()),
                complete=True,
                deployment={
                    "status": "CANCELED",
                    "fleetConfigurationArnForStatus": document.get("configurationArn", ""),
                    "deploymentId": document.get("deploymentId", record.job_id),
                    "statusDetails": {},
                },
            )
        self.current_record_path.unlink(missing_ok=True)

    def _prepare_and_merge(self, record: DeploymentRecord) -> DeploymentResult | None:
        try:
            document = DeploymentDocument.parse(record.document)
        except DeploymentError as err:
            return DeploymentResult.failed("FAILED_NO_STATE_CHANGE", err)
        self._last_deployment = {"id": record.job_id}
        last = self.config.group_last_deployment.get(document.group_name) or {}
        stale = last.get("timestamp") and document.timestamp < int(last["timestamp"])
        if document.is_group_deployment and stale:
            error = DeploymentError(
                "REJECTED_STALE_DEPLOYMENT",
                f"Nucleus has a newer deployment for '{document.group_name}' target deployed by "
                f"'{last.get('configArn')}'. Rejecting the deployment from '{document.configuration_arn}'",
                error_stack=["DEPLOYMENT_REJECTED", "REJECTED_STALE_DEPLOYMENT"],
            )
            return DeploymentResult.failed("REJECTED", error)
        self._report_job(record.job_id, "IN_PROGRESS", {})
        try:
            self._check_cancelled(record.job_id)
            if is_local(record.document):
                copy_recipes_and_artifacts(record.document.get("localRequest") or {}, self.paths)
            resolved = resolve_components(
                _roots_only(document),
                self.config,
                self.platform,
                self.client("greengrassv2"),
                member_groups=self._member_groups(),
                recipes_path=self.paths.recipes_path,
                on_local_fallback=self._local_fallback,
                nucleus_version=NUCLEUS_VERSION,
            )
            self.log.info(
                LOGGER,
                "dependency-resolution",
                "Resolved components",
                components={n: c.version for n, c in resolved.items()},
            )
            prepared = prepare_components(
                document,
                resolved,
                self.config,
                self.paths,
                self.platform,
                self.thing_name,
                s3_client=self.client("s3"),
                check_cancelled=lambda: self._check_cancelled(record.job_id),
                artifact_options=self.artifact_options,
            )
        except DeploymentError as err:
            self.log.error(
                LOGGER,
                "deployment-failed",
                str(err.message),
                DeploymentId=record.job_id,
                errorStack=list(err.error_stack),
            )
            return DeploymentResult.failed("FAILED_NO_STATE_CHANGE", err)
        self._check_cancelled(record.job_id)
        new = prepared.config
        notified = self._notify_update_policy(document, record.job_id)
        if self._stop.is_set():
            return None  # stopped while components deferred: resumed at the next boot
        try:
            # discardPendingUpdateAction: a deployment canceled while components defer it is
            # dropped, and they hear (postUpdateEvent, below) that they may go on
            self._check_cancelled(record.job_id)
            invalid = self._check_committable(record.job_id, new) or self._validate_configuration(
                record.job_id, document, new
            )
            if invalid is not None:
                return DeploymentResult.failed("FAILED_NO_STATE_CHANGE", invalid)
            # commit point: the record first (it holds both configurations), then the config
            record.previous = self.config.to_document()
            tasks = bootstrap_tasks(self.config, new)
            if tasks:
                return self._activate_with_bootstrap(record, document, new, tasks)
            record.tracked = self._changed_services(self.config, new)
            record.stage = "merged"
            record.target = new.to_document()
            record.merge_time = time.time()
            record.save(self.current_record_path)
            self.log.info(
                MERGER,
                "merge-config",
                "Applying deployment changes",
                DeploymentId=record.job_id,
                tracked=record.tracked,
            )
            self._commit(new)
            self._apply_services(new.specs(), remove_obsolete=False)
            return self._wait_and_conclude(record, document)
        finally:
            if notified:
                self.ipc.component_updates_done(document.deployment_id)

    def _local_fallback(self, name: str, version: str, error: str) -> None:
        self.log.info(
            "com.aws.greengrass.componentmanager.ComponentManager",
            "",
            "Failed to negotiate version with cloud and fall back to use the local version",
            componentName=name,
            localVersion=version,
            cause=error,
        )

    def _member_groups(self) -> set[str] | None:
        try:
            answer = self.client("iot").list_thing_groups_for_thing(thingName=self.thing_name)
        except (ClientError, BotoCoreError):
            return None
        return {f"thinggroup/{g['groupName']}" for g in answer.get("thingGroups", [])}

    def _notify_update_policy(self, document: DeploymentDocument, job_id: str) -> bool:
        """``componentUpdatePolicy`` NOTIFY_COMPONENTS: components subscribed over IPC hear of the
        update and may defer it (``UpdateSystemPolicyService``). Returns whether they were told; if
        so they hear again when the deployment is done (PostComponentUpdateEvent)."""
        if document.update_policy_action != "NOTIFY_COMPONENTS":
            self.log.info(
                MERGER,
                "",
                "Deployment is configured to skip update policy check, not waiting for disruptable "
                "time to update",
            )
            return False
        self.log.info(
            MERGER,
            "merge-config-notify",
            "Notifying components of the update",
            timeout=document.update_policy_timeout,
        )
        self.ipc.wait_for_disruptable(
            document.deployment_id,
            document.update_policy_timeout,
            self._stop,
            cancelled=lambda: self._cancel_seen(job_id),
        )
        return True

    def _check_committable(self, job_id: str, new: EffectiveConfig) -> DeploymentError | None:
        """The new configuration must be one the device can read back at its next boot (see
        :mod:`.config_bounds`); checked before components are asked to validate it, as nothing
        they answer could make it committable."""
        new.thing_name = self.thing_name  # as _commit writes it
        new.root_path = str(self.paths.root)
        failure = check_committable(new, self._changed_services(self.config, new))
        if failure is not None:
            self.log.error(LOGGER, "deployment-failed", failure.message, DeploymentId=job_id)
        return failure

    def _validate_configuration(
        self, job_id: str, document: DeploymentDocument, new: EffectiveConfig
    ) -> DeploymentError | None:
        """``DynamicComponentConfigurationValidator``: running components whose version stays and
        whose configuration changes validate it over IPC, if they subscribed to do so."""
        requests = []
        for name, entry in new.services.items():
            old = self.config.services.get(name)
            if name not in self.services or old is None or old.get("version") != entry.get("version"):
                continue
            newest = max((int(v) for v in (old.get("configurationTimestamps") or {}).values()), default=0)
            changed = json.dumps(old.get("configuration"), sort_keys=True) != json.dumps(
                entry.get("configuration"), sort_keys=True
            )
            if changed and document.timestamp > newest:
                requests.append(ValidationRequest(name, entry.get("configuration") or {}))
        if not requests:
            return None
        policy = document.raw.get("configurationValidationPolicy") or {}
        timeout = float(policy.get("timeout") or DEFAULT_VALIDATION_TIMEOUT)
        failure = self.ipc.validate_configuration(job_id, requests, timeout)
        if failure is None:
            return None
        self.log.error(LOGGER, "deployment-failed", failure, DeploymentId=job_id)
        return DeploymentError(
            "COMPONENT_CONFIGURATION_NOT_VALID",
            failure,
            error_stack=["DEPLOYMENT_FAILURE", "COMPONENT_CONFIGURATION_NOT_VALID"],
            hint="a component answered its SubscribeToValidateConfigurationUpdates event (see its log)",
        )

    def _changed_services(self, old: EffectiveConfig, new: EffectiveConfig) -> list[str]:
        changed = []
        for name, entry in new.services.items():
            before = old.services.get(name)
            service = self.services.get(name)
            if before != entry or (service is not None and service.state == State.BROKEN):
                changed.append(name)
        return sorted(changed)

    @property
    def config_lock(self) -> threading.RLock:
        """Held while the effective configuration is read for a change and committed."""
        return self._config_lock

    def commit_configuration(self, config: EffectiveConfig) -> None:
        """Commit a configuration a component changed over IPC (``UpdateConfiguration``)."""
        self._commit(config)

    def _commit(self, config: EffectiveConfig) -> None:
        with self._config_lock:
            old = self.config
            config.thing_name = self.thing_name
            config.root_path = str(self.paths.root)
            config.save(self.paths.effective_config_file)
            self.config = config
        self.ipc.configuration_committed(old, config)

    def _apply_services(self, specs: Mapping[str, ServiceSpec], *, remove_obsolete: bool = True) -> None:
        """Reconcile running components with ``specs`` (``AggregateServicesChangeManager``)."""
        for name, spec in specs.items():
            service = self.services.get(name)
            if service is None:
                self._start_service(spec)
            elif service.spec.version != spec.version:
                self.log.info(
                    MERGER,
                    "merge-config-replace",
                    "Replacing component version",
                    serviceName=name,
                    old=service.spec.version,
                    new=spec.version,
                )
                service.close()
                self._start_service(spec)
            else:
                action = service.update(spec)
                if not action and service.state == State.BROKEN:
                    service.request_reinstall()
        if remove_obsolete:
            self._remove_obsolete(specs)

    def _remove_obsolete(self, specs: Mapping[str, ServiceSpec]) -> None:
        obsolete = [name for name in self.services if name not in specs]
        for name in self._stop_order(obsolete):
            self.log.info(MERGER, "merge-config-remove", "Removing component", serviceName=name)
            self.services[name].close()
            del self.services[name]
            self.write_status()
            # a removed component disappears from the device's next COMPLETE status
            self.publish_status("COMPONENT_STATUS_CHANGE", list(self.services.values()), complete=True)

    def _prepare_paths(self, spec: ServiceSpec) -> None:
        """The work folder, and ownership of it and the artifacts for the component user."""
        self.paths.ensure_work_path(spec.name)
        run_as = self.run_as(spec, False)
        if run_as is not None:
            os.chown(self.paths.work_path(spec.name), run_as.uid, run_as.gid)
            for folder in (
                self.paths.artifact_path(spec.name, spec.version),
                self.paths.unarchive_artifact_path(spec.name, spec.version),
            ):
                _chown_tree(folder, run_as)

    def _start_service(self, spec: ServiceSpec) -> None:
        self._prepare_paths(spec)
        service = ComponentService(spec, self)
        self.services[spec.name] = service
        service.start()

    def _wait_and_conclude(
        self, record: DeploymentRecord, document: DeploymentDocument
    ) -> DeploymentResult | None:
        failure = self._wait_for_services(record.tracked, record.merge_time, record.job_id)
        if failure is None:
            self._remove_obsolete(self.config.specs())
            self._persist_group(document)
            self.log.info(MERGER, "merge-config", "All services updated", DeploymentId=record.job_id)
            return DeploymentResult("SUCCESSFUL")
        if self._stop.is_set():
            return None  # the device is shutting down: the record resumes at the next boot
        if document.failure_handling_policy != "ROLLBACK":
            # DefaultActivator.handleFailure: no removeObsoleteServices, so the components this
            # deployment dropped keep running and stay in the configuration (the merge only adds
            # services); the next successful deployment removes them
            self._keep_running_services(record.previous or {})
            self._persist_group(document)
            return DeploymentResult.failed("FAILED_ROLLBACK_NOT_REQUESTED", failure)
        return self._rollback(record, failure)

    def _rollback(self, record: DeploymentRecord, failure: DeploymentError) -> DeploymentResult:
        self.log.info(MERGER, "merge-config", "Rolling back failed deployment", DeploymentId=record.job_id)
        record.stage = "rollback"
        record.failure = {"message": failure.message, "error_stack": list(failure.error_stack)}
        previously_broken = [
            n for n, s in self.services.items() if s.state == State.BROKEN and n not in record.tracked
        ]
        record.merge_time = time.time()
        previous = from_document(record.previous or {})
        changed = self._changed_services(self.config, previous)
        record.tracked = [n for n in changed if n not in previously_broken]
        record.target = record.previous
        record.save(self.current_record_path)
        self._commit(previous)
        self._apply_services(previous.specs(), remove_obsolete=False)
        return self._conclude_rollback(record, failure)

    def _conclude_rollback(self, record: DeploymentRecord, failure: DeploymentError) -> DeploymentResult:
        rollback_failure = self._wait_for_services(record.tracked, record.merge_time, record.job_id)
        if rollback_failure is None:
            self._remove_obsolete(self.config.specs())
            return DeploymentResult.failed("FAILED_ROLLBACK_COMPLETE", failure)
        return DeploymentResult.failed("FAILED_UNABLE_TO_ROLLBACK", failure)

    def _wait_for_services(
        self, names: list[str], merge_time: float, job_id: str | None = None
    ) -> DeploymentError | None:
        """``waitForServicesToStart``: all RUNNING/FINISHED, or the first BROKEN after the merge.
        With ``job_id``, a cancellation of that deployment ends the wait (:class:`_Cancelled`)."""
        while not self._stop.is_set():
            done = True
            for name in names:
                service = self.services.get(name)
                if service is None:
                    continue
                if service.state == State.BROKEN and service.state_mod_time >= merge_time:
                    return DeploymentError(
                        "COMPONENT_BROKEN",
                        f"Service {name} in broken state after deployment{self._unpacked(service)}",
                        error_stack=["DEPLOYMENT_FAILURE", "COMPONENT_UPDATE_ERROR", "COMPONENT_BROKEN"],
                        error_types=[self._classify(service.name, service.spec.version)],
                        hint=f"see logs/{name}.log: {service.status_code} {service.status_reason}".rstrip(),
                    )
                if not (service.state in (State.RUNNING, State.FINISHED) and service.reached_desired_state):
                    done = False
            if done:
                return None
            if job_id is not None and self._cancel_seen(job_id):
                self.log.warn(
                    MERGER, "merge-config", "deployment cancelled while waiting for services to start"
                )
                raise _Cancelled(job_id, merged=True)
            # DeploymentConfigMerger polls once a second (WAIT_SVC_START_POLL_INTERVAL_MILLISEC):
            # a component that breaks later than the check that sees it RUNNING does not fail
            # the deployment, on a device as here.
            self._stop.wait(SERVICE_POLL_SECONDS)
        return DeploymentError(
            "DEPLOYMENT_INTERRUPTED",
            "The device stopped during the deployment",
            error_stack=["DEPLOYMENT_INTERRUPTED"],
        )

    def _classify(self, name: str, version: str) -> str:
        """``DeploymentErrorCodeUtils.classifyComponentError`` for a component version."""
        return classify_component_error(self.paths.recipes_path, recipe_file_name(name, version))

    def _unpacked(self, service: ComponentService) -> str:
        """Where the component's ZIP artifacts were unpacked: the usual cause of a script that
        cannot find its files is a path that misses the archive's own folder."""
        parent = self.paths.unarchive_artifact_path(service.name, service.spec.version)
        if not parent.is_dir():
            return ""
        parts = []
        for folder in sorted(p for p in parent.iterdir() if p.is_dir()):
            top = ", ".join(sorted(e.name + ("/" if e.is_dir() else "") for e in folder.iterdir())[:5])
            parts.append(f"{folder}/ (top level: {top or 'empty'})")
        return ("; ZIP artifacts were unpacked into " + "; ".join(parts)) if parts else ""

    def _keep_running_services(self, before: Mapping[str, Any]) -> None:
        """Put the components still running but no longer configured back into the committed
        configuration, with their entries from ``before`` (an EffectiveConfig document)."""
        previous = from_document(before).services
        kept = {n: previous[n] for n in self.services if n not in self.config.services and n in previous}
        if kept:
            self.log.info(
                MERGER,
                "merge-config",
                "Components the deployment removed keep running after a failure",
                components=sorted(kept),
            )
            self.config.services.update(kept)
            self._commit(self.config)

    def _persist_group(self, document: DeploymentDocument) -> None:
        """``persistGroupToRootComponents``: the roots and last deployment of this target."""
        self.config.group_roots[document.group_name] = {
            name: {
                "version": str(spec.get("version", "")),
                "groupConfigArn": document.configuration_arn,
                "groupConfigName": document.group_name,
            }
            for name, spec in document.components.items()
            if spec.get("rootComponent", True) is not False  # a local configuration-only entry
        }
        self.config.group_last_deployment[document.group_name] = {
            "timestamp": document.timestamp,
            "configArn": document.configuration_arn,
        }
        self._commit(self.config)

    def _finish(self, record: DeploymentRecord, result: DeploymentResult) -> None:
        record.stage = "report"
        record.result = result.to_json()
        record.save(self.current_record_path)
        self._report_result(record, result)

    def _report_result(self, record: DeploymentRecord, result: DeploymentResult) -> None:
        level = "INFO" if result.detailed == "SUCCESSFUL" else "ERROR"
        self.log.log(
            level,
            LOGGER,
            "deployment-status",
            f"Deployment {result.job_status}",
            DeploymentId=record.job_id,
            **result.status_details(),
        )
        self._report_job(record.job_id, result.job_status, result.status_details())
        document = record.document
        trigger = (
            "LOCAL_DEPLOYMENT"
            if is_local(document)
            else "THING_GROUP_DEPLOYMENT"
            if ":thinggroup/" in str(document.get("configurationArn"))
            else "THING_DEPLOYMENT"
        )
        self._deployment_in_progress = False
        self.publish_status(
            trigger,
            list(self.services.values()),
            complete=True,
            deployment={
                "status": result.job_status,
                "fleetConfigurationArnForStatus": document.get("configurationArn", ""),
                "deploymentId": document.get("deploymentId", record.job_id),
                "statusDetails": {
                    "detailedStatus": result.detailed,
                    "failureCause": result.failure_cause,
                    "errorStack": list(result.error_stack),
                    "errorTypes": result.error_types,
                },
            },
        )
        self.current_record_path.unlink(missing_ok=True)

    def _report_job(self, job_id: str, status: str, details: Mapping[str, str]) -> None:
        if self.local_deployments.known(job_id):  # a local deployment's status stays on the device
            self.local_deployments.update(job_id, status, _local_details(details))
            return
        if self._cloud_gone:
            return
        try:
            self.client("iot-jobs-data").update_job_execution(
                jobId=job_id, thingName=self.thing_name, status=status, statusDetails=dict(details)
            )
        except ClientError as err:
            # a job canceled after the merge, or a status already reported before a restart
            self.log.warn(
                LOGGER,
                "job-update-rejected",
                err.response["Error"].get("Message", str(err)),
                JobId=job_id,
                status=status,
            )

    # -- deployments with bootstrap steps (KernelUpdateActivator) --------------------------------
    def _activate_with_bootstrap(
        self, record: DeploymentRecord, document: DeploymentDocument, new: EffectiveConfig, tasks: list[str]
    ) -> DeploymentResult | None:
        """``KernelUpdateActivator.activate``: every component stops, the new configuration is
        committed, then the bootstrap tasks run and the nucleus restarts (:mod:`.bootstrap`)."""
        record.stage = "bootstrap"
        record.target = new.to_document()
        record.bootstrap = [{"component": n, "status": "PENDING", "exitCode": None} for n in tasks]
        record.save(self.current_record_path)
        self.log.info(BOOTSTRAP_LOGGER, "", "Found a list of bootstrap tasks in dependency order", list=tasks)
        self.log.info(MERGER, "merge-config", "Applying deployment changes", DeploymentId=record.job_id)
        self._stop_components()  # KernelLifecycle.softShutdown
        self._commit(new)
        return self._continue_kernel_update(record, document)

    def _continue_kernel_update(
        self, record: DeploymentRecord, document: DeploymentDocument
    ) -> DeploymentResult | None:
        """The stages a bootstrap deployment goes through across nucleus restarts
        (``Kernel.launch``, ``KernelUpdateDeploymentTask``), from ``record.stage`` on. None when
        the device stops meanwhile: the record resumes at the next boot."""
        while not self._stop.is_set():
            if record.stage == "bootstrap":
                try:
                    code = self._run_bootstrap_tasks(record)
                except DeploymentError as failure:
                    self.log.error(BOOTSTRAP_LOGGER, "", "Deployment bootstrap failed", cause=failure.message)
                    self._kernel_rollback(record, failure)
                    continue
                except InterruptedError:
                    return None
                pending = any(task["status"] != "DONE" for task in record.bootstrap)
                if not pending:
                    self.log.info(
                        BOOTSTRAP_LOGGER,
                        "",
                        "Completed all bootstrap tasks. Continue to activate deployment changes",
                    )
                    record.stage = "activation"
                record.save(self.current_record_path)
                reboot = code == REQUEST_REBOOT
                self.log.info(
                    BOOTSTRAP_LOGGER,
                    "",
                    ("device reboot" if reboot else "Nucleus restart")
                    + " requested to complete bootstrap task",
                )
                self._relaunch(reboot=reboot, start_components=not pending)
                record.merge_time = self._launched_at
            elif record.stage == "activation":
                record.tracked = sorted(self.config.services)
                record.save(self.current_record_path)
                failure = self._wait_for_services(record.tracked, record.merge_time)
                if self._stop.is_set():
                    return None
                if failure is None:
                    self._persist_group(document)
                    self.log.info(MERGER, "merge-config", "All services updated", DeploymentId=record.job_id)
                    return DeploymentResult("SUCCESSFUL")
                self._kernel_rollback(record, failure)
            else:  # kernel-rollback
                failed = record.failure or {}
                error = DeploymentError(
                    (failed.get("error_stack") or ["COMPONENT_BROKEN"])[-1],
                    failed.get("message", "deployment failed"),
                    error_stack=failed.get("error_stack"),
                    error_types=failed.get("error_types") or (),
                )
                rollback_failure = self._wait_for_services(sorted(self.config.services), record.merge_time)
                if self._stop.is_set():
                    return None
                if rollback_failure is None:
                    return DeploymentResult.failed("FAILED_ROLLBACK_COMPLETE", error)
                return DeploymentResult.failed("FAILED_UNABLE_TO_ROLLBACK", error)
        return None

    def _run_bootstrap_tasks(self, record: DeploymentRecord) -> int:
        """``executeAllBootstrapTasksSequentially``: run the pending tasks in order until one
        asks for a restart or a reboot; its exit code (0 when all finished with 0). Raises the
        deployment's DeploymentError for a failed step, InterruptedError when the device stops."""
        for task in record.bootstrap:
            if task["status"] == "DONE":
                continue
            name = task["component"]
            spec = self.config.specs()[name]
            self.log.info(BOOTSTRAP_LOGGER, "", "Execute component bootstrap step", componentName=name)
            self._prepare_paths(spec)
            service = ComponentService(spec, self)
            self._bootstrapping = service
            try:
                code = service.bootstrap()
            except TimeoutError:
                step = spec.step("bootstrap") or {}
                seconds = int(step.get("timeout") or DEFAULT_TIMEOUTS["bootstrap"] or 0)
                raise bootstrap_timeout(name, seconds, self._classify(name, spec.version)) from None
            finally:
                self._bootstrapping = None
            task["status"], task["exitCode"] = "DONE", code
            record.save(self.current_record_path)
            if is_error_code(code):
                raise bootstrap_failure(name, code, self._classify(name, spec.version))
            if code != NO_OP:
                return code
        return NO_OP

    def _kernel_rollback(self, record: DeploymentRecord, failure: DeploymentError) -> None:
        """``KernelUpdateActivator.rollback``: whatever the failure handling policy, the previous
        configuration is committed and the nucleus restarts into it."""
        self.log.info(MERGER, "merge-config", "Rolling back failed deployment", DeploymentId=record.job_id)
        record.failure = {
            "message": failure.message,
            "error_stack": list(failure.error_stack),
            "error_types": list(failure.error_types),
        }
        record.stage = "kernel-rollback"
        record.target = record.previous
        record.save(self.current_record_path)
        self._commit(from_document(record.previous or {}))
        self._relaunch(reboot=False, start_components=True)
        record.merge_time = self._launched_at
        record.save(self.current_record_path)

    def _stop_components(self) -> None:
        """Every component stops, dependers first (their shutdown steps run)."""
        for name in self._stop_order(list(self.services)):
            service = self.services.get(name)
            if service is not None:
                service.close()
        self.services = {}
        self.write_status()

    def _relaunch(self, *, reboot: bool, start_components: bool) -> None:
        """The nucleus exits with 100 (restart) or 101 (reboot) and the loader starts it again.

        Both stop every component and the IPC server (connections, subscriptions and tokens are
        lost) and start from the committed configuration, components from NEW (install runs
        again). A reboot also ends every process left in the components' process groups and
        empties ``run/``, as a reboot empties the device's tmpfs folders. With
        ``start_components`` False the launch goes on with the remaining bootstrap tasks first.
        """
        kernel = "com.aws.greengrass.lifecyclemanager.Kernel"
        self._stop_components()
        self.ipc.close()
        self.iot_core.close()
        self.log.info(kernel, "system-shutdown", "Nucleus stopped", exitCode=101 if reboot else 100)
        if reboot:
            registry_file = self.run_path / "processes.json"
            killed = kill_recorded(registry_file)
            for leftover in list(self.run_path.iterdir()) if self.run_path.is_dir() else []:
                if leftover.is_dir() and not leftover.is_symlink():
                    shutil.rmtree(leftover, ignore_errors=True)
                else:
                    leftover.unlink(missing_ok=True)
            self.run_path.mkdir(exist_ok=True)
            self.registry = ProcessRegistry(registry_file)
            self.log.info(kernel, "device-reboot", "Rebooting host", killedProcessGroups=killed)
        self.iot_core = IotCoreConnection(self.iot_core.endpoint, self.thing_name, self.log)
        self.ipc = IpcService(self, self.paths.root / "ipc.socket")
        self._launched_at = time.time()
        self.log.info(
            kernel,
            "system-start",
            "Launching Nucleus",
            thingName=self.thing_name,
            reason="device reboot" if reboot else "nucleus restart",
        )
        self.config = load_effective_config(self.paths.effective_config_file)
        self.config.thing_name = self.thing_name
        self.config.root_path = str(self.paths.root)
        self.ipc.start()
        self.iot_core.start()
        if start_components:
            self._apply_services(self.config.specs())
            self.write_status()
            self.publish_status("NUCLEUS_LAUNCH", list(self.services.values()), complete=True)

    # -- crash recovery --------------------------------------------------------------------------
    def _finish_interrupted_commit(self, record: DeploymentRecord) -> None:
        """A stage is recorded before its configuration is committed; a device killed between the
        two boots on the configuration of the stage before. Commit the recorded one first, so
        that the components started at launch are the ones the resumed stage waits for."""
        if record.stage in ("prepare", "report") or record.target is None:
            return
        target = from_document(record.target)
        target.thing_name = self.config.thing_name
        target.root_path = self.config.root_path
        if target.to_document() == self.config.to_document():
            return
        self.log.info(
            LOGGER,
            "deployment-resume",
            f"Completing the configuration commit interrupted at stage {record.stage}",
            DeploymentId=record.job_id,
        )
        self._commit(target)

    def _resume(self, record: DeploymentRecord) -> None:
        self.log.info(
            LOGGER,
            "deployment-resume",
            f"Resuming deployment at stage {record.stage}",
            DeploymentId=record.job_id,
        )
        if record.stage == "prepare":
            self._apply(record)
            return
        if record.stage == "report" and record.result is not None:
            self._report_result(record, DeploymentResult.from_json(record.result))
            return
        document = DeploymentDocument.parse(record.document)
        self._deployment_in_progress = True
        if record.stage in KERNEL_UPDATE_STAGES:
            record.merge_time = self._launched_at
            kernel_result = self._continue_kernel_update(record, document)
            if kernel_result is not None:
                self._finish(record, kernel_result)
            return
        # after a restart every component started again: wait for all of the deployment's
        record.merge_time = min(record.merge_time, time.time())
        try:
            result = self._resume_merged(record, document)
        except _Cancelled:
            self._cancelled(record, merged=True)
            return
        if result is not None:
            self._finish(record, result)

    def _resume_merged(
        self, record: DeploymentRecord, document: DeploymentDocument
    ) -> DeploymentResult | None:
        """The wait of a merged deployment (or of its rollback) the restart interrupted."""
        if record.stage == "merged":
            record.tracked = sorted(self.config.services)
            result = self._wait_and_conclude(record, document)
        else:
            failure = record.failure or {}
            error = DeploymentError(
                (failure.get("error_stack") or ["COMPONENT_BROKEN"])[-1],
                failure.get("message", "deployment failed"),
                error_stack=failure.get("error_stack"),
            )
            record.tracked = sorted(self.config.services)
            result = self._conclude_rollback(record, error)
        return result

    # -- fleet status ----------------------------------------------------------------------------
    def _component_status(self, service: ComponentService) -> dict[str, Any]:
        roots = {n: g for g, comps in self.config.group_roots.items() for n in comps}
        arns = sorted(
            {
                c["groupConfigArn"]
                for comps in self.config.group_roots.values()
                for n, c in comps.items()
                if n == service.name and "groupConfigArn" in c
            }
        )
        status: dict[str, Any] = {
            "componentName": service.name,
            "version": service.spec.version,
            "fleetConfigArns": arns,
            "isRoot": service.name in roots,
            "status": str(service.state),
        }
        if service.state in (State.BROKEN, State.ERRORED):
            status["componentStatusDetails"] = {
                "statusCodes": [service.status_code],
                "statusReason": service.status_reason,
            }
        return status

    def publish_status(
        self,
        trigger: str,
        services: list[ComponentService],
        *,
        complete: bool = False,
        deployment: Mapping[str, Any] | None = None,
    ) -> None:
        """Publish fleet status (``FleetStatusService``) on
        ``$aws/things/<thing>/greengrassv2/health/json``."""
        with self._status_lock:
            self._sequence += 1
            broken = any(s.state == State.BROKEN for s in self.services.values())
            overall = "UNHEALTHY" if broken else "HEALTHY"
            message: dict[str, Any] = {
                "ggcVersion": NUCLEUS_VERSION,
                "platform": self.platform.get("os", "linux"),
                "architecture": self.platform.get("architecture", ""),
                "thing": self.thing_name,
                "overallDeviceStatus": overall,
                "sequenceNumber": self._sequence,
                "timestamp": int(time.time() * 1000),
                "messageType": "COMPLETE" if complete else "PARTIAL",
                "trigger": trigger,
                "components": [self._component_status(s) for s in services],
            }
            if deployment is not None:
                message["deploymentInformation"] = dict(deployment)
            self._publish(message)

    def _publish(self, message: Mapping[str, Any]) -> None:
        if self._cloud_gone:
            return
        try:
            self.client("iot-data").publish(
                topic=f"$aws/things/{self.thing_name}/greengrassv2/health/json",
                qos=1,
                payload=json.dumps(message).encode(),
            )
        except (ClientError, BotoCoreError) as err:
            self.log.warn("com.aws.greengrass.status.FleetStatusService", "fss-publish-error", str(err))


def _roots_only(document: DeploymentDocument) -> DeploymentDocument:
    """The document without a local deployment's configuration-only entries (not roots)."""
    roots = {n: c for n, c in document.components.items() if c.get("rootComponent", True) is not False}
    return document if len(roots) == len(document.components) else replace(document, components=roots)


def _local_details(details: Mapping[str, str]) -> dict[str, Any]:
    """Job status details (JSON lists as text) as a local deployment's status keeps them."""

    def listed(key: str) -> list[str]:
        try:
            return list(json.loads(details.get(key) or "[]"))
        except ValueError:
            return []

    return {
        "detailed": details.get("detailed-deployment-status", ""),
        "errorStack": listed("deployment-error-stack"),
        "errorTypes": listed("deployment-error-types"),
        "failureCause": details.get("deployment-failure-cause", ""),
    }


def _chown_tree(folder: Path, run_as: RunAs) -> None:
    """``RunWithPathOwnershipHandler``: the component user owns its artifacts."""
    if not folder.exists():
        return
    for path in [folder, *folder.rglob("*")]:
        with contextlib.suppress(OSError):
            os.chown(path, run_as.uid, run_as.gid, follow_symlinks=False)
