"""Talk to a running agent over its control socket. Standard library only: `vipguard status`
must answer fast."""

from __future__ import annotations

import contextlib
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

DEFAULT_SOCKET = Path("/run/vipguard/control.sock")


class AgentUnavailable(ConnectionError):
    """No agent answers on the socket; the message says why and what to do."""


class AgentRefused(RuntimeError):
    """The agent answered a stream request with ``ok: false``; ``answer`` is what it said."""

    def __init__(self, answer: dict[str, Any]) -> None:
        super().__init__(str(answer.get("error", "refused without a reason")))
        self.answer = answer


def request(path: Path, command: str, timeout: float = 3.0, **fields: Any) -> dict[str, Any]:
    with _talking_to(path), socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(str(path))
        sock.sendall(_message(command, fields))
        reply = _read_line(sock)
    return _decode(path, reply)


def stream(path: Path, command: str, timeout: float = 3.0, **fields: Any) -> ResponseStream:
    """Ask for a stream: connects and reads the agent's first answer at once (``timeout``
    bounds that), then iterates over the items as they come, without a timeout. Raises
    AgentUnavailable without an agent, AgentRefused if it says no."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        with _talking_to(path):
            sock.settimeout(timeout)
            sock.connect(str(path))
            sock.sendall(_message(command, fields))
            items = ResponseStream(path, sock)
            header = items.read(timeout)
        if header is None:
            raise AgentUnavailable(f"the agent on {path} did not answer")
        if not header.get("ok"):
            raise AgentRefused(header)
    except BaseException:
        sock.close()
        raise
    items.header = header
    return items


class ResponseStream:
    """The items of a streamed answer, one JSON object per line. Iterate (blocking), or call
    `read` with a timeout; `ended` once the agent has closed the stream. Close it when done."""

    def __init__(self, path: Path, sock: socket.socket) -> None:
        self.path = path
        self.header: dict[str, Any] = {}
        self.ended = False
        self._sock = sock
        self._buffer = bytearray()

    def read(self, timeout: float | None = None) -> dict[str, Any] | None:
        """The next item, or None when none came within ``timeout`` (None: wait for ever) or the
        stream has ended."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while (end := self._buffer.find(b"\n")) < 0:
            if self.ended or not self._receive(deadline):
                return None
        line = bytes(self._buffer[: end + 1])
        del self._buffer[: end + 1]
        return _decode(self.path, line)

    def _receive(self, deadline: float | None) -> bool:
        """Whether more bytes came (or the end) before the deadline."""
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        self._sock.settimeout(remaining)  # 0: only what has arrived already
        try:
            chunk = self._sock.recv(65536)
        except (TimeoutError, BlockingIOError):
            return False
        except OSError as error:
            raise AgentUnavailable(
                f"the connection to the agent on {self.path} broke: {error}"
            ) from None
        self.ended = not chunk
        self._buffer += chunk
        return True

    def __iter__(self) -> ResponseStream:
        return self

    def __next__(self) -> dict[str, Any]:
        item = self.read()
        if item is None:
            raise StopIteration
        return item

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> ResponseStream:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


@contextlib.contextmanager
def _talking_to(path: Path) -> Iterator[None]:
    """Turns socket errors into AgentUnavailable with a message that says what to do."""
    try:
        yield
    except AgentUnavailable:
        raise
    except FileNotFoundError:
        raise AgentUnavailable(
            f"no vipguard agent: {path} does not exist (is the agent running? `systemctl status"
            " vipguard`; another agent may use another socket: pass --socket or --config)"
        ) from None
    except ConnectionRefusedError:
        raise AgentUnavailable(f"no vipguard agent answers on {path} (stale socket)") from None
    except PermissionError:
        raise AgentUnavailable(f"permission denied on {path}: run as root") from None
    except (TimeoutError, OSError) as error:
        raise AgentUnavailable(f"the agent on {path} did not answer: {error}") from None


def _message(command: str, fields: dict[str, Any]) -> bytes:
    return json.dumps({"command": command, **fields}).encode() + b"\n"


def _decode(path: Path, line: bytes) -> dict[str, Any]:
    try:
        response = json.loads(line)
    except json.JSONDecodeError:
        response = None
    if not isinstance(response, dict):
        raise AgentUnavailable(f"the agent on {path} sent an unreadable answer")
    return response


def _read_line(sock: socket.socket) -> bytes:
    chunks = []
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            break
        chunks.append(chunk)
        if chunk.endswith(b"\n"):
            break
    return b"".join(chunks)
