"""Reading (and mirroring into) moto's in-process state.

The emulated services run in the same process as moto, inside the same endpoint, so they read
moto's backends directly instead of calling moto over HTTP: things and thing groups from
``moto.iot.models.iot_backends[account][region]``, S3 objects from
``moto.s3.models.s3_backends[account]["global"]``. That is the endpoint looking at its own
state, as the real Greengrass service looks at IoT Core's registry and S3 — not one part of the
harness reaching into another.

Jobs created for deployments are also *mirrored* into moto's IoT backend, so the IoT control
plane a test may use (``iot.describe_job``, ``iot.get_job_document``, ``iot.list_jobs``,
``iot.list_job_executions_for_thing``) shows them with the statuses the device reported. The
mirror is best effort: moto's classes are not a stable API, so a failure is logged and never
breaks the emulated service.

Everything here goes through this one module, so a moto upgrade has one place to fix.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("harness.cloud.moto")


def _iot(account_id: str, region: str) -> Any:
    from moto.iot.models import iot_backends

    return iot_backends[account_id][region]


def thing_arn(account_id: str, region: str, thing_name: str) -> str | None:
    """The ARN of an existing IoT thing, or None."""
    for thing in list(_iot(account_id, region).things.values()):
        if thing.thing_name == thing_name:
            return str(thing.arn)
    return None


def _group(account_id: str, region: str, group_name: str) -> Any | None:
    for group in list(_iot(account_id, region).thing_groups.values()):
        if group.thing_group_name == group_name:
            return group
    return None


def thing_group_arn(account_id: str, region: str, group_name: str) -> str | None:
    """The ARN of an existing IoT thing group, or None."""
    group = _group(account_id, region, group_name)
    return str(group.arn) if group is not None else None


def thing_group_members(account_id: str, region: str, group_name: str) -> set[str]:
    """Names of the things in ``group_name`` or any of its descendant groups.

    AWS IoT jobs that target a thing group reach the things of its child groups too
    (developer guide, "Jobs": "a thing group … including its child groups").
    """
    groups = list(_iot(account_id, region).thing_groups.values())
    wanted = {group_name}
    changed = True
    while changed:  # close over child groups
        changed = False
        for group in groups:
            if group.parent_group_name in wanted and group.thing_group_name not in wanted:
                wanted.add(group.thing_group_name)
                changed = True
    members: set[str] = set()
    for group in groups:
        if group.thing_group_name in wanted:
            members.update(thing.thing_name for thing in list(group.things.values()))
    return members


def thing_groups_of(account_id: str, region: str, thing_name: str) -> set[str]:
    """Names of the groups ``thing_name`` belongs to, directly or through a child group."""
    groups = list(_iot(account_id, region).thing_groups.values())
    direct = {
        g.thing_group_name for g in groups if any(t.thing_name == thing_name for t in list(g.things.values()))
    }
    parents = {g.thing_group_name: g.parent_group_name for g in groups}
    result = set(direct)
    for name in direct:
        parent = parents.get(name)
        while parent and parent not in result:
            result.add(parent)
            parent = parents.get(parent)
    return result


@dataclass(frozen=True)
class S3Object:
    bucket: str
    key: str
    data: bytes


class S3ObjectMissing(LookupError):
    """The bucket or the object does not exist; the message says which."""


def read_s3_object(account_id: str, bucket: str, key: str) -> S3Object:
    """The bytes of ``s3://bucket/key`` in moto's S3; raises :class:`S3ObjectMissing`."""
    from moto.s3.models import s3_backends

    backend = s3_backends[account_id]["global"]
    found = backend.buckets.get(bucket)
    if found is None:
        raise S3ObjectMissing(f"the bucket {bucket!r} does not exist")
    obj = found.keys.get(key)
    value = getattr(obj, "value", None)
    if value is None:
        raise S3ObjectMissing(f"the object {key!r} does not exist in bucket {bucket!r}")
    return S3Object(bucket, key, bytes(value))


# -- mirroring jobs into moto's IoT backend -------------------------------------------------------


def _moment(epoch: float | None) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(epoch, tz=dt.UTC).replace(tzinfo=None) if epoch is not None else None


