from __future__ import annotations

import pytest
from globus_sdk.scopes import FlowsScopes, Scope, SpecificFlowScopes

from aioflows import LoginRequired, ScopeRegistry, StaticTokenProvider, TokenProvider

pytestmark = pytest.mark.anyio

FLOW_ID = "9d2a3c1e-5b7f-4e8a-a1c2-3b4d5e6f7a8b"


async def test_static_lookup_by_resource_server() -> None:
    provider = StaticTokenProvider(
        {"flows.globus.org": "tok-flows", FLOW_ID: "tok-run"}
    )

    assert await provider.get_token("flows.globus.org") == "tok-flows"
    assert await provider.get_token(FLOW_ID) == "tok-run"


async def test_static_falls_back_to_default() -> None:
    provider = StaticTokenProvider({"flows.globus.org": "tok-flows"}, default="tok-any")

    assert await provider.get_token("groups.api.globus.org") == "tok-any"


async def test_static_missing_raises_login_required() -> None:
    provider = StaticTokenProvider({"flows.globus.org": "tok-flows"})
    provider.require_scopes(FLOW_ID, [SpecificFlowScopes(FLOW_ID).user])

    with pytest.raises(LoginRequired) as caught:
        await provider.get_token(FLOW_ID)

    assert caught.value.resource_server == FLOW_ID
    assert FLOW_ID in str(caught.value)
    assert caught.value.required_scopes == [str(SpecificFlowScopes(FLOW_ID).user)]


async def test_static_cannot_refresh() -> None:
    provider = StaticTokenProvider(default="tok")

    assert await provider.token_rejected("flows.globus.org") is False


def test_static_rejects_empty_token() -> None:
    with pytest.raises(ValueError, match=r"auth\.globus\.org"):
        StaticTokenProvider({"auth.globus.org": ""})


def test_static_repr_hides_tokens() -> None:
    provider = StaticTokenProvider(
        {"flows.globus.org": "tok-secret-1"}, default="tok-secret-2"
    )

    text = repr(provider)

    assert "tok-secret" not in text
    assert "flows.globus.org" in text


def test_static_is_token_provider() -> None:
    assert isinstance(StaticTokenProvider(), TokenProvider)


def test_required_scopes_listed_once() -> None:
    provider = StaticTokenProvider()

    provider.require_scopes("flows.globus.org", [FlowsScopes.manage_flows])
    provider.require_scopes(
        "flows.globus.org", [FlowsScopes.manage_flows, FlowsScopes.run_status]
    )

    listed = provider.required_scopes()["flows.globus.org"]
    assert [str(scope) for scope in listed] == [
        str(FlowsScopes.manage_flows),
        str(FlowsScopes.run_status),
    ]


def test_registry_rejects_plain_strings() -> None:
    registry = ScopeRegistry()

    with pytest.raises(TypeError, match="Scope"):
        registry.add("flows.globus.org", ["urn:not-a-scope-object"])  # type: ignore[list-item]


def test_registry_unknown_server_empty() -> None:
    registry = ScopeRegistry()
    registry.add("auth.globus.org", [Scope("openid")])

    assert registry.for_resource_server("groups.api.globus.org") == ()
