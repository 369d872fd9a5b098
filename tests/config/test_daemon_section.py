"""[daemon]: how `run` behaves, in TOML and in an Enkrypt config's mcp_discoveryd object."""

from __future__ import annotations

import json
from pathlib import Path

from tests.config.support import load_text, problems

from mcp_discoveryd.config.settings import DaemonSettings

SERVER = '[gateways.g.servers.a]\ncommand = "true"\n'


def test_daemon_keys_are_read_in_any_duration_unit(tmp_path: Path) -> None:
    text = (
        '[daemon]\nready = "at-once"\npreload_timeout = "2m"\nshutdown_timeout = "500ms"\n'
        'retry_initial = "2s"\nretry_max = "1h"\nrestart_limit = 3\nrestart_window = "30s"\n'
    )
    settings = load_text(tmp_path, text + SERVER).daemon
    assert settings == DaemonSettings(
        ready="at-once",
        preload_timeout=120.0,
        shutdown_timeout=0.5,
        retry_initial=2.0,
        retry_max=3600.0,
        restart_limit=3,
        restart_window=30.0,
    )


def test_without_a_daemon_section_the_defaults_hold(tmp_path: Path) -> None:
    assert load_text(tmp_path, SERVER).daemon == DaemonSettings()


def test_bad_daemon_keys_are_problems_at_their_place(tmp_path: Path) -> None:
    found = problems(
        tmp_path, '[daemon]\nready = "later"\nrestart_limit = 0\nrestrat_window = "1s"\n' + SERVER
    )
    assert set(found) >= {"daemon.ready", "daemon.restart_limit", "daemon.restrat_window"}


def test_an_enkrypt_config_carries_daemon_settings_in_its_own_object(tmp_path: Path) -> None:
    doc = {
        "mcp_configs": {
            "c1": {
                "mcp_config_name": "x",
                "mcp_config": [{"server_name": "a", "config": {"command": "true"}}],
            }
        },
        "mcp_discoveryd": {"daemon": {"ready": "at-once", "shutdown_timeout": "3s"}},
    }
    config = load_text(tmp_path, json.dumps(doc), name="enkrypt_mcp_config.json")
    assert config.daemon.ready == "at-once" and config.daemon.shutdown_timeout == 3.0


def test_watch_is_each_servers_unless_it_says_otherwise(tmp_path: Path) -> None:
    text = (
        '[daemon]\nwatch = "off"\nmax_watched = 3\nwatch_debounce = "100ms"\nwatch_ping = "1m"\n'
        '[gateways.g.servers.a]\ncommand = "true"\n'
        '[gateways.g.servers.b]\nurl = "http://127.0.0.1:1/mcp"\nwatch = "on"\n'
    )
    config = load_text(tmp_path, text)
    settings = config.daemon
    assert (settings.watch, settings.max_watched) == ("off", 3)
    assert (settings.watch_debounce, settings.watch_ping) == (0.1, 60.0)
    assert {s.name: s.watch for s in config.gateways[0].servers} == {"a": "off", "b": "on"}


def test_watch_defaults_to_auto_and_bad_values_are_problems(tmp_path: Path) -> None:
    assert {s.watch for s in load_text(tmp_path, SERVER).gateways[0].servers} == {"auto"}
    found = problems(
        tmp_path,
        '[daemon]\nwatch = "always"\nmax_watched = -1\n'
        '[gateways.g.servers.a]\ncommand = "true"\nwatch = "yes"\n',
    )
    assert set(found) >= {"daemon.watch", "daemon.max_watched", "gateways.g.servers.a.watch"}
