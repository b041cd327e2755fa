"""The AWS endpoint: one local HTTP port that answers boto3 for S3, IAM, STS, IoT and iot-data,
and (by default) Greengrass V2, the IoT Jobs data plane and Greengrass fleet status.

It runs :mod:`harness.services.aws_server` (moto in server mode behind the harness's dispatcher) in
its own process, so that simulated devices, DeepStream emulation and the harness all reach the same
state over HTTP exactly as they would reach AWS — through ``AWS_ENDPOINT_URL`` and dummy
credentials, never through moto's in-process mocks.

``AwsEndpoint(enforce=True)`` checks credentials as AWS does (docs/cloud.md, "Enforcing mode"):
the harness signs with a root key generated at start instead of the dummy one, each simulated
device gets credentials of its own (:meth:`AwsEndpoint.device_credentials`), and the control
routes need a token only the harness has.
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import string
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from harness.services.aws_server import (
    CONTROL_TOKEN_ENV,
    CONTROL_TOKEN_HEADER,
    FAULTS_PATH,
    HEALTH_PATH,
    ROOT_KEY_ENV,
    ROOT_SECRET_ENV,
)
from harness.services.base import LOOPBACK, ProcessService, ServiceError
from harness.services.ports import free_ports

if TYPE_CHECKING:
    from botocore.client import BaseClient

T = TypeVar("T")

#: moto accepts any credentials; these are the values moto's own docs use
DUMMY_ACCESS_KEY_ID = "testing"
DUMMY_SECRET_ACCESS_KEY = "testing"


def _faults_call(
    url: str, method: str, path: str, body: dict[str, Any] | None = None, token: str | None = None
) -> Any:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers[CONTROL_TOKEN_HEADER] = token
    request = urllib.request.Request(
        url.rstrip("/") + path,
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers=headers,
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as err:
        try:
            detail = json.loads(err.read()).get("message", "")
        except ValueError:
            detail = ""
        raise ServiceError(
            f"aws: {method} {url}{path} answered HTTP {err.code}: {detail or err.reason}",
            hint="is this an edge-harness AWS endpoint (harness.services.aws_server)?",
        ) from None
    except (OSError, ValueError) as err:
        raise ServiceError(
            f"aws: {method} {url}{path} failed: {err}",
            hint="is the endpoint running (and not paused)? edge-harness services status",
        ) from None


def request_outage(
    url: str, service: str, seconds: float, status: int = 503, *, token: str | None = None
) -> dict[str, Any]:
    """Make the edge-harness AWS endpoint at ``url`` answer every request signed for ``service``
    (a SigV4 signing name: ``s3``, ``iot``, ``greengrass`` …) with HTTP ``status`` for ``seconds``.

    The endpoint ends the outage by itself; the call returns at once with ``{service, status,
    seconds, started, remaining_s}``. Plain HTTP to the endpoint's control route, so it works for
    an endpoint in a container as well as for a local process. ``token``: the control token of an
    enforcing endpoint (:attr:`AwsEndpoint.control_token`).
    """
    return _faults_call(
        url, "POST", FAULTS_PATH, {"service": service, "status": status, "seconds": seconds}, token
    )


def clear_outages(url: str, service: str | None = None, *, token: str | None = None) -> list[str]:
    """End the outage of ``service`` (every outage if None) at ``url``; the services cleared."""
    query = "" if service is None else "?" + urllib.parse.urlencode({"service": service})
    return list(_faults_call(url, "DELETE", FAULTS_PATH + query, token=token)["cleared"])


def list_outages(url: str, *, token: str | None = None) -> list[dict[str, Any]]:
    """The outages still running at ``url``."""
    return list(_faults_call(url, "GET", FAULTS_PATH, token=token)["outages"])


#: extensions every endpoint loads unless told otherwise: the Greengrass V2 control plane, the
#: IoT Jobs data plane and fleet status (harness/cloud, docs/cloud.md)
DEFAULT_EXTENSIONS: tuple[str, ...] = ("harness.cloud.extension:register",)
#: the extension an enforcing endpoint adds: SigV4, IAM and bucket policies (harness/cloud/security)
ENFORCING_EXTENSION = "harness.cloud.security.guard:register"

#: the role a core device's credentials are for, and the IoT role alias that points at it: the
#: names the Greengrass installer gives them (``--tes-role-name``, ``--tes-role-alias-name``)
DEVICE_ROLE = "GreengrassV2TokenExchangeRole"
DEVICE_ROLE_ALIAS = "GreengrassV2TokenExchangeRoleAlias"
#: the installer's GreengrassV2TokenExchangeRoleAccess policy (Greengrass developer guide,
#: "Authorize core devices to interact with AWS services"): no S3 object access; that is granted
#: per artifact bucket (:meth:`AwsEndpoint.allow_device_artifacts`, or the bucket's own policy)
DEVICE_ROLE_ACCESS = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": [
                "logs:CreateLogGroup",
                "logs:CreateLogStream",
                "logs:PutLogEvents",
                "logs:DescribeLogStreams",
                "s3:GetBucketLocation",
            ],
            "Resource": "*",
        }
    ],
}
#: how long device credentials last; the role allows that much (IAM's maximum, 12 h), so a long
#: scenario never sees them expire
DEVICE_SESSION_S = 12 * 3600
_SESSION_NAME = re.compile(r"^[\w+=,.@-]{2,64}$")


def _random_key() -> tuple[str, str]:
    """An access key id and secret in AWS's shapes (``AKIA`` + 16, 40 characters)."""
    upper = string.ascii_uppercase + string.digits
    key_id = "AKIA" + "".join(secrets.choice(upper) for _ in range(16))
    secret = "".join(secrets.choice(string.ascii_letters + string.digits + "+/") for _ in range(40))
    return key_id, secret


