"""Names from the GreengrassCoreIPC service model: its operations and its error shapes.

The operation names are what a client puts in the ``operation`` header of a stream's first
message (``aws.greengrass#GetConfiguration``); the server treats a name the model does not know
differently from one the model knows but the device does not serve (see :mod:`.server`), so the
whole list is here (aws-iot-device-sdk-python-v2 ``awsiot/greengrasscoreipc/model.py``).

An error a handler raises is one of the model's error shapes. The nucleus serialises them with
the SDK's Gson model (aws-iot-device-sdk-java-v2 ``EventStreamOperationError``,
``GreengrassCoreIPCError``): the shape's own fields (``message``, and e.g. ``resourceType``) plus
``_service``, ``_message`` and ``_errorCode``; the Python client reads the fields it knows and
raises e.g. ``awsiot.greengrasscoreipc.model.UnauthorizedError``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

__all__ = [
    "OPERATIONS",
    "SERVICE",
    "ComponentNotFoundError",
    "ConflictError",
    "FailedUpdateConditionCheckError",
    "InvalidArgumentsError",
    "InvalidArtifactsDirectoryPathError",
    "IpcError",
    "ResourceNotFoundError",
    "ServiceError",
    "ShapeError",
    "UnauthorizedError",
    "field",
    "shape",
]

SERVICE = "aws.greengrass#GreengrassCoreIPC"
NAMESPACE = "aws.greengrass#"


def shape(name: str) -> str:
    """The model type of a shape, as the ``service-model-type`` header carries it."""
    return name if name.startswith(NAMESPACE) else NAMESPACE + name


#: every operation of the model (served or not); streaming ones end with their event shape
OPERATIONS: frozenset[str] = frozenset(
    shape(name)
    for name in (
        "AuthorizeClientDeviceAction",
        "CancelLocalDeployment",
        "CreateDebugPassword",
        "CreateLocalDeployment",
        "DeferComponentUpdate",
        "DeleteThingShadow",
        "GetClientDeviceAuthToken",
        "GetComponentDetails",
        "GetConfiguration",
        "GetLocalDeploymentStatus",
        "GetSecretValue",
        "GetThingShadow",
        "ListComponents",
        "ListLocalDeployments",
        "ListNamedShadowsForThing",
        "PauseComponent",
        "PublishToIoTCore",
        "PublishToTopic",
        "PutComponentMetric",
        "RestartComponent",
        "ResumeComponent",
        "SendConfigurationValidityReport",
        "StopComponent",
        "SubscribeToCertificateUpdates",
        "SubscribeToComponentUpdates",
        "SubscribeToConfigurationUpdate",
        "SubscribeToIoTCore",
        "SubscribeToTopic",
        "SubscribeToValidateConfigurationUpdates",
        "UpdateConfiguration",
        "UpdateState",
        "UpdateThingShadow",
        "ValidateAuthorizationToken",
        "VerifyClientDeviceIdentity",
    )
)


class IpcError(Exception):
    """An error shape sent back as the APPLICATION_ERROR that ends a stream."""

    code: ClassVar[str] = "ServiceError"
    error_type: ClassVar[str] = "client"

    def __init__(self, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields

    @property
    def model_type(self) -> str:
        return shape(self.code)

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {"message": self.message}
        body.update({k: v for k, v in self.fields.items() if v is not None})
        body.update({"_service": SERVICE, "_message": self.message, "_errorCode": self.code})
        return body

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class ServiceError(IpcError):
    code = "ServiceError"
    error_type = "server"


class UnauthorizedError(IpcError):
    code = "UnauthorizedError"


class InvalidArgumentsError(IpcError):
    code = "InvalidArgumentsError"


class InvalidArtifactsDirectoryPathError(IpcError):
    code = "InvalidArtifactsDirectoryPathError"


class FailedUpdateConditionCheckError(IpcError):
    code = "FailedUpdateConditionCheckError"


class ComponentNotFoundError(IpcError):
    code = "ComponentNotFoundError"


class ConflictError(IpcError):
    code = "ConflictError"


class ResourceNotFoundError(IpcError):
    code = "ResourceNotFoundError"

    def __init__(self, message: str, *, resource_type: str | None = None, resource_name: str | None = None):
        super().__init__(message, resourceType=resource_type, resourceName=resource_name)


class ShapeError(Exception):
    """A request the model cannot read (a field of the wrong JSON type). The nucleus's Gson
    mapping throws, which is not a modeled error: the client gets the generic internal error
    (see :mod:`.server`) and the reason only appears in greengrass.log."""


def field(request: Mapping[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    """``request[key]`` if it is absent/null or of JSON type ``kind``, else :class:`ShapeError`."""
    value = request.get(key)
    if value is None or (isinstance(value, kind) and not (isinstance(value, bool) and kind in (int, float))):
        return value
    expected = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
    raise ShapeError(f"{key} must be {expected}, got {type(value).__name__}: {value!r}")
