"""Fitness probes against real local servers: TCP, HTTP(S), number files, scripts."""

from __future__ import annotations

import asyncio
import datetime
import os
import socket
import ssl
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from vipguard.io.probes import (
    MAX_STATUS_LINE,
    HttpRequest,
    NumberFile,
    ProbeResult,
    probe_http,
    probe_script,
    probe_tcp,
    read_number,
    tls_context,
)

LOCALHOST = "127.0.0.1"
Respond = Callable[[asyncio.StreamWriter], Awaitable[None]]


def run(scenario: Awaitable[Any]) -> Any:
    async def main() -> Any:
        return await scenario

    return asyncio.run(main())


@asynccontextmanager
async def server(
    respond: Respond, tls: ssl.SSLContext | None = None
) -> AsyncIterator[tuple[int, list[bytes]]]:
    """A local server that reads one request head, records it and calls ``respond``."""
    requests: list[bytes] = []
    handlers: set[asyncio.Task[Any]] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handlers.add(asyncio.current_task())  # type: ignore[arg-type]
        try:
            requests.append(await reader.readuntil(b"\r\n\r\n"))
            await respond(writer)
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()

    listener = await asyncio.start_server(handle, LOCALHOST, 0, ssl=tls)
    try:
        yield listener.sockets[0].getsockname()[1], requests
    finally:
        listener.close()
        for task in handlers:
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)
        await listener.wait_closed()


def answer(raw: bytes) -> Respond:
    async def respond(writer: asyncio.StreamWriter) -> None:
        writer.write(raw)
        await writer.drain()

    return respond


def status(code: int) -> Respond:
    return answer(f"HTTP/1.1 {code} Whatever\r\nContent-Length: 2\r\n\r\nhi".encode())


async def hang(_: asyncio.StreamWriter) -> None:
    await asyncio.Event().wait()  # cancelled when the server closes


async def get(respond: Respond, expect: tuple[int, ...] = (200,), **options: Any) -> ProbeResult:
    async with server(respond) as (port, _):
        return await probe_http(f"http://{LOCALHOST}:{port}/health", expect, 2.0, **options)


# --------------------------------------------------------------------------- TCP


def test_tcp_accepted_connection_is_a_success() -> None:
    async def scenario() -> ProbeResult:
        async with server(hang) as (port, _):
            return await probe_tcp(IPv4Address(LOCALHOST), port, 1.0)

    result = run(scenario())
    assert (result.ok, result.outcome, result.detail) == (True, "ok", "connected")
    assert 0 <= result.latency < 1.0


def test_tcp_refused_connection_is_a_failure() -> None:
    with socket.socket() as bound_not_listening:  # holds the port so nobody else can listen
        bound_not_listening.bind((LOCALHOST, 0))
        port = bound_not_listening.getsockname()[1]
        result = run(probe_tcp(LOCALHOST, port, 1.0))
    assert (result.ok, result.outcome, result.detail) == (False, "failed", "connection refused")


# --------------------------------------------------------------------------- HTTP


def test_http_200_is_a_success_and_the_request_is_minimal() -> None:
    async def scenario() -> tuple[ProbeResult, list[bytes]]:
        async with server(status(200)) as (port, requests):
            result = await probe_http(f"http://{LOCALHOST}:{port}/health?deep=1", (200,), 1.0)
            return result, requests

    result, requests = run(scenario())
    assert (result.ok, result.detail) == (True, "HTTP 200")
    head = requests[0].decode().split("\r\n")
    assert head[0] == "GET /health?deep=1 HTTP/1.1"
    assert {"Connection: close", "User-Agent: vipguard-health"} <= set(head)
    assert any(line.startswith(f"Host: {LOCALHOST}:") for line in head)


def test_http_unexpected_status_is_a_failure_naming_it() -> None:
    result = run(get(status(503)))
    assert (result.ok, result.outcome, result.detail) == (False, "failed", "HTTP 503")


def test_http_any_status_of_the_expected_list_is_a_success() -> None:
    assert run(get(status(204), expect=(200, 204))).detail == "HTTP 204"
    assert run(get(status(503), expect=(503,))).ok


def test_http_hung_server_times_out_within_the_timeout() -> None:
    async def scenario() -> ProbeResult:
        async with server(hang) as (port, _):
            return await probe_http(f"http://{LOCALHOST}:{port}/", (200,), 0.2)

    result = run(scenario())
    assert (result.outcome, result.detail) == ("timeout", "timeout after 0.2s")
    assert 0.2 <= result.latency < 0.5


@pytest.mark.parametrize(
    ("raw", "detail"),
    [
        (b"SSH-2.0-OpenSSH_9.2\r\n", "not an HTTP status line: b'SSH-2.0-OpenSSH_9.2\\r\\n'"),
        (b"", "connection closed before an HTTP status line"),
        (b"HTTP/1.1 20x OK\r\n\r\n", "not an HTTP status line: b'HTTP/1.1 20x OK\\r\\n'"),
        (
            b"x" * (MAX_STATUS_LINE + 10),
            f"no HTTP status line in the first {MAX_STATUS_LINE} bytes",
        ),
    ],
)
def test_http_garbage_answer_is_a_failure(raw: bytes, detail: str) -> None:
    result = run(get(answer(raw)))
    assert (result.outcome, result.detail) == ("failed", detail)