class AwsEndpoint(ProcessService):
    """moto (plus the harness's extensions) on ``http://127.0.0.1:<port>``.

    ``extensions`` are ``module:function`` specs the server calls with its dispatcher before it
    serves, to add services moto lacks (see :func:`harness.services.aws_server.load_extension`).
    ``None`` (the default) means :data:`DEFAULT_EXTENSIONS`; a list replaces them (pass
    ``[*DEFAULT_EXTENSIONS, "mine:register"]`` to add to them, ``[]`` for bare moto).

    ``enforce``: check credentials as AWS does — SigV4 signatures against the keys the endpoint
    knows, IAM and bucket policies for S3, a device's own thing for the IoT Jobs data plane and
    fleet status, and a token for the control routes (docs/cloud.md, "Enforcing mode"). The
    harness's clients then sign with a root key generated here rather than the dummy one.
    """

    name = "aws"

    def __init__(
        self,
        *,
        region: str = "us-east-1",
        extensions: Sequence[str] | None = None,
        workdir: Path | None = None,
        startup_timeout: float = 60.0,
        enforce: bool = False,
    ) -> None:
        super().__init__(workdir=workdir, startup_timeout=startup_timeout)
        self.region = region
        self.extensions = list(DEFAULT_EXTENSIONS if extensions is None else extensions)
        self.enforce = enforce
        self.access_key_id, self.secret_access_key = DUMMY_ACCESS_KEY_ID, DUMMY_SECRET_ACCESS_KEY
        #: the token the control routes need (None: they are open, as without ``enforce``)
        self.control_token: str | None = None
        if enforce:
            self.access_key_id, self.secret_access_key = _random_key()
            self.control_token = secrets.token_urlsafe(24)
            if ENFORCING_EXTENSION not in self.extensions:
                self.extensions.append(ENFORCING_EXTENSION)
        self._device_role_lock = threading.Lock()
        self._device_role_arn: str | None = None
        self.port: int | None = None
        # Echoed by the health route, so readiness proves *our* server answers on the port.
        self._instance_id = uuid.uuid4().hex

    # -- what clients need -----------------------------------------------------------------
    @property
    def url(self) -> str:
        if self.port is None:
            raise ServiceError("aws: the endpoint has not been started")
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def endpoints(self) -> dict[str, str]:
        return {"url": self.url} if self.port is not None else {}

    def credentials_environment(self) -> dict[str, str]:
        """The harness's credentials (dummy ones, or the root key of an enforcing endpoint) and
        the region: what both the server and its clients need."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_DEFAULT_REGION": self.region,
            # AWS_REGION is what the Greengrass nucleus exports to components and what non-Python
            # SDKs read; botocore reads AWS_DEFAULT_REGION.
            "AWS_REGION": self.region,
            # Without this a client that finds no credentials probes 169.254.169.254 for seconds.
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def environment(self) -> dict[str, str]:
        # botocore >= 1.31 (boto3 >= 1.28) and the other AWS SDKs honour AWS_ENDPOINT_URL.
        return {"AWS_ENDPOINT_URL": self.url, **self.credentials_environment()}

    def client(self, service_name: str, **kwargs: Any) -> BaseClient:
        """A boto3 client for ``service_name`` bound to this endpoint with the harness's credentials
        (``aws_access_key_id``/``aws_secret_access_key``/``aws_session_token`` replace them).

        A fresh :class:`boto3.session.Session` per call: sessions are not thread-safe, and this
        leaves ``os.environ`` and boto3's default session alone. The session ignores
        ``AWS_PROFILE`` (a profile meant for real AWS, or one that does not exist, would otherwise
        break or redirect it). S3 clients sign presigned URLs with SigV4 (as AWS does in every
        region now) and use path-style addressing unless ``config`` says otherwise.
        """
        import boto3
        import botocore.session
        from botocore.config import Config

        # session_vars maps logical name -> (config key, env var, default, converter).
        core = botocore.session.Session(session_vars={"profile": (None, None, None, None)})
        session = boto3.session.Session(
            botocore_session=core,
            aws_access_key_id=kwargs.pop("aws_access_key_id", self.access_key_id),
            aws_secret_access_key=kwargs.pop("aws_secret_access_key", self.secret_access_key),
            aws_session_token=kwargs.pop("aws_session_token", None),
            region_name=kwargs.pop("region_name", self.region),
        )
        if service_name == "s3" and "config" not in kwargs:
            kwargs["config"] = Config(signature_version="s3v4", s3={"addressing_style": "path"})
        kwargs.setdefault("endpoint_url", self.url)
        return session.client(service_name, **kwargs)  # type: ignore[call-overload]

    # -- ProcessService hooks --------------------------------------------------------------
    def allocate_ports(self) -> None:
        self.port = free_ports(1)[0]

    def command(self) -> list[str]:
        cmd = [
            sys.executable,
            "-m",
            "harness.services.aws_server",
            "--host",
            LOOPBACK,
            "--port",
            str(self.port),
            "--instance-id",
            self._instance_id,
        ]
        for spec in self.extensions:
            cmd += ["--extension", spec]
        return cmd

    def process_environment(self) -> dict[str, str]:
        # The server never calls real AWS; dummy credentials keep anything in moto that builds a
        # boto3 client from looking for real ones. Unbuffered so the log tail is current.
        environment = {**self.credentials_environment(), "PYTHONUNBUFFERED": "1"}
        if self.enforce:
            assert self.control_token is not None
            environment.update(
                {
                    ROOT_KEY_ENV: self.access_key_id,
                    ROOT_SECRET_ENV: self.secret_access_key,
                    CONTROL_TOKEN_ENV: self.control_token,
                }
            )
        return environment

    def probe_ready(self) -> bool:
        health = self.health(timeout=1.0)
        return health is not None and health.get("instance") == self._instance_id

    def start_hint(self) -> str | None:
        return "the endpoint runs moto in server mode: is moto[server] installed? (pip install -e .)"

    def health(self, timeout: float = 2.0) -> dict[str, Any] | None:
        """The health route's JSON, or None if the endpoint does not answer."""
        if self.port is None:
            return None
        try:
            with urllib.request.urlopen(self.url + HEALTH_PATH, timeout=timeout) as resp:
                if resp.status != 200:
                    return None
                return json.loads(resp.read())
        except (OSError, ValueError):
            return None

    # -- outages ---------------------------------------------------------------------------
    def outage(self, service: str, seconds: float, status: int = 503) -> dict[str, Any]:
        """Requests signed for ``service`` get HTTP ``status`` (S3: its XML error, e.g.
        ``ServiceUnavailable`` for 503) for ``seconds``; see :func:`request_outage`."""
        return request_outage(self.url, service, seconds, status, token=self.control_token)

    def clear_outages(self) -> list[str]:
        """End every outage now; the services whose outage ended."""
        return clear_outages(self.url, token=self.control_token)

    def control_headers(self) -> dict[str, str]:
        """Headers a request to a control route (outages, ``/moto-api/…``) needs."""
        return {CONTROL_TOKEN_HEADER: self.control_token} if self.control_token else {}

    # -- device credentials ----------------------------------------------------------------
    def device_role(self) -> str:
        """The ARN of the role device credentials are for: :data:`DEVICE_ROLE` with the
        installer's access policy, and the IoT role alias :data:`DEVICE_ROLE_ALIAS` pointing at it
        (created once, as ``--provision true`` creates them)."""
        with self._device_role_lock:
            if self._device_role_arn is None:
                from botocore.exceptions import ClientError

                iam, iot = self.client("iam"), self.client("iot")
                trust = {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "credentials.iot.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
                try:
                    arn = iam.create_role(
                        RoleName=DEVICE_ROLE,
                        AssumeRolePolicyDocument=json.dumps(trust),
                        MaxSessionDuration=DEVICE_SESSION_S,
                    )["Role"]["Arn"]
                except ClientError as err:
                    if err.response["Error"]["Code"] != "EntityAlreadyExists":
                        raise
                    arn = iam.get_role(RoleName=DEVICE_ROLE)["Role"]["Arn"]
                iam.put_role_policy(
                    RoleName=DEVICE_ROLE,
                    PolicyName=f"{DEVICE_ROLE}Access",
                    PolicyDocument=json.dumps(DEVICE_ROLE_ACCESS),
                )
                try:
                    iot.create_role_alias(
                        roleAlias=DEVICE_ROLE_ALIAS, roleArn=arn, credentialDurationSeconds=DEVICE_SESSION_S
                    )
                except ClientError as err:
                    if err.response["Error"]["Code"] != "ResourceAlreadyExistsException":
                        raise
                self._device_role_arn = str(arn)
            return self._device_role_arn

    def device_credentials(self, thing: str) -> dict[str, str]:
        """Environment variables with the credentials a simulated core device ``thing`` signs
        with: on an enforcing endpoint, temporary credentials of :meth:`device_role` for a
        session named after the thing (what the IoT credentials provider hands a core device
        through the role alias), which only reach that thing's jobs and fleet status. Without
        ``enforce``, nothing: the device uses :meth:`environment`'s dummy credentials."""
        if not self.enforce:
            return {}
        if not _SESSION_NAME.match(thing):
            raise ServiceError(
                f"aws: thing name {thing!r} cannot name a role session (2-64 of letters, digits, _+=,.@-)",
                hint="an enforcing endpoint names each device's credentials after its thing; rename it",
            )
        credentials = self.client("sts").assume_role(
            RoleArn=self.device_role(), RoleSessionName=thing, DurationSeconds=DEVICE_SESSION_S
        )["Credentials"]
        return {
            "AWS_ACCESS_KEY_ID": credentials["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": credentials["SecretAccessKey"],
            "AWS_SESSION_TOKEN": credentials["SessionToken"],
        }

    def allow_device_artifacts(self, bucket: str) -> None:
        """Let device credentials read the objects of ``bucket`` (the role policy the Greengrass
        developer guide asks for, "Allow access to S3 buckets for component artifacts")."""
        if not self.enforce:
            return
        self.device_role()
        document = {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}
            ],
        }
        self.client("iam").put_role_policy(
            RoleName=DEVICE_ROLE, PolicyName=f"artifacts-{bucket}"[:128], PolicyDocument=json.dumps(document)
        )

    # -- smoke check -----------------------------------------------------------------------
    def check(self) -> str:
        """S3 bucket/object/presigned GET, IoT thing + thing group, iot-data publish and shadow.

        Everything goes over HTTP through boto3 (and urllib for the presigned URL), and everything
        created is deleted again. moto records iot-data publishes only in memory
        (``published_payloads``), with no HTTP API to read them, so the publish is checked by its
        response and the data plane by a shadow round trip.
        """
        started = time.monotonic()
        suffix = uuid.uuid4().hex[:10]
        cleanup: list[tuple[str, Callable[[], object]]] = []
        try:
            self._check_s3(suffix, cleanup)
            self._check_iot(suffix, cleanup)
        finally:
            for _, undo in reversed(cleanup):
                # best effort: a failed check must report its own error, not a cleanup's
                with contextlib.suppress(Exception):
                    undo()
        ms = (time.monotonic() - started) * 1000
        return (
            f"s3 bucket/put/get/presigned GET, iot thing + thing group, iot-data publish + shadow ok "
            f"at {self.url} ({ms:.0f} ms)"
        )

    def _check_s3(self, suffix: str, cleanup: list[tuple[str, Callable[[], object]]]) -> None:
        s3 = self.client("s3")
        bucket, key, body = f"edge-harness-check-{suffix}", "check/hello.txt", b"edge-harness check\n"
        create: dict[str, Any] = {"Bucket": bucket}
        if self.region != "us-east-1":  # S3 rejects a LocationConstraint of us-east-1
            create["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        _step("s3 create_bucket", lambda: s3.create_bucket(**create))
        cleanup.append(("delete bucket", lambda: s3.delete_bucket(Bucket=bucket)))
        _step("s3 put_object", lambda: s3.put_object(Bucket=bucket, Key=key, Body=body))
        cleanup.append(("delete object", lambda: s3.delete_object(Bucket=bucket, Key=key)))
        got = _step("s3 get_object", lambda: s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        if got != body:
            raise ServiceError(f"aws check: s3 get_object returned {got!r}, expected {body!r}")
        url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=300)
        try:
            with urllib.request.urlopen(url, timeout=10) as resp:
                fetched = resp.read()
        except (urllib.error.URLError, OSError) as err:
            raise ServiceError(f"aws check: presigned GET {url} failed: {err}") from err
        if fetched != body:
            raise ServiceError(f"aws check: presigned GET returned {fetched!r}, expected {body!r}")

    def _check_iot(self, suffix: str, cleanup: list[tuple[str, Callable[[], object]]]) -> None:
        iot = self.client("iot")
        data = self.client("iot-data")
        thing, group = f"edge-harness-check-{suffix}", f"edge-harness-check-group-{suffix}"
        _step("iot create_thing", lambda: iot.create_thing(thingName=thing))
        cleanup.append(("delete thing", lambda: iot.delete_thing(thingName=thing)))
        _step("iot create_thing_group", lambda: iot.create_thing_group(thingGroupName=group))
        cleanup.append(("delete group", lambda: iot.delete_thing_group(thingGroupName=group)))
        _step(
            "iot add_thing_to_thing_group",
            lambda: iot.add_thing_to_thing_group(thingGroupName=group, thingName=thing),
        )
        cleanup.append(
            (
                "remove from group",
                lambda: iot.remove_thing_from_thing_group(thingGroupName=group, thingName=thing),
            )
        )
        members = _step(
            "iot list_things_in_thing_group",
            lambda: iot.list_things_in_thing_group(thingGroupName=group)["things"],
        )
        if thing not in members:
            raise ServiceError(f"aws check: thing group {group} lists {members}, expected {thing}")
        payload = json.dumps({"check": suffix}).encode()
        published = _step(
            "iot-data publish",
            lambda: data.publish(topic=f"edge-harness/check/{suffix}", qos=1, payload=payload),
        )
        status = published["ResponseMetadata"]["HTTPStatusCode"]
        if status != 200:
            raise ServiceError(f"aws check: iot-data publish answered HTTP {status}")
        reported = {"state": {"reported": {"check": suffix}}}
        _step(
            "iot-data update_thing_shadow",
            lambda: data.update_thing_shadow(thingName=thing, payload=json.dumps(reported).encode()),
        )
        cleanup.append(("delete shadow", lambda: data.delete_thing_shadow(thingName=thing)))
        shadow = json.loads(
            _step(
                "iot-data get_thing_shadow", lambda: data.get_thing_shadow(thingName=thing)["payload"].read()
            )
        )
        if shadow.get("state", {}).get("reported") != reported["state"]["reported"]:
            raise ServiceError(f"aws check: shadow of {thing} is {shadow}, expected {reported}")


def _step(what: str, call: Callable[[], T]) -> T:
    """Run one boto3 call of the check; turn its failure into a ServiceError naming the step."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return call()
    except (BotoCoreError, ClientError) as err:
        raise ServiceError(f"aws check failed at {what}: {err}") from err
