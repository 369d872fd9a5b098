"""The environment a stdio server is started with: chosen names of the daemon's, plus its own env.

A child gets the daemon's variables whose names match its ``inherit_env`` list
(names or globs such as ``LC_*``; ``models.DEFAULT_INHERIT_ENV`` unless configured),
then its own ``env`` on top. Never inherited, even when a name or glob matches: a
variable the config uses for the daemon's own secrets (``withheld_env``, found by the
loader in ``${VAR}`` references of [cache] and the daemon's other sections) and any
variable whose name looks like a credential (``*TOKEN*``, ``*SECRET*``,
``*PASSWORD*``, ``*_KEY``, ...). A server that needs a secret gets it through its
own ``env``, where it is declared and masked.
"""

from __future__ import annotations

from collections.abc import Mapping
from fnmatch import fnmatchcase

from ..models import StdioTarget
from ..secret import looks_like_credential


def inherited(target: StdioTarget, environ: Mapping[str, str]) -> dict[str, str]:
    """The daemon's variables this child inherits (before its own env is laid over them)."""
    return {
        name: value
        for name, value in environ.items()
        if any(fnmatchcase(name, pattern) for pattern in target.inherit_env)
        and name not in target.withheld_env
        and not looks_like_credential(name)
    }


def child_environment(target: StdioTarget, environ: Mapping[str, str]) -> dict[str, str]:
    """Everything the child is started with; its own env values revealed here, at the spawn."""
    return inherited(target, environ) | {k: v.reveal() for k, v in target.env.items()}
