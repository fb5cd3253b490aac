"""A small typed client for the Linewatch service API (routes under ``/api/v1``).

The dashboard never touches the database: every screen reads through this client. One
:class:`ApiClient` per app holds the connection pool; :meth:`ApiClient.with_token` gives the
per-browser-session view, because the token lives in the browser (a session ``dcc.Store``) and
arrives with each callback. The transport is injectable (``httpx.MockTransport`` in tests), as in
httpx's own test discipline.

Answers are plain JSON dicts, exactly as the service sends them: the figure builders take the
same shapes, so there is one data model, the API's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpx

__all__ = [
    "ApiClient",
    "ApiError",
    "AuthError",
    "ConflictError",
    "ForbiddenError",
    "NotFoundError",
    "UnavailableError",
]

JSON = dict[str, Any]


class ApiError(Exception):
    """The service answered with an error (``{"detail": ...}``) or could not be reached."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail


class AuthError(ApiError):
    """401: no token, or a token the service does not know (expired, revoked)."""


class ForbiddenError(ApiError):
    """403: the token's role is too low for this action."""


class NotFoundError(ApiError):
    """404: no such characteristic, alarm or limits version."""


class ConflictError(ApiError):
    """409: the action conflicts with the current state (already acknowledged, approved...)."""


class UnavailableError(ApiError):
    """The service is down, timed out, or answered 5xx."""


_BY_STATUS: dict[int, type[ApiError]] = {
    401: AuthError,
    403: ForbiddenError,
    404: NotFoundError,
    409: ConflictError,
}


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    detail = body.get("detail") if isinstance(body, dict) else body
    if isinstance(detail, list):  # FastAPI validation errors: name the fields
        parts = []
        for item in detail:
            if isinstance(item, dict):
                loc = ".".join(str(x) for x in item.get("loc", ()) if x != "body")
                parts.append(f"{loc}: {item.get('msg', '')}".strip(": "))
        return "; ".join(parts) or str(detail)
    return str(detail)


def _params(**kwargs: Any) -> dict[str, Any]:
    """Query parameters without the unset ones; ``start``/``end`` become ``from``/``to``."""
    rename = {"start": "from", "end": "to"}
    return {rename.get(k, k): v for k, v in kwargs.items() if v is not None and v != ""}


