"""Who may call the service: clients on this machine freely, any other with the API token.

The token is read once from the environment variable the serving config names
(``auth.token_env``), in the ingress's process, and compared in constant time. A client shows
it as ``Authorization: Bearer <token>`` or, on the WebSocket (whose headers a browser cannot
set), as the ``token`` query parameter. Without a token configured, clients beyond loopback
are refused: the shipped Serve config binds every interface.
"""

from __future__ import annotations

import hmac
import ipaddress
import os

from starlette.requests import HTTPConnection


class AccessDenied(Exception):
    """A caller the service refuses: ``status`` 401 (no or wrong token) or 403 (no token is
    configured for callers beyond loopback)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def is_loopback(host: str | None) -> bool:
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:      # not an IP address (a test client's made-up name)
        return False


class Access:
    def __init__(self, auth: dict):
        self.variable = str(auth["token_env"])
        self.token = os.environ.get(self.variable) or None
        self.loopback_free = bool(auth["loopback_without_token"])

    def check(self, connection: HTTPConnection) -> None:
        """Refuse (``AccessDenied``) a caller that may not call the service."""
        host = connection.client.host if connection.client else None
        if self.loopback_free and is_loopback(host):
            return
        if self.token is None:
            raise AccessDenied(403, f"clients beyond this machine ({host}) need an API token, "
                                    f"and the service has none: set {self.variable} in its "
                                    "environment (docs/serving.md)")
        header = connection.headers.get("authorization", "")
        shown = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") \
            else connection.query_params.get("token", "")
        if not hmac.compare_digest(shown.encode(), self.token.encode()):
            raise AccessDenied(401, "a valid API token is needed: 'Authorization: Bearer "
                                    "<token>' (WebSocket: ?token=<token>)")
