"""The stdio transport: one MCP server as a child process, watched and always cleaned up.

Our own transport rather than the SDK's ``stdio_client``, for four reasons:

- the close fits the caller's deadline: stdin is closed, the server gets what
  is left of the deadline (at most ``EXIT_GRACE``) to exit, then SIGTERM and
  SIGKILL go to its whole process group; the SDK waits a fixed 2 s + 2 s;
- the process group is always SIGKILLed after the server exits, so a grandchild
  it left in the background dies with it (the SDK only kills the group when
  the server itself does not exit). A grandchild that calls ``setsid`` leaves
  the group and is out of reach without cgroups (systemd's ``KillMode`` covers
  that case for the daemon as a whole);
- stderr goes to a pipe read by a task that keeps the last lines in memory, so
  error reports can quote them, with no temp files;
- stdout is read with a line cap (a reply larger than the catalog cap is cut
  off instead of buffered), and lines that are not JSON-RPC are counted: a few
  are tolerated (banners), many end the session as a protocol error.

The messages are parsed and framed exactly as the SDK does (newline-delimited
JSON-RPC through ``mcp_types.jsonrpc_message_adapter``). The SDK is imported
only after the spawn: it costs about 0.4 s, which the child's start covers.
"""

from __future__ import annotations

import logging
import os
import signal
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import anyio
from anyio.abc import ByteReceiveStream, Process
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from ...models import StdioTarget
from ..childenv import child_environment
from .buffering import REPLIES_BUFFERED, REQUESTS_BUFFERED

if TYPE_CHECKING:
    from .sdk_shim import SessionMessage

logger = logging.getLogger(__name__)

STDERR_TAIL_LINES = 20
STDERR_LINE_CHARS = 500  # longer stderr lines are cut; a tail is for people, not for logs
GARBAGE_LIMIT = 20  # non-JSON-RPC stdout lines tolerated before the session is abandoned
GARBAGE_SAMPLE_CHARS = 200
EXIT_GRACE = 1.0  # seconds a server gets to exit on its own once stdin is closed
TERM_GRACE = 0.5  # seconds between SIGTERM and SIGKILL
REAP_TIMEOUT = 2.0  # only an unkillable process (D state) runs this out
STDERR_FLUSH = 0.2  # seconds to read what stderr still holds once the group is dead


@dataclass(eq=False)
class StdioWatch:
    """What the transport saw of its child; read by the failure mapping after the close."""

    pid: int | None = None
    returncode: int | None = None
    stderr: deque[str] = field(default_factory=lambda: deque(maxlen=STDERR_TAIL_LINES))
    garbage_lines: int = 0
    garbage_sample: str | None = None
    gave_up: str | None = None  # "garbage" or "oversized" when the transport ended the session

    @property
    def spawned(self) -> bool:
        return self.pid is not None


async def spawn(target: StdioTarget) -> Process:
    """Start the server in its own process group; OSError when it cannot be started.

    Shielded: cancelled while asyncio waits for the new child's pipes, the child
    would be killed but never reaped (asyncio's own cleanup awaits again, and a
    cancelled scope cancels that await too). A pending cancellation lands at the
    caller's next await instead, where the child is in hand and is killed and reaped.
    """
    with anyio.CancelScope(shield=True):
        process = await anyio.open_process(
            [target.command, *target.args],
            env=child_environment(target, os.environ),
            cwd=target.cwd,
            start_new_session=True,  # pgid == pid: the whole tree can be signalled at once
        )
    return process


async def abandon(process: Process) -> None:
    """Kill and reap a spawned server that no transport adopted (cancelled in between)."""
    with anyio.CancelScope(shield=True):
        _signal_group(process.pid, signal.SIGKILL)
        with anyio.move_on_after(REAP_TIMEOUT):
            await process.aclose()


@asynccontextmanager
async def stdio_transport(
    target: StdioTarget,
    watch: StdioWatch,
    *,
    deadline: float,
    max_line_bytes: int,
    spawned: Process | OSError | None = None,
) -> AsyncIterator[
    tuple[
        MemoryObjectReceiveStream[SessionMessage | Exception],
        MemoryObjectSendStream[SessionMessage],
    ]
]:
    """Spawn the server in its own process group and bridge its pipes to message streams.

    Raises OSError when the process cannot be spawned (missing binary, not
    executable, bad working directory). The close is shielded and bounded by
    ``deadline`` (an ``anyio.current_time()`` value) plus the kill and reap.
    ``spawned``: a process ``spawn`` started earlier, adopted here (``watch.pid``
    says it was), or the OSError its spawn raised.
    """
    if isinstance(spawned, OSError):
        raise spawned
    process = spawned if spawned is not None else await spawn(target)
    # No awaits until the task group is entered: a cancellation in the gap would leak the child.
    watch.pid = process.pid
    # Quoted: the SDK's message type is imported once the child runs, not before.
    to_session, read_stream = anyio.create_memory_object_stream["SessionMessage | Exception"](
        REPLIES_BUFFERED
    )
    write_stream, from_session = anyio.create_memory_object_stream["SessionMessage"](
        REQUESTS_BUFFERED
    )
    async with anyio.create_task_group() as tg:
        tg.start_soon(_read_stdout, process, to_session, watch, max_line_bytes)
        stderr_done = anyio.Event()
        tg.start_soon(_read_stderr, process, watch, stderr_done)
        tg.start_soon(_write_stdin, process, from_session, to_session)
        polite = True
        try:
            yield read_stream, write_stream
        except anyio.get_cancelled_exc_class():
            polite = False  # cancelled (deadline or shutdown): no grace, straight to the kill
            raise
        finally:
            with anyio.CancelScope(shield=True):
                read_stream.close()
                write_stream.close()
                await _stop(process, watch, deadline if polite else anyio.current_time())
                with anyio.move_on_after(STDERR_FLUSH):  # the last words are the useful ones
                    await stderr_done.wait()
                with anyio.move_on_after(REAP_TIMEOUT):
                    await process.aclose()  # closes the pipes and the asyncio transport
            tg.cancel_scope.cancel()


