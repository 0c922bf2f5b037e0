from __future__ import annotations

import logging
import random

import httpx
import pytest
import respx
from globus_sdk.scopes import Scope

import aioflows._session as session_module
from aioflows import (
    APIError,
    LoginRequired,
    MemoryStorage,
    NetworkError,
    RetryPolicy,
    Session,
    StaticTokenProvider,
    track_requests,
)

pytestmark = pytest.mark.anyio

FLOWS = "https://flows.automate.globus.org"
SECRET = "tok-very-secret-flows-0123456789"


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record the waits between retries instead of sleeping."""
    recorded: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        recorded.append(seconds)

    monkeypatch.setattr(session_module.anyio, "sleep", fake_sleep)
    return recorded


def make_session(**options: object) -> Session:
    options.setdefault("tokens", StaticTokenProvider({"flows.globus.org": SECRET}))
    options.setdefault("storage", MemoryStorage())
    return Session(**options)  # type: ignore[arg-type]


async def test_base_url_default_production() -> None:
    async with make_session() as session:
        assert session.service_url("flows") == "https://flows.automate.globus.org/"
        assert session.service_url("groups") == "https://groups.api.globus.org/"
        assert session.service_url("auth") == "https://auth.globus.org/"


async def test_base_url_from_environment_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GLOBUS_SDK_ENVIRONMENT", "preview")

    async with make_session() as session:
        assert session.service_url("auth") == "https://auth.preview.globus.org/"


async def test_base_url_explicit_environment() -> None:
    async with make_session(environment="sandbox") as session:
        assert (
            session.service_url("groups") == "https://groups.api.sandbox.globuscs.info/"
        )


async def test_base_url_service_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GLOBUS_SDK_SERVICE_URL_FLOWS", "http://127.0.0.1:8123")

    with respx.mock:
        route = respx.get("http://127.0.0.1:8123/flows").respond(json={"flows": []})
        async with make_session() as session:
            document = await session.request_json("GET", "flows", "flows")

    assert document == {"flows": []}
    assert route.call_count == 1


async def test_request_sends_bearer_for_resource_server() -> None:
    tokens = StaticTokenProvider({"flows.globus.org": "tok-a", "flow-id": "tok-b"})
    with respx.mock:
        route = respx.post(f"{FLOWS}/flows/x/run").respond(201, json={})
        async with make_session(tokens=tokens) as session:
            await session.request(
                "POST", "flows", "flows/x/run", resource_server="flow-id"
            )

    assert route.calls.last.request.headers["Authorization"] == "Bearer tok-b"


async def test_missing_token_raises_login_required() -> None:
    with respx.mock:
        route = respx.get(f"{FLOWS}/flows")
        async with make_session(tokens=StaticTokenProvider()) as session:
            with pytest.raises(LoginRequired) as caught:
                await session.request("GET", "flows", "flows")

    assert caught.value.resource_server == "flows.globus.org"
    assert "flows.globus.org" in str(caught.value)
    assert route.call_count == 0


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
@pytest.mark.parametrize("status", [429, 502, 503, 504])
async def test_idempotent_retried_on_status(
    method: str, status: int, sleeps: list[float]
) -> None:
    with respx.mock:
        route = respx.route(method=method, url=f"{FLOWS}/flows/x").mock(
            side_effect=[httpx.Response(status), httpx.Response(200, json={"id": "x"})]
        )
        async with make_session() as session:
            response = await session.request(method, "flows", "flows/x")

    assert response.status_code == 200
    assert route.call_count == 2
    assert len(sleeps) == 1


@pytest.mark.parametrize("status", [502, 503, 504])
async def test_post_not_retried_on_gateway_error(
    status: int, sleeps: list[float]
) -> None:
    with respx.mock:
        route = respx.post(f"{FLOWS}/flows").respond(
            status, text="<html>bad gateway</html>"
        )
        async with make_session() as session:
            with pytest.raises(APIError) as caught:
                await session.request("POST", "flows", "flows", json={})

    assert route.call_count == 1
    assert caught.value.http_status == status
    assert sleeps == []


async def test_post_retried_on_429(sleeps: list[float]) -> None:
    with respx.mock:
        route = respx.post(f"{FLOWS}/flows").mock(
            side_effect=[
                httpx.Response(429, headers={"Retry-After": "3"}),
                httpx.Response(201, json={"id": "new"}),
            ]
        )
        async with make_session() as session:
            document = await session.request_json("POST", "flows", "flows", json={})

    assert document == {"id": "new"}
    assert route.call_count == 2
    assert sleeps == [3.0]


async def test_post_retried_on_connect_error(sleeps: list[float]) -> None:
    with respx.mock:
        route = respx.post(f"{FLOWS}/flows").mock(
            side_effect=[httpx.ConnectError("refused"), httpx.Response(201, json={})]
        )
        async with make_session() as session:
            await session.request("POST", "flows", "flows", json={})

    assert route.call_count == 2


@pytest.mark.parametrize(
    "error", [httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("dropped")]
)
async def test_post_not_retried_after_sending(
    error: httpx.TransportError, sleeps: list[float]
) -> None:
    with respx.mock:
        route = respx.post(f"{FLOWS}/flows").mock(side_effect=error)
        async with make_session() as session:
            with pytest.raises(NetworkError) as caught:
                await session.request("POST", "flows", "flows", json={})

    assert route.call_count == 1
    assert caught.value.__cause__ is error
    assert caught.value.method == "POST"


async def test_get_retried_on_read_timeout(sleeps: list[float]) -> None:
    with respx.mock:
        route = respx.get(f"{FLOWS}/flows").mock(
            side_effect=[httpx.ReadTimeout("slow"), httpx.Response(200, json={})]
        )
        async with make_session() as session:
            await session.request("GET", "flows", "flows")

    assert route.call_count == 2


async def test_retries_bounded(sleeps: list[float]) -> None:
    with respx.mock:
        route = respx.get(f"{FLOWS}/flows").respond(503)
        async with make_session(retries=2) as session:
            with pytest.raises(APIError):
                await session.request("GET", "flows", "flows")

    assert route.call_count == 3
    assert len(sleeps) == 2


async def test_zero_retries_sends_once(sleeps: list[float]) -> None:
    with respx.mock:
        route = respx.get(f"{FLOWS}/flows").respond(503)
        async with make_session(retries=0) as session:
            with pytest.raises(APIError):
                await session.request("GET", "flows", "flows")

    assert route.call_count == 1


async def test_backoff_grows_exponentially(sleeps: list[float]) -> None:
    policy = RetryPolicy(retries=4, initial_delay=0.5, max_delay=3.0, jitter=0.0)
    with respx.mock:
        respx.get(f"{FLOWS}/flows").respond(503)
        async with make_session(retries=policy) as session:
            with pytest.raises(APIError):
                await session.request("GET", "flows", "flows")

    assert sleeps == [0.5, 1.0, 2.0, 3.0]


def test_backoff_jitter_within_bounds() -> None:
    policy = RetryPolicy(initial_delay=1.0, max_delay=10.0, jitter=0.5)
    rng = random.Random(7)

    waits = [policy.backoff(2, rng) for _ in range(200)]

    assert min(waits) >= 2.0
    assert max(waits) <= 2.5
    assert len(set(waits)) > 1


async def test_retry_after_http_date(sleeps: list[float]) -> None:
    with respx.mock:
        respx.get(f"{FLOWS}/flows").mock(
            side_effect=[
                httpx.Response(
                    429, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}
                ),
                httpx.Response(200, json={}),
            ]
        )
        async with make_session() as session:
            await session.request("GET", "flows", "flows")

    assert sleeps == [0.0]


async def test_retry_after_too_long_raises(sleeps: list[float]) -> None:
    policy = RetryPolicy(max_retry_after=5.0)
    with respx.mock:
        route = respx.get(f"{FLOWS}/flows").respond(429, headers={"Retry-After": "600"})
        async with make_session(retries=policy) as session:
            with pytest.raises(APIError) as caught:
                await session.request("GET", "flows", "flows")

    assert caught.value.http_status == 429
    assert route.call_count == 1
    assert sleeps == []


async def test_retry_logged_at_warning(
    sleeps: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="aioflows")
    with respx.mock:
        respx.get(f"{FLOWS}/flows").mock(
            side_effect=[httpx.Response(503), httpx.Response(200, json={})]
        )
        async with make_session() as session:
            await session.request("GET", "flows", "flows")

    [record] = [r for r in caplog.records if r.levelno == logging.WARNING]
    message = record.getMessage()
    assert "GET" in message
    assert f"{FLOWS}/flows" in message
    assert "HTTP 503" in message
    assert "retry 1 of 3" in message


async def test_rejected_token_raises_login_required(sleeps: list[float]) -> None:
    with respx.mock:
        route = respx.get(f"{FLOWS}/flows").respond(
            401, json={"code": "AUTHENTICATION_ERROR", "error": "bad token"}
        )
        async with make_session() as session:
            with pytest.raises(LoginRequired) as caught:
                await session.request("GET", "flows", "flows")

    assert route.call_count == 1
    assert caught.value.resource_server == "flows.globus.org"
    assert isinstance(caught.value.__cause__, APIError)


async def test_refreshed_token_retried_once() -> None:
    class RefreshingProvider(StaticTokenProvider):
        def __init__(self) -> None:
            super().__init__({"flows.globus.org": "old"})
            self.rejections = 0

        async def get_token(self, resource_server: str) -> str:
            return "new" if self.rejections else "old"

        async def token_rejected(self, resource_server: str) -> bool:
            self.rejections += 1
            return True

    with respx.mock:
        route = respx.get(f"{FLOWS}/flows").mock(
            side_effect=[httpx.Response(401), httpx.Response(200, json={})]
        )
        async with make_session(tokens=RefreshingProvider()) as session:
            await session.request("GET", "flows", "flows")

    assert route.call_count == 2
    assert route.calls[1].request.headers["Authorization"] == "Bearer new"


async def test_consent_403_raises_login_required() -> None:
    tokens = StaticTokenProvider(default=SECRET)
    body = {
        "error": {"code": "MISSING_SCOPE", "detail": "consent needed"},
        "debug_id": "d-1",
    }
    with respx.mock:
        respx.post(f"{FLOWS}/flows/x/run").respond(403, json=body)
        async with make_session(tokens=tokens) as session:
            with pytest.raises(LoginRequired) as caught:
                await session.request(
                    "POST", "flows", "flows/x/run", resource_server="x"
                )

    assert caught.value.resource_server == "x"


async def test_gare_403_carries_parameters() -> None:
    body = {
        "code": "ConsentRequired",
        "authorization_parameters": {
            "session_message": "consent to the flow",
            "required_scopes": ["https://auth.globus.org/scopes/abc/flow_abc_user"],
        },
    }
    with respx.mock:
        respx.get(f"{FLOWS}/runs/r").respond(403, json=body)
        async with make_session() as session:
            with pytest.raises(LoginRequired) as caught:
                await session.request("GET", "flows", "runs/r")

    expected_scope = "https://auth.globus.org/scopes/abc/flow_abc_user"
    assert caught.value.required_scopes == [expected_scope]
    assert (
        caught.value.authorization_parameters["session_message"]
        == "consent to the flow"
    )


async def test_plain_403_stays_api_error() -> None:
    with respx.mock:
        respx.get(f"{FLOWS}/flows/x").respond(
            403, json={"error": {"code": "FORBIDDEN", "detail": "not yours"}}
        )
        async with make_session() as session:
            with pytest.raises(APIError) as caught:
                await session.request("GET", "flows", "flows/x")

    assert caught.value.code == "FORBIDDEN"


async def test_closed_session_raises_runtime_error() -> None:
    session = make_session()
    await session.aclose()

    with pytest.raises(RuntimeError, match="closed"):
        await session.request("GET", "flows", "flows")
    assert session.closed


async def test_closed_session_context_reuse_raises() -> None:
    session = make_session()
    async with session:
        pass

    with pytest.raises(RuntimeError, match="closed"):
        async with session:
            pass


async def test_aclose_twice_is_harmless() -> None:
    session = make_session()
    await session.aclose()
    await session.aclose()

    assert session.closed


async def test_track_requests_counts_attempts(sleeps: list[float]) -> None:
    with respx.mock:
        respx.get(f"{FLOWS}/flows").mock(
            side_effect=[httpx.Response(503), httpx.Response(200, json={})]
        )
        async with make_session() as session:
            with track_requests() as stats:
                await session.request("GET", "flows", "flows")

    assert stats.attempts == 2


async def test_success_body_not_json_raises() -> None:
    with respx.mock:
        respx.get(f"{FLOWS}/flows").respond(200, text="<html>portal</html>")
        async with make_session() as session:
            with pytest.raises(APIError) as caught:
                await session.request_json("GET", "flows", "flows")

    assert caught.value.http_status == 200


async def test_token_absent_from_logs_and_errors(
    sleeps: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with respx.mock:
        respx.get(f"{FLOWS}/flows").mock(
            side_effect=[httpx.Response(503), httpx.Response(401, json={"code": "X"})]
        )
        respx.post(f"{FLOWS}/flows").respond(400, text="bad request")
        async with make_session() as session:
            with pytest.raises(LoginRequired) as login:
                await session.request("GET", "flows", "flows")
            with pytest.raises(APIError) as api:
                await session.request("POST", "flows", "flows", json={})
            session_repr = repr(session)

    texts = [record.getMessage() for record in caplog.records]
    texts += [str(login.value), repr(login.value), str(api.value), repr(api.value)]
    texts += [session_repr, repr(session.tokens)]
    leaks = [text for text in texts if SECRET in text]
    assert leaks == []


async def test_login_required_message_lists_scopes() -> None:
    tokens = StaticTokenProvider(default=SECRET)
    tokens.require_scopes("x", [Scope("https://auth.globus.org/scopes/x/flow_x_user")])
    with respx.mock:
        respx.post(f"{FLOWS}/flows/x/run").respond(
            403, json={"error": {"code": "MISSING_SCOPE", "detail": "consent"}}
        )
        async with make_session(tokens=tokens) as session:
            with pytest.raises(LoginRequired) as caught:
                await session.request(
                    "POST", "flows", "flows/x/run", resource_server="x"
                )

    assert "https://auth.globus.org/scopes/x/flow_x_user" in str(caught.value)


async def test_success_body_not_json_explained() -> None:
    with respx.mock:
        respx.get(f"{FLOWS}/flows").respond(200, text="<html>portal</html>")
        async with make_session() as session:
            with pytest.raises(APIError) as caught:
                await session.request_json("GET", "flows", "flows")

    assert "its body is not JSON" in str(caught.value)
    assert "<html>portal</html>" in str(caught.value)


async def test_success_body_too_deep_explained() -> None:
    deep = "[" * 100_000 + "]" * 100_000
    with respx.mock:
        respx.get(f"{FLOWS}/flows").respond(200, text=deep)
        async with make_session() as session:
            with pytest.raises(APIError) as caught:
                await session.request_json("GET", "flows", "flows")

    assert caught.value.problem == "its body is JSON nested too deeply to decode"


@pytest.mark.parametrize(
    ("body", "kind"),
    [("[1]", "an array"), ('"text"', "a string"), ("null", "null"), ("3", "a number")],
)
async def test_request_object_rejects_other_json(body: str, kind: str) -> None:
    with respx.mock:
        respx.get(f"{FLOWS}/runs/r").respond(200, text=body)
        async with make_session() as session:
            with pytest.raises(APIError) as caught:
                await session.request_object("GET", "flows", "runs/r")

    assert caught.value.http_status == 200
    assert f"its body is {kind}, not the JSON object" in str(caught.value)
    assert f"{FLOWS}/runs/r" in str(caught.value)


async def test_request_object_returns_object() -> None:
    with respx.mock:
        respx.get(f"{FLOWS}/runs/r").respond(200, json={"run_id": "r"})
        async with make_session() as session:
            document = await session.request_object("GET", "flows", "runs/r")

    assert document == {"run_id": "r"}
