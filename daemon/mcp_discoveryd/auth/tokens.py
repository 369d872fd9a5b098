"""The token cache: one token per (server, client), kept until its expiry minus a buffer.

- A token is used until ``expires_at - buffer`` (the buffer at most half its
  lifetime, so a short-lived token is used at all), and refreshed ahead by a
  timer at 80% of that span: with the refresh token when one was given, else
  a new grant. A failed refresh is retried with backoff while the old token
  still serves.
- Single flight: one lock per (server, client); whoever needs a token while
  one is being got waits for it, so 20 discoveries make one request.
- A token the upstream refused (401) is replaced once: the caller names the
  refused token, and a waiter that finds a newer one uses it without asking.
- With a shared store (Redis, encrypted), a miss here reads it first, and what
  is got here is written there.
- ``clear`` drops held access tokens (the operator's ``clear --type tokens``): the
  next discovery gets a new one. Stored logins stay unless ``forget_logins``.
- Requests are counted by outcome (issued, refreshed, failed) per (server, client),
  for the metrics; never a token.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import AsyncGenerator, Callable, Collection, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Self

import anyio
from anyio.abc import TaskGroup

from ..errors import CacheBusyError, CacheUnavailableError, TokenError
from ..secret import Secret
from .clients import HttpClients
from .discover import Found, discover
from .grant import Token, request_token
from .logins import Login, LoginStore
from .spec import OAuthSpec
from .tls import check_secure
from .token_status import TokenStatus, usable_until

if TYPE_CHECKING:
    import httpx2  # its clients are made at the first token request (clients.py)

    from .store import SharedTokens  # the Redis store (and redis) only when configured

logger = logging.getLogger(__name__)

LOGIN_REQUIRED = "a person must log in once more: run `mcp-discoveryd auth login SERVER`"
REFRESH_AT = 0.8  # of a token's usable span
REFRESH_JITTER = 0.1  # of that span, taken off at random
# A token nobody asked for in this many spans (and at least IDLE_MIN seconds, beyond the
# default 4 h tools refresh) is not refreshed again: its server may be gone.
IDLE_SPANS = 3
IDLE_MIN = 6 * 3600.0
Outcome = Literal["issued", "refreshed", "failed"]
RETRY_MIN = 1.0  # seconds before a failed refresh ahead is tried again, doubled per failure
REQUEST_LIMIT = 30.0  # seconds one token request (with discovery) may take


@dataclass(eq=False)
class _Slot:
    """One (server, client): its lock, token, endpoint and timer generation."""

    spec: OAuthSpec
    server_url: str
    label: str
    lock: anyio.Lock
    token: Token | None = None
    found: Found | None = None
    generation: int = 0
    last_error: str | None = None
    used_at: float = 0.0  # when a discovery last asked (the refresh timer stops when idle)


class TokenCache(anyio.AsyncContextManagerMixin):
    """Tokens of every OAuth-protected upstream; ``async with`` it to run the refresh timers."""

    def __init__(
        self,
        shared: SharedTokens | None = None,
        *,
        logins: LoginStore | None = None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self._shared = shared
        self._logins = logins  # refresh tokens of authorization_code servers (auth login)
        self._clock = clock
        self._rng = random.Random() if rng is None else rng  # the refresh timers' jitter
        self._slots: dict[str, _Slot] = {}
        self._clients = HttpClients(REQUEST_LIMIT)
        self._timers: TaskGroup | None = None
        self.requests = 0  # token requests sent (tests and the benchmark read it)
        self._outcomes: dict[str, dict[Outcome, int]] = {}  # identity -> outcome -> count

    @asynccontextmanager
    async def __asynccontextmanager__(self) -> AsyncGenerator[Self]:
        try:
            async with anyio.create_task_group() as timers:
                self._timers = timers
                try:
                    yield self
                finally:
                    timers.cancel_scope.cancel()
        finally:
            self._timers = None
            await self._clients.aclose()

    def status(self) -> list[TokenStatus]:
        """Per (server, client): whether a usable token is held and when it expires."""
        now = self._clock()
        out = []
        for slot in self._slots.values():
            token = slot.token
            held = token is not None and self._usable(slot, token, now)
            expires = None if token is None else token.expires_at
            out.append(TokenStatus(slot.label, slot.spec.client_id, held, expires, slot.last_error))
        return out

    def outcomes_of(self, spec: OAuthSpec, server_url: str) -> Mapping[Outcome, int]:
        """Token requests for one (server, client) so far, by outcome (counts only grow)."""
        return dict(self._outcomes.get(spec.identity(server_url), {}))

    async def clear(
        self, identities: Collection[str] | None = None, *, forget_logins: bool = False
    ) -> int:
        """Drop the access tokens held for ``identities`` (None: every one), here and in the
        shared store, so the next discovery gets new ones; the count dropped.

        A stored login (authorization_code's refresh token) stays, so the next token is a
        refresh, unless ``forget_logins``: then a person must run `auth login` again. A
        shared store that could not be reached raises its error once every token here is
        dropped: its copy would come back, so the caller must say so.
        """
        chosen = list(self._slots) if identities is None else list(identities)
        dropped = 0
        failure: CacheUnavailableError | CacheBusyError | None = None
        for identity in chosen:
            slot = self._slots.get(identity)
            if slot is not None:
                async with slot.lock:  # not while a request for it is in flight
                    dropped += slot.token is not None
                    slot.token, slot.last_error = None, None
                    slot.generation += 1  # its refresh timer ends
            if forget_logins and self._logins is not None:
                self._logins.forget(identity)
            if self._shared is not None and failure is None:
                try:
                    await self._shared.delete(identity)
                except (CacheUnavailableError, CacheBusyError) as exc:
                    failure = exc
        if failure is not None:
            raise failure
        return dropped

    def status_of(self, spec: OAuthSpec, server_url: str) -> TokenStatus:
        """One (server, client)'s status; not held when no token was asked for yet."""
        slot = self._slots.get(spec.identity(server_url))
        if slot is None:
            from ..secret import url_without_secrets

            return TokenStatus(url_without_secrets(server_url), spec.client_id, False, None, None)
        token = slot.token
        held = token is not None and self._usable(slot, token, self._clock())
        expires = None if token is None else token.expires_at
        login = slot.last_error is not None and slot.last_error.startswith(LOGIN_REQUIRED)
        return TokenStatus(slot.label, spec.client_id, held, expires, slot.last_error, login)

    async def token(
        self,
        spec: OAuthSpec,
        server_url: str,
        *,
        challenge: httpx2.Response | None = None,
        refused: Secret | None = None,
    ) -> Token:
        """A usable token for ``server_url``: cached, shared, or got now (one request at a time).

        ``refused``: the token the upstream just answered 401 to; it is not returned again.
        ``challenge``: that 401, whose ``WWW-Authenticate`` may point discovery the way.
        """
        slot = self._slot(spec, server_url)
        slot.used_at = self._clock()
        token = slot.token
        if (
            token is not None
            and token.access != refused
            and self._usable(slot, token, self._clock())
        ):
            return token
        async with slot.lock:
            token = slot.token
            if (
                token is not None
                and token.access != refused
                and self._usable(slot, token, self._clock())
            ):
                return token  # got by whoever held the lock before us
            if self._shared is not None and (found := await self._from_shared(slot, refused)):
                return found
            return await self._get(slot, challenge=challenge)

    def _slot(self, spec: OAuthSpec, server_url: str) -> _Slot:
        identity = spec.identity(server_url)
        slot = self._slots.get(identity)
        if slot is None:
            from ..secret import url_without_secrets

            label = url_without_secrets(server_url)
            slot = self._slots[identity] = _Slot(spec, server_url, label, anyio.Lock())
        return slot

    def ready(self, spec: OAuthSpec, server_url: str) -> bool:
        """True when a token can be asked for before the upstream says how (a 401)."""
        slot = self._slot(spec, server_url)
        if spec.grant == "authorization_code":
            return True  # the login left the token endpoint; no 401 can help
        return spec.token_url is not None or slot.found is not None or slot.token is not None

    def _usable(self, slot: _Slot, token: Token, now: float) -> bool:
        until = usable_until(token, slot.spec.expiry_buffer)
        return until is None or now < until

    async def _from_shared(self, slot: _Slot, refused: Secret | None) -> Token | None:
        token = await self._shared_token(slot)
        if token is None or token.access == refused or not self._usable(slot, token, self._clock()):
            return None
        self._keep(slot, token)
        return token

    async def _get(
        self, slot: _Slot, *, challenge: httpx2.Response | None = None, refresh: bool = False
    ) -> Token:
        """One token request (discovery first when the endpoint is not known); the lock is held."""
        spec = slot.spec
        http = self._clients.for_spec(spec)
        try:
            with anyio.fail_after(REQUEST_LIMIT):
                token, refreshed = await (
                    self._from_login(slot, http)
                    if spec.grant == "authorization_code"
                    else self._grant(slot, http, challenge, refresh)
                )
        except TimeoutError:
            slot.last_error = "timeout"
            self._count(slot, "failed")
            raise TokenError("unreachable", "token request timed out") from None
        except TokenError as exc:
            slot.last_error = str(exc)
            self._count(slot, "failed")
            raise
        slot.last_error = None
        self._count(slot, "refreshed" if refreshed else "issued")
        self._keep(slot, token)
        if self._shared is not None and token.expires_at is not None:
            await self._share(slot, token)
        return token

    async def _grant(
        self,
        slot: _Slot,
        http: httpx2.AsyncClient,
        challenge: httpx2.Response | None,
        refresh: bool,
    ) -> tuple[Token, bool]:
        """Client credentials (or the refresh token they came with); True: refreshed."""
        spec = slot.spec
        found = slot.found
        if found is None:
            if spec.token_url is not None:
                found = Found(spec.token_url, spec.resource)
            else:
                found = await discover(http, slot.server_url, challenge)
            check_secure(spec, found.token_url)
            slot.found = found
        resource = spec.resource or found.resource
        old = slot.token
        use_refresh = old.refresh if refresh and old is not None else None
        self.requests += 1
        try:
            token = await request_token(
                http,
                spec,
                found.token_url,
                resource,
                refresh=use_refresh,
                clock=self._clock,
            )
        except TokenError:
            if use_refresh is None:
                raise
            self.requests += 1  # the refresh token was refused: a new grant instead
            token = await request_token(http, spec, found.token_url, resource, clock=self._clock)
            return token, False
        return token, use_refresh is not None

    async def _from_login(self, slot: _Slot, http: httpx2.AsyncClient) -> tuple[Token, bool]:
        """authorization_code: refresh from the token a person's login left; never a new grant."""
        spec = slot.spec
        identity = spec.identity(slot.server_url)
        login = None if self._logins is None else self._logins.read(identity)
        held = None if slot.token is None else slot.token.refresh
        refresh = held or (None if login is None else login.refresh)
        token_url = spec.token_url or (None if login is None else login.token_url)
        if refresh is None or token_url is None:
            raise TokenError("login_required", LOGIN_REQUIRED)
        check_secure(spec, token_url)
        self.requests += 1
        try:
            token = await request_token(
                http, spec, token_url, spec.resource, refresh=refresh, clock=self._clock
            )
        except TokenError as exc:
            if exc.reason in ("refused", "invalid_client"):
                raise TokenError("login_required", f"{LOGIN_REQUIRED} ({exc})") from None
            raise
        if self._logins is not None and token.refresh is not None and token.refresh != refresh:
            self._logins.write(identity, Login(token.refresh, token_url))  # rotated
        return token, True

    def _count(self, slot: _Slot, outcome: Outcome) -> None:
        counts = self._outcomes.setdefault(slot.spec.identity(slot.server_url), {})
        counts[outcome] = counts.get(outcome, 0) + 1

    def _keep(self, slot: _Slot, token: Token) -> None:
        """Hold ``token`` and set its refresh timer."""
        slot.token = token
        slot.generation += 1
        if self._timers is not None and token.expires_at is not None:
            self._timers.start_soon(self._refresh_ahead, slot, slot.generation)

    async def _share(self, slot: _Slot, token: Token) -> None:
        assert self._shared is not None and token.expires_at is not None
        try:
            await self._shared.put(
                slot.spec.identity(slot.server_url), token, token.expires_at - self._clock()
            )
        except (CacheUnavailableError, CacheBusyError) as exc:  # kept here; shared next time
            logger.info("shared token store not written: %s", exc)

    async def _shared_token(self, slot: _Slot) -> Token | None:
        """The token the shared store holds for this slot; None when none or it is down."""
        assert self._shared is not None
        try:
            return await self._shared.get(slot.spec.identity(slot.server_url))
        except (CacheUnavailableError, CacheBusyError) as exc:  # a busy pool is no token either
            logger.info("shared token store not read: %s", exc)
            return None

    async def _newer_shared(self, slot: _Slot, token: Token) -> bool:
        """Another host refreshed already: take its token (True) instead of asking again."""
        found = await self._shared_token(slot)
        if found is None or found.obtained_at <= token.obtained_at:
            return False
        if not self._usable(slot, found, self._clock()):
            return False
        self._keep(slot, found)
        return True

    async def _refresh_ahead(self, slot: _Slot, generation: int) -> None:
        """Refresh before the token stops being used; a newer token ends this timer."""
        token = slot.token
        if token is None:
            return
        until = usable_until(token, slot.spec.expiry_buffer)
        assert until is not None
        delay = RETRY_MIN
        # Jitter: hosts sharing one token do not all refresh at once; the first shares its new
        # token, and the others find it in the store below instead of asking again.
        at = REFRESH_AT - self._rng.uniform(0.0, REFRESH_JITTER)
        await anyio.sleep(
            max(0.0, token.obtained_at + at * (until - token.obtained_at) - self._clock())
        )
        if self._clock() - slot.used_at > max(IDLE_SPANS * (until - token.obtained_at), IDLE_MIN):
            # Nobody asked for a long while (a server removed by a reload, say): let the token
            # lapse; the next discovery that needs one gets it then.
            if self._slots.get(slot.spec.identity(slot.server_url)) is slot:
                del self._slots[slot.spec.identity(slot.server_url)]
            return
        while slot.generation == generation:
            async with slot.lock:
                if slot.generation != generation:
                    return  # replaced meanwhile (a 401, another path)
                if self._shared is not None and await self._newer_shared(slot, token):
                    return
                try:
                    await self._get(slot, refresh=token.refresh is not None)
                    return
                except TokenError as exc:
                    logger.warning("refreshing the token for %s failed: %s", slot.label, exc)
            await anyio.sleep(min(delay, max(0.1, until - self._clock())))
            delay *= 2
