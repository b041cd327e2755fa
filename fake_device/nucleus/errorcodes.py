"""Deployment error codes, their error types, and who is to blame for a broken component.

A failed deployment reaches the cloud with two lists in its status details:
``deployment-error-stack`` (codes, outermost first) and ``deployment-error-types`` (what kind of
problem it is). Fleet dashboards and the Greengrass console group failures by those types, so they
must be the ones a real nucleus sends. The rules come from aws-greengrass-nucleus
``deployment/errorcode/``:

- every code has one type (``DeploymentErrorCode`` enum); ``NONE`` is never reported;
- the report (``DeploymentErrorCodeUtils.generateErrorReportFromExceptionStack``) starts the stack
  with ``DEPLOYMENT_FAILURE`` (``DEPLOYMENT_REJECTED`` for a rejection), drops repeated codes, and
  lists the types an exception carries itself first, then the types of the codes, each once;
- a component that fails during an update is classified by the account in its component version
  ARN (``classifyComponentError``): ``aws`` → ``AWS_COMPONENT_ERROR``, any other account →
  ``USER_COMPONENT_ERROR``, no ARN on record (a locally installed recipe) → ``COMPONENT_ERROR``.
  The ARN is the one ``ResolveComponentCandidates`` answered, kept next to the recipe as
  ``<hash>@<version>.metadata.json`` (``ComponentStore.saveRecipeMetadata``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

__all__ = [
    "ERROR_TYPES",
    "classify_component_error",
    "error_report",
    "recipe_metadata_file",
    "save_recipe_metadata",
]

_TYPES_OF: dict[str, tuple[str, ...]] = {
    "NONE": (
        "DEPLOYMENT_FAILURE",
        "DEPLOYMENT_REJECTED",
        "DEPLOYMENT_INTERRUPTED",
        "ARTIFACT_DOWNLOAD_ERROR",
        "NO_AVAILABLE_COMPONENT_VERSION",
        "COMPONENT_PACKAGE_LOADING_ERROR",
        "REJECTED_STALE_DEPLOYMENT",
        "CLOUD_API_ERROR",
        "IO_ERROR",
        "IO_MAPPING_ERROR",
        "DEPLOYMENT_DOCUMENT_NOT_VALID",
        "EMPTY_DEPLOYMENT_REQUEST",
        "DEPLOYMENT_DOCUMENT_PARSE_ERROR",
        "COMPONENT_METADATA_NOT_VALID_IN_DEPLOYMENT",
        "COMPONENT_UPDATE_ERROR",
        "COMPONENT_BROKEN",
        "REMOVE_COMPONENT_ERROR",
        "COMPONENT_BOOTSTRAP_TIMEOUT",
        "COMPONENT_BOOTSTRAP_ERROR",
        "COMPONENT_CONFIGURATION_NOT_VALID",
    ),
    "REQUEST_ERROR": (
        "NUCLEUS_MISSING_REQUIRED_CAPABILITIES",
        "COMPONENT_CIRCULAR_DEPENDENCY_ERROR",
        "UNAUTHORIZED_NUCLEUS_MINOR_VERSION_UPDATE",
        "MISSING_DOCKER_APPLICATION_MANAGER",
        "MISSING_TOKEN_EXCHANGE_SERVICE",
        "COMPONENT_VERSION_REQUIREMENTS_NOT_MET",
        "MULTIPLE_NUCLEUS_RESOLVED_ERROR",
        "THROTTLING_ERROR",
        "CONFLICTED_REQUEST",
        "RESOURCE_NOT_FOUND",
        "RUN_WITH_CONFIG_NOT_VALID",
        "UNSUPPORTED_REGION",
        "IOT_CRED_ENDPOINT_FORMAT_NOT_VALID",
        "IOT_DATA_ENDPOINT_FORMAT_NOT_VALID",
        "S3_HEAD_OBJECT_RESOURCE_NOT_FOUND",
        "S3_GET_BUCKET_LOCATION_RESOURCE_NOT_FOUND",
        "S3_GET_OBJECT_RESOURCE_NOT_FOUND",
    ),
    "NUCLEUS_ERROR": (
        "BAD_REQUEST",
        "NUCLEUS_VERSION_NOT_FOUND",
        "NUCLEUS_RESTART_FAILURE",
        "COMPONENT_LOAD_FAILURE",
    ),
    "PERMISSION_ERROR": (
        "ACCESS_DENIED",
        "GET_DEPLOYMENT_CONFIGURATION_ACCESS_DENIED",
        "GET_COMPONENT_VERSION_ARTIFACT_ACCESS_DENIED",
        "RESOLVE_COMPONENT_CANDIDATES_ACCESS_DENIED",
        "MISSING_MQTT_CONNECT_POLICY",
        "CREDENTIAL_ENDPOINT_AUTH_FAILURE",
        "GET_ECR_CREDENTIAL_ERROR",
        "USER_NOT_AUTHORIZED_FOR_DOCKER",
        "S3_ACCESS_DENIED",
        "S3_HEAD_OBJECT_ACCESS_DENIED",
        "S3_GET_BUCKET_LOCATION_ACCESS_DENIED",
        "S3_GET_OBJECT_ACCESS_DENIED",
    ),
    "SERVER_ERROR": ("SERVER_ERROR", "CREDENTIAL_ENDPOINT_SERVER_ERROR", "S3_SERVER_ERROR"),
    "NETWORK_ERROR": ("NETWORK_ERROR", "MQTT_CONNECTION_FAILED", "TLS_HANDSHAKE_FAILURE"),
    "HTTP_ERROR": (
        "HTTP_REQUEST_ERROR",
        "DOWNLOAD_DEPLOYMENT_DOCUMENT_ERROR",
        "GET_GREENGRASS_ARTIFACT_SIZE_ERROR",
        "DOWNLOAD_GREENGRASS_ARTIFACT_ERROR",
    ),
    "DEVICE_ERROR": (
        "IO_WRITE_ERROR",
        "IO_READ_ERROR",
        "DISK_SPACE_CRITICAL",
        "IO_FILE_ATTRIBUTE_ERROR",
        "SET_PERMISSION_ERROR",
        "IO_UNZIP_ERROR",
        "LOCAL_RECIPE_NOT_FOUND",
        "LOCAL_RECIPE_CORRUPTED",
        "LOCAL_RECIPE_METADATA_NOT_FOUND",
        "HASHING_ALGORITHM_UNAVAILABLE",
        "LAUNCH_DIRECTORY_CORRUPTED",
        "DEVICE_CONFIG_NOT_VALID_FOR_ARTIFACT_DOWNLOAD",
    ),
    "COMPONENT_RECIPE_ERROR": (
        "RECIPE_PARSE_ERROR",
        "RECIPE_METADATA_PARSE_ERROR",
        "ARTIFACT_URI_NOT_VALID",
        "S3_ARTIFACT_URI_NOT_VALID",
        "DOCKER_ARTIFACT_URI_NOT_VALID",
        "EMPTY_ARTIFACT_URI",
        "EMPTY_ARTIFACT_SCHEME",
        "UNSUPPORTED_ARTIFACT_SCHEME",
        "RECIPE_MISSING_MANIFEST",
        "RECIPE_MISSING_ARTIFACT_HASH_ALGORITHM",
        "ARTIFACT_CHECKSUM_MISMATCH",
        "COMPONENT_DEPENDENCY_NOT_VALID",
        "CONFIG_INTERPOLATE_ERROR",
        "COMPONENT_VERSION_NOT_VALID",
    ),
    "DEPENDENCY_ERROR": (
        "DOCKER_ERROR",
        "DOCKER_SERVICE_UNAVAILABLE",
        "DOCKER_IMAGE_QUERY_ERROR",
        "DOCKER_LOGIN_ERROR",
        "DOCKER_PULL_ERROR",
        "DOCKER_IMAGE_NOT_VALID",
        "S3_ERROR",
        "S3_RESOURCE_NOT_FOUND",
        "S3_BAD_REQUEST",
    ),
    "CLOUD_SERVICE_ERROR": (
        "RESOLVE_COMPONENT_CANDIDATES_BAD_RESPONSE",
        "DEPLOYMENT_DOCUMENT_SIZE_EXCEEDED",
        "GREENGRASS_ARTIFACT_SIZE_NOT_FOUND",
    ),
    "UNKNOWN_ERROR": ("DEPLOYMENT_TYPE_NOT_VALID",),
    "USER_COMPONENT_ERROR": ("CUSTOM_PLUGIN_NOT_SUPPORTED",),
}

#: ``DeploymentErrorCode`` → ``DeploymentErrorType`` (the enum's constructor argument)
ERROR_TYPES: dict[str, str] = {code: kind for kind, codes in _TYPES_OF.items() for code in codes}


def error_report(stack: Iterable[str], types: Iterable[str] = ()) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The (error stack, error types) pair the nucleus reports for a failure.

    ``stack`` is the failure's codes, ``types`` the types the failure names itself (a component
    classification); the stack gets its leading ``DEPLOYMENT_FAILURE`` unless it starts with
    ``DEPLOYMENT_REJECTED``.
    """
    codes = list(dict.fromkeys(stack))
    if not codes or codes[0] not in ("DEPLOYMENT_FAILURE", "DEPLOYMENT_REJECTED"):
        codes = list(dict.fromkeys(["DEPLOYMENT_FAILURE", *codes]))
    kinds = [*types, *(ERROR_TYPES.get(code, "NONE") for code in codes)]
    return tuple(codes), tuple(k for k in dict.fromkeys(kinds) if k != "NONE")


