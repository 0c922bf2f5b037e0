from __future__ import annotations

import json

import pytest

from aioflows import (
    AioflowsError,
    APIError,
    FlowObsolete,
    LoginRequired,
    NetworkError,
    NoFlowRegistered,
    RegistrationError,
    RemoteError,
    RunFailed,
    StorageError,
)

URL = "https://flows.automate.globus.org/flows/abc"


def make_error(status: int, text: str, **headers: str) -> APIError:
    return APIError(
        method="PUT",
        url=URL,
        http_status=status,
        text=text,
        headers=headers,
        authorization_scheme="Bearer",
    )


def test_tree_has_one_root() -> None:
    for error_class in (
        APIError,
        NetworkError,
        RemoteError,
        RegistrationError,
        NoFlowRegistered,
        FlowObsolete,
        LoginRequired,
        RunFailed,
        StorageError,
    ):
        assert issubclass(error_class, AioflowsError)


def test_registration_subclasses() -> None:
    assert issubclass(NoFlowRegistered, RegistrationError)
    assert issubclass(FlowObsolete, RegistrationError)


def test_flows_error_document() -> None:
    body = {
        "error": {"code": "UNPROCESSABLE_ENTITY", "detail": "title is too long"},
        "debug_id": "41b9e4ab-7e8d-4b2c-9f1a-3d2c7b6a5e4f",
    }

    error = make_error(422, json.dumps(body))

    assert error.http_status == 422
    assert error.code == "UNPROCESSABLE_ENTITY"
    assert error.messages == ["title is too long"]
    assert error.debug_id == "41b9e4ab-7e8d-4b2c-9f1a-3d2c7b6a5e4f"
    assert error.method == "PUT"
    assert error.url == URL
    assert "HTTP 422" in str(error)
    assert "title is too long" in str(error)


def test_list_of_validation_details() -> None:
    body = {
        "error": {
            "code": "UNPROCESSABLE_ENTITY",
            "detail": [
                {"loc": ["body", "flow_viewers", 0], "msg": "invalid principal"},
                {"loc": ["body", "title"], "msg": "field required"},
            ],
        }
    }

    error = make_error(422, json.dumps(body))

    assert error.messages == [
        "body.flow_viewers.0: invalid principal",
        "body.title: field required",
    ]


def test_groups_errors_list() -> None:
    body = {"errors": [{"code": "NOT_FOUND", "detail": "no such group"}]}

    error = make_error(404, json.dumps(body))

    assert error.code == "NOT_FOUND"
    assert error.messages == ["no such group"]


def test_html_502_body() -> None:
    error = make_error(502, "<html><body>Bad Gateway</body></html>")

    assert error.http_status == 502
    assert error.code is None
    assert error.messages == []
    assert error.body is None
    assert "Bad Gateway" in str(error)


def test_plain_text_400() -> None:
    error = make_error(400, "title must be a string")

    assert error.http_status == 400
    assert error.code is None
    assert error.text == "title must be a string"
    assert "title must be a string" in str(error)


def test_empty_403() -> None:
    error = make_error(403, "")

    assert error.http_status == 403
    assert error.code is None
    assert error.messages == []
    assert str(error) == f"PUT {URL} returned HTTP 403"


def test_null_404() -> None:
    error = make_error(404, "null")

    assert error.http_status == 404
    assert error.code is None
    assert error.errors == []


@pytest.mark.parametrize(
    "text",
    [
        "[1, 2, 3]",
        '"just a string"',
        "42",
        '{"error": "flat string"}',
        '{"error": {"code": 17, "detail": {"nested": true}}}',
        '{"errors": "not a list"}',
        '{"code": null, "message": ["a", 3, {"msg": 4}]}',
        "{truncated",
    ],
)
def test_odd_bodies_never_crash(text: str) -> None:
    error = make_error(500, text)

    assert error.http_status == 500
    assert isinstance(str(error), str)
    assert all(isinstance(message, str) for message in error.messages)


def test_request_id_from_header() -> None:
    error = make_error(500, "", **{"X-Request-Id": "req-9"})

    assert error.debug_id == "req-9"


def test_long_body_shortened_in_message() -> None:
    error = make_error(500, "x" * 5000)

    assert len(str(error)) < 700
    assert error.text == "x" * 5000


def test_repr_names_scheme_only() -> None:
    error = make_error(400, "bad")

    assert "Bearer" in repr(error)
    assert "authorization_scheme" in repr(error)


def test_run_failed_description() -> None:
    run = {
        "run_id": "r-1",
        "status": "FAILED",
        "details": {"code": "FlowFailed", "description": "transfer failed"},
    }

    error = RunFailed(run)

    assert error.run_id == "r-1"
    assert error.description == "transfer failed"
    assert "transfer failed" in str(error)


def test_login_required_dedupes_scopes() -> None:
    error = LoginRequired("login", required_scopes=["a", "b", "a"])

    assert error.required_scopes == ["a", "b"]


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("title", "title: too long"),
        (3, "3: too long"),
        ([{"a": 1}, "b"], "b: too long"),
    ],
    ids=["string", "number", "nested-part"],
)
def test_validation_loc_scalar_shown(location: object, expected: str) -> None:
    body = {"detail": [{"loc": location, "msg": "too long"}]}

    error = make_error(422, json.dumps(body))

    assert error.messages == [expected]


def test_many_messages_counted_when_cut() -> None:
    body = {"errors": [{"detail": f"problem {index}"} for index in range(1_000)]}

    error = make_error(422, json.dumps(body))

    assert len(error.messages) == 1_000
    assert "(1000 messages in all)" in str(error)
    assert len(str(error)) < 700


def test_long_code_shortened() -> None:
    error = make_error(400, json.dumps({"code": "C" * 5_000}))

    assert error.code == "C" * 5_000
    assert len(str(error)) < 700


def test_problem_replaces_details() -> None:
    error = APIError(
        method="GET",
        url=URL,
        http_status=200,
        text='[{"detail": "a run, not an error"}]',
        problem="its body is an array, not the JSON object this request returns",
    )

    assert str(error) == (
        f"GET {URL} returned HTTP 200, but its body is an array, not the JSON "
        'object this request returns. Body: [{"detail": "a run, not an error"}]'
    )
    assert error.errors == []
    assert error.problem is not None


def test_problem_with_empty_body() -> None:
    error = APIError(
        method="GET", url=URL, http_status=204, text="", problem="its body is not JSON"
    )

    assert str(error).endswith("but its body is not JSON. The body is empty.")
