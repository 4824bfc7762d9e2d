"""The control socket: one owner per path, answers to bad requests, a cap on clients."""

from __future__ import annotations

import asyncio
import json
import stat
from pathlib import Path
from typing import Any

import pytest

from vipguard.agent.control import MAX_CLIENTS, ControlServer, ControlSocketBusy
from vipguard.control_client import request


def serve(path: Path, scenario: Any) -> Any:
    async def main() -> Any:
        server = ControlServer(path, {"status": lambda _: {"instances": []}, "boom": boom})
        await server.start()
        try:
            return await scenario(server)
        finally:
            await server.close()

    return asyncio.run(main())


def boom(_: dict[str, Any]) -> dict[str, Any]:
    raise RuntimeError("handler bug")


async def ask(path: Path, line: bytes) -> dict[str, Any]:
    reader, writer = await asyncio.open_unix_connection(str(path))
    writer.write(line)
    await writer.drain()
    answer = json.loads(await reader.readline())
    writer.close()
    return dict(answer)


def test_answers_status_and_refuses_bad_requests_with_reasons(tmp_path: Path) -> None:
    path = tmp_path / "control.sock"

    async def scenario(_: ControlServer) -> None:
        assert await ask(path, b'{"command": "status"}\n') == {"ok": True, "instances": []}
        unknown = await ask(path, b'{"command": "dance"}\n')
        assert unknown == {"ok": False, "error": "unknown command 'dance'; known: boom, status"}
        deep = await ask(path, b"[" * 60_000 + b"\n")
        assert deep["ok"] is False
        assert (await ask(path, b'{"command": "boom"}\n'))["error"] == "boom failed: handler bug"
        assert stat.S_IMODE(path.stat().st_mode) == 0o660

    serve(path, scenario)
    assert not path.exists()  # removed at close


def test_a_second_server_cannot_claim_a_live_socket(tmp_path: Path) -> None:
    path = tmp_path / "control.sock"

    async def scenario(_: ControlServer) -> None:
        with pytest.raises(ControlSocketBusy, match="another vipguard agent"):
            ControlServer(path, {}).claim()
        assert (await asyncio.to_thread(request, path, "status"))["ok"] is True  # still served

    serve(path, scenario)


def test_a_stale_socket_file_from_a_crash_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "control.sock"
    path.write_text("")  # what a killed agent leaves behind

    async def scenario(_: ControlServer) -> None:
        assert (await asyncio.to_thread(request, path, "status"))["ok"] is True

    serve(path, scenario)


def test_clients_beyond_the_cap_are_turned_away(tmp_path: Path) -> None:
    path = tmp_path / "control.sock"

    async def scenario(_: ControlServer) -> None:
        idle = [await asyncio.open_unix_connection(str(path)) for _ in range(MAX_CLIENTS)]
        await asyncio.sleep(0)  # let the server accept them
        reader, writer = await asyncio.open_unix_connection(str(path))
        writer.write(b'{"command": "status"}\n')
        try:
            answer = await reader.read()
        except ConnectionResetError:  # closed before reading our request
            answer = b""
        assert answer == b""  # turned away without an answer
        for _, idle_writer in idle:
            idle_writer.close()

    serve(path, scenario)
