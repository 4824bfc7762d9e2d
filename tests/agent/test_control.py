"""The control socket: one owner per path, answers to bad requests, a cap on clients, streams."""

from __future__ import annotations

import asyncio
import json
import socket
import stat
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from vipguard.agent import control
from vipguard.agent.control import (
    MAX_CLIENTS,
    MAX_STREAMS,
    ControlServer,
    ControlSocketBusy,
    Stream,
)
from vipguard.control_client import request


def serve(
    path: Path,
    scenario: Any,
    extra: dict[str, control.Handler] | None = None,
    drain_timeout: float = control.STREAM_DRAIN_TIMEOUT,
) -> Any:
    async def main() -> Any:
        handlers = {"status": lambda _: {"instances": []}, "boom": boom, **(extra or {})}
        server = ControlServer(path, handlers, drain_timeout=drain_timeout)
        await server.start()
        try:
            return await asyncio.wait_for(scenario(server), 15)
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
        for _idle_reader, idle_writer in idle:
            idle_writer.close()

    serve(path, scenario)


class Feed:
    """One streaming client's items: pushed by the test, observed when the server closes them."""

    def __init__(self, blob: int = 0) -> None:
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.closed = asyncio.Event()
        self.sent = 0
        self._blob = "x" * blob

    async def items(self) -> AsyncIterator[dict[str, Any]]:
        try:
            while True:
                item = {"blob": self._blob} if self._blob else await self.queue.get()
                self.sent += 1
                yield item
        finally:
            self.closed.set()


def streaming(path: Path, scenario: Any, blob: int = 0, drain_timeout: float = 5.0) -> Any:
    """A server whose ``follow`` command streams a new Feed per client (all kept in ``feeds``)."""
    feeds: list[Feed] = []

    def follow(_: dict[str, Any]) -> Stream:
        feeds.append(Feed(blob))
        return Stream(feeds[-1].items(), note="following")

    return serve(path, lambda server: scenario(server, feeds), {"follow": follow}, drain_timeout)


async def follow(path: Path) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_unix_connection(str(path))
    writer.write(b'{"command": "follow"}\n')
    header = json.loads(await asyncio.wait_for(reader.readline(), 2))
    assert header == {"ok": True, "stream": True, "note": "following"}
    return reader, writer


async def read_items(reader: asyncio.StreamReader, count: int) -> list[dict[str, Any]]:
    return [json.loads(await asyncio.wait_for(reader.readline(), 2)) for _ in range(count)]


def test_a_stream_sends_its_items_in_order_until_the_client_hangs_up(tmp_path: Path) -> None:
    path = tmp_path / "control.sock"

    async def scenario(_: ControlServer, feeds: list[Feed]) -> None:
        reader, writer = await follow(path)
        for n in range(200):
            feeds[0].queue.put_nowait({"n": n})
        assert [item["n"] for item in await read_items(reader, 200)] == list(range(200))
        writer.close()
        await asyncio.wait_for(feeds[0].closed.wait(), 2)  # the server let go of the items
        assert (await ask(path, b'{"command": "status"}\n'))["ok"] is True

    streaming(path, scenario)


def test_an_idle_stream_is_not_subject_to_the_client_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "control.sock"
    monkeypatch.setattr(control, "CLIENT_TIMEOUT", 0.05)

    async def scenario(_: ControlServer, feeds: list[Feed]) -> None:
        reader, writer = await follow(path)
        await asyncio.sleep(0.3)  # six client timeouts without a word either way
        feeds[0].queue.put_nowait({"n": 1})
        assert await read_items(reader, 1) == [{"n": 1}]
        writer.close()

    streaming(path, scenario)


def test_close_ends_open_streams_promptly(tmp_path: Path) -> None:
    path = tmp_path / "control.sock"

    async def scenario(server: ControlServer, feeds: list[Feed]) -> None:
        clients = [await follow(path) for _ in range(3)]
        started = asyncio.get_running_loop().time()
        await server.close()
        assert asyncio.get_running_loop().time() - started < control.STREAM_CLOSE_TIMEOUT
        for reader, writer in clients:
            assert await asyncio.wait_for(reader.read(), 2) == b""  # end of stream
            writer.close()
        assert all(feed.closed.is_set() for feed in feeds)
        assert not path.exists()

    streaming(path, scenario)


def test_a_client_that_stops_reading_is_dropped_without_unbounded_buffering(
    tmp_path: Path,
) -> None:
    path = tmp_path / "control.sock"
    blob = 64 * 1024

    async def scenario(_: ControlServer, feeds: list[Feed]) -> None:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as stuck:
            stuck.connect(str(path))
            stuck.sendall(b'{"command": "follow"}\n')  # and never reads a byte
            await asyncio.wait_for(_until_fed(feeds), 2)
            await asyncio.wait_for(feeds[0].closed.wait(), 5)
            # what the server ever produced: the kernel's socket buffers plus the transport's
            # high-water mark, not an ever-growing queue
            assert feeds[0].sent * blob < 8 * 1024 * 1024
        assert (await ask(path, b'{"command": "status"}\n'))["ok"] is True

    streaming(path, scenario, blob=blob, drain_timeout=0.3)


async def _until_fed(feeds: list[Feed]) -> None:
    while not feeds:
        await asyncio.sleep(0.01)


def test_streams_are_capped_so_plain_requests_still_get_through(tmp_path: Path) -> None:
    path = tmp_path / "control.sock"

    async def ask(line: bytes) -> dict[str, Any]:
        reader, writer = await asyncio.open_unix_connection(str(path))
        writer.write(line)
        answer = json.loads(await asyncio.wait_for(reader.readline(), 2))
        writer.close()
        return answer

    async def scenario(_: ControlServer, feeds: list[Feed]) -> None:
        clients = [await follow(path) for _ in range(MAX_STREAMS)]
        refused = await ask(b'{"command": "follow"}\n')
        assert refused["ok"] is False and "streams open" in refused["error"]
        answered = await ask(b'{"command": "ping"}\n')  # a request still has a slot
        assert answered["ok"] is False and "unknown command" in answered["error"]
        for _reader, client in clients:
            client.close()

    streaming(path, scenario)


def test_a_failing_stream_closes_the_connection_and_the_server_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "control.sock"

    async def broken() -> AsyncIterator[dict[str, Any]]:
        yield {"n": 1}
        raise RuntimeError("stream bug")

    async def scenario(_: ControlServer) -> None:
        reader, writer = await asyncio.open_unix_connection(str(path))
        writer.write(b'{"command": "broken"}\n')
        assert json.loads(await reader.readline())["stream"] is True
        assert await read_items(reader, 1) == [{"n": 1}]
        assert await asyncio.wait_for(reader.read(), 2) == b""
        writer.close()
        assert (await ask(path, b'{"command": "status"}\n'))["ok"] is True

    serve(path, scenario, {"broken": lambda _: Stream(broken())})
