"""The suite's own leftover-process check sees orphaned grandchildren, not only children."""

from __future__ import annotations

import os
import signal
import subprocess
import time

from tests.conftest import descendants


def test_orphaned_grandchild_is_still_seen() -> None:
    """A grandchild whose parent exited is re-parented to pytest (subreaper) and found."""
    subprocess.run(["sh", "-c", "sleep 61 </dev/null >/dev/null 2>&1 &"], check=True)
    # The shell is gone, but its child may not have become "sleep 61" yet (forked, not yet
    # exec'd: still the shell's command line), a window a loaded machine widens.
    deadline = time.monotonic() + 10
    while not (found := [p for p in descendants().values() if p.cmdline == "sleep 61"]):
        if time.monotonic() > deadline:
            break
        time.sleep(0.01)
    for info in found:
        os.kill(info.pid, signal.SIGKILL)
        os.waitpid(info.pid, 0)
    assert len(found) == 1
    assert found[0].ppid == os.getpid()
