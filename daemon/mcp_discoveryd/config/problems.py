"""Collecting every problem in a config file, each with its key path, before giving up."""

from __future__ import annotations

import difflib
import json
import re
import typing
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from pydantic import TypeAdapter, ValidationError

from ..errors import ConfigError, ConfigProblem
from ..secret import Secret, scrub

KeyPath = tuple[str | int, ...]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def format_path(path: KeyPath) -> str:
    """A key path as TOML would spell it: ``gateways.prod.servers."my.server".url``, ``args[2]``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            key = part if _BARE_KEY.fullmatch(part) else _quoted(part)
            out += f".{key}" if out else key
    return out or "(top level)"


def _quoted(key: str) -> str:
    """``key`` as a TOML basic string, every unprintable character escaped, so no key can
    break the line: json escapes only C0 controls, and leaves NEL (U+0085), U+2028 and
    U+2029, which end a line for ``str.splitlines`` and for some terminals, as they are."""
    return "".join(
        c if c.isprintable() else f"\\u{ord(c):04x}" if ord(c) <= 0xFFFF else f"\\U{ord(c):08x}"
        for c in json.dumps(key, ensure_ascii=False)
    )


class Problems:
    """Problems found so far in one file; problems under an already reported path are dropped."""

    def __init__(self) -> None:
        self.items: list[ConfigProblem] = []
        self._reported: set[KeyPath] = set()

    def add(self, path: KeyPath, message: str) -> None:
        """Record one problem at a key path, unless a problem at or above that path was recorded."""
        if any(path[:n] in self._reported for n in range(len(path) + 1)):
            return
        self.items.append(ConfigProblem(format_path(path), message))

    def add_silencing(self, path: KeyPath, message: str) -> None:
        """Record a problem and drop later ones at or under the same path (their cause is this)."""
        self.add(path, message)
        self.silence(path)

    def silence(self, path: KeyPath) -> None:
        """Drop later problems at or under ``path``: the one already reported is their cause."""
        self._reported.add(path)

    def reported(self, path: KeyPath) -> bool:
        """Whether a problem at ``path`` was recorded (silencing what is under it)."""
        return path in self._reported

    def add_at(self, location: str, message: str) -> None:
        """Record a problem whose place is not a key path (a line and column, the file itself)."""
        self.items.append(ConfigProblem(location, message))

    def add_validation(self, error: ValidationError, prefix: KeyPath, model: type[Any]) -> None:
        """Translate pydantic's errors (never their input values) into problems."""
        for item in error.errors(include_url=False, include_input=False):
            loc = tuple(item["loc"])
            self.add(prefix + loc, _message(item["type"], item["msg"], model, loc))

    def raise_if_any(self, path: str, secrets: Iterable[str] = ()) -> None:
        """Raise ConfigError with every problem found, if there is any."""
        if self.items:
            raise self.error(path, secrets)

    def error(self, path: str, secrets: Iterable[str] = ()) -> ConfigError:
        """ConfigError with every problem, secret values masked.

        A config that failed validation has no typed secrets yet, and a key path can
        hold one (an Enkrypt ``apikeys`` entry): ``secrets`` are the values the loader
        found in the raw document (``config/secrets.py``).
        """
        hidden = [Secret(s) for s in set(secrets)]
        return ConfigError(
            path,
            [
                ConfigProblem(scrub(p.location, hidden), scrub(p.message, hidden))
                for p in self.items
            ],
        )


_ADAPTERS: dict[type[Any], TypeAdapter[Any]] = {}


def _adapter(model: type[Any]) -> TypeAdapter[Any]:
    adapter = _ADAPTERS.get(model)
    if adapter is None:
        adapter = _ADAPTERS[model] = TypeAdapter(model)
    return adapter


def validate(model: type[Any], raw: object, prefix: KeyPath, problems: Problems) -> Any:
    """``raw`` validated as ``model`` (a model or pydantic dataclass), problems under ``prefix``.

    Keys are read as the file spells them (aliases), never by attribute name.

    When some keys are wrong, they are reported and the model is built from the others
    (their defaults standing in), so that checks across keys still find what else is
    wrong; nothing built from a file with problems is ever used. None when even that
    fails (the value is not a table, or a required key is missing).
    """
    adapter = _adapter(model)
    try:
        return adapter.validate_python(raw, by_alias=True, by_name=False)
    except ValidationError as exc:
        problems.add_validation(exc, prefix, model)
        bad = {item["loc"][0] for item in exc.errors() if item["loc"]}
    for key in bad:
        problems.silence((*prefix, key))
    if not isinstance(raw, dict) or not bad:
        return None
    try:
        kept = {k: v for k, v in raw.items() if k not in bad}
        return adapter.validate_python(kept, by_alias=True, by_name=False)
    except ValidationError:
        return None


def unknown_key(key: str, known: Collection[str]) -> str:
    """ "unknown key", with the closest known key as a suggestion when one is close."""
    hint = difflib.get_close_matches(key, list(known), n=1)
    return "unknown key" + (f" (did you mean {hint[0]!r}?)" if hint else "")


def _message(kind: str, msg: str, model: type[Any], loc: KeyPath) -> str:
    if kind in ("extra_forbidden", "unexpected_keyword_argument"):
        return unknown_key(str(loc[-1]), _known_keys(model, loc[:-1]))
    if kind == "missing":
        return "required key is missing"
    if kind in ("model_type", "model_attributes_type", "dict_type", "dataclass_type"):
        return "must be a table (a JSON object)"
    if kind in ("value_error", "assertion_error"):
        return msg.split(", ", 1)[1] if ", " in msg else msg
    return msg[:1].lower() + msg[1:]


def _known_keys(model: type[Any], loc: KeyPath) -> list[str]:
    """The keys a (possibly nested) model accepts at ``loc``."""
    current: Any = model
    parts = list(loc)
    while parts:
        fields: Mapping[str, Any] = getattr(current, "__pydantic_fields__", {})
        part = parts.pop(0)
        by_key = {file_key(name, info): info for name, info in fields.items()}
        if not isinstance(part, str) or part not in by_key:
            return []
        annotation = by_key[part].annotation
        if typing.get_origin(annotation) in (dict, list) and parts:
            parts.pop(0)  # the dict key or list index between this field and the inner model
        current = _model_in(annotation)
        if current is None:
            return []
    fields = getattr(current, "__pydantic_fields__", {})
    return [file_key(name, info) for name, info in fields.items()]


def file_key(name: str, info: Any) -> str:
    """How a file spells a field: its validation alias when it has one."""
    alias = getattr(info, "validation_alias", None)
    return alias if isinstance(alias, str) else name


def _model_in(annotation: Any) -> type[Any] | None:
    if isinstance(annotation, type) and hasattr(annotation, "__pydantic_fields__"):
        return annotation
    for arg in typing.get_args(annotation):  # Optional[Model], dict[str, Model], list[Model]
        found = _model_in(arg)
        if found is not None:
            return found
    return None
