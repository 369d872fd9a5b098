"""Tool-poisoning detectors: text a tool shows the model that aims to hijack it.

``scan_text`` looks at one string; ``scan_value`` walks a JSON value (a schema)
and scans every string in it, keys included, within a shared ``Budget`` so a
hostile schema cannot make the check slow. The detectors aim at signs an honest
tool never needs (hidden characters, fake system tags, orders to ignore earlier
instructions, to hide things from the user or to read credential files), not
at every sentence that speaks to the model: "Important: returns at most 100
rows" and "Ignore case when matching" are ordinary descriptions and pass.

Each sign is a short, stable phrase (``Finding.sign``); the matched text itself
is never echoed, so a reason can be shown to a person and grouped by a dashboard.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import islice

from .normalise import fold, is_reported, removed, spaced, unconfuse

_HIDDEN_LISTED = 3  # code points named in one finding; the rest are counted

# Verbs and fillers are closed lists: "ignore formatting instructions in the input" has
# a word outside them between the verb and the noun and so is not an order to the model.
_IGNORE = r"\b(?:ignore|disregard|forget|override|bypass)\s+"
_FILLER = r"(?:(?:all|any|every|each|the|your|these|those|my|of|such)\s+){0,3}"
_EARLIER_WORD = (
    r"(?:previous|prior|above|earlier|preceding|foregoing|former|original|initial|system|other"
    r"|existing|developer)\s+"
)
_USER = r"(?:the\s+)?users?\b"
_SENSITIVE_PATH = (
    r"(?:(?:~|\$HOME|\$\{HOME\}|/home/[^/\s]+|/root)/\.(?:ssh|aws|gnupg|kube|docker|azure"
    r"|config/gcloud|netrc|git-credentials|npmrc|pypirc|bash_history|zsh_history)"
    r"|\bid_(?:rsa|dsa|ecdsa|ed25519)\b(?!\.pub)"
    r"|/etc/(?:shadow|passwd|sudoers)\b"
    r"|\bmcp\.json\b|\.cursor/|\bclaude_desktop_config\.json\b"
    r"|\.aws/credentials\b|\.git-credentials\b)"
)
_SENSITIVE_DATA = (
    r"(?:[~/$][^\s]*|system\s+prompt|conversation|chat\s+history|previous\s+messages"
    r"|context\s+window|environment(?:\s+variables)?|credentials?|secrets?|api\s+keys?"
    r"|private\s+keys?|ssh\s+keys?|instructions|config(?:uration)?\s+files?|mcp\s+config)"
)

_INSTRUCTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "instruction to ignore previous instructions",
        (
            _IGNORE + _FILLER + f"(?:{_EARLIER_WORD}){{0,2}}"
            r"(?:instructions?|system\s+prompts?|directives?)\b",
            _IGNORE + _FILLER + f"(?:{_EARLIER_WORD}){{1,2}}"
            r"(?:rules|guidelines|guidance|prompts?|commands|directions|orders|context)\b",
            _IGNORE + r"(?:(?:all|everything)\s+)?(?:the\s+)?above\b",
        ),
    ),
    (
        "instruction to hide information from the user",
        (
            r"\b(?:do\s+not|don'?t|never|must\s+not|should\s+not)\s+(?:tell|inform|notify|alert"
            r"|warn|show|reveal|disclose|mention)\s+(?:(?:this|it|that|these|anything)\s+"
            r"(?:to\s+)?)?" + _USER,
            r"\bwithout\s+(?:telling|informing|notifying|alerting|warning)\s+" + _USER,
            r"\b(?:hide|conceal|keep)\s+(?:this|it|that|these|them|the\s+\w+)\s+"
            r"(?:(?:hidden|secret)\s+)?from\s+" + _USER,
            (
                r"\bthe\s+users?\s+(?:must|should)\s*(?:not|never)\s+(?:know|see|notice|be\s+told"
                r"|find\s+out|be\s+informed|learn)\b"
            ),
        ),
    ),
    (
        "instruction to act secretly",
        (
            r"\b(?:secretly|covertly|surreptitiously|stealthily)\b",
            r"\bwithout\s+(?:the\s+)?users?'?s?\s+(?:knowledge|consent|awareness|noticing)\b",
        ),
    ),
    (
        "instruction to skip user confirmation",
        (
            (
                r"\b(?:do\s+not|don'?t|never)\s+(?:ask|request|wait)\s+(?:the\s+user\s+)?for\s+"
                r"(?:(?:any|their|user)\s+)?(?:confirmation|permission|approval|consent)\b"
            ),
        ),
    ),
    (
        "instruction to read a sensitive file",
        (
            r"\b(?:read|cat|open|load|send|upload|include|pass|attach|copy|grab|fetch|access"
            r"|print|output|exfiltrate|dump)\b[^.\n]{0,80}?" + _SENSITIVE_PATH,
        ),
    ),
    (
        "instruction to pass sensitive data to the tool",
        (
            r"\b(?:pass|put|place|insert|include|send|add|append|embed|provide|supply)\b"
            r"[^.\n]{0,40}?\b(?:contents?|text|value|data)\s+of\s+(?:the\s+|your\s+|all\s+"
            r"|this\s+)?" + _SENSITIVE_DATA,
            (
                r"\b(?:pass|put|place|insert|include|send|add|append|embed|provide|supply)\b"
                r"[^.\n]{0,40}?\b(?:entire|complete|full|whole)\s+(?:conversation|chat|system\s+prompt"
                r"|message\s+history|context\b)"
            ),
        ),
    ),
    (
        "instruction to send data to an external address",
        (
            (
                r"\b(?:send|forward|upload|post|transmit|exfiltrate|copy|bcc|cc|redirect|leak)\b"
                r"[^.\n]{0,80}?\bto\s+(?:https?://|[\w.+-]+@[\w-]+(?:\.[\w-]+)+"
                r"|\+?\d[\d ()-]{7,}\d)"
            ),
            r"\bexfiltrat\w*",
        ),
    ),
    (
        "instruction to override the model's instructions",
        (
            r"\byou\s+are\s+now\b",
            r"\bsystem\s+(?:instructions?|override)\s*:",
            r"\b(?:new|updated|real|actual|true|secret|hidden)\s+(?:system\s+)?instructions?\s*:",
            (
                r"\bthis\s+(?:instruction|rule|note|message|tool)\s+(?:overrides?|supersedes?"
                r"|takes\s+(?:precedence|priority))\b"
            ),
            (
                r"\b(?:takes?|has)\s+(?:precedence|priority)\s+over\s+(?:all\s+|any\s+)?(?:other"
                r"|previous|prior|system)\b"
            ),
        ),
    ),
    (
        "instruction to reveal the system prompt",
        (
            (
                r"\b(?:reveal|print|output|show|repeat|disclose|leak|send)\s+(?:me\s+)?(?:your|the)"
                r"\s+(?:system\s+prompt|initial\s+prompt|hidden\s+instructions)\b"
            ),
        ),
    ),
)
_INSTRUCTION_RES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (sign, re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE))
    for sign, patterns in _INSTRUCTIONS
)

# Tags that wrap orders to the model. The strong ones count even alone; the weak ones
# (``<system>``, ``<user>``) are also ordinary placeholders ("--name <user>") and so
# count only as a closing tag, which no placeholder has.
_STRONG_TAGS = ("important", "instructions", "instruction", "system_prompt", "system-prompt")
_WEAK_TAGS = (
    "system", "assistant", "user", "admin", "secret", "hidden", "critical", "note",
    "context", "prompt", "rules", "developer", "tool_instructions",
)  # fmt: skip
# Whitespace runs are bounded: two unbounded ``\s*`` side by side backtrack quadratically.
_TAG_RE = re.compile(
    r"<\s{0,3}(/)?\s{0,3}(" + "|".join(re.escape(t) for t in _STRONG_TAGS + _WEAK_TAGS) + r")"
    r"(?:\s[^<>]{0,80})?/?>",
    re.IGNORECASE,
)
_CHAT_TOKEN_RE = re.compile(
    r"<\|(?:im_start|im_end|system|user|assistant|endoftext|begin_of_text|start_header_id"
    r"|end_header_id|eot_id)\|>|\[/?INST\]|<</?SYS>>",
    re.IGNORECASE,
)
# Whether any tag, token or instruction sign is there at all, in one search: most strings
# have none, and the full scan makes a dozen searches per string.
_ANY_SIGN_RE = re.compile(
    "|".join(
        f"(?:{pattern.pattern})"
        for pattern in (_TAG_RE, _CHAT_TOKEN_RE, *(r for _, r in _INSTRUCTION_RES))
    ),
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on the work one tool's scan may do; past them the check reports itself incomplete."""

    max_depth: int = 64  # nesting levels inside one schema
    max_nodes: int = 20_000  # JSON values visited per tool
    max_chars: int = 262_144  # characters scanned per tool (honest tools use a few thousand)


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True, slots=True)
class Finding:
    """One poisoning sign at one place in a tool (``incomplete``: a limit stopped the scan)."""

    sign: str
    location: str
    incomplete: bool = False

    @property
    def reason(self) -> str:
        if self.incomplete:
            return f"tool poisoning check incomplete: {self.location} {self.sign}"
        return f"tool poisoning: {self.sign} in {self.location}"


