"""Talk to a running agent over its control socket. Standard library only: `vipguard status`
must answer fast."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

DEFAULT_SOCKET = Path("/run/vipguard/control.sock")


class AgentUnavailable(ConnectionError):
    """No agent answers on the socket; the message says why and what to do."""


def request(path: Path, command: str, timeout: float = 3.0, **fields: Any) -> dict[str, Any]:
    message = json.dumps({"command": command, **fields}).encode() + b"\n"
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(str(path))
            sock.sendall(message)
            reply = _read_line(sock)
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
    try:
        response: dict[str, Any] = json.loads(reply)
    except json.JSONDecodeError:
        raise AgentUnavailable(f"the agent on {path} sent an unreadable answer") from None
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
