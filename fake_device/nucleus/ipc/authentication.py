"""Per-component IPC tokens: the ``SVCUID`` a component's process presents in its CONNECT message.

The nucleus gives every service a token of 16 random upper-case characters when it creates the
service and keeps ``token → service name`` in its configuration
(aws-greengrass-nucleus ``ipc/AuthenticationHandler.registerAuthenticationToken``). A connection
is bound to the component whose token it presented; every operation on it acts as that component.
Tokens are generated again at each start of the nucleus, never persisted, so a component process
left from an earlier run cannot connect with its old token.
"""

from __future__ import annotations

import secrets
import string
import threading

__all__ = ["AuthenticationTokens"]

_ALPHABET = string.ascii_uppercase + string.digits
TOKEN_LENGTH = 16


class AuthenticationTokens:
    """``token → component`` for one device run (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_component: dict[str, str] = {}
        self._by_token: dict[str, str] = {}

    def token_for(self, component: str) -> str:
        """The component's token, created on first use (``registerAuthenticationToken``)."""
        with self._lock:
            token = self._by_component.get(component)
            if token is None:
                token = "".join(secrets.choice(_ALPHABET) for _ in range(TOKEN_LENGTH))
                while token in self._by_token:  # the nucleus retries on a collision too
                    token = "".join(secrets.choice(_ALPHABET) for _ in range(TOKEN_LENGTH))
                self._by_component[component] = token
                self._by_token[token] = component
            return token

    def component_of(self, token: str) -> str | None:
        """``doAuthentication``: the component a token belongs to, or ``None``."""
        with self._lock:
            return self._by_token.get(token)