class Budget:
    """The work left for one tool's scan, shared by all its fields."""

    def __init__(self, limits: Limits = DEFAULT_LIMITS) -> None:
        self.limits = limits
        self.nodes = limits.max_nodes
        self.chars = limits.max_chars
        self.exhausted: Finding | None = None

    def take_node(self, location: str) -> bool:
        """Count one visited value; False once the budget is spent (noted once in ``exhausted``)."""
        if self.exhausted is not None:
            return False
        if self.nodes <= 0:
            self._exhaust(location, f"has more than {self.limits.max_nodes} values")
            return False
        self.nodes -= 1
        return True

    def take_text(self, text: str, location: str) -> str:
        """The part of ``text`` the budget still allows scanning."""
        if len(text) > self.chars:
            self._exhaust(location, f"exceeds {self.limits.max_chars} characters of text")
            text = text[: max(self.chars, 0)]
        self.chars -= len(text)
        return text

    def _exhaust(self, location: str, detail: str) -> None:
        if self.exhausted is None:
            self.exhausted = Finding(detail, location, incomplete=True)


def scan_text(text: str) -> list[str]:
    """Every poisoning sign in one string, each once, as stable phrases.

    Patterns match the folded text (NFKC, invisible characters removed, look-alikes of
    ASCII letters read as those letters) and, when characters were removed, also the
    text with each one read as a space; hidden characters are a sign of their own.
    """
    dropped = removed(text)
    signs: dict[str, None] = {}
    hidden = _hidden_sign(dropped)
    if hidden:
        signs[hidden] = None
    if text.isascii() and not dropped:
        variants: tuple[str, ...] = (text,)
    else:
        folded = (fold(text), spaced(text)) if dropped else (fold(text),)
        variants = tuple(map(unconfuse, folded))
    for variant in variants:
        if _ANY_SIGN_RE.search(variant):
            signs.update(dict.fromkeys(_tag_signs(variant)))
            signs.update(
                dict.fromkeys(sign for sign, pattern in _INSTRUCTION_RES if pattern.search(variant))
            )
    return list(signs)


