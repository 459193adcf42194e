"""Dropping a call's connection without an answer, after the server acted (the lose_response fault).

ASGI gives an app no way to close its connection without sending a response, so the emulator's
server uses uvicorn's HTTP protocol with one addition: every open connection's transport is
registered under the ``(server, client)`` addresses that uvicorn also puts in the ASGI scope.
``LostResponse`` looks the transport up and aborts it, so the client reads nothing at all (a
connection reset or "server disconnected without sending a response"). Under a plain uvicorn
(``create_app`` served by someone else) it falls back to sending the status line and headers of
a body that never comes, which a client also sees as a transport error.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

log = logging.getLogger(__name__)

Address = tuple[Any, Any]
_transports: dict[tuple[Address, Address], asyncio.BaseTransport] = {}


def _key(server: Any, client: Any) -> tuple[Address, Address] | None:
    if server is None or client is None:
        return None
    return (tuple(server), tuple(client))


def tracking_protocol(kind: str = "auto") -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol class (``httptools`` when installed, else ``h11``) that registers
    its connections for ``LostResponse``; pass it as ``uvicorn.run(..., http=...)``."""
    base: type[Any]
    if kind in ("auto", "httptools"):
        try:
            from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as base
        except ImportError:
            if kind == "httptools":
                raise
            from uvicorn.protocols.http.h11_impl import H11Protocol as base
    elif kind == "h11":
        from uvicorn.protocols.http.h11_impl import H11Protocol as base
    else:
        raise ValueError(f"http protocol {kind!r} is not one of auto, httptools, h11")

    class TrackingProtocol(base):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            key = _key(self.server, self.client)
            if key is not None:
                _transports[key] = transport

        def connection_lost(self, exc: Exception | None) -> None:
            key = _key(self.server, self.client)
            if key is not None and _transports.get(key) is self.transport:
                del _transports[key]
            super().connection_lost(exc)

    TrackingProtocol.__name__ = TrackingProtocol.__qualname__ = f"Tracking{base.__name__}"
    return TrackingProtocol


class LostResponse(Response):
    """A response that is never sent: the connection is aborted instead."""

    def __init__(self) -> None:
        super().__init__(status_code=200)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        transport = _transports.get(_key(scope.get("server"), scope.get("client")) or ((), ()))
        if transport is not None:
            transport.abort()
            # Let the protocol see the loss before the app returns, so uvicorn does not try to
            # answer the call itself (its writes would be dropped anyway).
            for _ in range(3):
                await asyncio.sleep(0)
            return
        log.warning("lose_response: connection not tracked; sending headers of a body that never comes")
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"2")],
            }
        )
