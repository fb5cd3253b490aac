"""Limit versions: proposals computed from phase I data (or typed in), approved by an engineer.

A version is immutable: its center, sigma, the full `spc.Limits`, the rule set and the phase I
definition (time window or subgroup labels, the highest measurement id it could see, which
points were excluded and in how many iterations) are stored, so `reproduce` recomputes the very
same numbers from stored data. Approval is a separate row written once; approving makes the
version current from the next measurement on (the characteristic's evaluation lock is held, so
no batch straddles the switch). Iterative exclusion follows the usual phase I practice
(Montgomery, Introduction to SQC, §6.3): drop the points that signal, recompute, repeat until
none signals, and report what was dropped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from service.domain import ATTRIBUTE_CHARTS, SUBGROUP_CHARTS, Characteristic, LimitVersion
from service.evaluation.engine import lock_characteristics
from service.evaluation.former import Subgroup, form_offline
from service.storage.db import Tx, utcnow
from service.storage.repository import Repository

MAX_ITERATIONS = 20


class LimitsError(ValueError):
    """A proposal cannot be computed; `field` names the request field at fault."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass
class Proposal:
    limits: Any  # spc.Limits
    center: float
    sigma: float
    lcl: float | None
    ucl: float | None
    phase1: dict[str, Any]
    method: str


def chart_kwargs(char: Characteristic) -> dict[str, Any]:
    params = dict(char.params or {})
    kwargs: dict[str, Any] = {"nsigmas": float(params.get("nsigmas", 3.0))}
    if char.chart == "ewma":
        kwargs.update(lam=float(params.get("lam", 0.2)), L=float(params.get("L", 3.0)))
    if char.chart == "cusum":
        kwargs.update(
            k=float(params.get("k", 0.5)),
            h=float(params.get("h", 5.0)),
            head_start=float(params.get("head_start", 0.0)),
        )
    return kwargs


def chart_data(char: Characteristic, subgroups: list[Subgroup]) -> tuple[Any, Any]:
    """(data, sizes) for `spc.chart` from formed subgroups."""
    if char.chart in SUBGROUP_CHARTS:
        return [sg.values for sg in subgroups], None
    values = [sg.values[0] for sg in subgroups]
    if char.chart in ATTRIBUTE_CHARTS and char.chart != "c":
        return values, [float(char.subgroup_size)] * len(values)
    return values, None


def nominal_limits(char: Characteristic, limits: Any) -> tuple[float | None, float | None]:
    """LCL and UCL at the characteristic's nominal subgroup size (steady state for EWMA)."""
    import spc

    if char.chart == "ewma":
        lam, big_l = limits.params["lam"], limits.params["L"]
        n = float(char.subgroup_size or 1)
        half = big_l * limits.sigma / math.sqrt(n) * math.sqrt(lam / (2.0 - lam))
        return limits.center - half, limits.center + half
    if char.chart == "cusum":
        return -limits.params["h"], limits.params["h"]
    n = int(char.subgroup_size or 1)
    if char.chart in SUBGROUP_CHARTS:
        point: Any = [limits.center] * max(n, 2)
    elif char.chart in ("p", "u") or char.chart == "np":
        point = (0.0, float(n))
    else:
        point = 0.0 if char.chart == "c" else limits.center
    result = spc.Monitor(limits, rules="none").update(point)
    return _finite(result.lcl), _finite(result.ucl)


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def phase1_subgroups(
    tx: Tx,
    repo: Repository,
    char: Characteristic,
    *,
    start: datetime | None,
    end: datetime | None,
    subgroups: list[str] | None,
    max_id: int,
) -> list[Subgroup]:
    rows = repo.window(tx, char.id, start, end, subgroups=subgroups, max_id=max_id)
    usable = [(p.id, p.ts, p.value, p.subgroup) for p in rows if p.quality != "bad"]
    return form_offline(char.chart, int(char.subgroup_size), char.subgroup_by, usable)