def mirror_job(
    account_id: str,
    region: str,
    *,
    job_id: str,
    target_arn: str,
    document: dict[str, Any],
    description: str,
    continuous: bool,
    timeout_config: dict[str, Any] | None,
) -> None:
    """Create the job in moto too (no executions: those are mirrored as they appear)."""
    try:
        backend = _iot(account_id, region)
        backend.create_job(
            job_id=job_id,
            targets=[target_arn],
            document_source=None,
            document=json.dumps(document),
            description=description,
            presigned_url_config={},
            target_selection="CONTINUOUS" if continuous else "SNAPSHOT",
            job_executions_rollout_config={},
            document_parameters={},
            abort_config={},
            job_execution_retry_config={},
            scheduling_config={},
            timeout_config=timeout_config or {},
        )
        # moto makes an execution per target ARN, named after its last segment; for a thing
        # group that is not a thing, and a thing's execution is mirrored with its real state.
        for key in [k for k in backend.job_executions if k[0] == job_id]:
            del backend.job_executions[key]
        job = backend.jobs[job_id]
        job.status = "IN_PROGRESS"
        job.job_process_details = _process_details(target_arn, {})
    except Exception:
        log.warning("could not mirror job %s into moto's IoT backend", job_id, exc_info=True)


def _process_details(target_arn: str, statuses: dict[str, str]) -> dict[str, Any]:
    counts = {
        "QUEUED": "numberOfQueuedThings",
        "CANCELED": "numberOfCanceledThings",
        "SUCCEEDED": "numberOfSucceededThings",
        "FAILED": "numberOfFailedThings",
        "REJECTED": "numberOfRejectedThings",
        "IN_PROGRESS": "numberOfInProgressThings",
        "REMOVED": "numberOfRemovedThings",
        "TIMED_OUT": "numberOfTimedOutThings",
    }
    details: dict[str, Any] = {"processingTargets": [target_arn]}
    details.update({name: 0 for name in counts.values()})
    for status in statuses.values():
        details[counts[status]] += 1
    return details


def mirror_execution(
    account_id: str,
    region: str,
    *,
    job_id: str,
    target_arn: str,
    thing_name: str,
    status: str,
    status_details: dict[str, str],
    queued_at: float,
    started_at: float | None,
    last_updated_at: float,
    execution_number: int,
    version_number: int,
    all_statuses: dict[str, str],
) -> None:
    """Create or update moto's record of one job execution and the job's counters."""
    try:
        from moto.iot.models import FakeJobExecution

        backend = _iot(account_id, region)
        if job_id not in backend.jobs:
            return
        arn = (
            thing_arn(account_id, region, thing_name)
            or f"arn:aws:iot:{region}:{account_id}:thing/{thing_name}"
        )
        execution = backend.job_executions.get((job_id, thing_name))
        if execution is None:
            execution = FakeJobExecution(job_id, arn)
            backend.job_executions[(job_id, thing_name)] = execution
        execution.status = status
        execution.status_details_map = dict(status_details)
        execution.queued_at = _moment(queued_at)
        execution.started_at = _moment(started_at)
        execution.last_updated_at = _moment(last_updated_at)
        execution.execution_number = execution_number
        execution.version_number = version_number
        backend.jobs[job_id].job_process_details = _process_details(target_arn, all_statuses)
        backend.jobs[job_id].last_updated_at = _moment(last_updated_at)
    except Exception:
        log.warning("could not mirror execution %s/%s into moto", job_id, thing_name, exc_info=True)


def mirror_job_status(
    account_id: str, region: str, job_id: str, status: str, *, comment: str | None = None
) -> None:
    """Set the job's status in moto (``IN_PROGRESS``, ``CANCELED``, ``COMPLETED``)."""
    try:
        job = _iot(account_id, region).jobs.get(job_id)
        if job is None:
            return
        job.status = status
        if comment:
            job.comment = comment
        if status == "CANCELED":
            job.force = True
    except Exception:
        log.warning("could not mirror the status of job %s into moto", job_id, exc_info=True)


def mirror_delete_job(account_id: str, region: str, job_id: str) -> None:
    try:
        backend = _iot(account_id, region)
        backend.jobs.pop(job_id, None)
        for key in [k for k in backend.job_executions if k[0] == job_id]:
            del backend.job_executions[key]
    except Exception:
        log.warning("could not delete job %s from moto", job_id, exc_info=True)


def moto_job_canceled(account_id: str, region: str, job_id: str) -> bool:
    """Whether someone canceled the job through moto's IoT API (``iot.cancel_job``)."""
    try:
        job = _iot(account_id, region).jobs.get(job_id)
        return job is not None and job.status == "CANCELED"
    except Exception:
        return False


# -- identities and policies, for the endpoint's enforcing mode (harness.cloud.security) ----------


