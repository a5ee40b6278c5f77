"""Running a flow in a test and reading what its run left on the Prefect server.

`flow(..., return_state=True).result()` is not used for a completed run: the state it returns is
the one the server answered with, and when the server answers a repeated proposal (the client
retries after the harness's SQLite database was briefly locked) that state carries no data, so
`result()` raises `MissingResult` although the run completed. `completed_run` takes the return
value from the call itself and the run's id from the flow's completion hook; `failed_run` the
error the call raised and the run's id and state message from its failure hook. Task runs reach
the server in the background: `task_run_names` waits for them."""

from __future__ import annotations

import time
from typing import Any, NamedTuple
from uuid import UUID


def completed_run(flow: Any, *args: Any, **kwargs: Any) -> tuple[Any, UUID]:
    """Run `flow` to completion; its return value and its flow run's id."""
    ids: list[UUID] = []
    hooked = flow.with_options(  # the flow's own hooks kept
        on_completion=[*flow.on_completion_hooks, lambda _flow, run, _state: ids.append(run.id)]
    )
    result = hooked(*args, **kwargs)
    (run_id,) = ids
    return result, run_id


class FailedRun(NamedTuple):
    error: BaseException
    run_id: UUID
    message: str


def failed_run(flow: Any, *args: Any, **kwargs: Any) -> FailedRun:
    """Run `flow`, which must fail; what it raised, its flow run's id and its state's message."""
    seen: list[tuple[UUID, str]] = []
    hooked = flow.with_options(
        on_failure=[*flow.on_failure_hooks, lambda _flow, run, state: seen.append((run.id, state.message))]
    )
    try:
        hooked(*args, **kwargs)
    except Exception as error:
        ((run_id, message),) = seen
        return FailedRun(error, run_id, message)
    raise AssertionError(f"{flow.name} completed; it was expected to fail")


def task_run_names(flow_run_id: UUID, at_least: int, wait_seconds: float = 60) -> list[str]:
    """The names (without their suffix) of the run's task runs, sorted. The server records task
    runs from the events the client sends after each one, in the background: read again until
    `at_least` of them are recorded or `wait_seconds` have passed."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    deadline = time.monotonic() + wait_seconds
    with get_client(sync_client=True) as client:
        while True:
            runs = client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
            )
            if len(runs) >= at_least or time.monotonic() > deadline:
                return sorted(run.name.rsplit("-", 1)[0] for run in runs)
            time.sleep(0.2)


def artifact(flow_run_id: UUID, key: str | None = None) -> str:
    """The run's artifact (its one artifact, or the one of `key`; an ingest run publishes its
    counts as `ingest-usage` and its validation as `ingest-validation`)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )
    (found_one,) = [a for a in found if key is None or a.key == key]
    return str(found_one.data)
