"""The inbox ledger's tasks: check a file against what was ingested, remember it once read."""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from billing.runtime import resources
from billing.services.inbox import InboxCheck, check_file, remember_ingested


@task(name="check-inbox-file", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5)
def check_inbox_file(path: str) -> InboxCheck:
    """The file's size and content hash (streamed) against the ledger: new, unchanged, changed."""
    return check_file(resources.engine(), path)


@task(name="remember-ingested-file", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5)
def remember_file(check: InboxCheck, counts: dict[str, Any]) -> str | None:
    """Record the file in the ledger, after all its chunks committed; a warning if it changed
    while it was read."""
    return remember_ingested(resources.engine(), check, counts, resources.utc_now())
