"""The API client against an httpx MockTransport: paths, parameters, token, error mapping."""

from __future__ import annotations

import json

import httpx
import pytest

from dashboard.api import (
    ApiClient,
    ApiError,
    AuthError,
    ConflictError,
    ForbiddenError,
    NotFoundError,
    UnavailableError,
)


def recording(status: int = 200, body: object = None):
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, json=body if body is not None else {})

    return seen, httpx.MockTransport(handler)


def test_token_sent_as_bearer_and_with_token_shares_the_pool():
    seen, transport = recording(body={"name": "ann", "role": "operator"})
    base = ApiClient("http://svc", transport=transport)
    assert base.with_token("tok-1").me() == {"name": "ann", "role": "operator"}
    base.with_token(None).me()
    assert seen[0].headers["authorization"] == "Bearer tok-1"
    assert "authorization" not in seen[1].headers
    assert base.with_token("x")._http is base._http


def test_chart_query_uses_contract_parameter_names_and_quotes_keys():
    seen, transport = recording(body={"chart": "imr", "points": []})
    api = ApiClient("http://svc/", transport=transport, token="t")
    api.chart("line1.op20/bore", start="2026-11-26T00:00:00Z", max_points=2000)
    request = seen[0]
    assert request.url.raw_path.split(b"?")[0] == b"/api/v1/characteristics/line1.op20%2Fbore/chart"
    assert dict(request.url.params) == {"from": "2026-11-26T00:00:00Z", "max_points": "2000"}


def test_acknowledge_and_limits_bodies():
    seen, transport = recording(body={"version": 3, "center": 1.0, "sigma": 0.1})
    api = ApiClient("http://svc", transport=transport, token="t")
    api.acknowledge(12, cause="tool-wear", action="tool-changed", note="insert chipped")
    api.propose_limits("k", start="a", end="b", reason="new tool")
    api.approve_limits("k", 3, reason="ok")
    assert seen[0].url.path == "/api/v1/alarms/12/acknowledge"
    assert json.loads(seen[0].content) == {
        "cause": "tool-wear",
        "action": "tool-changed",
        "note": "insert chipped",
    }
    assert json.loads(seen[1].content) == {"from": "a", "to": "b", "reason": "new tool"}
    assert seen[2].url.path == "/api/v1/characteristics/k/limits/3/approve"


def test_list_answers_accept_bare_lists_and_items_envelopes():
    _, bare = recording(body=[{"id": 1}])
    _, wrapped = recording(body={"items": [{"id": 2}], "total": 1})
    assert ApiClient("http://s", transport=bare).alarms(state="open") == [{"id": 1}]
    assert ApiClient("http://s", transport=wrapped).alarms() == [{"id": 2}]


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (401, AuthError),
        (403, ForbiddenError),
        (404, NotFoundError),
        (409, ConflictError),
        (418, ApiError),
        (503, UnavailableError),
    ],
)
def test_errors_mapped_by_status_with_detail(status, cls):
    _, transport = recording(status, {"detail": "nope"})
    with pytest.raises(cls) as info:
        ApiClient("http://s", transport=transport).characteristics()
    assert info.value.status == status and info.value.detail == "nope"


def test_validation_errors_name_the_field():
    body = {"detail": [{"loc": ["body", "cause"], "msg": "field required", "type": "missing"}]}
    _, transport = recording(422, body)
    with pytest.raises(ApiError) as info:
        ApiClient("http://s", transport=transport).acknowledge(1, cause="", action="")
    assert info.value.detail == "cause: field required"


def test_unreachable_service_is_unavailable_error():
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    api = ApiClient("http://s", transport=httpx.MockTransport(handler))
    with pytest.raises(UnavailableError):
        api.characteristics()
    assert api.health() is False
