"""Secrets over IPC: ``GetSecretValue``, as the ``aws.greengrass.SecretManager`` component serves it.

Follows aws-greengrass-secret-manager ``SecretManagerService``, ``SecretManager`` and
``SecretManagerIPCAgent``. Served while a component named ``aws.greengrass.SecretManager`` is in
the device's configuration (without it the nucleus answers "not supported"); its configuration
says which secrets the device may hold:

```yaml
cloudSecrets:
  - arn: arn:aws:secretsmanager:us-east-1:123456789012:secret:db-password-AbCdEf
    labels: [AWSCURRENT, staging]        # optional; AWSCURRENT is always added
periodicRefreshIntervalMin: 0            # 0: sync only when the configuration changes
```

- **Sync**: when that configuration changes (a deployment, the device's start) the device
  downloads each configured secret for each of its labels from Secrets Manager
  (``GetSecretValue`` with ``VersionStage``) — on a thread of its own, as the component does —
  and again every ``periodicRefreshIntervalMin`` minutes if that is above 0. A secret whose ARN is
  not a secret ARN is skipped with a warning.
- **GetSecretValue**: ``secretId`` is the ARN or the name of a configured secret (a name maps to
  the configured ARN ``…:secret:<name>-XXXXXX``); anything else is ``ResourceNotFoundError``
  "Secret not configured <id>". The caller must be allowed ``aws.greengrass#GetSecretValue`` on
  the secret's ARN in an ``aws.greengrass.SecretManager`` policy (``UnauthorizedError`` with the
  nucleus's text otherwise). ``versionId`` or ``versionStage`` (not both: ``ServiceError`` "Both
  versionId and Stage are set in the request") pick a version; neither means AWSCURRENT. A
  version the device has not downloaded is fetched once more by label (never by version id);
  still missing → ``ResourceNotFoundError`` ("Version stage X not found for secret Y",
  "Version Id X not found for secret Y", "Secret not found Y"). ``refresh: true`` downloads the
  label first. The answer carries ``secretId`` (the ARN), ``versionId``, ``versionStage`` (all
  labels of that version) and ``secretValue`` ``{secretString}`` or ``{secretBinary}``.
"""

from __future__ import annotations

import base64
import re
import threading
from collections.abc import Mapping
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from fake_device.nucleus.ipc.authorization import SECRET_MANAGER, AuthorizationError, Authorizer
from fake_device.nucleus.ipc.model import (
    ResourceNotFoundError,
    ServiceError,
    UnauthorizedError,
    field,
    shape,
)
from fake_device.nucleus.ipc.server import Call, IpcServer, Reply
from fake_device.nucleus.logs import NucleusLog
from fake_device.nucleus.store import EffectiveConfig

__all__ = ["SecretManagerAgent", "SecretsHost"]

LOGGER = "com.aws.greengrass.secretmanager.SecretManager"
LATEST = "AWSCURRENT"
#: SecretManager.VALID_SECRET_ARN_PATTERN
SECRET_ARN = re.compile(
    r"arn:([^:]+):secretsmanager:[a-z0-9\-]+:[0-9]{12}:secret:([a-zA-Z0-9\\]+/)*[a-zA-Z0-9/_+=,.@\-]+(-[a-zA-Z0-9]+)?"
)


class SecretsHost(Protocol):
    log: NucleusLog

    @property
    def config(self) -> EffectiveConfig: ...

    def client(self, service: str) -> Any: ...


class _NotFound(Exception):
    """``GetSecretException`` with status 404."""


