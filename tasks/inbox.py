"""The inbox ledger's tasks: check a file against what was ingested, remember it once read."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from billing.core.errors import SourceMissing
from billing.runtime import resources
from billing.runtime.settings import get_settings
from billing.services.inbox import InboxCheck, check_file, remember_ingested


@task(name="check-inbox-file", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5)
def check_inbox_file(path: str, wait_for_settle: bool) -> InboxCheck | None:
    """The file against the ledger: new, unchanged, changed, or (`wait_for_settle`, the
    scheduled inbox) settling: modified within `BILLING_INBOX_SETTLE_SECONDS`. None for a file
    that is not there (gone, a broken link): reading it then says why, in one line; it is not
    a failed task, retried and logged with a traceback. Any other error (a network blip of an
    object store) fails the try, and the task's retries try again."""
    settle = timedelta(seconds=get_settings().inbox_settle_seconds)
    try:
        return check_file(resources.engine(), path, resources.utc_now(), settle, wait_for_settle)
    except SourceMissing:
        return None


@task(name="remember-ingested-file", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5)
def remember_file(check: InboxCheck, counts: dict[str, Any]) -> str | None:
    """Record the file in the ledger, after all its chunks committed; a warning if it changed
    while it was read."""
    return remember_ingested(resources.engine(), check, counts, resources.utc_now())
