"""APIError built from hostile error bodies: odd shapes, deep nesting, huge text."""

from __future__ import annotations

import json

import pytest

from aioflows import APIError

URL = "https://flows.automate.globus.org/flows"


def make_error(text: str) -> APIError:
    return APIError(method="POST", url=URL, http_status=422, text=text)


@pytest.mark.parametrize("location", [5, None, True])
def test_validation_loc_not_list(location: object) -> None:
    body = {"detail": [{"loc": location, "msg": "value is not valid"}]}

    error = make_error(json.dumps(body))

    assert "value is not valid" in str(error)


def test_deeply_nested_body() -> None:
    text = "[" * 100_000 + "]" * 100_000

    error = make_error(text)

    assert error.http_status == 422


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
