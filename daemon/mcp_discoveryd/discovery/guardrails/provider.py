"""The guardrail seam phases call: the built-in checks, then an optional external provider.

``Guardrails`` is what discovery runs. The built-in checks are pure and fast, so
they run inline; only an external provider (an HTTP guardrail service implementing
``GuardrailProvider``) can wait, so only its calls run in a task group, each
through ``guarded_check_server``/``guarded_check_tools``, which give it its own
deadline and decide what a failure means: by default fail-closed (a provider that
times out or breaks blocks the server or its tools), or fail-open by setting. A
failure is reported by the exception's type only (its message might carry a
header or a token), except ``GuardrailProviderError``, whose text is built from
our own data. A server or tool the built-in checks block is not sent to the
provider. The HTTP provider is ``http_provider``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import anyio

from ...errors import GuardrailProviderError
from ...models import BlockedTool, JSONObject, ServerSpec
from .servers import check_server
from .tools import ToolVerdict, check_tools

if TYPE_CHECKING:
    from ...config.settings import DaemonConfig

logger = logging.getLogger(__name__)


class GuardrailProvider(Protocol):
    """Something that judges servers and their tools; may be slow or fail."""

    @property
    def name(self) -> str: ...

    async def check_server(self, spec: ServerSpec) -> tuple[str, ...]:
        """Violations of the server (empty = allowed)."""
        ...

    async def check_tools(self, spec: ServerSpec, tools: Sequence[JSONObject]) -> ToolVerdict:
        """Which of the server's tools to keep, block (with reasons) or warn about."""
        ...


@dataclass(frozen=True, slots=True)
class ProviderSettings:
    """How long a provider may take, and whether its failure blocks (fail-closed)."""

    timeout: float = 5.0
    fail_closed: bool = True


@dataclass(frozen=True, slots=True)
class Guardrails:
    """The server and tool guardrails of a run: built-in, plus ``provider`` when there is one."""

    provider: GuardrailProvider | None = None
    settings: ProviderSettings = ProviderSettings()

    async def check_servers(self, specs: Sequence[ServerSpec]) -> list[tuple[str, ...]]:
        """Each spec's violations, in order (empty = allowed)."""
        found = [check_server(spec) for spec in specs]
        provider = self.provider
        if provider is None:
            return found

        async def ask(index: int) -> None:
            more = await guarded_check_server(provider, specs[index], self.settings)
            found[index] = tuple(dict.fromkeys((*found[index], *more)))

        async with anyio.create_task_group() as tg:
            for index, violations in enumerate(found):
                if not violations:
                    tg.start_soon(ask, index)
        return found

    async def check_tools(self, spec: ServerSpec, tools: Sequence[JSONObject]) -> ToolVerdict:
        """The tools to keep, block (with reasons) or warn about, under ``spec``'s policy."""
        verdict = check_tools(tools, spec.tool_policy)
        if self.provider is None or not verdict.kept:
            return verdict
        judged = await guarded_check_tools(self.provider, spec, verdict.kept, self.settings)
        return ToolVerdict(
            kept=judged.kept,
            blocked=verdict.blocked + judged.blocked,
            warnings=verdict.warnings + judged.warnings,
        )


async def guarded_check_server(
    provider: GuardrailProvider, spec: ServerSpec, settings: ProviderSettings
) -> tuple[str, ...]:
    """The provider's violations, or (when it fails) one violation if fail-closed, else none."""
    try:
        with anyio.fail_after(settings.timeout):
            return tuple(await provider.check_server(spec))
    except Exception as exc:  # noqa: BLE001 -- a provider failure is a verdict, not a crash
        failure = _failure(exc, settings)
    if settings.fail_closed:
        return (f"guardrail provider '{provider.name}' {failure}; blocked (fail-closed)",)
    logger.warning(
        "guardrail provider %s %s for %s; allowed (fail-open)", provider.name, failure, spec.name
    )
    return ()


async def guarded_check_tools(
    provider: GuardrailProvider,
    spec: ServerSpec,
    tools: Sequence[JSONObject],
    settings: ProviderSettings,
) -> ToolVerdict:
    """The provider's verdict, or (when it fails) every tool blocked if fail-closed, else kept."""
    try:
        with anyio.fail_after(settings.timeout):
            return await provider.check_tools(spec, tools)
    except Exception as exc:  # noqa: BLE001 -- a provider failure is a verdict, not a crash
        failure = _failure(exc, settings)
    return failed_verdict(provider.name, failure, spec, tools, fail_closed=settings.fail_closed)


def failed_verdict(
    provider: str,
    failure: str,
    spec: ServerSpec,
    tools: Sequence[JSONObject],
    *,
    fail_closed: bool,
) -> ToolVerdict:
    """What a provider's failure means for ``tools``: all blocked (fail-closed), or all kept
    with a warning each (fail-open)."""
    if fail_closed:
        reason = f"guardrail provider '{provider}' {failure}; blocked (fail-closed)"
        blocked = tuple(BlockedTool(_name(tool, i), (reason,)) for i, tool in enumerate(tools))
        return ToolVerdict(kept=(), blocked=blocked)
    logger.warning(
        "guardrail provider %s %s for %s; tools allowed (fail-open)", provider, failure, spec.name
    )
    reason = f"guardrail provider '{provider}' {failure}; allowed unchecked (fail-open)"
    warnings = tuple(BlockedTool(_name(tool, i), (reason,)) for i, tool in enumerate(tools))
    return ToolVerdict(kept=tuple(tools), blocked=(), warnings=warnings)


def _failure(exc: Exception, settings: ProviderSettings) -> str:
    if isinstance(exc, GuardrailProviderError):
        return exc.failure  # built from our own data: safe to show
    if isinstance(exc, TimeoutError):
        return f"timed out after {settings.timeout:g} s"
    return f"failed ({type(exc).__name__})"


def _name(tool: JSONObject, index: int) -> str:
    name = tool.get("name")
    return name if isinstance(name, str) and name else f"<tool at index {index}>"


@asynccontextmanager
async def configured_guardrails(config: DaemonConfig) -> AsyncGenerator[Guardrails]:
    """The guardrails ``config`` asks for: built-in, plus its HTTP provider while open."""
    if config.guardrail_provider is None:
        yield Guardrails()
        return
    # Imported here: the provider's HTTP client (httpx2) is no cost to a run without one.
    from .http_provider import HttpGuardrailProvider

    async with HttpGuardrailProvider(config.guardrail_provider) as provider:
        yield provider.guardrails()