class SecretManagerAgent:
    """The secret manager's IPC operation and its local copy of the configured secrets."""

    def __init__(self, host: SecretsHost, authorizer: Authorizer) -> None:
        self.host = host
        self.authorizer = authorizer
        self._lock = threading.RLock()
        self._cache: dict[str, Mapping[str, Any]] = {}  # arn, arn+versionId, arn+label → secret
        self._names: dict[str, str] = {}  # name → arn
        self._configured: Any = None
        self._timer: threading.Event | None = None

    def register(self, server: IpcServer) -> None:
        server.register(shape("GetSecretValue"), self.get_secret_value, blocking=True)  # may call the cloud

    # -- configuration ---------------------------------------------------------------------------
    def _entry(self, config: EffectiveConfig) -> Mapping[str, Any] | None:
        entry = config.services.get(SECRET_MANAGER)
        configuration = entry.get("configuration") if entry else None
        return configuration if isinstance(configuration, Mapping) else ({} if entry else None)

    def secrets(self) -> list[dict[str, Any]]:
        """``getSecretConfiguration``: the configured secrets, AWSCURRENT added to each."""
        configuration = self._entry(self.host.config) or {}
        found = []
        for item in configuration.get("cloudSecrets") or ():
            if not isinstance(item, Mapping) or not isinstance(item.get("arn"), str):
                continue
            labels = [str(label) for label in item.get("labels") or ()]
            if LATEST not in labels:
                labels.append(LATEST)
            found.append({"arn": item["arn"], "labels": labels})
        return found

    def committed(self, config: EffectiveConfig) -> None:
        """A new configuration was committed: sync if the secret manager's changed."""
        configuration = self._entry(config)
        key = (
            None
            if configuration is None
            else (configuration.get("cloudSecrets"), configuration.get("periodicRefreshIntervalMin"))
        )
        with self._lock:
            if key == self._configured:
                return
            self._configured = key
            if self._timer is not None:
                self._timer.set()
                self._timer = None
            if configuration is None:
                self._cache.clear()
                self._names.clear()
                return
            stop = self._timer = threading.Event()
        try:
            minutes = float(configuration.get("periodicRefreshIntervalMin") or 0)
        except (TypeError, ValueError):
            minutes = 0.0
        threading.Thread(
            target=self._sync_loop, args=(stop, minutes * 60), name="secret-sync", daemon=True
        ).start()

    def close(self) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.set()
                self._timer = None

    def _sync_loop(self, stop: threading.Event, interval: float) -> None:
        while not stop.is_set():
            self.sync()
            if interval <= 0 or stop.wait(interval):
                return

    def sync(self) -> None:
        """``syncFromCloud``: drop what is no longer configured, download every configured label."""
        configured = self.secrets()
        with self._lock:
            arns = {item["arn"] for item in configured}
            for key in [k for k, v in self._cache.items() if v.get("ARN") not in arns]:
                del self._cache[key]
            self._names = {n: a for n, a in self._names.items() if a in arns}
        for item in configured:
            if not SECRET_ARN.fullmatch(item["arn"]):
                self.host.log.warn(LOGGER, "", "Skipping invalid secret arn configured", secret=item["arn"])
                continue
            for label in item["labels"]:
                self._download(item["arn"], label)

    def _download(self, arn: str, label: str | None) -> None:
        """``refreshSecretFromCloud``: one label of a configured secret into the cache."""
        label = label or LATEST
        configured = any(arn in item["arn"] and label in item["labels"] for item in self.secrets())
        if not configured:
            self.host.log.warn(
                LOGGER,
                "",
                "Not downloading the secret from cloud as the label is not configured",
                secret=arn,
                versionStage=label,
            )
            return
        try:
            answer = self.host.client("secretsmanager").get_secret_value(SecretId=arn, VersionStage=label)
        except (ClientError, BotoCoreError) as err:
            self.host.log.error(
                LOGGER,
                "",
                "Could not download secret from cloud",
                secret=arn,
                versionStage=label,
                error=str(err),
            )
            return
        with self._lock:  # putSecretInCache: by ARN, by version id and by each of its labels
            self._cache[answer["ARN"]] = answer
            self._cache[answer["ARN"] + answer["VersionId"]] = answer
            for stage in answer.get("VersionStages") or ():
                self._cache[answer["ARN"] + stage] = answer
            self._names[answer["Name"]] = answer["ARN"]
        self.host.log.info(LOGGER, "", "Downloaded secret from cloud", secret=arn, versionStage=label)

    # -- the operation ---------------------------------------------------------------------------
    def _arn(self, secret_id: str) -> str:
        """``validateSecretId`` + ``getArnFromCache``."""
        if SECRET_ARN.fullmatch(secret_id):
            return secret_id
        with self._lock:
            arn = self._names.get(secret_id)
        if arn:
            return arn
        name = re.compile(".*:secret:" + re.escape(secret_id) + r"-[A-Za-z0-9]{6}(?::[A-Za-z0-9/_+=.@-]+)?")
        for item in self.secrets():
            if name.fullmatch(item["arn"]):
                return str(item["arn"])
        raise _NotFound(f"Secret not configured {secret_id}")

    def _cached(
        self, secret_id: str, arn: str, version_id: str | None, stage: str | None
    ) -> Mapping[str, Any]:
        """``getSecretFromCache``."""
        with self._lock:
            if version_id:
                found = self._cache.get(arn + version_id)
                if found is None:
                    raise _NotFound(f"Version Id {version_id} not found for secret {secret_id}")
                return found
            if stage:
                found = self._cache.get(arn + stage)
                if found is None:
                    raise _NotFound(f"Version stage {stage} not found for secret {secret_id}")
                return found
            found = self._cache.get(arn + LATEST)
        if found is None:
            raise _NotFound(f"Secret not found {secret_id}")
        return found

    def get_secret_value(self, call: Call) -> Reply:
        if SECRET_MANAGER not in self.host.config.services:
            raise ServiceError(f"Operation {call.operation} is not supported by Greengrass")
        secret_id = field(call.request, "secretId", str)
        version_id = field(call.request, "versionId", str)
        stage = field(call.request, "versionStage", str)
        refresh = bool(field(call.request, "refresh", bool))
        self.host.log.info(
            LOGGER, "secret-access", "requested secret", Principal=call.component, secret=secret_id
        )
        try:
            if not secret_id:
                raise ServiceError("SecretId absent in the request")
            arn = self._arn(secret_id)
            try:
                self.authorizer.check(SECRET_MANAGER, call.component, call.operation, arn)
            except AuthorizationError as err:
                raise UnauthorizedError(str(err)) from None
            if version_id and stage:
                raise ServiceError("Both versionId and Stage are set in the request")
            if refresh and not version_id:
                self._download(arn, stage)
            try:
                secret = self._cached(secret_id, arn, version_id, stage)
            except _NotFound:
                if version_id:
                    raise
                self._download(arn, stage)  # not on the device yet: fetch that label once
                secret = self._cached(secret_id, arn, version_id, stage)
        except _NotFound as err:
            self.host.log.error(
                LOGGER,
                "secret-access",
                "Error happened with secret access",
                Principal=call.component,
                secret=secret_id,
                error=str(err),
            )
            raise ResourceNotFoundError(str(err), resource_type="secret") from None
        value: dict[str, Any] = {}
        if secret.get("SecretBinary") is not None:
            value["secretBinary"] = base64.b64encode(bytes(secret["SecretBinary"])).decode()
        else:
            value["secretString"] = secret.get("SecretString")
        return Reply(
            shape("GetSecretValueResponse"),
            {
                "secretId": secret["ARN"],
                "versionId": secret["VersionId"],
                "versionStage": list(secret.get("VersionStages") or ()),
                "secretValue": value,
            },
        )