class ApiClient:
    """Typed calls to the service. Cheap to copy with another token; share the pool."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 10.0,
        http: httpx.Client | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self._http = http or httpx.Client(
            base_url=self.base_url,
            transport=transport,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 3.0)),
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=16),
        )

    def with_token(self, token: str | None) -> ApiClient:
        """The same pool, acting for another browser session."""
        return ApiClient(self.base_url, token=token, http=self._http)

    def close(self) -> None:
        self._http.close()

    # -- plumbing -------------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
    ) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        try:
            response = self._http.request(method, path, params=params, json=json, headers=headers)
        except httpx.TimeoutException as exc:
            raise UnavailableError(0, f"service timed out ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            raise UnavailableError(0, f"service unreachable ({type(exc).__name__})") from exc
        if response.status_code >= 500:
            raise UnavailableError(response.status_code, _detail(response))
        if response.status_code >= 400:
            cls = _BY_STATUS.get(response.status_code, ApiError)
            raise cls(response.status_code, _detail(response))
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    def _get(self, path: str, **params: Any) -> Any:
        return self._request("GET", path, params=_params(**params))

    def _post(self, path: str, body: Any = None) -> Any:
        return self._request("POST", path, json=body if body is not None else {})

    @staticmethod
    def _key(key: str) -> str:
        return quote(key, safe="")

    # -- identity -------------------------------------------------------------------------------

    def health(self) -> bool:
        try:
            self._request("GET", "/health")
        except ApiError:
            return False
        return True

    def me(self) -> JSON:
        """Who the token belongs to: ``{"name": ..., "role": ...}``."""
        return dict(self._get("/api/v1/me"))

    # -- characteristics, charts, capability ----------------------------------------------------

    def characteristics(self) -> list[JSON]:
        body = self._get("/api/v1/characteristics")
        return list(body["items"] if isinstance(body, dict) and "items" in body else body)

    def characteristic(self, key: str) -> JSON:
        return dict(self._get(f"/api/v1/characteristics/{self._key(key)}"))

    def chart(
        self,
        key: str,
        *,
        start: str | None = None,
        end: str | None = None,
        max_points: int | None = None,
        limit: int | None = None,
    ) -> JSON:
        """The CLI chart JSON of the window, plus per point ``ts``, ``lot``, ``limit_version``
        and ``alarm_id``. ``max_points`` asks the service to thin the series for display."""
        return dict(
            self._get(
                f"/api/v1/characteristics/{self._key(key)}/chart",
                start=start,
                end=end,
                max_points=max_points,
                limit=limit,
            )
        )

    def capability(self, key: str, *, start: str | None = None, end: str | None = None) -> JSON:
        return dict(
            self._get(f"/api/v1/characteristics/{self._key(key)}/capability", start=start, end=end)
        )

    def measurements(
        self,
        key: str,
        *,
        start: str | None = None,
        end: str | None = None,
        limit: int | None = None,
    ) -> list[JSON]:
        body = self._get(
            f"/api/v1/characteristics/{self._key(key)}/measurements",
            start=start,
            end=end,
            limit=limit,
        )
        return list(body["items"] if isinstance(body, dict) and "items" in body else body)

    # -- limits ---------------------------------------------------------------------------------

    def limits(self, key: str) -> list[JSON]:
        body = self._get(f"/api/v1/characteristics/{self._key(key)}/limits")
        return list(body["items"] if isinstance(body, dict) and "items" in body else body)

    def propose_limits(self, key: str, *, start: str, end: str, reason: str | None = None) -> JSON:
        body: JSON = {"from": start, "to": end}
        if reason:
            body["reason"] = reason
        return dict(self._post(f"/api/v1/characteristics/{self._key(key)}/limits", body))

    def approve_limits(self, key: str, version: int, *, reason: str | None = None) -> JSON:
        body: JSON = {"reason": reason} if reason else {}
        answer = self._post(
            f"/api/v1/characteristics/{self._key(key)}/limits/{version}/approve", body
        )
        return dict(answer or {})

    # -- alarms ---------------------------------------------------------------------------------

    def alarms(
        self,
        *,
        state: str | None = None,
        characteristic: str | None = None,
        start: str | None = None,
        end: str | None = None,
        limit: int | None = None,
    ) -> list[JSON]:
        body = self._get(
            "/api/v1/alarms",
            state=state,
            characteristic=characteristic,
            since=start,
            until=end,
            limit=limit,
        )
        return list(body["items"] if isinstance(body, dict) and "items" in body else body)

    def acknowledge(
        self, alarm_id: int | str, *, cause: str, action: str, note: str | None = None
    ) -> JSON:
        body: JSON = {"cause": cause, "action": action}
        if note:
            body["note"] = note
        return dict(self._post(f"/api/v1/alarms/{alarm_id}/acknowledge", body) or {})

    def close_alarm(self, alarm_id: int | str, *, note: str | None = None) -> JSON:
        body: JSON = {"note": note} if note else {}
        return dict(self._post(f"/api/v1/alarms/{alarm_id}/close", body) or {})

    def alarm_stats(self, *, characteristic: str | None = None, start: str | None = None) -> JSON:
        """Counts per state and mean/median time to acknowledge of alarms opened since ``start``."""
        return dict(self._get("/api/v1/alarms/stats", characteristic=characteristic, since=start))

    def code_lists(self) -> JSON:
        """Assignable causes and corrective actions: ``{"causes": [...], "actions": [...]}``."""
        return dict(self._get("/api/v1/alarm-codes"))

    # -- quality cost ---------------------------------------------------------------------------

    def quality_cost(
        self,
        *,
        bucket: str = "week",
        by: str = "line",
        start: str | None = None,
        end: str | None = None,
    ) -> JSON:
        """Cost of poor quality per calendar bucket and ``by`` key: ``{"rows", "totals", ...}``."""
        return dict(self._get("/api/v1/quality-cost", bucket=bucket, by=by, start=start, end=end))

    def pareto(
        self,
        *,
        by: str = "defect_code",
        measure: str = "count",
        start: str | None = None,
        end: str | None = None,
        limit: int | None = None,
    ) -> JSON:
        """Items by decreasing ``measure`` with shares: ``{"items", "other", "total", ...}``."""
        return dict(
            self._get(
                "/api/v1/defects/pareto", by=by, measure=measure, start=start, end=end, limit=limit
            )
        )

    def quality_rates(
        self,
        *,
        bucket: str = "week",
        by: str = "site",
        start: str | None = None,
        end: str | None = None,
    ) -> JSON:
        """First-pass yield, PPM, scrap and rework rates per bucket: ``{"rows": [...]}``."""
        return dict(self._get("/api/v1/quality-rates", bucket=bucket, by=by, start=start, end=end))

    def cost_models(self) -> list[JSON]:
        """Cost models (manager): unit cost per product, for the value of the output."""
        body = self._get("/api/v1/cost-models")
        return list(body["items"] if isinstance(body, dict) and "items" in body else body)
