"""``greengrass-cli``: the Greengrass CLI of the simulated core device.

The commands, options and output of aws-greengrass-cli's client (``commands/ComponentCommand``,
``commands/DeploymentCommand``, ``adapter/impl/NucleusAdapterIpcClientImpl``), over the device's
IPC socket with the token the CLI component left in ``<root>/cli_ipc_info`` (see
:mod:`fake_device.nucleus.cli_files`)::

    greengrass-cli component list
    greengrass-cli component details --name NAME
    greengrass-cli component restart --names A,B
    greengrass-cli component stop --names A
    greengrass-cli deployment create --recipeDir DIR --artifactDir DIR --merge NAME=VERSION \
        --remove NAME --update-config '{"NAME": {"MERGE": {...}, "RESET": ["/key"]}}'
    greengrass-cli deployment status -i ID
    greengrass-cli deployment list
    greengrass-cli deployment cancel -i ID

The root comes from ``--ggcRootPath`` or ``GGC_ROOT_PATH`` (the device's ``bin/greengrass-cli``
passes it). A failed call prints ``<ErrorShape>: <message>`` on stderr and exits 1 (the Java
client prints a stack trace); a command line it cannot parse prints the error and the usage.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fake_device.nucleus.ipc.client import IpcCallError, IpcClient

__all__ = ["main"]

NO_ROOT = (
    "GGC root path not configured. Provide ggc root path via cli greengrass-cli --ggcRootPath {PATH} "
    "{rest of the arguments} or set the environment variable GGC_ROOT_PATH"
)


class CliError(Exception):
    """A problem the command reports on stderr (exit status 1)."""


def _ipc_info(root: Path) -> dict[str, str]:
    """``loadCliIpcInfo``: ``user-<euid>``, else ``group-<egid>``, else any readable file."""
    folder = root / "cli_ipc_info"
    candidates = [folder / f"user-{os.geteuid()}", folder / f"group-{os.getegid()}"]
    if folder.is_dir():
        candidates += sorted(p for p in folder.iterdir() if p not in candidates)
    for path in candidates:
        try:
            return dict(json.loads(path.read_text()))
        except (OSError, ValueError):
            continue
    raise CliError(
        f"Not able to find auth information in directory: {folder}. "
        "Please run CLI as authorized user or group."
    )


def _client(root: Path) -> IpcClient:
    info = _ipc_info(root)
    return IpcClient(info["domain_socket_path"], info["cli_auth_token"])


def _compact(value: Any) -> str:
    """Jackson's ``writeValueAsString``: compact JSON."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _print_component(details: dict[str, Any]) -> None:
    print("Component Name: " + str(details.get("componentName")))
    print("    Version: " + str(details.get("version")))
    print("    State: " + str(details.get("state")))
    print("    Configuration: " + _compact(details.get("configuration")))


def _names(text: str) -> list[str]:
    """``names.split(" *[&,]+ *")``."""
    return [n for n in re.split(r" *[&,]+ *", text) if n]


def _pairs(values: Sequence[str] | None) -> dict[str, str] | None:
    if not values:
        return None
    found = {}
    for value in values:
        for item in value.split(","):
            name, sep, version = item.partition("=")
            if not sep or not name or not version:
                raise CliError(f"Value for option '--merge' ({item}) should be in KEY=VALUE format")
            found[name.strip()] = version.strip()
    return found


def _config_update(text: str | None) -> dict[str, Any] | None:
    """A JSON text, or the path of a JSON file (``~`` allowed)."""
    if not text:
        return None
    path = Path(text).expanduser()
    try:
        source = path.read_text() if path.is_file() else text
    except OSError:
        source = text
    try:
        value = json.loads(source)
    except ValueError as err:
        raise CliError(
            "Update configuration parameter is not a properly formatted JSON file or a JSON string\n"
            + str(err)
        ) from None
    if not isinstance(value, dict):
        raise CliError(
            "Update configuration parameter is not a properly formatted JSON file or a JSON string"
        )
    return value


def _path(text: str | None) -> str | None:
    return str(Path(text).expanduser().absolute()) if text else None


def _component(args: argparse.Namespace, root: Path) -> None:
    with _client(root) as client:
        if args.action == "list":
            components = client.call("ListComponents").get("components") or []
            print("Components currently running in Greengrass:")
            for details in components:
                _print_component(details)
        elif args.action == "details":
            _print_component(
                client.call("GetComponentDetails", {"componentName": args.name})["componentDetails"]
            )
        elif args.action == "restart":
            for name in _names(args.names):
                client.call("RestartComponent", {"componentName": name})
        elif args.action == "stop":
            for name in _names(args.names):
                client.call("StopComponent", {"componentName": name})


