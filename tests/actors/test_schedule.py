"""The next run after a success, over generated entries and clocks: never sooner than a
backoff once the entry is due, never later than the lagged refresh time before."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st
from tests.cache.builders import entry

from mcp_discoveryd.actors.schedule import LAG, due_after_success, refresh_due
from mcp_discoveryd.cache.health import Backoff

T0 = 1_800_000_000.0
ttls = st.floats(min_value=0.5, max_value=86_400.0)
offsets = st.floats(min_value=-2.0, max_value=2.0)  # now, as a fraction of the TTL past fetch
backoffs = st.builds(
    Backoff,
    initial=st.floats(min_value=0.01, max_value=10.0),
    maximum=st.floats(min_value=10.0, max_value=300.0),
)


@given(ttl=ttls, at=offsets, shared=st.booleans(), backoff=backoffs, seed=st.integers())
def test_a_due_entry_is_retried_after_a_backoff_and_a_fresh_one_at_its_refresh_time(
    ttl: float, at: float, shared: bool, backoff: Backoff, seed: int
) -> None:
    held = entry(now=T0, ttl=ttl)
    now = T0 + at * ttl
    due = due_after_success(held, now, shared=shared, backoff=backoff, rng=random.Random(seed))
    if held.refresh_at <= now:  # refused, or read from the cache: no turn for a while
        assert now + backoff.initial / 2 <= due <= now + backoff.initial
    else:
        lead = held.expires_at - held.refresh_at
        assert held.refresh_at <= due <= held.refresh_at + (LAG * lead if shared else 0.0)


@given(ttl=ttls, shared=st.booleans(), backoff=backoffs, seed=st.integers())
def test_an_entry_never_refreshed_gets_turns_no_closer_than_half_the_first_backoff(
    ttl: float, shared: bool, backoff: Backoff, seed: int
) -> None:
    """Every turn refused (another host holds the lease): the runs stay spaced out."""
    held, rng = entry(now=T0, ttl=ttl), random.Random(seed)
    now = refresh_due(held, shared=shared, rng=rng)  # the first turn, at the timer
    for _ in range(50):
        due = due_after_success(held, now, shared=shared, backoff=backoff, rng=rng)
        assert due - now >= backoff.initial / 2
        now = due


@given(backoff=backoffs, now=st.floats(min_value=0.0, max_value=T0))
def test_no_entry_waits_the_longest_backoff(backoff: Backoff, now: float) -> None:
    due = due_after_success(None, now, shared=True, backoff=backoff, rng=random.Random(0))
    assert due == now + backoff.maximum
