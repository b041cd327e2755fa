"""The device's IPC service: the socket, the tokens and the operation groups, put together.

This is what the nucleus's ``IPCEventStreamService`` and the ``*IPCService`` modules do at
start-up (aws-greengrass-nucleus ``ipc/``): open ``<root>/ipc.socket``, register each operation
group's handlers and give each component its token. :class:`~fake_device.nucleus.kernel.CoreDevice`
owns one and calls it when something the components may watch happens (a configuration commit,
a deployment about to change them).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

from fake_device.nucleus.cli_files import CliFiles
from fake_device.nucleus.ipc.authentication import AuthenticationTokens
from fake_device.nucleus.ipc.authorization import Authorizer
from fake_device.nucleus.ipc.cli import CliAgent, CliHost
from fake_device.nucleus.ipc.configuration import ConfigurationAgent, ConfigurationHost, ValidationRequest
from fake_device.nucleus.ipc.lifecycle import LifecycleAgent, LifecycleHost
from fake_device.nucleus.ipc.mqttproxy import MqttProxyAgent
from fake_device.nucleus.ipc.pubsub import PubSubAgent
from fake_device.nucleus.ipc.secrets import SecretManagerAgent, SecretsHost
from fake_device.nucleus.ipc.server import IpcServer
from fake_device.nucleus.ipc.shadows import ShadowHost, ShadowManagerAgent
from fake_device.nucleus.logs import NucleusLog
from fake_device.nucleus.mqtt import IotCoreConnection
from fake_device.nucleus.store import EffectiveConfig

__all__ = ["IpcHost", "IpcService"]

AUTHORIZATION_LOGGER = "com.aws.greengrass.authorization.AuthorizationHandler"


class IpcHost(ConfigurationHost, LifecycleHost, CliHost, SecretsHost, ShadowHost, Protocol):
    """Everything the operation groups need from the device."""

    log: NucleusLog
    iot_core: IotCoreConnection


class IpcService:
    """One device's IPC server and its operation groups."""

    def __init__(self, host: IpcHost, socket_path: Path) -> None:
        self.host = host
        self.tokens = AuthenticationTokens()
        self.server = IpcServer(socket_path, authenticate=self.tokens.component_of, log=host.log)
        self.authorizer = Authorizer(lambda: host.config, warn=self._policy_warning)
        self.configuration = ConfigurationAgent(host)
        self.configuration.register(self.server)
        self.pubsub = PubSubAgent(self.authorizer)
        self.pubsub.register(self.server)
        self.lifecycle = LifecycleAgent(host)
        self.lifecycle.register(self.server)
        self.cli = CliAgent(host, self.authorizer)
        self.cli.register(self.server)
        self.mqttproxy = MqttProxyAgent(host.iot_core, self.authorizer, host.log)
        self.mqttproxy.register(self.server)
        self.secrets = SecretManagerAgent(host, self.authorizer)
        self.secrets.register(self.server)
        self.shadows = ShadowManagerAgent(host, self.authorizer)
        self.shadows.register(self.server)
        self.cli_files = CliFiles(
            host.paths.root, self.tokens.token_for, lambda: self.server.socket_path, host.log
        )

    def _policy_warning(self, message: str) -> None:
        self.host.log.error(AUTHORIZATION_LOGGER, "load-authorization-config-error", message)

    @property
    def socket_path(self) -> Path:
        return self.server.socket_path

    def token_for(self, component: str) -> str:
        """The component's ``SVCUID``."""
        return self.tokens.token_for(component)

    def start(self) -> None:
        self.server.start()
        self.secrets.committed(self.host.config)
        self.cli_files.sync(self.host.config)

    def close(self) -> None:
        self.secrets.close()
        self.cli_files.remove()
        self.server.close()

    # -- events from the device ------------------------------------------------------------------
    def configuration_committed(self, old: EffectiveConfig, new: EffectiveConfig) -> None:
        self.configuration.committed(old, new)
        if self.server.running:  # the plugins' own reactions once the device serves IPC
            self.secrets.committed(new)
            self.cli_files.sync(new)

    def validate_configuration(
        self, deployment_id: str, requests: Sequence[ValidationRequest], timeout: float
    ) -> str | None:
        return self.configuration.validate(deployment_id, requests, timeout)

    def wait_for_disruptable(
        self,
        deployment_id: str,
        timeout: float,
        stop: threading.Event,
        cancelled: Callable[[], bool] = lambda: False,
    ) -> bool:
        """Tell subscribed components a deployment is coming; wait while they defer it. Whether
        the deployment was canceled meanwhile."""
        return self.lifecycle.wait_for_disruptable(deployment_id, timeout, stop, cancelled)

    def component_updates_done(self, deployment_id: str) -> None:
        self.lifecycle.send_post_update(deployment_id)