def test_http_bad_url_is_an_error_not_an_exception() -> None:
    for url in ("ftp://example.org/", "http:///nohost", "http://h:99999/", "http://hé/"):
        result = run(probe_http(url, (200,), 1.0))
        assert result.outcome == "error", url


def test_http_request_target_and_host_header_from_the_url() -> None:
    request = HttpRequest.parse("https://user@[2001:db8::1]:8443")
    assert (request.host, request.port, request.secure) == ("2001:db8::1", 8443, True)
    assert (request.header_host, request.target) == ("[2001:db8::1]:8443", "/")
    assert HttpRequest.parse("http://lb.example/").port == 80


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> ssl.SSLContext:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, LOCALHOST)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(IPv4Address(LOCALHOST))]), False)
        .sign(key, hashes.SHA256())
    )
    directory = tmp_path_factory.mktemp("tls")
    (directory / "cert.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (directory / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(directory / "cert.pem", directory / "key.pem")
    return context


@pytest.mark.parametrize("reuse_context", [False, True])
def test_https_self_signed_fails_with_verification_and_passes_without(
    self_signed: ssl.SSLContext, reuse_context: bool
) -> None:
    async def probe(verify: bool) -> ProbeResult:
        async with server(status(200), tls=self_signed) as (port, _):
            tls = tls_context(verify) if reuse_context else None
            return await probe_http(f"https://{LOCALHOST}:{port}/", (200,), 2.0, verify, tls=tls)

    verified = run(probe(verify=True))
    assert (verified.outcome, verified.detail) == ("failed", "TLS: self-signed certificate")
    unverified = run(probe(verify=False))
    assert (unverified.ok, unverified.detail) == (True, "HTTP 200")


# --------------------------------------------------------------------------- number files


@pytest.mark.parametrize(
    ("content", "value"), [(b"42\n", 42), (b"  -3 \n", -3), (b"+7", 7), (b"0", 0)]
)
def test_read_number_reads_an_integer(tmp_path: Path, content: bytes, value: int) -> None:
    path = tmp_path / "weight"
    path.write_bytes(content)
    result = read_number(path)
    assert (result.ok, result.value, result.detail) == (True, value, f"value {value}")


@pytest.mark.parametrize(
    "content", [b"", b"abc", b"1.5", b"1_000", b"4 2", b"1" * 65, "٣".encode()]
)
def test_read_number_refuses_what_is_not_one_small_integer(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "weight"
    path.write_bytes(content)
    result = read_number(path)
    assert (result.outcome, result.value) == ("failed", None)
    assert result.detail.startswith("not an integer")


def test_read_number_a_missing_file_holds_0_unless_told_it_is_a_failure(tmp_path: Path) -> None:
    absent = tmp_path / "absent"
    missing = read_number(absent)  # a drain file nobody has written yet: not drained
    assert (missing.outcome, missing.value, missing.detail) == ("ok", 0, "no file: counts as 0")
    assert read_number(absent, missing=5).value == 5
    strict = read_number(absent, missing=None)
    assert (strict.outcome, strict.detail) == ("failed", "no such file or directory")


def test_read_number_an_unreadable_file_is_a_failure(tmp_path: Path) -> None:
    assert (read_number(tmp_path).outcome, read_number(tmp_path).detail) == (
        "failed",
        "is a directory",
    )
    below_a_file = tmp_path / "file"
    below_a_file.write_text("1\n")
    assert read_number(below_a_file / "x").detail == "not a directory"  # not "missing"


def test_number_file_on_a_hung_read_times_out_and_never_piles_up_threads(tmp_path: Path) -> None:
    fifo = tmp_path / "hung"
    os.mkfifo(fifo)  # opening it for reading blocks until a writer comes, like a dead NFS mount

    def probe_threads() -> int:
        return sum(thread.name == "vipguard-probe" for thread in threading.enumerate())

    async def scenario() -> ProbeResult:
        number = NumberFile(fifo)
        before = probe_threads()
        for _ in range(3):
            assert (await number.read(0.05)).outcome == "timeout"
        assert probe_threads() == before + 1
        writer = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)  # releases the blocked reader
        os.write(writer, b"5\n")
        os.close(writer)
        return await number.read(2.0)

    result = run(scenario())
    assert (result.ok, result.value) == (True, 5)


# --------------------------------------------------------------------------- scripts


def test_script_exit_status_decides_and_the_last_output_line_is_kept() -> None:
    ok = run(probe_script(["/bin/sh", "-c", "echo fine"], 2.0))
    assert (ok.ok, ok.detail) == (True, "exit 0: fine")
    failed = run(probe_script(["/bin/sh", "-c", "echo one; echo backend down; exit 3"], 2.0))
    assert (failed.outcome, failed.detail) == ("failed", "exit 3: backend down")


def test_script_past_its_timeout_or_missing_is_not_ok() -> None:
    slow = run(probe_script(["/bin/sleep", "5"], 0.1))
    assert (slow.outcome, slow.detail) == ("timeout", "timeout after 0.1s")
    missing = run(probe_script(["/nonexistent/check"], 1.0))
    assert missing.outcome == "error"
    assert "no such file" in missing.detail.lower()
