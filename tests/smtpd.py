"""A real SMTP server for tests: aiosmtpd on a loopback port the system picks."""

from __future__ import annotations

from typing import Any

from aiosmtpd.controller import Controller


class EphemeralController(Controller):  # type: ignore[misc]
    """aiosmtpd's Controller on a port the system picks (port 0): the port is read back from the
    listening socket before the controller connects to it to start the SMTP session factory."""

    def __init__(self, handler: Any, **options: Any) -> None:
        super().__init__(handler, hostname="127.0.0.1", port=0, **options)

    def _trigger_server(self) -> None:
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()
