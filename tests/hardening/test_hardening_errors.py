"""APIError built from hostile error bodies: odd shapes, deep nesting, huge text."""

from __future__ import annotations

import json

import pytest

from aioflows import APIError

URL = "https://flows.automate.globus.org/flows"


def make_error(text: str) -> APIError:
    return APIError(method="POST", url=URL, http_status=422, text=text)


@pytest.mark.xfail(
    strict=True,
    raises=TypeError,
    reason="_errors._texts joins item['loc'] without checking that it is a list, "
    "so a validation detail whose loc is a number or null raises TypeError "
    "instead of building the APIError",
)
@pytest.mark.parametrize("location", [5, None, True])
def test_validation_loc_not_list(location: object) -> None:
    body = {"detail": [{"loc": location, "msg": "value is not valid"}]}

    error = make_error(json.dumps(body))

    assert "value is not valid" in str(error)


@pytest.mark.xfail(
    strict=True,
    raises=RecursionError,
    reason="_errors._parse_json catches ValueError only, and json.loads raises "
    "RecursionError on a deeply nested body, so building the APIError crashes",
)
def test_deeply_nested_body() -> None:
    text = "[" * 100_000 + "]" * 100_000

    error = make_error(text)

    assert error.http_status == 422


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="APIError._describe cuts only a body that is not JSON, and "
    "messages taken from a JSON body go into str() whole, so one error can flood a log",
)
@pytest.mark.parametrize(
    "body",
    [
        {"error": {"code": "X", "detail": "d" * 100_000}},
        "s" * 100_000,
        {"errors": [{"detail": f"problem {index}"} for index in range(10_000)]},
    ],
    ids=["long-detail", "json-string", "many-details"],
)
def test_long_json_message_shortened(body: object) -> None:
    error = make_error(json.dumps(body))

    assert len(str(error)) < 2_000