def scan_value(value: object, location: str, budget: Budget) -> list[Finding]:
    """Scan every string (and every key) inside a JSON value, depth first, within the budget.

    When the budget runs out the scan stops; the caller reports ``budget.exhausted``.
    """
    findings: list[Finding] = []
    # (value, where, depth, the key it sits under): keys are scanned when their value is
    # visited, so findings come out in document order.
    stack: list[tuple[object, str, int, object]] = [(value, location, 0, None)]
    depth_reported = False
    while stack:
        node, where, depth, key = stack.pop()
        if not budget.take_node(where):
            break
        if isinstance(key, str):
            text = budget.take_text(key, where)
            findings.extend(Finding(s, f"key {where}") for s in scan_text(text))
        if isinstance(node, str):
            findings.extend(Finding(s, where) for s in scan_text(budget.take_text(node, where)))
            continue
        if not isinstance(node, Mapping | list | tuple):
            continue
        if depth >= budget.limits.max_depth:
            if not depth_reported:
                detail = f"nests deeper than {budget.limits.max_depth} levels"
                findings.append(Finding(detail, where, incomplete=True))
                depth_reported = True
            continue
        # Never materialise more children than the budget can still visit (+1 to notice).
        room = budget.nodes + 1
        if isinstance(node, Mapping):
            children = [
                (child, f"{where}.{display_key(k)}", depth + 1, k)
                for k, child in islice(node.items(), room)
            ]
        else:
            children = [
                (child, f"{where}[{i}]", depth + 1, None)
                for i, child in enumerate(islice(node, room))
            ]
        stack.extend(reversed(children))
    return findings


def scan_fields(
    fields: Iterable[tuple[str, object]], limits: Limits = DEFAULT_LIMITS
) -> list[Finding]:
    """Scan named values (a tool's description, schemas, ...) under one budget."""
    budget = Budget(limits)
    findings: list[Finding] = []
    for location, value in fields:
        findings.extend(scan_value(value, location, budget))
    if budget.exhausted is not None:
        findings.append(budget.exhausted)
    return findings


_PLAIN_KEY = re.compile(r"[A-Za-z0-9_$-]{1,40}")


def display_key(key: object) -> str:
    """A key as a path segment that is safe to show: short, printable, ASCII."""
    text = key if isinstance(key, str) else str(key)
    if _PLAIN_KEY.fullmatch(text):
        return text
    shown = json.dumps(text[:40], ensure_ascii=True)
    return f"[{shown}{'...' if len(text) > 40 else ''}]"


def _hidden_sign(dropped: list[str]) -> str | None:
    codes = [f"U+{cp:04X}" for cp in dict.fromkeys(map(ord, dropped)) if is_reported(cp)]
    if not codes:
        return None
    if len(codes) == 1:
        return f"hidden character {codes[0]}"
    listed = ", ".join(codes[:_HIDDEN_LISTED])
    rest = len(codes) - _HIDDEN_LISTED
    return f"hidden characters {listed}" + (f" and {rest} more" if rest > 0 else "")


def _tag_signs(text: str) -> list[str]:
    signs: dict[str, None] = {}
    for match in _TAG_RE.finditer(text):
        closing, name = match.group(1), match.group(2).lower()
        if closing or name in _STRONG_TAGS:
            signs.setdefault(f"<{name.upper()}> tag")
    if _CHAT_TOKEN_RE.search(text):
        signs.setdefault("chat-template control token")
    return list(signs)