def recipe_metadata_file(recipes_path: Path, recipe_file_name: str) -> Path:
    """``<hash>@<version>.metadata.json`` beside ``<hash>@<version>.recipe.yaml``."""
    return Path(recipes_path) / recipe_file_name.replace(".recipe.yaml", ".metadata.json")


def save_recipe_metadata(recipes_path: Path, recipe_file_name: str, component_version_arn: str) -> None:
    """Keep the ARN the cloud resolved the recipe from (``RecipeMetadata``)."""
    from fake_device.nucleus.store import atomic_write

    atomic_write(
        recipe_metadata_file(recipes_path, recipe_file_name),
        json.dumps({"componentVersionArn": component_version_arn}),
    )


def classify_component_error(recipes_path: Path, recipe_file_name: str) -> str:
    """``classifyComponentError``: whose component failed, from the account in its ARN."""
    try:
        data = json.loads(recipe_metadata_file(recipes_path, recipe_file_name).read_text(encoding="utf-8"))
        arn = str(data["componentVersionArn"])
    except (OSError, ValueError, KeyError, TypeError):
        return "COMPONENT_ERROR"  # installed locally, or the metadata is unreadable
    fields = arn.split(":")
    if len(fields) < 6 or fields[0] != "arn" or not fields[4]:
        return "COMPONENT_ERROR"
    return "AWS_COMPONENT_ERROR" if fields[4] == "aws" else "USER_COMPONENT_ERROR"
