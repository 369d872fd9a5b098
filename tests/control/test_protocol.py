"""Nothing a client sends disturbs the daemon or other clients: garbage, truncated,
oversized, slow and half-closed requests, generated and by hand, against one daemon
while good requests run beside them."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Self

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.control.support import (
    TOOLS,
    Served,
    control_config,
    http_get,
    in_thread,
    raw_exchange,
    short_dir,
)

from mcp_discoveryd.control.client import SyncControlClient

pytestmark = pytest.mark.slow

MAX_BODY = 1024
MAX_HEADER_BYTES = 2048
REQUEST_TIMEOUT = 1.0


@pytest.fixture(scope="module")
def daemon() -> Iterator[Served]:
    """One daemon for the module (hypothesis runs many examples against it)."""
    with short_dir() as directory:
        config = control_config(
            directory,
            {"a": TOOLS},
            max_body=MAX_BODY,
            max_header_bytes=MAX_HEADER_BYTES,
            max_headers=20,
            request_timeout=REQUEST_TIMEOUT,
        )
        with in_thread(config) as served:
            yield served


class GoodReader:
    """Reads the catalog in a loop on a thread: every read must succeed, and quickly."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.reads = 0
        self.failures: list[str] = []
        self.slowest = 0.0
        self._stop = threading.Event()
        self._read = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._read.wait(timeout=10)  # at least one read overlapped the other client's
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        with SyncControlClient(self.path, timeout=5) as client:
            while not self._stop.is_set():
                started = time.monotonic()
                try:
                    reply = client.catalog("a")
                    assert reply.data is not None and len(reply.data["tools"]) == 3
                except Exception as exc:  # noqa: BLE001 - any failure is the finding
                    self.failures.append(repr(exc))
                self.slowest = max(self.slowest, time.monotonic() - started)
                self.reads += 1
                self._read.set()


def status_of(answer: bytes) -> int | None:
    """The status code of the first response in ``answer``."""
    if not answer.startswith(b"HTTP/1.1 "):
        return None
    return int(answer[9:12])


