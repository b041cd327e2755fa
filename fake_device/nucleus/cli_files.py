"""What the ``aws.greengrass.Cli`` component leaves on a device: ``bin/greengrass-cli`` and its tokens.

When the CLI component starts (aws-greengrass-cli ``CLIService.startup``) it installs the client
under ``<root>/bin/greengrass-cli`` and writes, for each user or group allowed to use it, a file
``<root>/cli_ipc_info/user-<uid>`` or ``group-<gid>`` with ``{"cli_auth_token", "domain_socket_path"}``:
the CLI reads the first one it may read and connects to the IPC socket as
``greengrass-cli#<file name>``, an identity every CLI operation allows. Without
``AuthorizedPosixGroups`` in the component's configuration only the user the nucleus runs as gets
a file (mode ``rw-------``); each listed group gets one readable by that group.

The simulated device does the same while a component named ``aws.greengrass.Cli`` is in its
configuration (:class:`CliFiles`, called at each configuration commit). Its ``greengrass-cli`` is
:mod:`fake_device.nucleus.cli_command` run by the device's Python.
"""

from __future__ import annotations

import contextlib
import grp
import json
import os
import shlex
import shutil
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from fake_device.nucleus.logs import NucleusLog
from fake_device.nucleus.store import EffectiveConfig

__all__ = ["CLI_CLIENT_PREFIX", "CLI_COMPONENT", "CliFiles"]

CLI_COMPONENT = "aws.greengrass.Cli"
#: CLIService.GREENGRASS_CLI_CLIENT_ID_PREFIX
CLI_CLIENT_PREFIX = "greengrass-cli#"
LOGGER = "com.aws.greengrass.cli.CLIService"


def _script(root: Path) -> str:
    python = shlex.quote(sys.executable)
    return (
        "#!/bin/sh\n"
        "# greengrass-cli of the simulated core device: the Greengrass CLI's commands over the IPC socket\n"
        f'exec {python} -m fake_device.nucleus.cli_command --ggcRootPath {shlex.quote(str(root))} "$@"\n'
    )


class CliFiles:
    """Installs and removes the CLI's files as the CLI component comes and goes."""

    def __init__(
        self, root: Path, token_for: Callable[[str], str], socket_path: Callable[[], Path], log: NucleusLog
    ) -> None:
        self.root = root
        self.token_for = token_for
        self.socket_path = socket_path
        self.log = log
        self._installed: Any = None  # the AuthorizedPosixGroups the files were written for

    @property
    def info_path(self) -> Path:
        return self.root / "cli_ipc_info"

    @property
    def binary(self) -> Path:
        return self.root / "bin" / "greengrass-cli"

    def sync(self, config: EffectiveConfig) -> None:
        entry = config.services.get(CLI_COMPONENT)
        if entry is None:
            if self._installed is not None:
                self.remove()
            return
        configuration = entry.get("configuration")
        groups = configuration.get("AuthorizedPosixGroups") if isinstance(configuration, Mapping) else None
        if self._installed is not None and self._installed == (groups,):
            return
        self.install(str(groups) if groups else "")
        self._installed = (groups,)

    def install(self, groups: str) -> None:
        """``generateCliIpcInfo`` + the client under ``bin/``."""
        shutil.rmtree(self.info_path, ignore_errors=True)  # revokeOutdatedAuthTokens
        self.info_path.mkdir(parents=True, exist_ok=True)
        os.chmod(self.info_path, 0o755)
        written = []
        if not groups:
            written.append(self._write(f"user-{os.geteuid()}", 0o600, None))
        for name in (g.strip() for g in groups.split(",") if g.strip()):
            try:
                gid = grp.getgrnam(name).gr_gid if not name.isdigit() else int(name)
            except KeyError:
                self.log.error(LOGGER, "", "Failed to get group ID", group=name)
                continue
            written.append(self._write(f"group-{gid}", 0o640, gid))
        self.binary.parent.mkdir(parents=True, exist_ok=True)
        self.binary.write_text(_script(self.root))
        os.chmod(self.binary, 0o755)
        self.log.info(LOGGER, "cli-ipc-info", "Greengrass CLI installed", files=written, binary=self.binary)

    def _write(self, client: str, mode: int, gid: int | None) -> str:
        token = self.token_for(CLI_CLIENT_PREFIX + client)
        path = self.info_path / client
        info = {"cli_auth_token": token, "domain_socket_path": str(self.socket_path())}
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "w") as handle:
            json.dump(info, handle)
        os.chmod(path, mode)
        if gid is not None:
            with contextlib.suppress(OSError):
                os.chown(path, -1, gid)
        return client

    def remove(self) -> None:
        shutil.rmtree(self.info_path, ignore_errors=True)
        self.binary.unlink(missing_ok=True)
        self._installed = None