def compute(
    char: Characteristic,
    subgroups: list[Subgroup],
    *,
    rules: str | list[str],
    sigma_method: str | None,
    exclude_flagged: bool,
) -> tuple[Any, list[dict[str, Any]], int]:
    """(spc.ChartResult on the kept points, excluded points, iterations)."""
    import spc

    kept = list(subgroups)
    excluded: list[dict[str, Any]] = []
    iterations = 0
    kwargs = chart_kwargs(char)
    if char.chart not in ATTRIBUTE_CHARTS:
        kwargs["sigma_method"] = sigma_method
    while True:
        if not kept:
            raise LimitsError("no phase I data in the requested window", "from")
        data, sizes = chart_data(char, kept)
        try:
            result = spc.chart(char.chart, data, sizes=sizes, rules=rules, **kwargs)
        except spc.InsufficientDataError as exc:
            raise LimitsError(f"not enough phase I data: {exc}", "from") from exc
        except spc.SpcError as exc:
            raise LimitsError(str(exc), getattr(exc, "argument", None)) from exc
        iterations += 1
        if not exclude_flagged or iterations > MAX_ITERATIONS:
            return result, excluded, iterations
        flagged = _flagged(result)
        if not flagged:
            return result, excluded, iterations
        for position in sorted(flagged):
            sg = kept[position]
            excluded.append(
                {
                    "point": sg.point_no,
                    "first_id": sg.first_id,
                    "last_id": sg.last_id,
                    "ts": sg.last_ts.isoformat(),
                    "rules": flagged[position],
                    "iteration": iterations,
                }
            )
        kept = [sg for i, sg in enumerate(kept) if i not in flagged]


def _flagged(result: Any) -> dict[int, list[str]]:
    flagged: dict[int, list[str]] = {}
    for i, rules in enumerate(result.violations):
        if rules:
            flagged[i] = list(rules)
    dispersion = result.dispersion
    if dispersion is not None:
        # MR point j belongs to individuals j and j+1; R/S point i to subgroup i.
        offset = len(result.violations) - len(dispersion.violations)
        for j, rules in enumerate(dispersion.violations):
            if rules:
                flagged.setdefault(j + offset, []).extend(f"dispersion:{r}" for r in rules)
    return flagged


def propose(
    tx: Tx,
    repo: Repository,
    char: Characteristic,
    request: dict[str, Any],
    *,
    actor: str,
    method: str = "computed",
) -> LimitVersion:
    """Compute (or take the known) limits and store them as the next, unapproved version."""
    import spc

    rules = request.get("rules") or char.rules
    sigma_method = request.get("sigma_method", char.sigma_method)
    if request.get("center") is not None or request.get("sigma") is not None:
        proposal = known(char, request)
    else:
        max_id = repo.max_measurement_id(tx, char.id)
        start, end, labels = request.get("from"), request.get("to"), request.get("subgroups")
        subgroups = phase1_subgroups(
            tx, repo, char, start=start, end=end, subgroups=labels, max_id=max_id
        )
        if request.get("first") is not None:
            subgroups = subgroups[: int(request["first"])]
        exclude = bool(request.get("exclude_flagged", False))
        result, excluded, iterations = compute(
            char, subgroups, rules=rules, sigma_method=sigma_method, exclude_flagged=exclude
        )
        limits = result.limits
        lcl, ucl = nominal_limits(char, limits)
        proposal = Proposal(
            limits,
            result.center,
            result.sigma,
            lcl,
            ucl,
            {
                "from": start.isoformat() if start else None,
                "to": end.isoformat() if end else None,
                "subgroups": labels,
                "first": request.get("first"),
                "max_id": max_id,
                "points": len(subgroups) - len(excluded),
                "points_total": len(subgroups),
                "exclude_flagged": exclude,
                "excluded": excluded,
                "iterations": iterations,
                "sigma_method": sigma_method,
            },
            method,
        )
    version = repo.next_limit_version(tx, char.id)
    now = utcnow()
    values = {
        "version": version,
        "chart": char.chart,
        "center": proposal.center,
        "sigma": proposal.sigma,
        "nsigmas": proposal.limits.nsigmas,
        "subgroup_size": proposal.limits.subgroup_size,
        "lcl": proposal.lcl,
        "ucl": proposal.ucl,
        "limits": proposal.limits.to_dict(),
        "rules": list(spc.resolve_rules(rules)) if not isinstance(rules, str) else rules,
        "method": proposal.method,
        "phase1": proposal.phase1,
        "computed_by": actor,
        "computed_at": now,
        "reason": request.get("reason"),
    }
    repo.insert_limit_version(tx, char.id, values)
    repo.audit(
        tx,
        actor=actor,
        entity="limits",
        entity_key=f"{char.key}#{version}",
        action="propose",
        after={k: v for k, v in values.items() if k not in ("computed_at",)},
        reason=request.get("reason"),
    )
    created = repo.get_limit_version(tx, char.id, version)
    assert created is not None
    return created


