"""Tool-poisoning signs in one string: hidden characters, fake prompt tags, orders to the model.

``scan_text`` names every sign in a string as a short, stable phrase; the matched text
itself is never echoed. ``poisoning`` walks a tool's values and scans each string here.
Most strings are printable ASCII and take one lowered ASCII search (``_ASCII_SIGN_RE``);
the rest are folded first (``normalise``) so one invisible or look-alike character
changes nothing.
"""

from __future__ import annotations

import re

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
# The same question for ASCII text with no control character but tab, line feed and
# carriage return (nearly every string), asked of the text in lower case: the patterns
# lowered (they use lower-case escapes only), ASCII classes, no IGNORECASE and one
# leading \b for the instructions, about five times faster. The answer is the same: on
# such text, case-insensitive matching is matching the lowered text, and ASCII classes
# match as the Unicode ones do (their difference, \s on U+001C..U+001F, is not there).
_WORD = r"\b"
_INSTRUCTION_PATTERNS = tuple(p for _, patterns in _INSTRUCTIONS for p in patterns)
_AFTER_WORD = tuple(p.removeprefix(_WORD) for p in _INSTRUCTION_PATTERNS if p.startswith(_WORD))
_ASCII_SIGN_RE = re.compile(
    "|".join(
        (
            _WORD + "(?:" + "|".join(f"(?:{p})" for p in _AFTER_WORD) + ")",
            *(f"(?:{p})" for p in _INSTRUCTION_PATTERNS if not p.startswith(_WORD)),
            f"(?:{_TAG_RE.pattern})",
            f"(?:{_CHAT_TOKEN_RE.pattern})",
        )
    ).lower(),
    re.ASCII,
)


def scan_text(text: str) -> list[str]:
    """Every poisoning sign in one string, each once, as stable phrases.

    Patterns match the folded text (NFKC, invisible characters removed, look-alikes of
    ASCII letters read as those letters) and, when characters were removed, also the
    text with each one read as a space; hidden characters are a sign of their own.
    """
    if text.isascii() and (text.isprintable() or not removed(text)):
        # Nearly every string: nothing to remove or fold, so only the patterns can hit.
        return _pattern_signs(text) if _ASCII_SIGN_RE.search(text.lower()) else []
    dropped = removed(text)
    signs: dict[str, None] = {}
    hidden = _hidden_sign(dropped)
    if hidden:
        signs[hidden] = None
    folded = (fold(text), spaced(text)) if dropped else (fold(text),)
    for variant in map(unconfuse, folded):
        if _ANY_SIGN_RE.search(variant):
            signs.update(dict.fromkeys(_pattern_signs(variant)))
    return list(signs)


def _pattern_signs(text: str) -> list[str]:
    """The tag, token and instruction signs in one variant of a text, each once."""
    signs = dict.fromkeys(_tag_signs(text))
    signs.update(dict.fromkeys(sign for sign, pattern in _INSTRUCTION_RES if pattern.search(text)))
    return list(signs)


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
