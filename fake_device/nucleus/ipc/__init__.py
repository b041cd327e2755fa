"""Greengrass IPC on the simulated device: the nucleus's eventstream RPC server.

A component's unmodified ``awsiotsdk`` code (``GreengrassCoreIPCClientV2()``) connects to
``<root>/ipc.socket`` with its ``SVCUID`` and calls the nucleus's operations. The package follows
the nucleus's split (aws-greengrass-nucleus ``ipc/``, ``builtin/services/``, ``authorization/``):

- :mod:`.framing` — the eventstream message codec (prelude, headers, payload, CRCs);
- :mod:`.server` — connections, the CONNECT handshake, streams, error shapes;
- :mod:`.model` — the service model's operation names and error shapes;
- :mod:`.authentication` — per-component tokens;
- :mod:`.authorization` — ``accessControl`` policies and the nucleus's wildcard rules;
- :mod:`.configuration` — configuration operations and validation;
- :mod:`.pubsub` — local publish/subscribe;
- :mod:`.lifecycle` — state reports and component update notifications;
- :mod:`.cli` — the Greengrass CLI's component operations;
- :mod:`.service` — all of it for one device (what :class:`~fake_device.nucleus.kernel.CoreDevice`
  starts and stops).

docs/ipc.md lists the operations served and where the simulator differs from a device.
"""

from __future__ import annotations

from fake_device.nucleus.ipc.service import IpcHost, IpcService

__all__ = ["IpcHost", "IpcService"]
