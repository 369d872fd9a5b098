"""Hypothesis strategies for cache values: catalogs as any upstream could send them."""

from __future__ import annotations

from hypothesis import strategies as st

from mcp_discoveryd.models import Catalog

_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
# Any JSON value (no NaN or infinity: they are not JSON).
json_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=10,
)
# A tool as an upstream could list it: every field, unknown ones too, any JSON inside.
tools = st.fixed_dictionaries(
    {
        "name": st.text(min_size=1, max_size=10),
        "inputSchema": st.dictionaries(st.text(), json_values),
    },
    optional={
        "title": st.text(max_size=10),
        "description": st.text(max_size=60),
        "outputSchema": st.dictionaries(st.text(max_size=6), json_values, max_size=3),
        "annotations": st.dictionaries(st.text(max_size=6), json_values, max_size=3),
        "_meta": st.dictionaries(st.text(max_size=12), json_values, max_size=3),
        "icons": st.lists(
            st.dictionaries(st.text(max_size=5), json_values, max_size=2), max_size=2
        ),
    },
)
_other_items = st.lists(st.dictionaries(st.text(max_size=8), json_values, max_size=4), max_size=3)
# Any catalog an upstream could send: every tool field (and unknown ones), any JSON inside.
catalogs = st.builds(
    lambda tools, prompts, resources, templates: Catalog(
        tuple(tools), tuple(prompts), tuple(resources), tuple(templates)
    ),
    st.lists(tools, max_size=5),
    _other_items,
    _other_items,
    _other_items,
)
