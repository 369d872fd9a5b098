"""The load generator of bench_control: N kept-alive connections in lockstep, one process.

    python -m tests.bench.control_client SOCKET --conns 8 --seconds 3 [--echo] [--path P]

Each connection sends a pre-built request, reads the whole answer (HTTP: headers, then
``content-length`` bytes; ``--echo N``: N bytes), then sends the next. One
non-blocking selector loop drives every connection, so the client's own cost stays
small beside the server's. Prints JSON: requests, seconds, req/s, p50/p99 in
microseconds.
"""

from __future__ import annotations

import argparse
import json
import selectors
import socket
import statistics
import time


class Conn:
    """One connection: what it sent when, and what it has read of the answer."""

    def __init__(self, path: str, request: bytes, echo: int) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.sock.setblocking(False)
        self.request = request
        self.echo = echo
        self.buffer = b""
        self.sent_at = 0.0

    def send(self) -> None:
        self.buffer = b""
        self.sent_at = time.perf_counter()
        self.sock.sendall(self.request)  # small: fits the socket buffer at once

    def complete(self) -> bool:
        """True once the whole answer arrived."""
        if self.echo:
            return len(self.buffer) >= self.echo
        head, sep, body = self.buffer.partition(b"\r\n\r\n")
        if not sep:
            return False
        if not head.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(f"unexpected answer: {head[:80]!r}")
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        return len(body) >= length


def drive(path: str, request: bytes, conns: int, seconds: float, echo: int) -> dict[str, float]:
    """Run the load for ``seconds`` (after a short warm-up); the figures."""
    selector = selectors.DefaultSelector()
    pool = [Conn(path, request, echo) for _ in range(conns)]
    for conn in pool:
        selector.register(conn.sock, selectors.EVENT_READ, conn)
        conn.send()
    latencies: list[float] = []
    warm_until = time.perf_counter() + min(0.5, seconds / 4)
    started = end = 0.0
    while True:
        for key, _ in selector.select():
            conn = key.data
            conn.buffer += conn.sock.recv(1 << 20)
            if not conn.complete():
                continue
            now = time.perf_counter()
            if now >= warm_until:
                if not started:
                    started, end = now, now + seconds
                latencies.append(now - conn.sent_at)
            if started and now >= end:
                for one in pool:
                    one.sock.close()
                elapsed = now - started
                cuts = statistics.quantiles(latencies, n=100)
                return {
                    "connections": conns,
                    "requests": len(latencies),
                    "seconds": round(elapsed, 3),
                    "req_per_s": round(len(latencies) / elapsed),
                    "p50_us": round(statistics.median(latencies) * 1e6, 1),
                    "p99_us": round(cuts[98] * 1e6, 1),
                }
            conn.send()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("socket")
    parser.add_argument("--conns", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument(
        "--echo", type=int, default=0, help="a raw server answering this many bytes: no HTTP"
    )
    parser.add_argument("--path", default="/v1/servers/s0/catalog")
    args = parser.parse_args()
    request = f"GET {args.path} HTTP/1.1\r\nhost: d\r\n\r\n".encode()
    print(json.dumps(drive(args.socket, request, args.conns, args.seconds, args.echo)))


if __name__ == "__main__":
    main()
