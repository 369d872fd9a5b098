"""Secret values: decided where they enter the config, masked everywhere they could be shown.

A child's ``env`` values, header values, Redis passwords and URL credentials (user
info, credential-like query values) are held as ``Secret`` or ``SecretUrl``. Their
``repr``, ``str`` and ``format`` are masked and ``json`` refuses them; the value
comes out only through ``reveal()``, which the transports call at the moment of use.
Nothing rewrites the daemon's own output: text an upstream sent (error messages,
stderr) is the only text that gets ``scrub``bed, where it enters an error.
"""

from __future__ import annotations

import base64
import re
import traceback
from collections.abc import Iterable
from urllib.parse import SplitResult, parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

MASK = "***"
INVALID_URL = "<invalid url>"  # what the credential-free URL shapes give for an unparsable URL
MIN_SCRUB_CHARS = 4  # shorter values ("1", "on") would mask ordinary text and hide nothing
WHOLE_TOKEN_BELOW = 8  # a shorter value is masked only as a whole token ("info", not "information")

# Authorization schemes whose credential may appear bare ("abc123" as well as "Bearer abc123").
_AUTH_SCHEMES = frozenset({"bearer", "basic", "token", "bot", "apikey", "digest"})
# Query parameters that carry credentials besides those named like one (an OAuth code, a signature).
_CREDENTIAL_QUERY = frozenset({"key", "sig", "code", "auth"})
_CREDENTIAL_VARIABLE = re.compile(
    r"PASSWORD|PASSWD|SECRET|TOKEN|CREDENTIAL|APIKEY|API_KEY|PRIVATE_KEY|AUTHORIZATION|COOKIE"
    r"|SIGNATURE|(?:^|_)(?:KEY|PASS|AUTH|PAT|SIG)$",
    re.IGNORECASE,
)


def looks_like_credential(name: str) -> bool:
    """True for variable or header names that conventionally hold secrets (``X-Api-Key``)."""
    return _CREDENTIAL_VARIABLE.search(name.replace("-", "_")) is not None


def looks_like_token(value: str) -> bool:
    """True for values shaped like a key or password: 8+ characters, no blanks, a digit or both cases.

    ``info``, ``success``, ``application/json`` and ``hello world`` are not.
    """
    if len(value) < WHOLE_TOKEN_BELOW or any(c.isspace() for c in value):
        return False
    mixed_case = any(c.islower() for c in value) and any(c.isupper() for c in value)
    return mixed_case or any(c.isdigit() for c in value)


class _Sealed:
    """Frozen, equal and hashed by value (the credential flag aside).

    Not a dataclass, so ``dataclasses.asdict`` of a target cannot reach the value.
    """

    __slots__ = ("_value", "credential")
    _value: str
    credential: bool  # upstream text is scrubbed of it; every Secret is masked all the same

    def __init__(self, value: str, credential: bool = True) -> None:
        if not isinstance(value, str):
            raise TypeError(f"{type(self).__name__} holds a str, not {type(value).__name__}")
        object.__setattr__(self, "_value", value)
        object.__setattr__(self, "credential", credential)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other._value == self._value

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._value))

    def __reduce__(self) -> tuple[type[_Sealed], tuple[str, bool]]:
        return (type(self), (self._value, self.credential))


class Secret(_Sealed):
    """A secret string: never shown by repr, str, format or json."""

    __slots__ = ()

    def reveal(self) -> str:
        """The value itself; call only where it is used (a spawn, a request, a connection)."""
        return self._value

    def forms(self) -> frozenset[str]:
        """What an upstream may echo: the value and, for ``Bearer abc123``, ``abc123``."""
        scheme, _, credential = self._value.partition(" ")
        found = {self._value}
        if scheme.lower() in _AUTH_SCHEMES and credential.strip():
            found.add(credential.strip())
        return frozenset(found)

    def __repr__(self) -> str:
        return f"Secret({MASK!r})"

    def __str__(self) -> str:
        return MASK

    def __format__(self, spec: str) -> str:
        return MASK


