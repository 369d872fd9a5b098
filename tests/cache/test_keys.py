"""Key names: namespaced, versioned, hashed identifiers, one hash tag per gateway."""

from __future__ import annotations

import re

import pytest

from mcp_discoveryd.cache import KeySpace
from mcp_discoveryd.models import CacheType

GATEWAY = "user-42_project-7_config-9"
SERVER = "github"


def test_keys_are_namespaced_and_versioned() -> None:
    """Every key starts with the prefix and the format version."""
    keys = KeySpace("acme", secret="s3cret")
    for key in (
        keys.entry_key(CacheType.TOOLS, GATEWAY, SERVER),
        keys.entry_key(CacheType.GATEWAY_CONFIG, GATEWAY, None),
        keys.index_key(GATEWAY),
        keys.tools_set,
        keys.configs_set,
        keys.gateways_set,
    ):
        assert key.startswith("acme:v1:")


def test_no_identifier_appears_in_a_key() -> None:
    """Neither the gateway id nor the server name is readable in any key name."""
    keys = KeySpace(secret="s3cret")
    names = [
        keys.entry_key(CacheType.TOOLS, GATEWAY, SERVER),
        keys.entry_key(CacheType.GATEWAY_CONFIG, GATEWAY, None),
        keys.index_key(GATEWAY),
    ]
    for name in names:
        assert GATEWAY not in name and SERVER not in name
        assert re.fullmatch(r"mcpd:v1:\{[0-9a-f]{32}\}:(t:[0-9a-f]{32}|c|idx)", name)


def test_secret_changes_every_hash() -> None:
    """HMAC under different secrets (or plain SHA-256 without one) gives unrelated hashes."""
    plain, one, two = KeySpace(), KeySpace(secret="one"), KeySpace(secret="two")
    hashes = {k.gateway_hash(GATEWAY) for k in (plain, one, two)}
    assert len(hashes) == 3
    assert KeySpace(secret="one").gateway_hash(GATEWAY) == one.gateway_hash(GATEWAY)


def test_plain_sha256_without_secret() -> None:
    """Without a secret the hash is SHA-256 of the domain-tagged identifier, cut to 128 bits."""
    import hashlib

    expected = hashlib.sha256(b"gateway\x00" + GATEWAY.encode()).hexdigest()[:32]
    assert KeySpace().gateway_hash(GATEWAY) == expected


def test_kinds_are_separated() -> None:
    """A server named like a gateway id does not hash like that gateway."""
    keys = KeySpace(secret="x")
    assert keys.gateway_hash("same") != keys.server_hash("same")


def test_all_keys_of_a_gateway_share_one_hash_tag() -> None:
    """Entries and the index of one gateway carry the same {tag}, so one Cluster slot."""
    keys = KeySpace(secret="x")
    tag = "{" + keys.gateway_hash(GATEWAY) + "}"
    for key in (
        keys.entry_key(CacheType.TOOLS, GATEWAY, "a"),
        keys.entry_key(CacheType.TOOLS, GATEWAY, "b"),
        keys.entry_key(CacheType.GATEWAY_CONFIG, GATEWAY, None),
        keys.index_key(GATEWAY),
    ):
        assert key[key.index("{") : key.index("}") + 1] == tag


@pytest.mark.parametrize("prefix", ["", "a{b", "a b", "x}"])
def test_prefix_that_breaks_hash_tags_is_refused(prefix: str) -> None:
    """Prefixes with braces or spaces would break hash tags or readability: ValueError."""
    with pytest.raises(ValueError, match="prefix"):
        KeySpace(prefix)


def test_tools_entry_needs_a_server() -> None:
    """A tools key without a server name is a programming error."""
    with pytest.raises(ValueError, match="server"):
        KeySpace().entry_key(CacheType.TOOLS, GATEWAY, None)


def test_lease_and_event_names_hide_identifiers_and_share_the_entry_s_slot() -> None:
    """The lease lives beside its entry (same hash tag) and, like events, names no identifier."""
    keys = KeySpace("acme", secret="s3cret")
    lease = keys.lease_key(GATEWAY, SERVER)
    entry = keys.entry_key(CacheType.TOOLS, GATEWAY, SERVER)
    tag = re.compile(r"\{([0-9a-f]+)\}")
    assert tag.findall(lease) == tag.findall(entry)
    assert lease != entry and lease.startswith("acme:v1:")
    for name in (lease, keys.entry_ref(CacheType.TOOLS, GATEWAY, SERVER), keys.events_channel):
        assert GATEWAY not in name and SERVER not in name
    assert keys.lease_key(GATEWAY, "other") != lease