async def _read_stdout(
    process: Process,
    to_session: MemoryObjectSendStream[SessionMessage | Exception],
    watch: StdioWatch,
    max_line_bytes: int,
) -> None:
    """Frame stdout into messages; past a fault, keep draining so the server never blocks."""
    assert process.stdout is not None
    pending = bytearray()
    async with to_session:
        while (chunk := await _receive(process.stdout)) is not None:
            if watch.gave_up:
                continue
            if b"\n" not in chunk:
                pending += chunk
            else:
                *lines, rest = (bytes(pending) + chunk).split(b"\n")
                pending = bytearray(rest)
                for line in lines:
                    if not await _deliver(line, to_session, watch):
                        break
            if len(pending) > max_line_bytes and not watch.gave_up:
                watch.gave_up = "oversized"
                pending.clear()
            if watch.gave_up:
                to_session.close()  # the session sees the connection end: pending requests fail


async def _deliver(
    line: bytes, to_session: MemoryObjectSendStream[SessionMessage | Exception], watch: StdioWatch
) -> bool:
    """Send one line to the session; False once the session is gone or given up on."""
    import mcp_types  # after the spawn (imported once, then a dict lookup)

    from .sdk_shim import SessionMessage

    line = line.strip()
    if not line:
        return True
    try:
        message = mcp_types.jsonrpc_message_adapter.validate_json(line, by_name=False)
    except ValueError:  # not JSON, or JSON that is not JSON-RPC (pydantic's error is a ValueError)
        watch.garbage_lines += 1
        if watch.garbage_sample is None:
            watch.garbage_sample = line[:GARBAGE_SAMPLE_CHARS].decode(errors="replace")
        if watch.garbage_lines >= GARBAGE_LIMIT:
            watch.gave_up = "garbage"
            return False
        return True
    try:
        await to_session.send(SessionMessage(message))
    except (anyio.ClosedResourceError, anyio.BrokenResourceError):
        return False
    return True


async def _read_stderr(process: Process, watch: StdioWatch, done: anyio.Event) -> None:
    """Keep the last lines of stderr; a partial last line is kept too."""
    assert process.stderr is not None
    pending = b""
    try:
        while (chunk := await _receive(process.stderr)) is not None:
            *lines, pending = (pending + chunk).split(b"\n")
            pending = pending[-4 * STDERR_LINE_CHARS :]  # a line with no end must not grow forever
            for line in lines:
                _keep_stderr_line(watch, line)
    finally:
        _keep_stderr_line(watch, pending)
        done.set()


def _keep_stderr_line(watch: StdioWatch, line: bytes) -> None:
    text = line.decode(errors="replace").rstrip()
    if text.strip():
        watch.stderr.append(text[:STDERR_LINE_CHARS])


async def _write_stdin(
    process: Process,
    from_session: MemoryObjectReceiveStream[SessionMessage],
    to_session: MemoryObjectSendStream[SessionMessage | Exception],
) -> None:
    """Write each message as one line; a broken pipe ends the session instead of hanging it."""
    assert process.stdin is not None
    try:
        async with from_session:
            async for session_message in from_session:
                data = session_message.message.model_dump_json(by_alias=True, exclude_unset=True)
                await process.stdin.send(data.encode() + b"\n")
    except (anyio.ClosedResourceError, anyio.BrokenResourceError, OSError):
        to_session.close()


async def _receive(stream: ByteReceiveStream) -> bytes | None:
    """The next chunk; None at end of stream or when the pipe was closed under the read."""
    try:
        return await stream.receive()
    except (anyio.EndOfStream, anyio.ClosedResourceError, anyio.BrokenResourceError, OSError):
        return None


async def _stop(process: Process, watch: StdioWatch, deadline: float) -> None:
    """Close stdin, let the server exit within the deadline, else escalate; then kill the group."""
    assert process.stdin is not None
    with suppress(OSError, anyio.BrokenResourceError, anyio.ClosedResourceError):
        await process.stdin.aclose()
    grace = 0.0 if watch.gave_up else EXIT_GRACE  # a server we gave up on gets no courtesy
    if not await _exited(process, min(grace, deadline - anyio.current_time())):
        _signal_group(process.pid, signal.SIGTERM)
        if not await _exited(process, min(TERM_GRACE, deadline - anyio.current_time())):
            _signal_group(process.pid, signal.SIGKILL)
            if not await _exited(process, REAP_TIMEOUT):
                logger.warning("MCP server process %d survived SIGKILL; abandoning it", process.pid)
    # The server is gone; whatever it left in its process group goes too.
    _signal_group(process.pid, signal.SIGKILL)
    watch.returncode = process.returncode


async def _exited(process: Process, within: float) -> bool:
    """Whether the process exited within ``within`` seconds (exit status, not pipe EOF)."""
    if process.returncode is None and within > 0:
        with anyio.move_on_after(within):
            await process.wait()
    return process.returncode is not None


def _signal_group(pgid: int, signum: signal.Signals) -> None:
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)
