"""Group sizes under load: a group takes about half of the rows in the system, so that the other
half parses while it commits (service.group_commit)."""

from __future__ import annotations

import threading
import time
from typing import Any

from service.group_commit import GroupCommitter


def groups_formed(sizes: list[int], **options: Any) -> list[list[int]]:
    """The groups a committer forms when `sizes[0]` is being committed while the other batches
    queue behind it (each batch's size is its row count)."""
    groups: list[list[int]] = []
    gate = threading.Event()

    def process(items: list[int]) -> list[int]:
        groups.append(list(items))
        gate.wait(5)
        return list(items)

    committer: GroupCommitter[int, int] = GroupCommitter(
        process, size_of=lambda rows: rows, linger=0.0, **options
    )
    threads = [threading.Thread(target=committer.submit, args=(size,)) for size in sizes]
    threads[0].start()
    deadline = time.monotonic() + 10
    while not groups and time.monotonic() < deadline:
        time.sleep(0.001)
    for t in threads[1:]:
        t.start()
    while len(committer._queue) < len(sizes) - 1 and time.monotonic() < deadline:
        time.sleep(0.001)
    gate.set()
    for t in threads:
        t.join(5)
    return groups


def test_a_group_takes_half_of_the_peak_load_and_small_loads_stay_whole() -> None:
    # 8,000 rows in the system (one batch running, seven queued): groups of about half.
    busy = groups_formed([1_000] * 8, floor=2_000)
    assert [sum(g) for g in busy] == [1_000, 4_000, 3_000]
    # Below the floor everything waiting goes in one group, as before.
    assert [len(g) for g in groups_formed([100] * 6)] == [1, 5]
