"""`billing serve`: the API under uvicorn."""

from __future__ import annotations

from billing.runtime import resources


def serve(host: str, port: int) -> None:
    import uvicorn

    from billing.api.app import create_app

    resources.engine()  # refuse to start on a database without the schema
    resources.event_suite()  # Great Expectations' seconds of import, before the first request
    uvicorn.run(create_app(), host=host, port=port, log_level="info")
