"""Recognising secrets in command-line arguments and URLs, without ever returning them.

A secret in argv is visible to every local user (``ps``, ``/proc/*/cmdline``) and
ends up in logs and status output; the place for it is the server's env (or, for
remote servers, a header). Functions here say *what kind* of secret they saw,
never the value.

What counts: known token shapes anywhere in an argument; the value after a flag
named like a secret (``--token``, ``--api-key``, ``--db-password=...``); the value
of ``NAME=VALUE`` where the name looks like a secret (``OPENAI_API_KEY=...``, as
``docker run -e`` takes it). Placeholders (``${TOKEN}``, ``$TOKEN``, ``<token>``,
``{{token}}``, an env-variable name) are not secrets. A token-like value must be at
least 12 characters with some entropy; after a password flag any literal counts.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Literal
from urllib.parse import SplitResult, parse_qsl

_SHAPES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (what, re.compile(pattern))
    for what, pattern in (
        ("a GitHub token", r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{22,})"),
        ("a GitLab token", r"\bglpat-[A-Za-z0-9_-]{20,}"),
        # sk-..., sk-proj-..., sk-ant-...; the look-behind keeps "task-" and "disk-" out.
        ("an API key (sk-...)", r"(?<![A-Za-z0-9_-])sk-[A-Za-z0-9_-]*[0-9][A-Za-z0-9_-]*"),
        ("a Slack token", r"\bxox[abposre]-[A-Za-z0-9-]{10,}"),
        ("an AWS access key ID", r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"),
        ("a Google API key", r"\bAIza[0-9A-Za-z_-]{35}"),
        ("a Stripe key", r"\b[rs]k_(?:live|test)_[0-9A-Za-z]{16,}"),
        ("a Hugging Face token", r"\bhf_[A-Za-z0-9]{30,}"),
        ("an npm token", r"\bnpm_[A-Za-z0-9]{36}\b"),
        ("a JWT", r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
        ("a private key", r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
        ("a bearer token", r"\b(?:Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{16,}"),
        # scheme://user:password@host, unless the password is a ${VAR} placeholder.
        ("a URL with a password", r"\b[a-z][a-z0-9+.-]{0,30}://[^/\s:@]+:(?![$%{<])[^/\s@]+@"),
    )
)
_MIN_SK_LENGTH = 23  # "sk-" and at least 20 more

# A flag, variable or query name that says its value is a secret: the keyword is the
# last word ("--github-token", "DB_PASSWORD", "accessToken"), so "--token-file",
# "TOKEN_URL" and "TOKENIZER" are not.
_PASSWORD_NAME = re.compile(r"(?:^|_)(?:password|passwd|passphrase)$")
_SECRET_NAME = re.compile(
    r"(?:^|_)(?:token|secret|credentials?|pat|apikey"
    r"|(?:api|access|private|secret|signing|encryption|master)_?key)$"
)
_CAMEL_HUMP = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_ASSIGNMENT = re.compile(r"(?:--env=|-e)?([A-Za-z_][A-Za-z0-9_]*)=(.*)", re.DOTALL)
_PLACEHOLDER = re.compile(
    r"\$\{?[A-Za-z_][A-Za-z0-9_]*\}?|<[^<>]*>|\{\{.*\}\}|%[A-Za-z_][A-Za-z0-9_]*%"
    r"|[A-Z_][A-Z0-9_]*|env:.*|\*+|x+|\.\.\.",
    re.DOTALL,
)
_MIN_TOKEN_LENGTH = 12
_MIN_TOKEN_ENTROPY = 3.0  # bits per character; "aaaaaaaaaaaa" and "changeme" stay out


def arg_secrets(args: Sequence[str]) -> Iterator[tuple[int, str]]:
    """(index, what) for each argument that looks like a secret, at most once per argument."""
    for index, arg in enumerate(args):
        what = token_shape(arg) or _assignment(arg) or _flag_value(args, index)
        if what is not None:
            yield index, what


def url_secrets(url: SplitResult) -> list[str]:
    """Why a URL carries a secret: a password, a token shape, a secret-named query value."""
    found: list[str] = []
    if url.password:
        found.append("URL contains a password; pass credentials in a header instead")
    what = token_shape(url.geturl())
    if what is not None and what != "a URL with a password":
        found.append(f"URL contains a secret ({what}); pass it in a header instead")
    for name, value in parse_qsl(url.query, keep_blank_values=True):
        if _secret_kind(name) is not None and _literal(value, password=False):
            shown = name if len(name) <= 40 else name[:40] + "..."
            found.append(
                f"URL query parameter '{shown}' looks like a secret; pass it in a header instead"
            )
    return found


def token_shape(text: str) -> str | None:
    """The kind of known token found in ``text``, if any."""
    for what, pattern in _SHAPES:
        for match in pattern.finditer(text):
            if what.startswith("an API key") and len(match.group()) < _MIN_SK_LENGTH:
                continue
            return what
    return None


def _flag_value(args: Sequence[str], index: int) -> str | None:
    """The argument is the value of a secret-named flag (``--token=V`` or ``--token V``)."""
    arg = args[index]
    if arg.startswith("-") and "=" in arg:
        flag, value = arg.split("=", 1)
    elif index > 0 and args[index - 1].startswith("-") and "=" not in args[index - 1]:
        flag, value = args[index - 1], arg
        if value.startswith("-"):
            return None
    else:
        return None
    kind = _secret_kind(flag)
    if kind is None:
        return None
    return f"value of {flag}" if _literal(value, password=kind == "password") else None


def _assignment(arg: str) -> str | None:
    """The argument is ``NAME=VALUE`` with a secret-looking name (``-e API_KEY=...``)."""
    match = _ASSIGNMENT.fullmatch(arg)
    if match is None:
        return None
    name, value = match.groups()
    kind = _secret_kind(name)
    if kind is None:
        return None
    return f"value of {name}" if _literal(value, password=kind == "password") else None


def _secret_kind(name: str) -> Literal["password", "token"] | None:
    """Whether a name (flag, variable, query key) announces a password, a token, or neither."""
    words = _CAMEL_HUMP.sub("_", name.lstrip("-")).replace("-", "_").lower()
    if _PASSWORD_NAME.search(words):
        return "password"
    return "token" if _SECRET_NAME.search(words) else None


def _literal(value: str, *, password: bool) -> bool:
    """True when ``value`` is a literal secret rather than empty or a placeholder."""
    value = value.strip().strip("'\"")
    if not value or _PLACEHOLDER.fullmatch(value):
        return False
    if password:
        return True
    return len(value) >= _MIN_TOKEN_LENGTH and _entropy(value) >= _MIN_TOKEN_ENTROPY


def _entropy(text: str) -> float:
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())