@dataclass(frozen=True)
class KeyRecord:
    """What IAM/STS hold for an access key id: its secret and whose it is.

    ``user_name`` for an IAM user's key; ``role_arn``, ``session_name``, ``session_token`` and
    ``expires`` (epoch seconds) for temporary credentials of an assumed role.
    """

    access_key_id: str
    secret_access_key: str
    account_id: str
    active: bool
    user_arn: str | None = None
    user_name: str | None = None
    role_arn: str | None = None
    session_name: str | None = None
    session_token: str | None = None
    expires: float | None = None


def _partition_backends(module: str) -> list[tuple[str, Any]]:
    """(account, backend) for every account moto has state for, partition ``aws``."""
    if module == "iam":
        from moto.iam.models import iam_backends as backends
    else:
        from moto.sts.models import sts_backends as backends
    found = []
    for account_id, by_partition in list(backends.items()):
        with_state = getattr(by_partition, "__contains__", None)
        if with_state is not None and "aws" in by_partition:
            found.append((account_id, by_partition["aws"]))
    return found


def access_key(access_key_id: str) -> KeyRecord | None:
    """The IAM user key or STS session key with this id, in any account; None if unknown."""
    for account_id, iam in _partition_backends("iam"):
        key = iam.access_keys.get(access_key_id)
        if key is None:
            continue
        active = getattr(key, "status", "Active") == "Active"
        if key.user_name:
            user = iam.users.get(key.user_name)
            return KeyRecord(
                access_key_id,
                key.secret_access_key,
                account_id,
                active,
                user_arn=str(user.arn) if user is not None else None,
                user_name=key.user_name,
            )
        from moto.sts.models import sts_backends

        session = sts_backends[account_id]["aws"].get_assumed_role_from_access_key(access_key_id)
        if session is None:
            return None
        expiration = session.expiration
        return KeyRecord(
            access_key_id,
            session.secret_access_key,
            account_id,
            active,
            role_arn=str(session.role_arn),
            session_name=str(session.session_name),
            session_token=str(session.session_token),
            expires=expiration.replace(tzinfo=dt.UTC).timestamp() if expiration is not None else None,
        )
    return None


def _policy_text(policy: Any) -> str | None:
    """The default version's document of a managed policy, or an inline document as stored."""
    if isinstance(policy, str):
        return policy
    for version in getattr(policy, "versions", []):
        if getattr(version, "is_default", False):
            return str(version.document)
    return None


def identity_policies(record: KeyRecord) -> list[str]:
    """The identity policy documents of a key's user (inline, attached, its groups') or role."""
    from moto.iam.models import iam_backends

    iam = iam_backends[record.account_id]["aws"]
    texts: list[Any] = []
    try:
        if record.user_name:
            user = iam.users[record.user_name]
            texts += list(user.policies.values()) + list(user.managed_policies.values())
            for group in iam.get_groups_for_user(record.user_name):
                texts += list(group.policies.values()) + list(group.managed_policies.values())
        elif record.role_arn:
            role = iam.get_role_by_arn(record.role_arn)
            texts += list(role.policies.values()) + list(role.managed_policies.values())
    except Exception:  # the user or role is gone: it grants nothing
        log.info("no identity policies for %s", record.user_arn or record.role_arn, exc_info=True)
        return []
    return [text for text in (_policy_text(t) for t in texts) if text]


def iam_principal_exists(arn: str) -> bool:
    """Whether an ``arn:aws:iam::<account>:user/…`` or ``…:role/…`` exists in moto's IAM."""
    from moto.iam.models import iam_backends

    account_id = arn.split(":")[4]
    iam = iam_backends[account_id]["aws"]
    entities = iam.users.values() if ":user/" in arn else iam.roles.values()
    return any(str(entity.arn) == arn for entity in list(entities))


def role_alias_roles(account_id: str) -> set[str]:
    """The role ARNs IoT role aliases of the account point at (any region)."""
    from moto.iot.models import iot_backends

    roles: set[str] = set()
    for region in list(iot_backends[account_id].keys()):
        for alias in list(iot_backends[account_id][region].role_aliases.values()):
            roles.add(str(alias.role_arn))
    return roles


def bucket_policy(bucket: str) -> tuple[str, bytes | None] | None:
    """(owning account, policy document or None) of a bucket, or None if no account has it."""
    from moto.s3.models import s3_backends

    for account_id, by_partition in list(s3_backends.items()):
        if "global" not in by_partition:
            continue
        found = by_partition["global"].buckets.get(bucket)
        if found is not None:
            policy = found.policy
            return account_id, (
                policy if isinstance(policy, bytes) or policy is None else str(policy).encode()
            )
    return None
