"""An external guardrail provider over HTTP: [guardrails.provider].

The request and answer shapes are in ``wire``. What this module adds:

- Its own small httpx2 client, not the upstreams' shared one: the provider is one
  trusted endpoint holding our credentials (its headers), with its own pool size
  (``concurrency``) and timeout; the shared client is sharded and capped for many
  untrusted upstreams and lives inside the fetcher, which the guardrails never see.
  Redirects are not followed (the headers stay with the configured host).
- Verdicts cached by content hash (``wire.content_id`` of what was sent), in a
  bounded LRU: a tool or server unchanged since its last verdict is not sent
  again. Only answers are cached; a failure is asked again next time.
- Tools sent in batches of ``batch_size``; at most ``concurrency`` requests in
  flight across every server; each request under ``timeout``. A batch that fails
  decides only its own tools, by the fail policy (``provider.failed_verdict``).
- Every failure becomes ``GuardrailProviderError`` with a reason built from our
  own data (a status, a timeout): the provider's text is never quoted.
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from collections.abc import AsyncGenerator, Sequence
from contextlib import asynccontextmanager
from typing import TypeVar
from urllib.parse import urlsplit

import anyio
import httpx2
from pydantic import BaseModel, ValidationError

from ... import __version__
from ...config.settings import GuardrailProviderSettings
from ...errors import GuardrailProviderError
from ...models import BlockedTool, JSONObject, ServerSpec
from . import wire
from .provider import Guardrails, ProviderSettings, failed_verdict
from .tools import ToolVerdict

logger = logging.getLogger(__name__)

MAX_ANSWER_BYTES = 4 * 1024 * 1024  # an answer past this is garbage, not read further
A = TypeVar("A", bound=BaseModel)


class VerdictCache:
    """Reasons (empty = allowed) by content hash, the least recently used dropped past ``size``."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[str, tuple[str, ...]] = OrderedDict()

    def get(self, key: str) -> tuple[str, ...] | None:
        found = self._items.get(key)
        if found is not None:
            self._items.move_to_end(key)
        return found

    def put(self, key: str, reasons: tuple[str, ...]) -> None:
        if self.size <= 0:
            return
        self._items[key] = reasons
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