def known(char: Characteristic, request: dict[str, Any]) -> Proposal:
    """Limits typed in by an engineer (historical or customer-given center and sigma)."""
    import spc

    if request.get("center") is None:
        raise LimitsError("center is required with sigma", "center")
    if request.get("sigma") is None:
        raise LimitsError("sigma is required with center", "sigma")
    kwargs = chart_kwargs(char)
    params: dict[str, float] = {}
    if char.chart == "ewma":
        params = {"lam": kwargs["lam"], "L": kwargs["L"]}
    elif char.chart == "cusum":
        params = {"k": kwargs["k"], "h": kwargs["h"], "head_start": kwargs["head_start"]}
    sigma = float(request["sigma"])
    dispersion_center = request.get("dispersion_center")
    n = int(char.subgroup_size or 1)
    if dispersion_center is None and char.chart in ("imr", "xbar-r", "xbar-s"):
        m = 2 if char.chart == "imr" else max(n, 2)
        dispersion_center = (spc.c4(m) if char.chart == "xbar-s" else spc.d2(m)) * sigma
    try:
        limits = spc.Limits(
            char.chart,
            center=request["center"],
            sigma=sigma,
            nsigmas=kwargs["nsigmas"],
            subgroup_size=float(n) if char.chart not in ("imr", "ewma", "cusum", "c") else None,
            dispersion_center=dispersion_center,
            params=params,
        )
    except spc.SpcError as exc:
        raise LimitsError(str(exc), getattr(exc, "argument", None)) from exc
    lcl, ucl = nominal_limits(char, limits)
    return Proposal(limits, limits.center, limits.sigma, lcl, ucl, {"known": True}, "known")


def approve(
    tx: Tx,
    repo: Repository,
    char: Characteristic,
    version: LimitVersion,
    *,
    actor: str,
    reason: str | None,
    auto: bool = False,
) -> LimitVersion:
    """Make `version` current: evaluation restarts from the next measurement."""
    lock_characteristics(tx, [char.id])
    previous = repo.current_version_number(tx, char.id)
    start_after = repo.max_measurement_id(tx, char.id)
    repo.insert_approval(tx, char.id, version.version, actor, utcnow(), reason, start_after)
    repo.reset_monitor(tx, char.id, version.version, start_after)
    repo.audit(
        tx,
        actor=actor,
        entity="limits",
        entity_key=f"{char.key}#{version.version}",
        action="auto-approve" if auto else "approve",
        before={"current_version": previous},
        after={
            "current_version": version.version,
            "center": version.center,
            "sigma": version.sigma,
            "lcl": version.lcl,
            "ucl": version.ucl,
        },
        reason=reason,
    )
    approved = repo.get_limit_version(tx, char.id, version.version)
    assert approved is not None
    return approved


def reproduce(tx: Tx, repo: Repository, char: Characteristic, version: LimitVersion) -> bool:
    """Recompute a version from the stored data and its phase I definition."""
    phase1 = version.phase1
    if phase1.get("known"):
        return True
    start = datetime.fromisoformat(phase1["from"]) if phase1.get("from") else None
    end = datetime.fromisoformat(phase1["to"]) if phase1.get("to") else None
    subgroups = phase1_subgroups(
        tx,
        repo,
        char,
        start=start,
        end=end,
        subgroups=phase1.get("subgroups"),
        max_id=int(phase1["max_id"]),
    )
    if phase1.get("first") is not None:
        subgroups = subgroups[: int(phase1["first"])]
    result, _, _ = compute(
        char,
        subgroups,
        rules=version.rules,
        sigma_method=phase1.get("sigma_method"),
        exclude_flagged=bool(phase1.get("exclude_flagged")),
    )
    return bool(result.center == version.center and result.sigma == version.sigma)


def auto_limits(tx: Tx, repo: Repository, char: Characteristic) -> LimitVersion | None:
    """Compute and approve limits once `auto_limits_after` phase I subgroups have arrived."""
    k = char.auto_limits_after
    if not k or repo.current_version_number(tx, char.id) is not None:
        return None
    needed = k * (char.subgroup_size if char.chart in SUBGROUP_CHARTS else 1)
    if repo.count_unevaluated(tx, char.id) < needed:
        return None
    max_id = repo.max_measurement_id(tx, char.id)
    formed = phase1_subgroups(tx, repo, char, start=None, end=None, subgroups=None, max_id=max_id)
    if len(formed) < k:
        return None
    try:
        proposal = propose(
            tx,
            repo,
            char,
            {"first": k, "reason": f"automatic after {k} subgroups"},
            actor="auto",
            method="auto",
        )
    except LimitsError:
        return None
    return approve(tx, repo, char, proposal, actor="auto", reason=proposal.reason, auto=True)
