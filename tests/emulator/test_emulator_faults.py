"""Latency, rate limits, injected faults and the request log, through the in-process transport."""

from __future__ import annotations

import random
import time

import httpx
import pytest
from emulator_helpers import create_flow

from aioflows.emulator import Emulator, FaultKind, Latency, ManualClock, RateLimit

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    "kind", [FaultKind.HTTP_500, FaultKind.HTTP_502, FaultKind.HTTP_503]
)
async def test_http_fault_html_not_applied(
    client: httpx.AsyncClient, emulator: Emulator, kind: FaultKind
) -> None:
    emulator.faults.add(kind, method="POST", route="/flows")

    response = await client.post(
        "/flows",
        json={
            "title": "x",
            "definition": {
                "StartAt": "A",
                "States": {"A": {"Type": "Pass", "End": True}},
            },
        },
    )

    assert response.status_code == kind.http_status
    assert response.headers["content-type"].startswith("text/html")
    assert emulator.flow_ids() == []


@pytest.mark.parametrize(
    ("kind", "error"),
    [
        (FaultKind.CONNECTION_RESET, httpx.ReadError),
        (FaultKind.READ_TIMEOUT, httpx.ReadTimeout),
        (FaultKind.RESPONSE_LOST, httpx.RemoteProtocolError),
    ],
)
async def test_connection_fault_raises_httpx(
    client: httpx.AsyncClient,
    emulator: Emulator,
    kind: FaultKind,
    error: type[Exception],
) -> None:
    emulator.faults.add(kind, route="/flows")

    with pytest.raises(error):
        await client.get("/flows")


async def test_response_lost_applies_create(
    client: httpx.AsyncClient, emulator: Emulator
) -> None:
    emulator.faults.add(FaultKind.RESPONSE_LOST, method="POST", route="/flows")

    with pytest.raises(httpx.RemoteProtocolError):
        await client.post(
            "/flows",
            json={
                "title": "x",
                "definition": {
                    "StartAt": "A",
                    "States": {"A": {"Type": "Pass", "End": True}},
                },
            },
        )

    assert len(emulator.flow_ids()) == 1


async def test_reset_does_not_apply(
    client: httpx.AsyncClient, emulator: Emulator
) -> None:
    emulator.faults.add(FaultKind.CONNECTION_RESET, method="POST")

    with pytest.raises(httpx.ReadError):
        await client.post(
            "/flows",
            json={
                "title": "x",
                "definition": {
                    "StartAt": "A",
                    "States": {"A": {"Type": "Pass", "End": True}},
                },
            },
        )

    assert emulator.flow_ids() == []


async def test_scripted_fault_used_up(
    client: httpx.AsyncClient, emulator: Emulator
) -> None:
    emulator.faults.add(FaultKind.HTTP_503, method="GET", route="/flows", times=2)

    statuses = [(await client.get("/flows")).status_code for _ in range(3)]

    assert statuses == [503, 503, 200]


async def test_scripted_fault_other_route_untouched(
    client: httpx.AsyncClient, emulator: Emulator
) -> None:
    emulator.faults.add(FaultKind.HTTP_500, route="/runs")

    response = await client.get("/flows")

    assert response.status_code == 200
    assert len(emulator.faults.scripted) == 1


async def _statuses_with_random_faults(seed: int) -> list[int]:
    emulator = Emulator(clock=ManualClock(), seed=seed)
    emulator.faults.set_random(0.5, (FaultKind.HTTP_503,))
    headers = {"Authorization": f"Bearer {emulator.static_token}"}
    async with httpx.AsyncClient(
        transport=emulator.transport(), headers=headers
    ) as http:
        return [
            (await http.get("https://flows.automate.globus.org/flows")).status_code
            for _ in range(40)
        ]


async def test_random_faults_seeded() -> None:
    first = await _statuses_with_random_faults(7)
    second = await _statuses_with_random_faults(7)

    assert first == second
    assert 503 in first
    assert 200 in first


async def test_rate_limit_answers_429(
    client: httpx.AsyncClient, emulator: Emulator, clock: ManualClock
) -> None:
    emulator.rate_limit = RateLimit(requests=2, per_seconds=10)

    statuses = [(await client.get("/flows")).status_code for _ in range(3)]
    limited = await client.get("/flows")
    clock.advance(10)
    after = await client.get("/flows")

    assert statuses == [200, 200, 429]
    assert limited.headers["retry-after"] == "10"
    assert after.status_code == 200


async def test_latency_delays_request(
    client: httpx.AsyncClient, emulator: Emulator
) -> None:
    emulator.latency = Latency(0.05)

    began = time.monotonic()
    await client.get("/flows")

    assert time.monotonic() - began >= 0.05


async def test_latency_jitter_in_bounds() -> None:
    latency = Latency(1.0, jitter=0.25)
    rng = random.Random(3)

    delays = [latency.draw(rng) for _ in range(200)]

    assert min(delays) >= 0.75
    assert max(delays) <= 1.25
    assert len(set(delays)) > 1


async def test_request_log_counts_per_route(
    client: httpx.AsyncClient, emulator: Emulator
) -> None:
    flow = await create_flow(client)
    for _ in range(3):
        await client.get(f"/flows/{flow['id']}")
    await client.get("/flows")

    assert emulator.count("POST", "/flows") == 1
    assert emulator.count("GET", "/flows/{flow_id}") == 3
    assert emulator.count("GET") == 4
    assert emulator.count() == 5


async def test_request_log_records_faults(
    client: httpx.AsyncClient, emulator: Emulator
) -> None:
    emulator.faults.add(FaultKind.CONNECTION_RESET)

    with pytest.raises(httpx.ReadError):
        await client.get("/flows")

    entry = emulator.request_log.entries[-1]
    assert entry.fault is FaultKind.CONNECTION_RESET
    assert entry.status is None
    assert emulator.count("GET", "/flows") == 1


async def test_request_log_clear_resets(
    client: httpx.AsyncClient, emulator: Emulator
) -> None:
    await client.get("/flows")

    emulator.request_log.clear()

    assert emulator.count() == 0
    assert list(emulator.request_log.entries) == []


async def test_fault_plan_rejects_bad_values(emulator: Emulator) -> None:
    with pytest.raises(ValueError, match="times"):
        emulator.faults.add(FaultKind.HTTP_500, times=0)
    with pytest.raises(ValueError, match="rate"):
        emulator.faults.set_random(1.5)