class HttpGuardrailProvider(anyio.AsyncContextManagerMixin):
    """A ``GuardrailProvider`` that asks an HTTP service; use it inside ``async with``."""

    def __init__(
        self,
        settings: GuardrailProviderSettings,
        transport: httpx2.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self.cache = VerdictCache(settings.cache_size)
        self._transport = transport
        self._limiter = anyio.CapacityLimiter(settings.concurrency)
        self._client: httpx2.AsyncClient | None = None

    @property
    def name(self) -> str:
        """The configured name, else the URL's host and port."""
        return self.settings.name or urlsplit(self.settings.url).netloc.rpartition("@")[2]

    def guardrails(self) -> Guardrails:
        """The seam discovery calls, with this provider behind the built-in checks."""
        policy = ProviderSettings(
            timeout=self.settings.deadline, fail_closed=self.settings.fail == "closed"
        )
        return Guardrails(self, policy)

    @asynccontextmanager
    async def __asynccontextmanager__(self) -> AsyncGenerator[HttpGuardrailProvider]:
        headers = {"user-agent": f"mcp-discoveryd/{__version__}", "accept": "application/json"}
        headers |= {name: value.reveal() for name, value in self.settings.headers.items()}
        limits = httpx2.Limits(max_connections=self.settings.concurrency)
        async with httpx2.AsyncClient(
            headers=headers,
            limits=limits,
            timeout=httpx2.Timeout(self.settings.timeout),
            follow_redirects=False,
            trust_env=self._transport is None,
            transport=self._transport,
        ) as client:
            self._client = client
            try:
                yield self
            finally:
                self._client = None

    async def check_server(self, spec: ServerSpec) -> tuple[str, ...]:
        """The provider's reasons to block the server (empty = allowed); raises on failure."""
        view = wire.server_view(spec)
        key = wire.content_id("server", view)
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        answer = await self._post(wire.server_request(view), wire.Verdict)
        reasons = () if answer.allow else answer.shown_reasons(self.name)
        self.cache.put(key, reasons)
        return reasons

    async def check_tools(self, spec: ServerSpec, tools: Sequence[JSONObject]) -> ToolVerdict:
        """Each tool judged by its cached verdict or a batched request; failed ones by policy."""
        view = wire.server_view(spec)
        secrets = spec.target.secrets()
        sent = [wire.scrubbed(tool, secrets) for tool in tools]
        ids = [wire.content_id("tool", view, tool) for tool in sent]
        reasons: dict[str, tuple[str, ...]] = {}
        failures: dict[str, str] = {}
        unknown: dict[str, JSONObject] = {}
        for tool_id, tool in zip(ids, sent, strict=True):
            cached = self.cache.get(tool_id)
            if cached is not None:
                reasons[tool_id] = cached
            else:
                unknown.setdefault(tool_id, tool)
        pending = list(unknown.items())
        size = self.settings.batch_size

        async def ask(batch: list[tuple[str, JSONObject]]) -> None:
            try:
                found = await self._ask_tools(view, batch)
            except GuardrailProviderError as exc:
                failures.update((tool_id, exc.failure) for tool_id, _ in batch)
                return
            for tool_id, _ in batch:
                if tool_id in found:
                    reasons[tool_id] = found[tool_id]
                    self.cache.put(tool_id, found[tool_id])
                else:
                    failures[tool_id] = "answered garbage (no verdict for the tool)"

        async with anyio.create_task_group() as tg:
            for start in range(0, len(pending), size):
                tg.start_soon(ask, pending[start : start + size])
        return self._verdict(spec, tools, ids, reasons, failures)

    def _verdict(
        self,
        spec: ServerSpec,
        tools: Sequence[JSONObject],
        ids: list[str],
        reasons: dict[str, tuple[str, ...]],
        failures: dict[str, str],
    ) -> ToolVerdict:
        kept: list[JSONObject] = []
        blocked: list[BlockedTool] = []
        warnings: list[BlockedTool] = []
        failed: dict[str, list[JSONObject]] = {}
        for tool, tool_id in zip(tools, ids, strict=True):
            if tool_id in failures:
                failed.setdefault(failures[tool_id], []).append(tool)
            elif reasons[tool_id]:
                blocked.append(BlockedTool(str(tool.get("name")), reasons[tool_id]))
            else:
                kept.append(tool)
        fail_closed = self.settings.fail == "closed"
        for failure, group in failed.items():
            verdict = failed_verdict(self.name, failure, spec, group, fail_closed=fail_closed)
            kept.extend(verdict.kept)
            blocked.extend(verdict.blocked)
            warnings.extend(verdict.warnings)
        return ToolVerdict(tuple(kept), tuple(blocked), tuple(warnings))

    async def _ask_tools(
        self, view: JSONObject, batch: list[tuple[str, JSONObject]]
    ) -> dict[str, tuple[str, ...]]:
        answer = await self._post(wire.tools_request(view, batch), wire.ToolsAnswer)
        asked = {tool_id for tool_id, _ in batch}
        return {
            v.id: (() if v.allow else v.shown_reasons(self.name))
            for v in answer.verdicts
            if v.id in asked
        }

    async def _post(self, body: JSONObject, model: type[A]) -> A:
        """One request under the limiter and ``timeout``; the answer parsed as ``model``."""
        client = self._client
        if client is None:
            raise RuntimeError("HttpGuardrailProvider used outside 'async with'")
        timeout = self.settings.timeout
        async with self._limiter:
            try:
                with anyio.fail_after(timeout):
                    status, data = await _send(client, self.settings.url, body)
            except TimeoutError:
                raise GuardrailProviderError(f"timed out after {timeout:g} s") from None
            except httpx2.HTTPError as exc:  # the message may quote the URL: the type only
                raise GuardrailProviderError(f"unreachable ({type(exc).__name__})") from None
        if status != 200:
            raise GuardrailProviderError(f"answered HTTP {status}")
        try:
            parsed = json.loads(data)
        except (ValueError, RecursionError):
            raise GuardrailProviderError("answered garbage (not JSON)") from None
        try:
            return model.model_validate(parsed)
        except ValidationError:
            raise GuardrailProviderError("answered garbage (not the documented shape)") from None


async def _send(client: httpx2.AsyncClient, url: str, body: JSONObject) -> tuple[int, bytes]:
    """POST ``body``; the status and the answer, read up to ``MAX_ANSWER_BYTES`` (then garbage)."""
    content = json.dumps(body, default=str).encode()  # ASCII: a lone surrogate stays valid JSON
    headers = {"content-type": "application/json"}
    async with client.stream("POST", url, content=content, headers=headers) as response:
        chunks: list[bytes] = []
        seen = 0
        async for chunk in response.aiter_bytes():
            seen += len(chunk)
            if seen > MAX_ANSWER_BYTES:
                raise GuardrailProviderError(f"answered more than {MAX_ANSWER_BYTES} bytes")
            chunks.append(chunk)
        return response.status_code, b"".join(chunks)
