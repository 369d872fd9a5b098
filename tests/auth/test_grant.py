"""The token request's form and headers, for any client id and secret."""

from __future__ import annotations

import base64
from urllib.parse import unquote

from hypothesis import given
from hypothesis import strategies as st

from mcp_discoveryd.auth.grant import Token, token_form, token_headers
from mcp_discoveryd.auth.spec import OAuthSpec
from mcp_discoveryd.auth.token_status import usable_until
from mcp_discoveryd.secret import Secret

TEXT = st.text(st.characters(codec="utf-8"), min_size=1, max_size=40)


@given(client_id=TEXT, secret=TEXT, method=st.sampled_from(["basic", "post"]))
def test_the_client_authenticates_one_way_only_and_the_pair_survives_any_characters(
    client_id: str, secret: str, method: str
) -> None:
    """basic: the form-encoded pair in the header, no secret in the body; post: the reverse."""
    spec = OAuthSpec(client_id=client_id, client_secret=Secret(secret), client_auth=method)  # type: ignore[arg-type]
    form, headers = token_form(spec, None), token_headers(spec)
    if method == "basic":
        assert "client_secret" not in form and "client_id" not in form
        user, _, password = base64.b64decode(headers["authorization"][6:]).decode().partition(":")
        assert (unquote(user), unquote(password)) == (client_id, secret)
    else:
        assert "authorization" not in headers
        assert (form["client_id"], form["client_secret"]) == (client_id, secret)


@given(
    life=st.floats(min_value=0, max_value=1e7),
    buffer=st.floats(min_value=0, max_value=1e7),
    obtained=st.floats(min_value=0, max_value=4e9),
)
def test_a_token_is_used_for_at_least_half_its_life_and_never_past_expiry(
    life: float, buffer: float, obtained: float
) -> None:
    """A buffer longer than the token's life would make every token unusable: it is capped."""
    token = Token(Secret("t"), obtained + life, None, obtained)
    until = usable_until(token, buffer)
    assert until is not None
    assert until <= obtained + life + 1e-6
    assert until >= obtained + life / 2 - 1e-6
