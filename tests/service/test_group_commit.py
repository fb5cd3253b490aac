"""Group sizes under load: a group takes about half of the rows in the system, so that the other
half parses while it commits (service.group_commit)."""

from __future__ import annotations

import threading
import time

from service.group_commit import GroupCommitter


def test_a_group_takes_half_of_the_peak_load_and_small_loads_stay_whole() -> None:
    groups: list[list[int]] = []
    gate = threading.Event()

    def process(items: list[int]) -> list[int]:
        groups.append(list(items))
        gate.wait(5)
        return list(items)

    committer: GroupCommitter[int, int] = GroupCommitter(
        process, size_of=lambda rows: rows, floor=2_000, linger=0.0
    )
    threads = [threading.Thread(target=committer.submit, args=(1_000,))]
    threads[0].start()
    while not groups:
        time.sleep(0.001)
    for _ in range(7):  # queued behind the running group: 8,000 rows in the system
        threads.append(threading.Thread(target=committer.submit, args=(1_000,)))
        threads[-1].start()
    deadline = time.monotonic() + 10
    while len(committer._queue) < 7 and time.monotonic() < deadline:
        time.sleep(0.001)
    gate.set()
    for t in threads:
        t.join(5)
    assert [sum(g) for g in groups] == [1_000, 4_000, 3_000]

    # Below the floor everything waiting goes in one group, as before.
    small: list[list[int]] = []
    hold = threading.Event()

    def slow(items: list[int]) -> list[int]:
        small.append(list(items))
        hold.wait(5)
        return list(items)

    few: GroupCommitter[int, int] = GroupCommitter(slow, size_of=lambda rows: rows, linger=0.0)
    first = threading.Thread(target=few.submit, args=(100,))
    first.start()
    while not small:
        time.sleep(0.001)
    rest = [threading.Thread(target=few.submit, args=(100,)) for _ in range(5)]
    for t in rest:
        t.start()
    while len(few._queue) < 5 and time.monotonic() < deadline:
        time.sleep(0.001)
    hold.set()
    for t in [first, *rest]:
        t.join(5)
    assert [len(g) for g in small] == [1, 5]
