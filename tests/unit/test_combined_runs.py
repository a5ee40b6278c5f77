"""`CombinedRuns`: callers arriving while a run works go together into the next run, and each
gets its own result, or the run's error."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import pytest

from billing.validation.combined_runs import CombinedRuns


class _Runs:
    """A run that doubles its items and records the groups it was given; the first run waits
    until `release` is set, so the callers arriving meanwhile queue up."""

    def __init__(self) -> None:
        self.groups: list[list[int]] = []
        self.started = threading.Event()
        self.release = threading.Event()

    def __call__(self, items: Sequence[int]) -> list[int]:
        self.groups.append(list(items))
        if len(self.groups) == 1:
            self.started.set()
            assert self.release.wait(10)
        if any(item < 0 for item in items):
            raise ValueError(f"negative among {list(items)}")
        return [2 * item for item in items]


def _submit_all(
    runs: CombinedRuns[int, int], items: list[int]
) -> tuple[dict[int, object], list[threading.Thread]]:
    answers: dict[int, object] = {}

    def call(item: int) -> None:
        try:
            answers[item] = runs.submit(item)
        except ValueError as error:
            answers[item] = error

    threads = [threading.Thread(target=call, args=(item,)) for item in items]
    for thread in threads:
        thread.start()
    return answers, threads


def _wait_queued(runs: CombinedRuns[int, int], count: int) -> None:
    for _ in range(1000):
        with runs._waiting_lock:
            if len(runs._waiting) == count:
                return
        threading.Event().wait(0.01)
    raise AssertionError(f"{count} callers did not queue")


def test_callers_arriving_during_a_run_go_together_into_the_next_and_get_their_own_results():
    run = _Runs()
    runs: CombinedRuns[int, int] = CombinedRuns(run)
    first, first_threads = _submit_all(runs, [1])
    assert run.started.wait(10)
    rest, threads = _submit_all(runs, [2, 3, 4, 5])
    _wait_queued(runs, 4)
    run.release.set()
    for thread in first_threads + threads:
        thread.join(10)
    assert first == {1: 2}
    assert rest == {2: 4, 3: 6, 4: 8, 5: 10}
    assert run.groups[0] == [1]
    assert sorted(run.groups[1]) == [2, 3, 4, 5] and len(run.groups) == 2


def test_a_lone_caller_runs_its_own_item_at_once():
    groups: list[list[int]] = []
    runs: CombinedRuns[int, int] = CombinedRuns(lambda items: groups.append(list(items)) or [7] * len(items))
    assert [runs.submit(n) for n in range(3)] == [7, 7, 7]
    assert groups == [[0], [1], [2]]


def test_every_caller_of_a_failed_run_raises_its_error_and_the_next_run_goes_on():
    run = _Runs()
    runs: CombinedRuns[int, int] = CombinedRuns(run)
    first, first_threads = _submit_all(runs, [1])
    assert run.started.wait(10)
    rest, threads = _submit_all(runs, [-2, 3])
    _wait_queued(runs, 2)
    run.release.set()
    for thread in first_threads + threads:
        thread.join(10)
    assert first == {1: 2}
    assert all(isinstance(rest[n], ValueError) for n in (-2, 3))
    assert runs.submit(4) == 8


def test_a_run_giving_the_wrong_number_of_results_fails_its_callers():
    runs: CombinedRuns[int, int] = CombinedRuns(lambda items: [])
    with pytest.raises(RuntimeError, match="gave 0 results for 1 items"):
        runs.submit(1)
