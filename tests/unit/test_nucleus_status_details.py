"""What a failed deployment reports: error stacks and types (``DeploymentErrorCodeUtils``), the
component classification by ARN account, requirement texts as semver4j prints them, and which
components a deployment bootstraps in which order (``BootstrapManager``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from fake_device.nucleus.bootstrap import bootstrap_failure, bootstrap_tasks, is_error_code
from fake_device.nucleus.deployment import (
    cloud_resolution_error,
    no_available_version,
    recipe_file_name,
    requirement_text,
)
from fake_device.nucleus.errorcodes import (
    ERROR_TYPES,
    classify_component_error,
    error_report,
    save_recipe_metadata,
)
from fake_device.nucleus.kernel import DeploymentResult
from fake_device.nucleus.store import EffectiveConfig

pytestmark = pytest.mark.unit


def test_error_report_starts_with_deployment_failure_and_lists_named_types_first() -> None:
    stack, types = error_report(["COMPONENT_UPDATE_ERROR", "COMPONENT_BROKEN"], ["USER_COMPONENT_ERROR"])
    assert stack == ("DEPLOYMENT_FAILURE", "COMPONENT_UPDATE_ERROR", "COMPONENT_BROKEN")
    assert types == ("USER_COMPONENT_ERROR",)  # COMPONENT_BROKEN's type is NONE
    stack, types = error_report(
        ["DEPLOYMENT_FAILURE", "ARTIFACT_DOWNLOAD_ERROR", "S3_ERROR", "S3_ACCESS_DENIED"]
    )
    assert stack[0] == "DEPLOYMENT_FAILURE" and types == ("DEPENDENCY_ERROR", "PERMISSION_ERROR")
    assert error_report(["DEPLOYMENT_REJECTED", "REJECTED_STALE_DEPLOYMENT"]) == (
        ("DEPLOYMENT_REJECTED", "REJECTED_STALE_DEPLOYMENT"),
        (),
    )
    assert ERROR_TYPES["COMPONENT_VERSION_REQUIREMENTS_NOT_MET"] == "REQUEST_ERROR"
    assert ERROR_TYPES["CUSTOM_PLUGIN_NOT_SUPPORTED"] == "USER_COMPONENT_ERROR"


def test_status_details_carry_the_report_as_json_lists() -> None:
    details = DeploymentResult.failed(
        "FAILED_ROLLBACK_COMPLETE", bootstrap_failure("com.example.A", 3, "USER_COMPONENT_ERROR")
    ).status_details()
    assert details == {
        "detailed-deployment-status": "FAILED_ROLLBACK_COMPLETE",
        "deployment-error-stack": (
            '["DEPLOYMENT_FAILURE","COMPONENT_UPDATE_ERROR","COMPONENT_BOOTSTRAP_ERROR"]'
        ),
        "deployment-error-types": '["USER_COMPONENT_ERROR"]',
        "deployment-failure-cause": "Fail to execute bootstrap step for com.example.A, exit code: 3",
    }


def test_a_component_is_classified_by_the_account_of_its_arn(tmp_path: Path) -> None:
    mine, theirs = recipe_file_name("com.example.A", "1.0.0"), recipe_file_name("aws.greengrass.Cli", "2.1.0")
    save_recipe_metadata(
        tmp_path, mine, "arn:aws:greengrass:us-east-1:123456789012:components:com.example.A:versions:1.0.0"
    )
    save_recipe_metadata(
        tmp_path, theirs, "arn:aws:greengrass:us-east-1:aws:components:aws.greengrass.Cli:versions:2.1.0"
    )
    assert classify_component_error(tmp_path, mine) == "USER_COMPONENT_ERROR"
    assert classify_component_error(tmp_path, theirs) == "AWS_COMPONENT_ERROR"
    assert classify_component_error(tmp_path, recipe_file_name("local.Only", "1.0.0")) == "COMPONENT_ERROR"


@pytest.mark.parametrize(
    ("requirement", "printed"),
    [
        ("1.0.0", "=1.0.0"),
        ("=0.9.0", "=0.9.0"),
        ("^1.0.0", ">=1.0.0 <2.0.0"),
        ("*", ">=0.0.0"),
        ("^1.0.0 || ^2.0.0", ">=1.0.0 <2.0.0 || >=2.0.0 <3.0.0"),
    ],
)
def test_requirements_are_printed_as_semver4j_prints_them(requirement: str, printed: str) -> None:
    assert requirement_text(requirement) == printed


def test_no_available_version_has_the_nucleus_wording() -> None:
    message = no_available_version("Broker", {"App": "1.0.0", "OldApp": "=0.9.0"})
    assert message.startswith("No local or cloud component version satisfies the requirements Check whether")
    assert message.endswith(
        "Component Broker version constraints: App requires =1.0.0, OldApp requires =0.9.0."
    )


def test_cloud_failures_get_the_nucleus_codes() -> None:
    def client_error(code: str, status: int, message: str = "m") -> ClientError:
        return ClientError(
            {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}},
            "ResolveComponentCandidates",
        )

    missing = cloud_resolution_error(
        client_error("ResourceNotFoundException", 404, "no usable version"), "X", {"g": "1.0.0"}, {}
    )
    assert missing.error_stack == (
        "DEPLOYMENT_FAILURE",
        "NO_AVAILABLE_COMPONENT_VERSION",
        "COMPONENT_VERSION_REQUIREMENTS_NOT_MET",
    )
    platform = cloud_resolution_error(
        client_error("ResourceNotFoundException", 404, "does not claim platform"), "X", {}, {"os": "linux"}
    )
    assert (
        "is incompatible with the core device(classic) platform requirements -  os:linux." in platform.message
    )
    denied = cloud_resolution_error(client_error("AccessDeniedException", 403), "X", {}, {})
    assert error_report(denied.error_stack)[1] == ("PERMISSION_ERROR",)
    throttled = cloud_resolution_error(client_error("ThrottlingException", 429), "X", {}, {})
    assert throttled.error_stack == ("DEPLOYMENT_FAILURE", "CLOUD_API_ERROR", "THROTTLING_ERROR")


def _config(**services: dict) -> EffectiveConfig:
    return EffectiveConfig(services={name: dict(entry) for name, entry in services.items()})


def test_which_components_a_deployment_bootstraps_and_in_which_order() -> None:
    boot = {"bootstrap": {"script": "setup"}}
    current = _config(
        Kept={"version": "1.0.0", "lifecycle": boot}, Bumped={"version": "1.0.0", "lifecycle": boot}
    )
    new = _config(
        Kept={"version": "1.0.0", "lifecycle": boot},  # same version, same step: nothing to do
        Bumped={"version": "1.1.0", "lifecycle": boot, "dependencies": {"Fresh": "HARD"}},
        Fresh={"version": "1.0.0", "lifecycle": boot},
        Changed={"version": "1.0.0", "lifecycle": {"bootstrap": {"script": None}}},  # an empty step
        Plain={"version": "1.0.0", "lifecycle": {"run": {"script": "x"}}},
    )
    assert bootstrap_tasks(current, new) == ["Fresh", "Bumped"]  # the dependency first
    current.services["Plain"] = {"version": "1.0.0", "lifecycle": {"run": {"script": "x"}}}
    new.services["Plain"]["lifecycle"] = {"run": {"script": "x"}, "bootstrap": {"script": "now"}}
    assert "Plain" in bootstrap_tasks(current, new)  # a bootstrap step that changed
    assert [code for code in (0, 1, 3, 100, 101, 255) if is_error_code(code)] == [1, 3, 255]
