"""The typed fast path (`service.ingest_fast`) against the record-by-record path: on any body,
either it declines (None) or it gives exactly what `validate_records` gives, and that with no
rejection. The contract's answers are `validate_records`'; this only proves the shortcut never
changes one."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.api.bodies import json_batch
from service.domain import Characteristic
from service.errors import ServiceError
from service.ingest import validate_records
from service.ingest_fast import decode_typed, validate_typed

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
SKEW = timedelta(seconds=300)
BASE = Characteristic(
    id=1,
    key="a",
    name="a",
    unit=None,
    description=None,
    station=None,
    line=None,
    site=None,
    chart="imr",
    subgroup_size=1,
    subgroup_by="size",
    lsl=None,
    usl=None,
    target=None,
    rules="western-electric",
    sigma_method=None,
    decimals=None,
    params={},
    auto_limits_after=None,
    created_at=NOW,
    updated_at=NOW,
)
CHARS = {
    "a": BASE,
    "b": replace(BASE, id=2, key="b"),
    "p": replace(BASE, id=3, key="p", chart="p", subgroup_size=5),
    "c": replace(BASE, id=4, key="c", chart="c"),
}

GOOD_TS = [
    "2026-11-27T11:00:00Z",
    "2026-11-27T11:00:00.123456+00:00",
    "2026-11-27T12:00:00+01:00",
    "2026-11-27T11:59:59.5Z",
]
ODD_TS = [
    "2026-11-27T11:00:00",  # no zone
    "2026-11-27T13:00:00Z",  # an hour ahead
    "2026-11-27 11:00:00+00:00",
    "20261127T110000Z",
    "yesterday",
    "",
    "2026-11-27T11:00:00.1234567Z",
]


def _mostly(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any]) -> Any:
    """A good value nine times in ten: a record is all good often enough to reach the fast
    path, and then one bad field is the only thing that must make it decline."""
    return st.integers(0, 9).flatmap(lambda k: bad if k == 0 else good)


TEXT = _mostly(
    st.one_of(st.none(), st.sampled_from(["s1", "L42", "", "plc-7"]), st.text(max_size=200)),
    st.one_of(st.text(min_size=201, max_size=205), st.integers(0, 9), st.just([])),
)
FIELDS: dict[str, Any] = {
    "characteristic": _mostly(
        st.sampled_from(["a", "b", "p", "c"]), st.sampled_from(["", "zz", 7])
    ),
    "ts": _mostly(st.sampled_from(GOOD_TS), st.one_of(st.sampled_from(ODD_TS), st.integers(0, 5))),
    "value": _mostly(
        st.one_of(st.sampled_from([0, 1, 2, 3, 5, 2.5, 10.25]), st.floats(-1e6, 1e6)),
        st.one_of(
            st.sampled_from([6, -1, "1.0", True, None, 1e308 * 10]),
            st.integers(-(2**70), 2**70),
            st.floats(allow_nan=False),
        ),
    ),
    "subgroup": TEXT,
    "lot": TEXT,
    "serial": TEXT,
    "source": TEXT,
    "seq": _mostly(
        st.one_of(st.none(), st.integers(0, 6)),
        st.sampled_from([2**63, -(2**63) - 1, 2**63 - 1, -(2**63), 1.5, "4", True]),
    ),
    "quality": _mostly(
        st.sampled_from([None, "good", "bad", "uncertain"]), st.sampled_from(["excellent", 1])
    ),
}
REQUIRED = {"characteristic", "ts", "value"}


@st.composite
def record(draw: st.DrawFn) -> Any:
    if draw(st.integers(0, 40)) == 0:
        return draw(st.sampled_from([None, 3, "x", [1], True]))
    out: dict[str, Any] = {}
    for name, strategy in FIELDS.items():
        present = draw(st.integers(0, 30)) > 0 if name in REQUIRED else draw(st.booleans())
        if present:
            out[name] = draw(strategy)
    return out


def _both(records: list[Any]) -> tuple[Any, Any]:
    body = json.dumps({"measurements": records}).encode()
    typed = decode_typed(body, 10_000)
    fast = (
        None
        if typed is None
        else validate_typed(typed, CHARS.get, now=NOW, skew=SKEW, naive="reject")
    )
    try:
        slow: Any = validate_records(
            json_batch(body, "measurements", 10_000), CHARS.get, now=NOW, skew=SKEW
        )
    except ServiceError:
        slow = None
    return fast, slow


@settings(max_examples=600, deadline=None)
@given(records=st.lists(record(), max_size=8))
def test_the_fast_path_never_changes_an_answer(records: list[Any]) -> None:
    fast, slow = _both(records)
    if fast is not None:
        accepted, rejected, duplicates = slow
        assert rejected == []
        assert (fast[0], fast[1]) == (accepted, duplicates)


@settings(max_examples=200, deadline=None)
@given(
    records=st.lists(
        st.fixed_dictionaries(
            {
                "characteristic": st.sampled_from(["a", "b", "p", "c"]),
                "ts": st.sampled_from(GOOD_TS),
                "value": st.sampled_from([0, 1, 2, 3.0, 4]),
            },
            optional={
                "seq": st.integers(0, 5),
                "source": st.sampled_from(["plc-7", ""]),
                "lot": st.sampled_from(["L1", "L2"]),
                "quality": st.sampled_from(["good", "uncertain", "bad"]),
            },
        ),
        min_size=1,
        max_size=20,
    )
)
def test_good_batches_take_the_fast_path(records: list[Any]) -> None:
    fast, slow = _both(records)
    assert fast is not None  # every record here is good: no reason to decline
    assert (fast[0], fast[1]) == (slow[0], slow[2]) and slow[1] == []


def test_it_declines_what_it_must_not_answer() -> None:
    good = {"characteristic": "a", "ts": GOOD_TS[0], "value": 1.0}
    assert _both([good])[0] is not None
    for bad in (
        {**good, "characteristic": "zz"},
        {**good, "ts": ODD_TS[0]},
        {**good, "value": "1.0"},
        {**good, "seq": 2**63},
        {**good, "lot": "x" * 201},
        {**good, "source": "x" * 201},
        {**good, "ts": "2026-11-27T14:00:00+01:00"},
        {**good, "serial": "x" * 201},
        {**good, "ts": ODD_TS[1]},
        {**good, "characteristic": "p", "value": 6},
        {**good, "quality": "excellent"},
    ):
        fast, slow = _both([good, bad])
        assert fast is None and len(slow[1]) == 1
    assert decode_typed(b'{"measurements": [{"characteristic": "a"}]}', 10) is None
    assert decode_typed(b"not json", 10) is None
    assert decode_typed(json.dumps({"measurements": [good] * 3}).encode(), 2) is None


def test_a_failing_request_withdraws_its_announcement_once(live: Any) -> None:
    """The group commit leader waits for announced requests (`service.group_commit`): a
    request that fails on either path must leave the count of arriving requests as it was."""
    ctx = live.ctx
    committer = ctx.ingest_service.committer
    body = json.dumps(
        {"measurements": [{"characteristic": "a", "ts": GOOD_TS[0], "value": 1.0}]}
    ).encode()

    def broken(keys: set[str]) -> dict[str, Characteristic]:
        raise RuntimeError("database gone")

    before = committer._arriving
    original = ctx.ingest_service.chars.resolve
    ctx.ingest_service.chars.resolve = broken
    try:
        for typed in (lambda: decode_typed(body, 10), None):
            with pytest.raises(RuntimeError, match="database gone"):
                ctx.ingest_body(lambda: json_batch(body, "measurements", 10), typed)
            assert committer._arriving == before
    finally:
        ctx.ingest_service.chars.resolve = original
    answer = ctx.ingest_body(lambda: json_batch(body, "measurements", 10), lambda: None)
    assert answer.rejected == [{"index": 0, "error": "unknown characteristic 'a'"}]
    assert committer._arriving == before
