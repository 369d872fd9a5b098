"""Suspicious command lines: what a stdio server's command and arguments should never do.

The server is spawned without a shell, but a command line can still start one
(``bash -c '...'``) or be a pasted installer one-liner. The checks look for the
shapes attackers use (a download piped into a shell, also through ``env``, ``sudo``,
an absolute path or ``tee`` stages; decoded payloads, reverse shells, ``eval``,
``rm -rf /``, chained shell scripts, inline code handed to an interpreter such as
``python -c`` or ``node -e``, ``env -S`` strings read as words) and leave ordinary
launchers alone: ``npx -y pkg``, ``uvx pkg``, ``python server.py``, ``node dist/index.js
stdio``, ``docker run -i --rm image``. Each finding is a fixed phrase; arguments
are never echoed, since they may hold secrets.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import PurePath

MAX_COMMAND_LINE = 65_536  # characters checked; a longer line is refused, not half-checked

_START = r"(?:^|(?<=[\s;&|(`'\"/]))"  # a word that begins a command (also after a path)
_PATH = r"(?:/?(?:[\w.~+-]{1,255}/){0,16})"  # a directory prefix; bounded, never scans past a word
# Commands that run the next word as a command: "curl x | env sh" pipes into sh all the same.
_WRAPPER = (
    rf"{_PATH}(?:sudo|doas|env|nohup|exec|command|nice|stdbuf|xargs|busybox|setsid)"
    r"(?:\s+(?:-[^\s|;&]{1,200}|[A-Za-z_]\w{0,100}=[^\s|;&]{0,1000})){0,4}\s+"
)
_RUNNER = (
    rf"(?:{_WRAPPER}){{0,3}}{_PATH}(?:(?:ba|da|z|k|mk|c|tc|fi|a)?sh|python[0-9.]*|pypy[0-9.]*"
    r"|perl|ruby|node|nodejs|deno|bun|php|iex|invoke-expression|pwsh|powershell)\b"
)
_GAP = r"[^|;&\n]{0,1000}"  # bounded: one pipeline stage, and no quadratic scans
# One to five pipeline stages ("curl x | tee f | sh"); "||" is not a pipe.
_STAGES = rf"(?:{_GAP}(?<!\|)\|(?!\|)){{1,5}}\s*"
_DOWNLOADERS = r"(?:curl|wget|fetch|iwr|irm|invoke-webrequest|invoke-restmethod)"

_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (label, re.compile(pattern, re.IGNORECASE))
    for label, pattern in (
        (
            "arguments pipe a download into a shell (curl ... | sh)",
            rf"{_START}{_DOWNLOADERS}\b{_STAGES}{_RUNNER}",
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
                rf"{_STAGES}{_RUNNER}"
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

# Interpreters handed a program as a string: an MCP server is a package or a file, and
# inline code is how droppers start. Each entry: the basename, and what marks inline code
# among the leading options (a flag, grouped short flags, or a subcommand).
_INLINE_LABEL = (
    "arguments hand inline code to an interpreter (python -c, node -e, perl -e, ruby -e, deno eval)"
)
_INTERPRETERS: tuple[tuple[re.Pattern[str], re.Pattern[str]], ...] = tuple(
    (re.compile(name), re.compile(flag))
    for name, flag in (
        (r"(?:python|pypy)[0-9.]*(?:\.exe)?", r"-[bBdEiIOqsSuvx]*c.*"),
        (r"(?:node|nodejs|bun)(?:\.exe)?", r"-(?:e|p|pe|ep)|--eval(?:=.*)?|--print(?:=.*)?"),
        (r"perl[0-9.]*(?:\.exe)?", r"-[0-9alnpswcTtUWX]*[eE].*"),
        (r"ruby[0-9.]*(?:\.exe)?", r"-[0-9acdlnpswvWx]*e.*"),
        (r"php[0-9.]*(?:\.exe)?", r"-r.*"),
        (r"deno(?:\.exe)?", r"eval"),
    )
)
_VALUE_FLAGS = frozenset({"-W", "-X", "-r", "--require", "--import", "--loader", "-I", "-M"})

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
    tokens = _split_env_strings(tokens)
    for index, token in enumerate(tokens):
        shell = PurePath(token).name.lower()
        rest = tokens[index + 1 :]
        if _has_inline_code(shell, rest):
            yield _INLINE_LABEL
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


def _split_env_strings(tokens: Sequence[str]) -> list[str]:
    """``env -S "bash -c 'a; b'"`` runs the split string: check its words as tokens."""
    out: list[str] = []
    for token in tokens:
        value = None
        if token.startswith("--split-string="):
            value = token.partition("=")[2]
        elif token.startswith("-S") and out and PurePath(out[-1]).name == "env":
            value = token[2:] or None
        if value is None and out and out[-1] in ("-S", "--split-string"):
            value = token
        if value is not None:
            out.extend(_words(value))
        else:
            out.append(token)
    return out


def _words(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError:  # unbalanced quotes: plain words are still worth checking
        return text.split()


def _has_inline_code(name: str, rest: Sequence[str]) -> bool:
    """Whether ``name rest...`` hands code to an interpreter among its leading options."""
    for interpreter, code_flag in _INTERPRETERS:
        if not interpreter.fullmatch(name):
            continue
        expects_value = False
        for token in rest[:8]:
            if code_flag.fullmatch(token):
                return True
            if not token.startswith("-") and not expects_value:
                return False  # the script or module: options after it are its own
            expects_value = token in _VALUE_FLAGS
        return False
    return False


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