def _deployment(args: argparse.Namespace, root: Path) -> None:
    if args.action == "create":
        request: dict[str, Any] = {
            k: v
            for k, v in {
                "groupName": args.groupId,
                "rootComponentVersionsToAdd": _pairs(args.merge),
                "rootComponentsToRemove": [n for value in args.remove or () for n in value.split(",") if n]
                or None,
                "componentToConfiguration": _config_update(args.update_config),
                "recipeDirectoryPath": _path(args.recipeDir),
                "artifactsDirectoryPath": _path(args.artifactDir),
                "failureHandlingPolicy": args.failure_handling_policy,
            }.items()
            if v is not None
        }
        with _client(root) as client:
            deployment_id = client.call("CreateLocalDeployment", request)["deploymentId"]
        print("Local deployment submitted! Deployment Id: " + deployment_id)
    elif args.action == "status":
        with _client(root) as client:
            deployment = client.call("GetLocalDeploymentStatus", {"deploymentId": args.deploymentId})[
                "deployment"
            ]
        lines = [
            f"{deployment['deploymentId']}: {deployment['status']}",
            f"Created on: {deployment['createdOn']}",
        ]
        details = deployment.get("deploymentStatusDetails") or {}
        if deployment["status"] == "FAILED" and details:
            if str(details.get("detailedDeploymentStatus") or "").strip():
                lines.append(f"Detailed Status: {details['detailedDeploymentStatus']}")
            if details.get("deploymentErrorStack"):
                lines.append("Deployment Error Stack: " + ", ".join(details["deploymentErrorStack"]))
            if details.get("deploymentErrorTypes"):
                lines.append("Deployment Error Types: " + ", ".join(details["deploymentErrorTypes"]))
            if str(details.get("deploymentFailureCause") or "").strip():
                lines.append(f"Deployment Failure Cause: {details['deploymentFailureCause']}")
        sys.stdout.write("".join(line + "\n" for line in lines))
    elif args.action == "cancel":
        with _client(root) as client:
            answer = client.call("CancelLocalDeployment", {"deploymentId": args.deploymentId})
        print(str(answer.get("message")))
    elif args.action == "list":
        with _client(root) as client:
            deployments = client.call("ListLocalDeployments").get("localDeployments") or []
        entries = [
            f"Deployment ID: {d['deploymentId']}\nCreated on: {d['createdOn']}\nStatus: {d['status']}\n"
            for d in deployments
        ]
        sys.stdout.write("\n".join(entries))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="greengrass-cli", description="Greengrass CLI of the simulated device."
    )
    parser.add_argument("--ggcRootPath", help="The path to the root directory of Greengrass")
    commands = parser.add_subparsers(dest="command", required=True)

    component = commands.add_parser(
        "component", help="Retrieve component information and restart or stop components."
    )
    actions = component.add_subparsers(dest="action", required=True)
    actions.add_parser(
        "list", help="Retrieve the names, component information, and runtime arguments for components."
    )
    details = actions.add_parser(
        "details", help="Retrieve the version, status, and configuration of a component."
    )
    details.add_argument("-n", "--name", required=True, help="The name of the component.")
    for name, what in (("restart", "Restart components."), ("stop", "Stop components.")):
        action = actions.add_parser(name, help=what)
        action.add_argument(
            "-n", "--names", required=True, help="The names of the target components, separated with commas."
        )

    deployment = commands.add_parser("deployment", help="Create and inspect local deployments.")
    actions = deployment.add_subparsers(dest="action", required=True)
    create = actions.add_parser(
        "create", help="Create local deployment with provided recipes, artifacts, and runtime parameters"
    )
    create.add_argument(
        "-m",
        "--merge",
        action="append",
        metavar="NAME=VERSION",
        help="Component and version to add or update.",
    )
    create.add_argument("--remove", action="append", metavar="NAME", help="Root component to remove.")
    create.add_argument("-g", "--groupId", help="Thing group ID.")
    create.add_argument("-r", "--recipeDir", help="Recipe directory.")
    create.add_argument("-a", "--artifactDir", help="Artifacts directory.")
    create.add_argument(
        "-c", "--update-config", dest="update_config", help="Component configuration (JSON or a JSON file)."
    )
    create.add_argument(
        "-fp",
        "--failure-handling-policy",
        dest="failure_handling_policy",
        choices=("ROLLBACK", "DO_NOTHING"),
        help="Failure handling policy.",
    )
    status = actions.add_parser("status", help="Retrieve the status of a specific deployment")
    status.add_argument("-i", "--deploymentId", required=True, help="Deployment ID.")
    actions.add_parser("list", help="Retrieve the status of local deployments")
    cancel = actions.add_parser("cancel", help="Cancel a local deployment")
    cancel.add_argument("-i", "--deploymentId", required=True, help="The ID of the deployment.")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    root_text = args.ggcRootPath or os.environ.get("GGC_ROOT_PATH")
    try:
        if not root_text:
            raise CliError(NO_ROOT)
        root = Path(root_text).expanduser()
        if args.command == "component":
            _component(args, root)
        else:
            _deployment(args, root)
    except CliError as err:
        print(str(err), file=sys.stderr)
        return 1
    except IpcCallError as err:
        print(f"{err.code}: {err.message}", file=sys.stderr)
        return 1
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
