"""The AWS IoT Jobs device data plane (boto3 ``iot-jobs-data``), for the jobs deployments create.

moto models the IoT jobs *control* plane only (its executions stay ``QUEUED``); a core device
needs the *device* side: ``GetPendingJobExecutions``, ``StartNextPendingJobExecution``,
``DescribeJobExecution`` (including ``$next``) and ``UpdateJobExecution``. The HTTPS data-plane
API is used (``/things/{thingName}/jobs...``, signing name ``iot-jobs-data``): it carries the same
requests and answers as the MQTT topics the nucleus uses (``IotJobsHelper.java`` publishes
``$aws/things/<thing>/jobs/$next/get`` with ``includeJobDocument`` and
``$aws/things/<thing>/jobs/<jobId>/update``).

Rules (developer guide "Jobs", "Job execution states", API reference of the data plane):

- one execution per thing and job (``executionNumber`` 1); a job that targets a thing group is
  *continuous*: things in the group (or a child group) when the job is created get an execution,
  and so does a thing that joins later — membership is read from moto's IoT registry whenever the
  device asks, so no hook into moto is needed. A ``QUEUED`` execution of a thing that left the
  group becomes ``REMOVED``;
- ``QUEUED`` → ``IN_PROGRESS`` → ``SUCCEEDED | FAILED | REJECTED``; terminal executions
  (those plus ``TIMED_OUT``, ``REMOVED``, ``CANCELED``) cannot change:
  ``InvalidStateTransitionException`` (409);
- ``versionNumber`` starts at 1 and grows with every update; ``expectedVersion`` that does not
  match → ``VersionConflictException`` (409). (The HTTPS model lists no such error; its MQTT
  equivalent is the ``VersionMismatch`` rejection. botocore raises ``ClientError`` with this code.)
- a canceled job cancels every execution that is not terminal — Greengrass cancels deployments
  with force, otherwise a device applying one would never learn of it — and is no longer
  pending for anyone;
- ``stepTimeoutInMinutes`` and the job's ``inProgressTimeoutInMinutes`` time an ``IN_PROGRESS``
  execution out (evaluated lazily, whenever the execution is read).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

from harness.cloud import moto_bridge
from harness.cloud.app import RequestContext
from harness.cloud.protocol import AwsServiceError
from harness.cloud.store import Clock, CloudStore, default_store

log = logging.getLogger("harness.cloud.jobs")

TERMINAL_STATES = frozenset({"SUCCEEDED", "FAILED", "REJECTED", "TIMED_OUT", "REMOVED", "CANCELED"})
#: statuses a device may set with UpdateJobExecution (data-plane API reference)
DEVICE_STATES = frozenset({"IN_PROGRESS", "SUCCEEDED", "FAILED", "REJECTED"})


@dataclass
class JobExecution:
    job_id: str
    thing_name: str
    queued_at: float
    status: str = "QUEUED"
    status_details: dict[str, str] = field(default_factory=dict)
    started_at: float | None = None
    last_updated_at: float = 0.0
    execution_number: int = 1
    version_number: int = 1
    step_deadline: float | None = None
    in_progress_deadline: float | None = None

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_STATES

    def deadline(self) -> float | None:
        deadlines = [d for d in (self.step_deadline, self.in_progress_deadline) if d is not None]
        return min(deadlines) if deadlines else None


@dataclass
class Job:
    job_id: str
    job_arn: str
    target_arn: str
    document: dict[str, Any]
    description: str
    created_at: float
    in_progress_timeout_minutes: int | None = None
    status: str = "IN_PROGRESS"  # IN_PROGRESS | CANCELED | COMPLETED
    comment: str | None = None
    executions: dict[str, JobExecution] = field(default_factory=dict)

    @property
    def target_kind(self) -> str:
        """``thing`` or ``thinggroup`` (the resource type of the target ARN)."""
        return self.target_arn.split(":", 5)[-1].split("/", 1)[0]

    @property
    def target_name(self) -> str:
        return self.target_arn.split(":", 5)[-1].split("/", 1)[1]

    @property
    def continuous(self) -> bool:
        return self.target_kind == "thinggroup"

    @property
    def document_text(self) -> str:
        return json.dumps(self.document, separators=(",", ":"))


class JobsBackend:
    """Jobs and executions of one account and region (call under the region's lock)."""

    def __init__(self, account_id: str, region: str, clock: Clock) -> None:
        self.account_id = account_id
        self.region = region
        self.clock = clock
        self.jobs: dict[str, Job] = {}

    # -- control side (used by the Greengrass control plane) ---------------------------------

    def create_job(
        self,
        job_id: str,
        target_arn: str,
        document: dict[str, Any],
        *,
        description: str = "",
        in_progress_timeout_minutes: int | None = None,
    ) -> Job:
        now = self.clock()
        job = Job(
            job_id=job_id,
            job_arn=f"arn:aws:iot:{self.region}:{self.account_id}:job/{job_id}",
            target_arn=target_arn,
            document=document,
            description=description,
            created_at=now,
            in_progress_timeout_minutes=in_progress_timeout_minutes,
        )
        self.jobs[job_id] = job
        moto_bridge.mirror_job(
            self.account_id,
            self.region,
            job_id=job_id,
            target_arn=target_arn,
            document=document,
            description=description,
            continuous=job.continuous,
            timeout_config=(
                {"inProgressTimeoutInMinutes": in_progress_timeout_minutes}
                if in_progress_timeout_minutes
                else None
            ),
        )
        for thing in self._targeted_things(job):
            self._add_execution(job, thing, now)
        return job

    def cancel_job(self, job_id: str, *, comment: str | None = None) -> None:
        """Cancel the job and (forcibly) every execution that has not finished."""
        job = self.jobs.get(job_id)
        if job is None or job.status == "CANCELED":
            return
        job.status = "CANCELED"
        job.comment = comment
        now = self.clock()
        for execution in job.executions.values():
            if not execution.terminal:
                self._set_status(job, execution, "CANCELED", now)
        moto_bridge.mirror_job_status(self.account_id, self.region, job_id, "CANCELED", comment=comment)

    def delete_job(self, job_id: str) -> None:
        if self.jobs.pop(job_id, None) is not None:
            moto_bridge.mirror_delete_job(self.account_id, self.region, job_id)

    def execution(self, job_id: str, thing_name: str) -> JobExecution | None:
        """The execution of ``job_id`` on ``thing_name`` as it is now (materialised, timed out)."""
        job = self.jobs.get(job_id)
        if job is None:
            return None
        self._refresh(job, thing_name)
        return job.executions.get(thing_name)

    def executions_for_thing(self, thing_name: str) -> list[tuple[Job, JobExecution]]:
        """Every execution the thing has, oldest first (materialises continuous jobs)."""
        found = []
        for job in list(self.jobs.values()):
            self._refresh(job, thing_name)
            execution = job.executions.get(thing_name)
            if execution is not None:
                found.append((job, execution))
        return sorted(found, key=lambda pair: (pair[1].queued_at, pair[0].created_at))

    # -- device side ---------------------------------------------------------------------------

    def pending(
        self, thing_name: str
    ) -> tuple[list[tuple[Job, JobExecution]], list[tuple[Job, JobExecution]]]:
        """(in progress, queued) executions of the thing, oldest first."""
        executions = self.executions_for_thing(thing_name)
        return (
            [(j, e) for j, e in executions if e.status == "IN_PROGRESS"],
            [(j, e) for j, e in executions if e.status == "QUEUED"],
        )

    def next_pending(self, thing_name: str) -> tuple[Job, JobExecution] | None:
        """What ``$next`` means: the oldest IN_PROGRESS execution, else the oldest QUEUED one."""
        in_progress, queued = self.pending(thing_name)
        return (in_progress or queued or [None])[0]

    def start_next(
        self, thing_name: str, status_details: dict[str, str] | None, step_timeout: int | None
    ) -> tuple[Job, JobExecution] | None:
        chosen = self.next_pending(thing_name)
        if chosen is None:
            return None
        job, execution = chosen
        if execution.status == "QUEUED":
            now = self.clock()
            if status_details is not None:
                execution.status_details = dict(status_details)
            self._set_status(job, execution, "IN_PROGRESS", now, step_timeout=step_timeout)
        return job, execution

    def update(
        self,
        job_id: str,
        thing_name: str,
        *,
        status: str,
        status_details: dict[str, str] | None,
        expected_version: int | None,
        execution_number: int | None,
        step_timeout: int | None,
    ) -> tuple[Job, JobExecution]:
        job = self.jobs.get(job_id)
        execution = self.execution(job_id, thing_name)
        if job is None or execution is None:
            raise AwsServiceError(
                "ResourceNotFoundException",
                f"Job execution of job {job_id} on thing {thing_name} does not exist",
            )
        if execution_number is not None and execution_number != execution.execution_number:
            raise AwsServiceError(
                "ResourceNotFoundException",
                f"Job execution number {execution_number} of job {job_id} on thing {thing_name} "
                "does not exist",
            )
        if status not in DEVICE_STATES:
            raise AwsServiceError(
                "InvalidRequestException",
                f"A device cannot set a job execution to {status}: "
                "use IN_PROGRESS, SUCCEEDED, FAILED or REJECTED",
            )
        if expected_version is not None and expected_version != execution.version_number:
            raise AwsServiceError(
                "VersionConflictException",
                f"The expected version {expected_version} of the job execution of job {job_id} on thing "
                f"{thing_name} does not match its current version {execution.version_number}",
                status=409,
            )
        if execution.terminal:
            raise AwsServiceError(
                "InvalidStateTransitionException",
                f"The job execution of job {job_id} on thing {thing_name} is {execution.status}, a terminal "
                f"state: it cannot change to {status}",
            )
        if status_details is not None:
            execution.status_details = dict(status_details)
        self._set_status(job, execution, status, self.clock(), step_timeout=step_timeout, force_version=True)
        return job, execution

    # -- internals -----------------------------------------------------------------------------

    def _targeted_things(self, job: Job) -> set[str]:
        if job.target_kind == "thing":
            return {job.target_name}
        return moto_bridge.thing_group_members(self.account_id, self.region, job.target_name)

    def _refresh(self, job: Job, thing_name: str) -> None:
        """Bring the job's view of one thing up to date with moto and the clock."""
        now = self.clock()
        if job.status != "CANCELED" and moto_bridge.moto_job_canceled(
            self.account_id, self.region, job.job_id
        ):
            self.cancel_job(job.job_id, comment="canceled through the IoT API")
        execution = job.executions.get(thing_name)
        if job.continuous and job.status != "CANCELED":
            member = thing_name in moto_bridge.thing_group_members(
                self.account_id, self.region, job.target_name
            )
            if execution is None and member:
                execution = self._add_execution(job, thing_name, now)
            elif execution is not None and not member and execution.status == "QUEUED":
                self._set_status(job, execution, "REMOVED", now)
        if execution is not None and execution.status == "IN_PROGRESS":
            deadline = execution.deadline()
            if deadline is not None and now >= deadline:
                self._set_status(job, execution, "TIMED_OUT", deadline)

    def _add_execution(self, job: Job, thing_name: str, now: float) -> JobExecution:
        execution = JobExecution(job_id=job.job_id, thing_name=thing_name, queued_at=now, last_updated_at=now)
        job.executions[thing_name] = execution
        self._mirror(job, execution)
        return execution

    def _set_status(
        self,
        job: Job,
        execution: JobExecution,
        status: str,
        now: float,
        *,
        step_timeout: int | None = None,
        force_version: bool = False,
    ) -> None:
        if status == "IN_PROGRESS" and execution.status == "QUEUED":
            execution.started_at = now
            if job.in_progress_timeout_minutes:
                execution.in_progress_deadline = now + job.in_progress_timeout_minutes * 60
        if step_timeout is not None:
            # -1 clears the step timer (data-plane API reference, stepTimeoutInMinutes)
            execution.step_deadline = None if step_timeout < 0 else now + step_timeout * 60
        changed = status != execution.status
        execution.status = status
        execution.last_updated_at = now
        if changed or force_version:
            execution.version_number += 1
        if execution.terminal:
            execution.step_deadline = execution.in_progress_deadline = None
        self._mirror(job, execution)

    def _mirror(self, job: Job, execution: JobExecution) -> None:
        moto_bridge.mirror_execution(
            self.account_id,
            self.region,
            job_id=job.job_id,
            target_arn=job.target_arn,
            thing_name=execution.thing_name,
            status=execution.status,
            status_details=execution.status_details,
            queued_at=execution.queued_at,
            started_at=execution.started_at,
            last_updated_at=execution.last_updated_at,
            execution_number=execution.execution_number,
            version_number=execution.version_number,
            all_statuses={name: e.status for name, e in job.executions.items()},
        )


# -- responses ---------------------------------------------------------------------------------


def _seconds(value: float | None) -> int | None:
    return int(value) if value is not None else None


class JobsResponses:
    """One request's worth of IoT Jobs data-plane operations (moto's ``responses.py`` role)."""

    def __init__(self, store: CloudStore, context: RequestContext) -> None:
        self.store = store
        self.context = context

    def _backend(self) -> Any:
        return self.store.locked(self.context.account_id, self.context.region)

    def _check_thing(self, thing_name: str, action: str) -> None:
        arn = f"arn:aws:iot:{self.context.region}:{self.context.account_id}:thing/{thing_name}"
        self.context.check_thing(thing_name, f"iotjobsdata:{action}", arn)
        if moto_bridge.thing_arn(self.context.account_id, self.context.region, thing_name) is None:
            raise AwsServiceError(
                "ResourceNotFoundException",
                f"Thing {thing_name} does not exist in the IoT registry of {self.context.region}",
            )

    def _execution(
        self, job: Job, execution: JobExecution, *, include_document: bool, clock: Clock
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "jobId": execution.job_id,
            "thingName": execution.thing_name,
            "status": execution.status,
            "statusDetails": dict(execution.status_details),
            "queuedAt": _seconds(execution.queued_at),
            "startedAt": _seconds(execution.started_at),
            "lastUpdatedAt": _seconds(execution.last_updated_at),
            "versionNumber": execution.version_number,
            "executionNumber": execution.execution_number,
        }
        deadline = execution.deadline()
        if deadline is not None and execution.status == "IN_PROGRESS":
            body["approximateSecondsBeforeTimedOut"] = max(0, int(deadline - clock()))
        if include_document:
            body["jobDocument"] = job.document_text
        return body

    @staticmethod
    def _summary(execution: JobExecution) -> dict[str, Any]:
        return {
            "jobId": execution.job_id,
            "queuedAt": _seconds(execution.queued_at),
            "startedAt": _seconds(execution.started_at),
            "lastUpdatedAt": _seconds(execution.last_updated_at),
            "versionNumber": execution.version_number,
            "executionNumber": execution.execution_number,
        }

    def get_pending_job_executions(self, params: dict[str, Any]) -> dict[str, Any]:
        thing = params["thingName"]
        with self._backend() as state:
            self._check_thing(thing, "GetPendingJobExecutions")
            in_progress, queued = state.jobs.pending(thing)
            return {
                "inProgressJobs": [self._summary(e) for _, e in in_progress],
                "queuedJobs": [self._summary(e) for _, e in queued],
            }

    def start_next_pending_job_execution(self, params: dict[str, Any]) -> dict[str, Any]:
        thing = params["thingName"]
        with self._backend() as state:
            self._check_thing(thing, "StartNextPendingJobExecution")
            chosen = state.jobs.start_next(
                thing, params.get("statusDetails"), params.get("stepTimeoutInMinutes")
            )
            if chosen is None:
                return {}
            job, execution = chosen
            return {
                "execution": self._execution(job, execution, include_document=True, clock=state.jobs.clock)
            }

    def describe_job_execution(self, params: dict[str, Any]) -> dict[str, Any]:
        thing, job_id = params["thingName"], params["jobId"]
        include = bool(params.get("includeJobDocument", False))
        with self._backend() as state:
            self._check_thing(thing, "DescribeJobExecution")
            if job_id == "$next":
                chosen = state.jobs.next_pending(thing)
                if chosen is None:
                    return {}
                job, execution = chosen
            else:
                execution = state.jobs.execution(job_id, thing)
                if execution is None:
                    raise AwsServiceError(
                        "ResourceNotFoundException",
                        f"Job execution of job {job_id} on thing {thing} does not exist",
                    )
                number = params.get("executionNumber")
                if number is not None and number != execution.execution_number:
                    raise AwsServiceError(
                        "ResourceNotFoundException",
                        f"Job execution number {number} of job {job_id} on thing {thing} does not exist",
                    )
                job = state.jobs.jobs[job_id]
            return {
                "execution": self._execution(job, execution, include_document=include, clock=state.jobs.clock)
            }

    def update_job_execution(self, params: dict[str, Any]) -> dict[str, Any]:
        thing, job_id = params["thingName"], params["jobId"]
        with self._backend() as state:
            self._check_thing(thing, "UpdateJobExecution")
            job, execution = state.jobs.update(
                job_id,
                thing,
                status=params["status"],
                status_details=params.get("statusDetails"),
                expected_version=params.get("expectedVersion"),
                execution_number=params.get("executionNumber"),
                step_timeout=params.get("stepTimeoutInMinutes"),
            )
            output: dict[str, Any] = {}
            if params.get("includeJobExecutionState"):
                output["executionState"] = {
                    "status": execution.status,
                    "statusDetails": dict(execution.status_details),
                    "versionNumber": execution.version_number,
                }
            if params.get("includeJobDocument"):
                output["jobDocument"] = job.document_text
            return output


def make_app(store: CloudStore = default_store) -> Any:
    """The WSGI app of the IoT Jobs data plane on ``store``."""
    from harness.cloud.app import ServiceApp
    from harness.cloud.protocol import ServiceProtocol

    return ServiceApp(
        "iot-jobs-data", ServiceProtocol("iot-jobs-data"), lambda context: JobsResponses(store, context)
    )
