"""A dozen secrets in every place a config can hold one: none reaches output, logs or Redis.

Two `discover` runs of the same config against a real Redis (ACL user and key secret)
and upstreams that echo what they were given: one run with the secrets, one with other
values. Neither shows a secret anywhere, and both print the same (valid) JSON, with
innocent values (``true``, ``info``, ``success``, ``1``) left exactly as they were.
"""

from __future__ import annotations

import base64
import json
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

import anyio
import pytest
from tests.cache.redis_servers import RedisFactory, RedisServer
from tests.servers.http_harness import serve_app
from tests.servers.secret_echo import SCRIPT, echo_app

pytestmark = pytest.mark.redis

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "daemon" / "examples" / "servers" / "demo_server.py"
USER = "discoveryd"
# Each secret's name; its value is made per run (same length, so echoed requests match).
NAMES = (
    "REDIS_PASSWORD",  # [cache] password, or the Redis URL's user info (by variant)
    "KEY_SECRET",  # [cache] key_secret (HMAC key of key names)
    "LEAK_TOKEN",  # ${VAR} into a child's env
    "LEAK_DB",  # literal env value
    "NOTES_TOKEN",  # literal env value of a server that succeeds
    "NOTES_VAR",  # ${VAR} into that server's env
    "QUERY_KEY",  # literal ?api_key= of a remote URL
    "BEARER",  # ${VAR} into Authorization: Bearer ...
    "URL_PW",  # ${VAR} into a remote URL's user info (sent as Basic auth)
    "API_KEY_HEADER",  # literal X-Api-Key header
    "ACCESS_TOKEN",  # ${VAR} into ?access_token=
    "TOKEN_HEADER",  # literal Authorization: Token ...
)
TIMINGS = ("duration_s", "queued_s")
INNOCENT_ENV = 'DEBUG = "true", LOG_LEVEL = "info", MODE = "success", RETRIES = "1"'


def secrets_for(run: str) -> dict[str, str]:
    """Distinct values per name and run; URL_PW needs percent-encoding in a URL."""
    values = {name: f"{name.lower().replace('_', '')}-{run}-5e2b9c1d7a3f" for name in NAMES}
    values["URL_PW"] = f"p@ss:w/rd-{run}-9f1e"
    return values


def config_text(values: Mapping[str, str], redis: RedisServer, base: str, variant: str) -> str:
    """The config; ${VAR} references are filled from the environment given to the run."""
    host = base.removeprefix("http://")
    if variant == "password":
        cache = (
            f'url = "redis://{USER}@{redis.host}:{redis.port}/0"\npassword = "${{REDIS_PASSWORD}}"'
        )
    else:
        cache = f'url = "redis://{USER}:${{REDIS_PASSWORD}}@{redis.host}:{redis.port}/0"'
    python = json.dumps(sys.executable)
    return f"""
[cache]
backend = "redis"
{cache}
key_secret = "${{KEY_SECRET}}"

[guardrails.servers]
block_secrets_in_args = false  # the URLs below carry credentials on purpose

[gateways.g.servers.leaky]
command = {python}
args = [{json.dumps(SCRIPT)}, "API_TOKEN", "DB_PASSWORD", "DEBUG", "MODE"]
env = {{ API_TOKEN = "${{LEAK_TOKEN}}", DB_PASSWORD = "{values["LEAK_DB"]}", {INNOCENT_ENV} }}

[gateways.g.servers.notes]
command = {python}
args = [{json.dumps(str(DEMO))}, "notes"]
env = {{ NOTES_TOKEN = "{values["NOTES_TOKEN"]}", NOTES_VAR = "${{NOTES_VAR}}", {INNOCENT_ENV} }}

[gateways.g.servers.bearer]
url = "{base}/mcp?api_key={values["QUERY_KEY"]}&format=json"
headers = {{ Authorization = "Bearer ${{BEARER}}", X-Debug = "true" }}

[gateways.g.servers.userinfo]
url = "http://svc:${{URL_PW}}@{host}/mcp"
headers = {{ X-Api-Key = "{values["API_KEY_HEADER"]}" }}

[gateways.g.servers.sse]  # the SDK's SSE client logs the URL it connects to
url = "http://svc:${{URL_PW}}@{host}/sse"
transport = "sse"

[gateways.g.servers.query]
url = "{base}/mcp?access_token=${{ACCESS_TOKEN}}"
headers = {{ Authorization = "Token {values["TOKEN_HEADER"]}", X-Mode = "success" }}
"""


