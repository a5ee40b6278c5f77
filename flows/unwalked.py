"""Task arguments that Prefect passes through without walking them.

Before a task runs, Prefect visits every element of its arguments, twice (looking for futures
and states to wait on and to record as the task's inputs): for a chunk of 2,000 customer ids, the
10,000 ids of a run's credit alerts or the 15,000 rows of its summary, that costs more than the
task's own work. `unwalked(value)` is `prefect.utilities.annotations.quote`, typed as the value it
wraps: the task receives the value itself. Only for arguments that hold no future or state.
"""

from __future__ import annotations

from typing import TypeVar, cast

from prefect.utilities.annotations import quote

T = TypeVar("T")


def unwalked(value: T) -> T:
    """`value` marked for Prefect not to walk (the task gets `value` unwrapped)."""
    return cast(T, quote(value))
