"""`billing serve`: the API under uvicorn, in one process or several."""

from __future__ import annotations

from fastapi import FastAPI

from billing.runtime import resources

MAX_WORKERS = 64


def served_app() -> FastAPI:
    """The app of one server process, ready before it listens: the schema checked and Great
    Expectations (seconds of import) loaded, so that no first request pays for them."""
    from billing.api.app import create_app

    resources.engine()  # refuse to start on a database without the schema
    resources.event_suite()
    return create_app()


def serve(host: str, port: int, workers: int = 1) -> None:
    """Several `workers` are processes sharing the port, each with its own connection pool and
    rate limit buckets (the limit is then per key and process)."""
    import uvicorn

    if workers == 1:
        uvicorn.run(served_app(), host=host, port=port, log_level="info")
        return
    resources.engine()  # the schema's error once, in the parent, before any worker starts
    uvicorn.run(
        "billing.api.server:served_app", factory=True, host=host, port=port, workers=workers, log_level="info"
    )
