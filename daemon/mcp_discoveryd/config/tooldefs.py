"""Tools listed in a config, turned into MCP wire-shaped tool objects.

Accepted shapes (both formats):

- a table/object mapping name -> description string, or name -> definition object
  (Secure MCP Gateway's ``tools``);
- a list of definition objects, each with its ``name``.

A definition carries MCP fields (``description``, ``inputSchema``, ``outputSchema``,
``annotations``, ``title``, ``_meta``); a missing ``inputSchema`` becomes an empty object
schema. An empty table or list means "discover" (None).
"""

from __future__ import annotations

import copy

from ..models import JSONObject
from .problems import KeyPath, Problems

EMPTY_SCHEMA: JSONObject = {"type": "object", "properties": {}}
_OBJECT_FIELDS = ("inputSchema", "outputSchema", "annotations", "_meta")


def normalize_tools(
    raw: object, path: KeyPath, problems: Problems
) -> tuple[JSONObject, ...] | None:
    """The explicit tools of one server, or None when the server's tools are to be discovered."""
    if raw is None:
        return None
    items: list[tuple[KeyPath, object, str | None]]
    if isinstance(raw, dict):
        items = [((*path, str(name)), value, str(name)) for name, value in raw.items()]
    elif isinstance(raw, list):
        items = [((*path, index), value, None) for index, value in enumerate(raw)]
    else:
        problems.add(path, "tools must be a table of name -> description/definition, or a list")
        return None
    tools: list[JSONObject] = []
    seen: set[str] = set()
    for item_path, value, name in items:
        tool = _tool(value, name, item_path, problems)
        if tool is None:
            continue
        if tool["name"] in seen:
            problems.add(item_path, f"duplicate tool name {tool['name']!r}")
            continue
        seen.add(tool["name"])
        tools.append(tool)
    return tuple(tools) or None


def _tool(value: object, name: str | None, path: KeyPath, problems: Problems) -> JSONObject | None:
    if isinstance(value, str) and name is not None:
        value = {"description": value}
    if not isinstance(value, dict):
        problems.add(path, "a tool must be a description string or a definition table")
        return None
    if name is not None and value.get("name", name) != name:
        problems.add((*path, "name"), f"name differs from the key {name!r}")
        return None
    tool: JSONObject = {"name": name, **copy.deepcopy(value)}  # name first, as servers send it
    if "input_schema" in tool and "inputSchema" not in tool:
        tool["inputSchema"] = tool.pop("input_schema")
    ok = True
    if not isinstance(tool.get("name"), str) or not tool["name"].strip():
        problems.add((*path, "name"), "a tool needs a non-empty string name")
        ok = False
    for key in ("description", "title"):
        if key in tool and not isinstance(tool[key], str):
            problems.add((*path, key), "must be a string")
            ok = False
    for key in _OBJECT_FIELDS:
        if key in tool and not isinstance(tool[key], dict):
            problems.add((*path, key), "must be a table (JSON object)")
            ok = False
    schema = tool.setdefault("inputSchema", copy.deepcopy(EMPTY_SCHEMA))
    if isinstance(schema, dict) and schema.get("type", "object") != "object":
        problems.add((*path, "inputSchema", "type"), 'an MCP input schema has type "object"')
        ok = False
    if isinstance(schema, dict):
        schema.setdefault("type", "object")
    return tool if ok else None
