"""The control socket: a unix stream socket speaking one JSON object per line each way.

Requests look like ``{"command": "status"}``; responses are ``{"ok": true, ...}`` or
``{"ok": false, "error": "..."}``. A handler may answer with a `Stream` instead: the client then
gets ``{"ok": true, "stream": true, ...}`` and one line per item until it hangs up or the agent
stops. The socket is 0660 (root and the agent's group), never world-writable.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import inspect
import json
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from . import logs

MAX_REQUEST = 64 * 1024
CLIENT_TIMEOUT = 5.0
# A streaming client may stay idle for ever, but one that stops reading is dropped once this
# long passes without the kernel taking our output (the agent never buffers more than the
# transport's high-water mark plus one line for it).
STREAM_DRAIN_TIMEOUT = 5.0
# close() waits this long for open streams to wind down (they are told to at once).
STREAM_CLOSE_TIMEOUT = 1.0
SOCKET_MODE = 0o660


class Stream:
    """A handler's answer that goes on: the header line ``{"ok": true, "stream": true,
    **header}``, then one line per item of ``items`` until they end, the client hangs up or the
    server closes. ``items`` is closed afterwards if it has an ``aclose``."""

    def __init__(self, items: AsyncIterator[dict[str, Any]], **header: Any) -> None:
        self.items = items
        self.header = header

    async def aclose(self) -> None:
        close = getattr(self.items, "aclose", None)
        if close is not None:
            await close()


Answer = dict[str, Any] | Stream
Handler = Callable[[dict[str, Any]], Answer | Awaitable[Answer]]


MAX_CLIENTS = 16
MAX_STREAMS = 8  # of those, at most this many event streams, so requests always get through


class ControlSocketBusy(RuntimeError):
    """Another live agent owns the control socket: this one must not start (or touch anything)."""


class ControlServer:
    def __init__(
        self,
        path: Path,
        handlers: dict[str, Handler],
        *,
        drain_timeout: float = STREAM_DRAIN_TIMEOUT,
    ) -> None:
        self.path = path
        self._handlers = handlers
        self._server: asyncio.AbstractServer | None = None
        self._lock: int | None = None
        self._clients = asyncio.Semaphore(MAX_CLIENTS)
        self._drain_timeout = drain_timeout
        self._streaming: set[asyncio.Task[Any]] = set()
        self._closing = asyncio.Event()

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
            self._closing.set()  # streams never end by themselves
            if self._streaming:
                await asyncio.wait(self._streaming, timeout=STREAM_CLOSE_TIMEOUT)
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
        stream: Stream | None = None
        try:
            line = await asyncio.wait_for(reader.readline(), CLIENT_TIMEOUT)
            answer = await self._answer(line)
            if isinstance(answer, Stream) and len(self._streaming) >= MAX_STREAMS:
                await answer.aclose()  # keep room for plain requests such as `vipguard status`
                answer = {"ok": False, "error": f"already {MAX_STREAMS} streams open; try later"}
            if isinstance(answer, Stream):
                stream, answer = answer, {"ok": True, "stream": True, **answer.header}
            await _send(writer, answer, CLIENT_TIMEOUT)
            if stream is not None:
                await self._follow(stream, reader, writer)
        except (TimeoutError, ConnectionError, ValueError) as error:
            logs.event("control_client_error", error=repr(error))
        finally:
            if stream is not None:
                await stream.aclose()
            writer.close()

    async def _follow(
        self, stream: Stream, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """Forward the stream until it ends, the client hangs up or the server closes."""
        conversation = asyncio.current_task()
        assert conversation is not None
        self._streaming.add(conversation)
        try:
            await _first_of(self._pump(stream, writer), _until_hangup(reader), self._closing.wait())
            if self._closing.is_set():
                writer.transport.abort()  # do not wait for a slow reader at shutdown
        except TimeoutError:
            logs.event("control_stream_dropped", logging.WARNING, reason="client stopped reading")
            writer.transport.abort()  # a graceful close would wait for it to read what we hold
        except ConnectionError:
            raise  # the client went away mid-write: not a bug of ours
        except Exception as error:  # a bug in a stream must not take the server down
            logs.event("control_stream_failed", logging.ERROR, error=repr(error))
        finally:
            self._streaming.discard(conversation)

    async def _pump(self, stream: Stream, writer: asyncio.StreamWriter) -> None:
        async for item in stream.items:
            await _send(writer, item, self._drain_timeout)

    async def _answer(self, line: bytes) -> Answer:
        try:
            message = json.loads(line)
        except (ValueError, RecursionError):
            return {"ok": False, "error": "request is not a JSON object on one line"}
        if not isinstance(message, dict):
            return {"ok": False, "error": "request is not a JSON object on one line"}
        command = message.get("command")
        logs.debug("control_request", command=command)
        handler = self._handlers.get(str(command))
        if handler is None:
            known = ", ".join(sorted(self._handlers))
            return {"ok": False, "error": f"unknown command {command!r}; known: {known}"}
        try:
            answer = handler(message)
            if inspect.isawaitable(answer):
                answer = await answer
            return answer if isinstance(answer, Stream) else {"ok": True, **answer}
        except Exception as error:  # a bug in a handler must not cost the client its answer
            logs.event("control_handler_failed", error=repr(error), command=str(command))
            return {"ok": False, "error": f"{command} failed: {error}"}


async def _send(writer: asyncio.StreamWriter, message: dict[str, Any], timeout: float) -> None:
    writer.write(json.dumps(message, default=str).encode() + b"\n")
    await asyncio.wait_for(writer.drain(), timeout)


async def _until_hangup(reader: asyncio.StreamReader) -> None:
    """Returns when the client closes its end (anything it sends meanwhile is ignored)."""
    with contextlib.suppress(ConnectionError):
        while await reader.read(MAX_REQUEST):
            pass


async def _first_of(*coroutines: Awaitable[Any]) -> None:
    """Run them together until the first one ends; cancel the others; its error is raised."""
    tasks = [asyncio.ensure_future(coroutine) for coroutine in coroutines]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    for task in done:
        task.result()
