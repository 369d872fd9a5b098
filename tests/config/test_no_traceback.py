"""No input makes check-config or discover print a traceback: generated configs (valid
skeletons mutated, deep nesting, junk) and Redis URLs; every run exits 0, 1, 2 or 78 and
a config error names the file and the place."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis
from tests.config.generated import (
    ENKRYPT_SKELETON,
    TOML_SKELETON,
    deep,
    mutated,
    redis_urls,
    to_toml,
)

from mcp_discoveryd.cli import EXIT_CONFIG, main
from mcp_discoveryd.config.redis_url import check_redis_url

EXITS = {0, 1, 2, EXIT_CONFIG}
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def run_cli(*argv: str) -> tuple[int, str, str]:
    """cli.main in this process: (exit code, stdout, stderr); an exception fails the test."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def check_file(text: str | bytes, name: str, *commands: str) -> list[int]:
    """Each command on a file holding ``text``: an allowed exit, a placed message on 78.

    discover runs only on a file that check-config accepts; the exit codes are returned.
    """
    codes: list[int] = []
    with tempfile.TemporaryDirectory(prefix="t") as directory:
        path = Path(directory) / name
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8", errors="surrogatepass")
        for command in commands:
            argv = ["check-config", str(path)] if command == "check" else []
            argv = argv or ["discover", "--json", "--config", str(path)]
            code, _, err = run_cli(*argv)
            codes.append(code)
            assert code in EXITS, (code, err)
            if code == EXIT_CONFIG:
                problems = err.strip().splitlines()[1:]
                assert problems and all(line.startswith(f"{path}: ") for line in problems), err
            if command == "check" and code != 0:
                break
    return codes


@FAST
@given(mutated(TOML_SKELETON))
def test_mutated_toml_configs(doc: dict[str, Any]) -> None:
    """A TOML skeleton with keys added, removed or given values of other types."""
    check_file(to_toml(doc), "mcpd.toml", "check")


@FAST
@given(mutated(ENKRYPT_SKELETON))
@example({**ENKRYPT_SKELETON, "projects": 1})  # found: apikeys looked their project up in an int
def test_mutated_enkrypt_configs(doc: dict[str, Any]) -> None:
    """The same for an Enkrypt file (its lenient keys coerced, ours strict)."""
    check_file(json.dumps(doc), "enkrypt_mcp_config.json", "check")


@SLOW
@given(mutated(TOML_SKELETON))
def test_discover_on_mutated_toml_configs(doc: dict[str, Any]) -> None:
    """discover as well: a config that loads runs (servers listed or failing at once)."""
    doc.pop("cache", None)  # the memory cache: no connection to a generated address
    check_file(to_toml(doc), "mcpd.toml", "check", "discover")


@SLOW
@given(mutated(ENKRYPT_SKELETON))
def test_discover_on_mutated_enkrypt_configs(doc: dict[str, Any]) -> None:
    """discover on generated Enkrypt files, without an external cache."""
    common = doc.get("common_mcp_gateway_config")
    if isinstance(common, dict):
        common.pop("enkrypt_mcp_use_external_cache", None)
    check_file(json.dumps(doc), "enkrypt_mcp_config.json", "check", "discover")


@SLOW
@given(deep())
def test_deep_nesting_is_a_config_error_with_its_place(texts: tuple[str, str]) -> None:
    """Nesting past the bound: exit 78 naming where (TOML and JSON alike), and discover too."""
    toml, json_text = texts
    assert check_file(toml, "mcpd.toml", "check", "discover") == [EXIT_CONFIG]
    assert check_file(json_text, "enkrypt_mcp_config.json", "check") == [EXIT_CONFIG]


@FAST
@given(
    st.one_of(st.text(max_size=200), st.binary(max_size=200)),
    st.sampled_from(["t.toml", "e.json", "x"]),
)
def test_junk_files(text: str | bytes, name: str) -> None:
    """Arbitrary text or bytes, as TOML, JSON or a file of unknown kind."""
    check_file(text, name, "check")