def url_without_credentials(url: str) -> str:
    """The URL with its password and query values blanked (user and query names, in order, kept)."""
    found = _split_host(url)
    if found is None:
        return INVALID_URL
    parts, host = found
    user = parts.username
    netloc = f"{user}@{host}" if user is not None else host
    query = urlencode([(name, "") for name, _ in parse_qsl(parts.query, keep_blank_values=True)])
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def url_without_secrets(url: str) -> str:
    """Scheme, host, port and path only: no user info, no query, no fragment."""
    found = _split_host(url)
    if found is None:
        return INVALID_URL
    parts, host = found
    return f"{parts.scheme}://{host}{parts.path}"


def _split_host(url: str) -> tuple[SplitResult, str] | None:
    """The URL's parts and its ``host[:port]`` (IPv6 in brackets); None when unparsable."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return None
    if ":" in host:
        host = f"[{host}]"
    return parts, f"{host}{port}"


class SecretUrl(_Sealed):
    """A URL that may carry credentials; shown with its password and credential query masked."""

    __slots__ = ()

    def reveal(self) -> str:
        """The URL itself, credentials included: only for the connection."""
        return self._value

    def secrets(self) -> tuple[Secret, ...]:
        """The password of the user info and the credential-like query values, as given."""
        try:
            parts = urlsplit(self._value)
            password = parts.password
        except ValueError:
            return (Secret(self._value),)  # unparsable: the whole text is the secret
        found = [password] if password else []
        if password:  # HTTP clients send user info as Basic auth: an upstream may echo that
            pair = f"{unquote(parts.username or '')}:{unquote(password)}".encode()
            found.append("Basic " + base64.b64encode(pair).decode())
        found += [v for k, v in parse_qsl(parts.query, keep_blank_values=True) if _secret_query(k)]
        return tuple(Secret(v) for v in dict.fromkeys(found) if v)

    def masked(self) -> str:
        """The URL with ``user:***@`` and ``?api_key=***``: safe to show a person."""
        try:
            parts = urlsplit(self._value)
            password, host = parts.password, parts.netloc.rpartition("@")[2]
        except ValueError:
            return MASK
        netloc = parts.netloc
        if password is not None:
            netloc = f"{parts.netloc.rpartition('@')[0].partition(':')[0]}:{MASK}@{host}"
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        query = parts.query
        if any(_secret_query(k) for k, _ in pairs):
            shown = [(k, MASK if _secret_query(k) else v) for k, v in pairs]
            query = urlencode(shown, safe="*", quote_via=quote)
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))

    def __repr__(self) -> str:
        return f"SecretUrl({self.masked()!r})"

    def __str__(self) -> str:
        return self.masked()

    def __format__(self, spec: str) -> str:
        return format(self.masked(), spec)


def _secret_query(name: str) -> bool:
    return name.lower() in _CREDENTIAL_QUERY or looks_like_credential(name)


def scrub(text: str, secrets: Iterable[Secret]) -> str:
    """``text`` (from an upstream) with every form of every credential masked, longest first.

    Percent-decoded forms count too, since servers echo URLs decoded. Values shorter
    than MIN_SCRUB_CHARS are left alone; short ones are masked only as whole tokens.
    Secrets that are not credentials (``DEBUG = "true"``) are masked in the daemon's
    own values but not searched for in what an upstream says.
    """
    forms: set[str] = set()
    for secret in secrets:
        if not secret.credential:
            continue
        for form in secret.forms():
            forms.update((form, unquote(form)))
    for form in sorted(forms, key=len, reverse=True):
        if len(form) < MIN_SCRUB_CHARS or form not in text:
            continue
        if len(form) >= WHOLE_TOKEN_BELOW:
            text = text.replace(form, MASK)
        else:
            text = re.sub(rf"(?<![A-Za-z0-9]){re.escape(form)}(?![A-Za-z0-9])", MASK, text)
    return text


def scrubbed_traceback(exc: BaseException, secrets: Iterable[Secret]) -> str:
    """The exception's traceback as text, scrubbed like upstream text: for logging a bug
    whose message may quote what an upstream or a config said."""
    return scrub("".join(traceback.format_exception(exc)).rstrip(), secrets)