REQUEST_LINES = st.sampled_from(
    [
        b"GET /v1/health HTTP/1.1\r\n",
        b"POST /v1/discover HTTP/1.1\r\n",
        b"GET /v1/servers/a/catalog HTTP/1.1\r\n",
        b"PUT /v1/reload HTTP/1.0\r\n",
        b"GET /\x00\xff HTTP/1.1\r\n",
        b"BREW /coffee HTCPCP/1.0\r\n",
    ]
)
HEADERS = st.lists(
    st.tuples(
        st.sampled_from([b"host", b"content-length", b"transfer-encoding", b"x-a", b"\x01"]),
        st.binary(max_size=40),
    ),
    max_size=6,
).map(lambda pairs: b"".join(name + b": " + value + b"\r\n" for name, value in pairs))
REQUESTS = st.one_of(
    st.binary(max_size=300),  # garbage
    st.builds(
        lambda line, headers, body: line + headers + b"\r\n" + body,
        REQUEST_LINES,
        HEADERS,
        st.binary(max_size=200),
    ),
    st.builds(  # truncated: a good request cut anywhere
        lambda body, cut: (
            b"POST /v1/discover HTTP/1.1\r\ncontent-length: %d\r\n\r\n" % len(body) + body
        )[:cut],
        st.binary(max_size=50),
        st.integers(min_value=0, max_value=80),
    ),
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=REQUESTS, half_close=st.booleans())
def test_generated_requests_never_disturb_good_ones(
    daemon: Served, data: bytes, half_close: bool
) -> None:
    with GoodReader(daemon.socket) as reader:
        answer = raw_exchange(
            daemon.socket, data, timeout=REQUEST_TIMEOUT + 3, half_close=half_close
        )
        time.sleep(0.02)
    status = status_of(answer)
    assert status is None or 200 <= status < 600
    if status is not None and status >= 400:
        head, _, rest = answer.partition(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        assert json.loads(rest[:length])["error"]  # a JSON error naming the problem
    assert not reader.failures, reader.failures
    assert reader.reads > 0


def test_oversized_body_is_refused_with_413_before_it_is_read(daemon: Served) -> None:
    head = b"POST /v1/discover HTTP/1.1\r\ncontent-length: %d\r\n\r\n" % (MAX_BODY + 1)
    answer = raw_exchange(daemon.socket, head)
    assert status_of(answer) == 413 and b"larger than 1024 bytes" in answer
    chunked = (
        b"POST /v1/discover HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n"
        + b"%x\r\n" % 600
        + b"{" * 600
        + b"\r\n"
        + b"%x\r\n" % 600
        + b"{" * 600
        + b"\r\n0\r\n\r\n"
    )
    assert status_of(raw_exchange(daemon.socket, chunked)) == 413


def test_oversized_headers_are_refused_with_431(daemon: Served) -> None:
    big = b"GET /v1/health HTTP/1.1\r\nx-big: " + b"a" * MAX_HEADER_BYTES + b"\r\n\r\n"
    assert status_of(raw_exchange(daemon.socket, big)) == 431
    many = b"GET /v1/health HTTP/1.1\r\n" + b"x: y\r\n" * 21 + b"\r\n"
    answer = raw_exchange(daemon.socket, many)
    assert status_of(answer) == 431 and b"more than 20 headers" in answer
    long_url = b"GET /v1/" + b"a" * MAX_HEADER_BYTES + b" HTTP/1.1\r\n\r\n"
    assert status_of(raw_exchange(daemon.socket, long_url)) == 431


def test_slow_clients_are_timed_out_while_good_requests_go_on(daemon: Served) -> None:
    # Ten slowloris connections: a byte now and then, never a whole request.
    clients = []
    for _ in range(10):
        sock = socket.socket(socket.AF_UNIX)
        sock.connect(daemon.socket)
        clients.append(sock)
    with GoodReader(daemon.socket) as reader:
        started = time.monotonic()
        request = http_get("/v1/health")
        for index in range(len(request)):
            if time.monotonic() - started > REQUEST_TIMEOUT + 1:
                break
            for sock in clients:
                try:
                    sock.send(request[index : index + 1])
                except OSError:
                    pass  # already timed out and closed
            time.sleep(0.1)
    for sock in clients:
        sock.settimeout(3)
        answer = sock.recv(4096)
        assert status_of(answer) == 408, answer
        sock.close()
    assert not reader.failures and reader.reads > 10
    assert reader.slowest < 1.0


def test_a_silent_connection_is_closed_after_the_request_timeout(daemon: Served) -> None:
    started = time.monotonic()
    answer = raw_exchange(daemon.socket, b"", timeout=REQUEST_TIMEOUT + 3)
    assert status_of(answer) == 408
    assert REQUEST_TIMEOUT - 0.1 < time.monotonic() - started < REQUEST_TIMEOUT + 2


def test_a_half_closed_request_is_still_answered_or_closed(daemon: Served) -> None:
    answer = raw_exchange(daemon.socket, http_get("/v1/health"), half_close=True)
    assert status_of(answer) in (200, None)  # never a hang: closed either way
    with SyncControlClient(daemon.socket) as client:
        assert client.health()["ready"]


def test_keep_alive_serves_many_requests_on_one_connection(daemon: Served) -> None:
    request = b"GET /v1/health HTTP/1.1\r\nhost: d\r\n\r\n" * 5 + http_get("/v1/health")
    answer = raw_exchange(daemon.socket, request)
    assert answer.count(b"HTTP/1.1 200 OK") == 6


def test_unparseable_input_gets_a_json_400_naming_it(daemon: Served) -> None:
    answer = raw_exchange(daemon.socket, b"\x00\x01\x02 nonsense\r\n\r\n")
    assert status_of(answer) == 400
    assert b'"error": "malformed HTTP request: ' in answer


def test_an_upgrade_request_is_answered_as_plain_http_then_closed(daemon: Served) -> None:
    request = (
        b"GET /v1/health HTTP/1.1\r\nhost: d\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\n"
        b"GET /v1/health HTTP/1.1\r\nhost: d\r\n\r\n"
    )
    answer = raw_exchange(daemon.socket, request)
    assert status_of(answer) == 200 and answer.count(b"HTTP/1.1") == 1


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
BODY_KEYS = st.sampled_from(["gateway", "server", "refresh", "cache_type", "tool", "x", ""])
BODIES = st.one_of(JSON_VALUES, st.dictionaries(BODY_KEYS, JSON_VALUES, max_size=4))
ROUTES = st.sampled_from(
    [
        "/v1/discover",
        "/v1/cache/clear",
        "/v1/reload",
        "/v1/servers/a/accept",
        "/v1/servers/zz/accept",
    ]
)


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(route=ROUTES, body=BODIES, query=st.dictionaries(BODY_KEYS, st.text(max_size=6), max_size=2))
def test_any_json_body_or_query_gets_an_answer_never_a_crash(
    daemon: Served, route: str, body: object, query: dict[str, str]
) -> None:
    with SyncControlClient(daemon.socket, timeout=30) as client:
        http = client._http
        response = http.post(route, content=json.dumps(body).encode(), params=query)
        assert response.status_code in (200, 400, 404), response.text
        answer = response.json()
        if response.status_code != 200:
            assert answer["status"] == response.status_code and answer["error"]
        assert client.health()["ready"]