@FAST
@given(redis_urls())
def test_generated_redis_urls(url: str) -> None:
    """check-config judges every URL; what it accepts, redis-py builds a connection for."""
    check_file(
        f'[cache]\nurl = {json.dumps(url)}\n[gateways.g.servers.s]\ncommand = "x"\n',
        "c.toml",
        "check",
    )
    if check_redis_url(url) or url.startswith("unix"):
        return
    pool = Redis.from_url(url).connection_pool
    pool.make_connection()  # type: ignore[no-untyped-call]  # raises for an option it cannot take


@SLOW
@given(redis_urls(host="127.0.0.1"))
def test_discover_with_generated_redis_urls(url: str) -> None:
    """discover with a generated URL to a closed local port: degraded or refused, no trace."""
    url = url.replace(":6379", ":1")
    text = (
        f'[cache]\nurl = {json.dumps(url)}\n[gateways.g.servers.s]\ncommand = "x"\ntools = ["t"]\n'
    )
    check_file(text, "c.toml", "check", "discover")


def test_a_subprocess_run_on_a_deep_config_exits_78_without_a_traceback(tmp_path: Path) -> None:
    """The console entry point itself, on a file nested 5,000 levels."""
    path = tmp_path / "deep.json"
    path.write_text("[" * 5000 + "]" * 5000)
    result = subprocess.run(
        [sys.executable, "-m", "mcp_discoveryd", "check-config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == EXIT_CONFIG
    assert "Traceback" not in result.stderr
    assert f"{path}: file: JSON nested too deeply" in result.stderr


FOUND = [
    # (what the review found, the file, where check-config now says it is wrong)
    ("unknown Redis URL option", '[cache]\nurl = "redis://h/0?foo=bar"\n', "cache.url"),
    ("untyped Redis URL option", '[cache]\nurl = "redis://h/0?socket_timeout=abc"\n', "cache.url"),
    ("TLS option on plain redis", '[cache]\nurl = "redis://h/0?ssl_ca_certs=/ca"\n', "cache.url"),
    ("IDNA label too long", f'[cache]\nurl = "redis://{"a" * 70}/0"\n', "cache.url"),
    (
        "non-ASCII header value",
        '[gateways.g.servers.r]\nurl = "https://h/mcp"\nheaders = { X-Key = "café" }\n',
        "gateways.g.servers.r.headers.X-Key",
    ),
    (
        "header value with a line break",
        '[gateways.g.servers.r]\nurl = "https://h/mcp"\nheaders = { X-Key = "a\\r\\nb" }\n',
        "gateways.g.servers.r.headers.X-Key",
    ),
    (
        "header name that is no token",
        '[gateways.g.servers.r]\nurl = "https://h/mcp"\nheaders = { "X Key" = "v" }\n',
        'gateways.g.servers.r.headers."X Key"',
    ),
    (
        "NUL in a child's environment",
        '[gateways.g.servers.s]\ncommand = "x"\nenv = { A = "a\\u0000b" }\n',
        "gateways.g.servers.s.env.A",
    ),
    ("integer past Python's digit limit", "[discovery]\npage_cap = " + "9" * 5000 + "\n", "file"),
]


def test_each_input_the_review_found_is_a_config_error_at_its_place(tmp_path: Path) -> None:
    """Each of them passed check-config or raised; now exit 78 naming the place."""
    server = '[gateways.g.servers.s]\ncommand = "x"\n'
    for what, text, where in FOUND:
        path = tmp_path / "c.toml"
        path.write_text(text if "gateways" in text else text + server)
        code, _, err = run_cli("check-config", str(path))
        assert code == EXIT_CONFIG, what
        assert f"{path}: {where}: " in err, (what, err)
        assert "café" not in err and "a\r\nb" not in err, what  # header values never echoed
