"""The control socket: a unix stream socket speaking one JSON object per line each way.

Requests look like ``{"command": "status"}``; responses are ``{"ok": true, ...}`` or
``{"ok": false, "error": "..."}``. The socket is 0660 (root and the agent's group), never
world-writable.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import inspect
import json
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from . import logs

Handler = Callable[[dict[str, Any]], dict[str, Any] | Awaitable[dict[str, Any]]]
MAX_REQUEST = 64 * 1024
CLIENT_TIMEOUT = 5.0
SOCKET_MODE = 0o660


MAX_CLIENTS = 16


class ControlSocketBusy(RuntimeError):
    """Another live agent owns the control socket: this one must not start (or touch anything)."""


class ControlServer:
    def __init__(self, path: Path, handlers: dict[str, Handler]) -> None:
        self.path = path
        self._handlers = handlers
        self._server: asyncio.AbstractServer | None = None
        self._lock: int | None = None
        self._clients = asyncio.Semaphore(MAX_CLIENTS)

    def claim(self) -> None:
        """Take the lock beside the socket, before the agent touches any interface: a second
        agent started by mistake must fail here, not remove the first one's VIPs."""
        self.path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        lock_path = self.path.with_name(self.path.name + ".lock")
        descriptor = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(descriptor, 32).decode(errors="replace").strip() or "?"
            os.close(descriptor)
            raise ControlSocketBusy(
                f"another vipguard agent (pid {holder}) owns {self.path}; stop it, or give this"
                " one its own [agent] control_socket"
            ) from None
        os.ftruncate(descriptor, 0)
        os.write(descriptor, f"{os.getpid()}\n".encode())
        self._lock = descriptor

    async def start(self) -> None:
        if self._lock is None:
            self.claim()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()  # left by a crashed agent: we hold the lock, so it is not live
        self._server = await asyncio.start_unix_server(
            self._serve, path=str(self.path), limit=MAX_REQUEST
        )
        os.chmod(self.path, SOCKET_MODE)

    async def close(self) -> None:
        if self._server:
            self._server.close()
            await self._server.wait_closed()
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._clients.locked():  # a runaway script must not exhaust our descriptors
            writer.close()
            return
        async with self._clients:
            await self._converse(reader, writer)

    async def _converse(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await asyncio.wait_for(reader.readline(), CLIENT_TIMEOUT)
            response = await self._answer(line)
            writer.write(json.dumps(response, default=str).encode() + b"\n")
            await asyncio.wait_for(writer.drain(), CLIENT_TIMEOUT)
        except (TimeoutError, ConnectionError, ValueError) as error:
            logs.event("control_client_error", error=repr(error))
        finally:
            writer.close()

    async def _answer(self, line: bytes) -> dict[str, Any]:
        try:
            message = json.loads(line)
        except (ValueError, RecursionError):
            return {"ok": False, "error": "request is not a JSON object on one line"}
        if not isinstance(message, dict):
            return {"ok": False, "error": "request is not a JSON object on one line"}
        command = message.get("command")
        handler = self._handlers.get(str(command))
        if handler is None:
            known = ", ".join(sorted(self._handlers))
            return {"ok": False, "error": f"unknown command {command!r}; known: {known}"}
        try:
            answer = handler(message)
            if inspect.isawaitable(answer):
                answer = await answer
            return {"ok": True, **answer}
        except Exception as error:  # a bug in a handler must not cost the client its answer
            logs.event("control_handler_failed", error=repr(error), command=str(command))
            return {"ok": False, "error": f"{command} failed: {error}"}
