"""When a failed delivery is tried again, and when it is given up: exponential backoff, bounded.

A delivery's `attempts` counts its tries, the one that just failed included. After the first
failure it waits `FIRST_RETRY`, then twice as long after each further one, never more than
`LONGEST_RETRY`; the `MAX_ATTEMPTS`-th failure is final. A permanent failure (the receiver
refused the message itself: a 4xx other than 408 and 429, an address that is not one) is final
at once: trying the same message again cannot succeed. A receiver that says how long to wait
(`Retry-After` on an answer that may pass later) is not tried before then, up to
`LONGEST_ASKED_WAIT`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

MAX_ATTEMPTS = 8
FIRST_RETRY = timedelta(minutes=1)
LONGEST_RETRY = timedelta(hours=1)
LONGEST_ASKED_WAIT = timedelta(days=1)  # a longer Retry-After is taken as this long


def retry_delay(attempts: int) -> timedelta:
    """How long to wait after the `attempts`-th failed try: 1 min, 2, 4, … capped at 1 h."""
    if attempts < 1:
        raise ValueError(f"a failed delivery was tried at least once, not {attempts} times")
    # past 2**6 minutes the cap holds: no need to build huge numbers for huge attempt counts
    return min(FIRST_RETRY * (1 << min(attempts - 1, 16)), LONGEST_RETRY)


def next_try(
    attempts: int, retryable: bool, now: datetime, asked_wait: timedelta | None = None
) -> datetime | None:
    """When a delivery that just failed on its `attempts`-th try is tried again; None: never
    (the failure is permanent, or it was the last try allowed). `asked_wait`: how long the
    receiver asked to be left alone (its `Retry-After`), a floor under the backoff."""
    if not retryable or attempts >= MAX_ATTEMPTS:
        return None
    delay = retry_delay(attempts)
    if asked_wait is not None:
        delay = max(delay, min(asked_wait, LONGEST_ASKED_WAIT))
    return now + delay
