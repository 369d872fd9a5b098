"""The daemon run behind the picture: two real daemons on one real Redis, real stdio upstreams.

Both daemons (``mcp-discoveryd run``, each its own process and control socket) share a
Redis cache, so refreshes compete for the same leases. The gateway ``demo`` holds:

| server     | what it shows                                                        |
|------------|----------------------------------------------------------------------|
| notes      | the bundled demo server: clean tools, prompts, resources             |
| weather    | the demo server's poisoned tool: blocked by the tool guardrails      |
| calculator | tools from config: no spawn                                          |
| inventory  | tools read from a file that the workload rewrites: tool changes      |
| flaky      | exits while an outage file exists, which comes and goes: errors, stale |

Tool entries live ``TOOL_TTL`` seconds, so refreshes run all along. A client asks each
control socket for health, status, servers and catalogs (some with an ETag, one for a
server that does not exist), a manual discovery now and then (of inventory: on both
daemons at once, so they contend for its lease), and one reload.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.cache.redis_servers import RedisServer

from mcp_discoveryd.control.client import SyncControlClient
from mcp_discoveryd.errors import DiscoverydError, NotFoundError

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "daemon" / "examples" / "servers" / "demo_server.py"
RAW = ROOT / "tests" / "servers" / "raw_server.py"
TOOL_TTL = 30  # seconds; a refresh lands at about 80 % of it
OUTAGE = (40.0, 90.0, 50.0)  # from 40 s in, every 90 s, flaky fails for 50 s...
LAST_OUTAGE = 50.0  # ...and through the run's last 50 s, so the picture ends with it down
CHANGE_EVERY = 55.0  # inventory's tool description changes this often
INSTANCES = ("a", "b")


def config_text(workdir: Path, endpoint: str, redis_url: str, socket: str) -> str:
    """One daemon's TOML: the shared cache, telemetry every second, the demo gateway."""
    py = json.dumps(sys.executable)
    return f"""
[cache]
backend = "redis"
url = {json.dumps(redis_url)}
tool_ttl = "{TOOL_TTL}s"
min_ttl = "0s"
stale_grace = "10m"

[control]
socket = {json.dumps(socket)}

[telemetry]
endpoint = {json.dumps(endpoint)}
interval = "1s"
resource_attributes = {{ "deployment.environment" = "render" }}

[gateways.demo.servers.notes]
command = {py}
args = [{json.dumps(str(DEMO))}, "notes"]

[gateways.demo.servers.weather]
command = {py}
args = [{json.dumps(str(DEMO))}, "weather"]

[gateways.demo.servers.calculator]
command = {py}
args = [{json.dumps(str(DEMO))}, "minimal"]
[gateways.demo.servers.calculator.tools.add]
description = "Add two numbers."

[gateways.demo.servers.inventory]
command = {py}
args = {json.dumps([str(RAW), "--tools-file", str(workdir / "tools.json"), "--slow-ms", "40"])}

[gateways.demo.servers.flaky]
command = {py}
args = {json.dumps([str(RAW), "--fail-while", str(workdir / "outage")])}
"""


def write_tools(workdir: Path, version: int) -> None:
    """inventory's tools; a new ``version`` changes one description (a tool change)."""
    tools = [
        {
            "name": "count",
            "description": f"Count items (v{version}).",
            "inputSchema": {"type": "object"},
        },
        {"name": "find", "description": "Find an item by name.", "inputSchema": {"type": "object"}},
    ]
    (workdir / "tools.json").write_text(json.dumps(tools))


@dataclass(frozen=True)
class Daemon:
    """One running daemon: its process and its control socket."""

    process: subprocess.Popen[bytes]
    socket: str


@contextmanager
def daemons(workdir: Path, endpoint: str) -> Iterator[list[Daemon]]:
    """Redis and the two daemons, running until the block ends (then SIGTERM, a last flush)."""
    write_tools(workdir, 1)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "daemon")}
    with ExitStack() as stack:
        redis = RedisServer.launch()
        stack.callback(redis.close)
        running: list[Daemon] = []
        for name in INSTANCES:
            socket = str(workdir / f"{name}.sock")
            path = workdir / f"{name}.toml"
            path.write_text(config_text(workdir, endpoint, redis.url, socket))
            log = stack.enter_context((workdir / f"{name}.log").open("wb"))
            command = [sys.executable, "-m", "mcp_discoveryd", "run", "--config", str(path)]
            process = subprocess.Popen(command, env=env, stdout=log, stderr=log)
            stack.callback(_stop, process)
            running.append(Daemon(process, socket))
        for daemon in running:
            _wait_ready(daemon)
        yield running


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _wait_ready(daemon: Daemon, limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if daemon.process.poll() is not None:
            raise RuntimeError(f"daemon exited with {daemon.process.returncode}")
        try:
            with SyncControlClient(daemon.socket, timeout=2.0) as client:
                client.health()
                return
        except (DiscoverydError, OSError):
            time.sleep(0.2)
    raise RuntimeError("daemon did not answer on its control socket")


def drive(workdir: Path, running: list[Daemon], seconds: float) -> None:
    """The operator's side for ``seconds``: requests, outages, tool changes, one reload."""
    started = time.monotonic()
    etags: dict[str, str] = {}
    reloaded = False
    tick = 0
    while (elapsed := time.monotonic() - started) < seconds:
        start, every, length = OUTAGE
        outage = workdir / "outage"
        periodic = elapsed >= start and (elapsed - start) % every < length
        if periodic or elapsed >= seconds - LAST_OUTAGE:
            outage.touch()
        else:
            outage.unlink(missing_ok=True)
        write_tools(workdir, 1 + int(elapsed // CHANGE_EVERY))
        daemon = running[tick % len(running)]
        with SyncControlClient(daemon.socket, timeout=30.0) as client:
            _requests(client, tick, etags)
            if tick % 40 == 20:
                client.discover("notes", "demo")  # a manual discovery
            if not reloaded and elapsed > seconds / 2:
                client.reload()
                reloaded = True
        if tick % 30 == 15:
            _everywhere(running, "inventory")
        tick += 1
        time.sleep(0.5)


def _everywhere(running: list[Daemon], server: str) -> None:
    """A manual discovery asked of every daemon at once: they contend for the server's lease."""

    def one(daemon: Daemon) -> None:
        with SyncControlClient(daemon.socket, timeout=30.0) as client:
            client.discover(server, "demo")

    threads = [threading.Thread(target=one, args=(d,)) for d in running]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _requests(client: SyncControlClient, tick: int, etags: dict[str, str]) -> None:
    client.health()
    client.status()
    client.servers("demo")
    # the last one does not exist: a 404, counted by status
    for server in ("notes", "weather", "calculator", "inventory", "flaky", "nonexistent"):
        try:
            reply = client.catalog(server, "demo", etag=etags.get(server) if tick % 2 else None)
        except NotFoundError:
            continue
        if reply.etag:
            etags[server] = reply.etag