def environment(values: Mapping[str, str], variant: str) -> dict[str, str]:
    """What the daemon's environment holds for the ${VAR} references."""
    env = dict(os.environ)
    for name in ("REDIS_PASSWORD", "KEY_SECRET", "LEAK_TOKEN", "NOTES_VAR", "BEARER"):
        env[name] = values[name]
    env["ACCESS_TOKEN"] = values["ACCESS_TOKEN"]
    env["URL_PW"] = quote(values["URL_PW"], safe="")  # it goes into a URL
    if variant == "url":
        env["REDIS_PASSWORD"] = quote(values["REDIS_PASSWORD"], safe="")
    return env


def forms(values: Mapping[str, str]) -> Iterator[str]:
    """Every way a secret could show: as given, percent-encoded, as Basic credentials."""
    for value in values.values():
        yield value
        yield quote(value, safe="")
    yield base64.b64encode(f"svc:{values['URL_PW']}".encode()).decode()


async def discover(config: Path, env: dict[str, str], *extra: str) -> tuple[int, str, str]:
    """One CLI run with DEBUG logging; (exit code, stdout, stderr)."""
    args = ["--log-level", "DEBUG", "discover", "--config", str(config), "--refresh", *extra]
    done = await anyio.run_process(
        [sys.executable, "-m", "mcp_discoveryd", *args], env=env, check=False
    )
    return done.returncode, done.stdout.decode(), done.stderr.decode()


def without_timings(node: Any) -> Any:
    """The report with its durations and queueing times left out (they differ run to run)."""
    if isinstance(node, dict):
        return {k: without_timings(v) for k, v in node.items() if k not in TIMINGS}
    if isinstance(node, list):
        return [without_timings(v) for v in node]
    return node


def everything_in(redis: RedisServer) -> str:
    """Every key name and value in Redis, as one text."""
    client = redis.client()
    out: list[str] = []
    try:
        for key in client.scan_iter(count=1000):
            raw_kind = client.type(key)
            kind = raw_kind.decode() if isinstance(raw_kind, bytes) else str(raw_kind)
            fetch: Callable[[Any], Any] | None = {
                "string": client.get,
                "hash": client.hgetall,
                "set": client.smembers,
                "zset": lambda k: client.zrange(k, 0, -1),
                "list": lambda k: client.lrange(k, 0, -1),
            }.get(kind)
            value = fetch(key) if fetch is not None else b""
            out.append(f"{key!r} {kind} {value!r}")
    finally:
        client.close()
    return "\n".join(out)


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["password", "url"])
async def test_no_secret_in_output_logs_or_redis_and_the_report_is_unchanged(
    tmp_path: Path, redis_factory: RedisFactory, variant: str
) -> None:
    """Secrets masked at the source: the same JSON as a run with other values, nothing leaked."""
    runs = {run: secrets_for(run) for run in ("A", "B")}
    redis = redis_factory(acl_user=USER, acl_password=runs["A"]["REDIS_PASSWORD"])
    admin = redis.client()
    admin.acl_setuser(USER, enabled=True, passwords=["+" + runs["B"]["REDIS_PASSWORD"]])
    admin.close()
    reports, seen = {}, ""
    async with serve_app(echo_app()) as base:
        for run, values in runs.items():
            config = tmp_path / f"{run}.toml"
            config.write_text(config_text(values, redis, base, variant))
            env = environment(values, variant)
            code, out, err = await discover(config, env, "--json")
            assert code == 1, err  # the echoing servers fail, by design
            reports[run] = json.loads(out)  # valid JSON, innocent values untouched
            table_code, table, table_err = await discover(config, env, "--server", "leaky")
            assert table_code == 1 and "leaky" in table
            seen += out + err + table + table_err
    seen += everything_in(redis)
    leaked = [form for values in runs.values() for form in forms(values) if form in seen]
    assert not leaked
    assert without_timings(reports["A"]) == without_timings(reports["B"])

    servers = reports["A"]["available_servers"]
    assert servers["notes"]["status"] == "success" and len(servers["notes"]["tools"]) == 3
    assert any(t["annotations"].get("readOnlyHint") is True for t in servers["notes"]["tools"])
    tail = "\n".join(servers["leaky"]["error"]["stderr_tail"])
    assert "API_TOKEN is ***; sending Bearer ***" in tail and "DB_PASSWORD is ***" in tail
    assert "MODE is success" in tail and "status: success, debug true, level info" in tail
    for name in ("bearer", "userinfo", "query"):  # each echoed its credentials: all masked
        message = servers[name]["error"]["message"]
        assert "rejected:" in message and "***" in message, message
    assert "api_key=***" in servers["bearer"]["error"]["message"]
    assert "x-mode=success" in servers["query"]["error"]["message"]  # not a secret
