"""Annotated field types shared by the settings models and the file tables."""

from __future__ import annotations

from typing import Annotated, TypeVar

from pydantic import AfterValidator, BeforeValidator, Field, PlainValidator
from pydantic_core import PydanticCustomError

from ..secret import Secret, SecretUrl
from .durations import parse_duration
from .redis_url import check_sentinel
from .sizes import parse_size

S = TypeVar("S", Secret, SecretUrl)
KEY_SECRET_CHARS = 16  # an HMAC key shorter than this could be guessed from the key names


def check_glob(pattern: str) -> str:
    """A name glob (``*``, ``?``, ``[abc]``); ValueError for one that cannot be meant."""
    if not pattern.strip():
        raise ValueError("empty pattern")
    opened = pattern.find("[")
    if opened >= 0 and pattern.find("]", opened + 2) < 0:
        raise ValueError(f"bad glob {pattern!r}: '[' without a closing ']'")
    return pattern


def sealed(kind: type[S], min_length: int = 0) -> PlainValidator:
    """Validator of a secret field: a str (from a file) is held as ``kind``, one already is kept.

    Its errors are fixed texts: a secret's value is never part of a message.
    """

    def validate(value: object) -> S:
        if isinstance(value, kind):
            text = value.reveal()  # only measured
        elif isinstance(value, str):
            text = value
        else:
            raise PydanticCustomError("string_type", "Input should be a valid string")
        if len(text) < min_length:
            raise PydanticCustomError(
                "string_too_short", f"String should have at least {min_length} characters"
            )
        return value if isinstance(value, kind) else kind(text)

    return PlainValidator(validate)


Glob = Annotated[str, AfterValidator(check_glob)]
Duration = Annotated[float, BeforeValidator(parse_duration)]
PositiveDuration = Annotated[float, BeforeValidator(parse_duration), Field(gt=0)]
Size = Annotated[int, BeforeValidator(parse_size), Field(gt=0)]
Sentinel = Annotated[str, AfterValidator(check_sentinel)]
SecretText = Annotated[Secret, sealed(Secret)]
KeySecret = Annotated[Secret, sealed(Secret, KEY_SECRET_CHARS)]
SecretUrlText = Annotated[SecretUrl, sealed(SecretUrl)]
