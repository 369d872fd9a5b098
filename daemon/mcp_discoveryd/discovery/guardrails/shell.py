"""Suspicious command lines: what a stdio server's command and arguments should never do.

The server is spawned without a shell, but a command line can still start one
(``bash -c '...'``) or be a pasted installer one-liner. The checks look for the
shapes attackers use (a download piped into a shell, decoded payloads, reverse
shells, ``eval``, ``rm -rf /``, chained shell scripts) and leave ordinary launchers
alone: ``npx -y pkg``, ``uvx pkg``, ``python server.py``, ``node dist/index.js
stdio``, ``docker run -i --rm image``. Each finding is a fixed phrase; arguments
are never echoed, since they may hold secrets.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import PurePath

MAX_COMMAND_LINE = 65_536  # characters checked; a longer line is refused, not half-checked

_START = r"(?:^|(?<=[\s;&|(`'\"/]))"  # a word that begins a command (also after a path)
_RUNNER = (
    r"(?:sudo\s+(?:-\S+\s+){0,4})?(?:\S*/)?(?:(?:ba|da|z|k|mk|c|tc|fi|a)?sh|python[0-9.]*"
    r"|perl|ruby|node|php|iex|invoke-expression|pwsh|powershell)\b"
)
_GAP = r"[^|;&\n]{0,1000}"  # bounded: one pipeline stage, and no quadratic scans
_DOWNLOADERS = r"(?:curl|wget|fetch|iwr|irm|invoke-webrequest|invoke-restmethod)"

_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (label, re.compile(pattern, re.IGNORECASE))
    for label, pattern in (
        (
            "arguments pipe a download into a shell (curl ... | sh)",
            rf"{_START}{_DOWNLOADERS}\b{_GAP}\|\s*{_RUNNER}",
        ),
        (
            "arguments run a download through command substitution ($(curl ...))",
            rf"(?:\$\(|`|<\()\s*{_DOWNLOADERS}\b",
        ),
        (
            "arguments pipe base64-decoded data into a shell",
            (
                r"(?:\bbase64\s+(?:-\S+\s+){0,3}?(?:-d|--decode|-D|-di|-id)\b|\bxxd\s+-r"
                r"|\bopenssl\s+(?:enc\s+|base64\s+)?(?:-\S+\s+){0,4}?-d\b)"
                rf"{_GAP}\|\s*{_RUNNER}"
            ),
        ),
        (
            "arguments open a reverse shell (/dev/tcp, nc -e, socat exec)",
            (
                rf"/dev/(?:tcp|udp)/|{_START}(?:nc|ncat|netcat)(?:\s+\S+){{0,6}}?\s+-[a-z]*[ec]\b"
                r"|\bsocat\b[^;&|\n]{0,200}?\b(?:exec|system):|\bbash\s+-i\s*>&|\bpty\.spawn\b"
                r"|\bos\.dup2\b"
            ),
        ),
        (
            "arguments evaluate dynamic code (eval)",
            (
                rf"{_START}eval\s+[\"'$`(]|(?<![\w.])(?:eval|exec)\s*\("
                rf"|{_START}(?:iex|invoke-expression)\b"
            ),
        ),
    )
)
_RM = re.compile(
    rf"{_START}rm((?:\s+-[-a-zA-Z]*){{1,4}})\s+[\"']?(?:/\*?|~/?\*?|\$\{{?HOME\}}?/?\*?)[\"']?"
    r"(?=$|[\s;&|)`])"
)
_RM_LABEL = "arguments delete the filesystem root or home directory (rm -rf /)"
_RECURSIVE = re.compile(r"(?:^|\s)-[a-zA-Z]*[rR]|--recursive\b")  # "--force" is not "-r"

_POSIX_SHELLS = frozenset(
    {"sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "fish", "tcsh", "csh"}
)
_CMD = frozenset({"cmd", "cmd.exe"})
_POWERSHELL = frozenset({"powershell", "powershell.exe", "pwsh", "pwsh.exe"})
_SCRIPT_FLAG = re.compile(r"-[a-zA-Z]*c[a-zA-Z]*")
_CHAINING = re.compile(r"[;&|\n`]|\$\(")

_PRELOAD_ENV = ("LD_PRELOAD", "LD_AUDIT", "DYLD_INSERT_LIBRARIES", "BASH_ENV")
_NODE_PRELOAD = re.compile(r"(?:^|\s)(?:-r|--require|--import|--(?:experimental-)?loader)\b")


def suspicious_command(command: str, args: Sequence[str]) -> list[str]:
    """Why a command line looks like an attack, each reason once; empty when it does not."""
    tokens = [command, *args]
    line = " ".join(tokens)
    if len(line) > MAX_COMMAND_LINE:
        return [f"command line is longer than {MAX_COMMAND_LINE} characters; too long to check"]
    found = [label for label, pattern in _PATTERNS if pattern.search(line)]
    if any(_RECURSIVE.search(m.group(1)) for m in _RM.finditer(line)) or (
        "--no-preserve-root" in line
    ):
        found.append(_RM_LABEL)
    found.extend(_shell_findings(tokens))
    return list(dict.fromkeys(found))


def suspicious_env(env: Mapping[str, str]) -> list[str]:
    """Environment variables that load foreign code into the server (values never shown)."""
    found = [
        f"environment sets {name} (loads code into the server process)"
        for name in _PRELOAD_ENV
        if env.get(name)
    ]
    if _NODE_PRELOAD.search(env.get("NODE_OPTIONS", "")):
        found.append("environment NODE_OPTIONS preloads a module (--require or --import)")
    return found


def _shell_findings(tokens: Sequence[str]) -> Iterator[str]:
    for index, token in enumerate(tokens):
        shell = PurePath(token).name.lower()
        rest = tokens[index + 1 :]
        if shell in _POSIX_SHELLS:
            flag, script = "-c", _posix_script(rest)
        elif shell in _CMD:
            flag, script = "/c", _after_flag(rest, lambda t: t.lower() in ("/c", "/k"))
        elif shell in _POWERSHELL:
            if any(_pwsh_flag(t, "encodedcommand", ("e", "ec"), 2) for t in rest[:6]):
                yield "arguments pass an encoded PowerShell command"
            flag = "-Command"
            script = _after_flag(rest, lambda t: _pwsh_flag(t, "command", ("c",), 1))
        else:
            continue
        if script is not None and _CHAINING.search(script):
            yield (
                f"arguments run a shell script with command chaining ({shell} {flag} with ;, &&, "
                "|| or |)"
            )


def _posix_script(rest: Sequence[str]) -> str | None:
    """The script of ``sh [-flags] -c SCRIPT`` (flags may be grouped, as in ``-lc``)."""
    for position, token in enumerate(rest[:5]):
        if _SCRIPT_FLAG.fullmatch(token):
            return rest[position + 1] if position + 1 < len(rest) else ""
    return None


def _after_flag(rest: Sequence[str], is_flag: Callable[[str], bool]) -> str | None:
    """Everything after the flag that starts an inline command (cmd /c, pwsh -Command)."""
    for position, token in enumerate(rest[:6]):
        if is_flag(token):
            return " ".join(rest[position + 1 :])
    return None


def _pwsh_flag(token: str, full: str, aliases: tuple[str, ...], shortest: int) -> bool:
    """PowerShell accepts any unambiguous prefix of a parameter, after - or /."""
    if token[:1] not in ("-", "/"):
        return False
    word = token[1:].lower()
    return word in aliases or (len(word) >= shortest and full.startswith(word))
