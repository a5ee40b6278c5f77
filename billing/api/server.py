"""`billing serve`: the API under uvicorn, in one process or several."""

from __future__ import annotations

import gc

from fastapi import FastAPI

from billing.runtime import resources

WORKER_START_SECONDS = 120


def served_app() -> FastAPI:
    """The app of one server process, ready before it listens: the schema checked and Great
    Expectations (seconds of import) loaded, so that no first request pays for them, and what
    they made frozen out of the garbage collector's way."""
    from billing.api.app import create_app

    resources.engine()  # refuse to start on a database without the schema
    resources.event_suite()
    app = create_app()
    # What start-up made lives as long as the process (Great Expectations alone leaves some
    # 300,000 objects): frozen, no collection scans them again. Unfrozen, each full collection
    # under load walks them all, a pause of 100-250 ms on this machine that a request waits out.
    gc.collect()
    gc.freeze()
    return app


def serve(host: str, port: int, workers: int = 1) -> None:
    """Several `workers` are processes sharing the port, each with its own connection pool and
    rate limit buckets (the limit is then per key and process)."""
    import uvicorn

    if workers == 1:
        uvicorn.run(served_app(), host=host, port=port, log_level="info")
        return
    resources.engine()  # the schema's error once, in the parent, before any worker starts
    uvicorn.run(
        "billing.api.server:served_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        # a worker (re)started by the supervisor (on SIGHUP, or after one died) is ready once it
        # has loaded Great Expectations: seconds, more than uvicorn's default 5 s on a busy machine
        timeout_worker_healthcheck=WORKER_START_SECONDS,
    )
