"""The control socket: a unix stream socket speaking one JSON object per line each way.

Requests look like ``{"command": "status"}``; responses are ``{"ok": true, ...}`` or
``{"ok": false, "error": "..."}``. The socket is 0660 (root and the agent's group), never
world-writable.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..control_client import AgentUnavailable, request
from . import logs

Handler = Callable[[dict[str, Any]], dict[str, Any]]
MAX_REQUEST = 64 * 1024
CLIENT_TIMEOUT = 5.0
SOCKET_MODE = 0o660


class ControlSocketBusy(RuntimeError):
    pass


class ControlServer:
    def __init__(self, path: Path, handlers: dict[str, Handler]) -> None:
        self.path = path
        self._handlers = handlers
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        self.path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        if self.path.exists() or self.path.is_symlink():
            await self._claim_stale_socket()
        self._server = await asyncio.start_unix_server(
            self._serve, path=str(self.path), limit=MAX_REQUEST
        )
        os.chmod(self.path, SOCKET_MODE)

    async def _claim_stale_socket(self) -> None:
        try:
            await asyncio.to_thread(request, self.path, "ping", 0.5)
        except AgentUnavailable:
            self.path.unlink()
            return
        raise ControlSocketBusy(
            f"another vipguard agent answers on {self.path}; give this one its own"
            " [agent] control_socket"
        )

    async def close(self) -> None:
        if self._server:
            self._server.close()
            await self._server.wait_closed()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await asyncio.wait_for(reader.readline(), CLIENT_TIMEOUT)
            response = self._answer(line)
            writer.write(json.dumps(response, default=str).encode() + b"\n")
            await asyncio.wait_for(writer.drain(), CLIENT_TIMEOUT)
        except (TimeoutError, ConnectionError, ValueError) as error:
            logs.event("control_client_error", error=repr(error))
        finally:
            writer.close()

    def _answer(self, line: bytes) -> dict[str, Any]:
        try:
            message = json.loads(line)
        except json.JSONDecodeError:
            return {"ok": False, "error": "request is not a JSON object on one line"}
        if not isinstance(message, dict):
            return {"ok": False, "error": "request is not a JSON object on one line"}
        command = message.get("command")
        handler = self._handlers.get(str(command))
        if handler is None:
            known = ", ".join(sorted(self._handlers))
            return {"ok": False, "error": f"unknown command {command!r}; known: {known}"}
        return {"ok": True, **handler(message)}
