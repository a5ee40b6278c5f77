"""The HTTP API: cost previews with the rating code invoices use."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI
from pydantic import ValidationError
from sqlalchemy.engine import Engine

from billing.api import dependencies as deps
from billing.api.console_routes import install_console_routes
from billing.api.errors import install_error_handlers
from billing.api.event_routes import install_event_routes
from billing.api.invoice_documents import add_document_routes
from billing.api.invoice_routes import install_invoice_routes
from billing.api.notification_routes import install_notification_routes
from billing.api.preview_schemas import PreviewAnswer
from billing.api.rate_limit import RateLimiter
from billing.api.request_body import BodyLimit
from billing.api.request_url import RefuseNulInUrl
from billing.api.schemas import PreviewRequest, error_responses
from billing.api.usage_routes import install_usage_routes
from billing.core.errors import InvalidUsage
from billing.runtime.settings import Settings, get_settings
from billing.services.preview import preview_active
from billing.store.database import create_engine


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(title="Usage billing API", version="1", docs_url="/docs", redoc_url=None)
    app.state.settings = settings
    app.state.engine = engine or create_engine(
        settings.database_url, pool_timeout=settings.api_database_timeout_seconds
    )
    app.state.rate_limiter = RateLimiter(settings.api_rate_limit, settings.api_rate_burst)
    app.add_middleware(BodyLimit)
    app.add_middleware(RefuseNulInUrl)
    install_error_handlers(app)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    add_document_routes(app)  # before any `/v1/invoices/{number}` route: see its module

    @app.post(
        "/v1/customers/{customer_id}/preview",
        openapi_extra={
            "requestBody": {
                "content": {"application/json": {"schema": PreviewRequest.model_json_schema()}},
                "required": True,
            }
        },
        responses={200: {"model": PreviewAnswer}, **error_responses(401, 404, 409, 413, 415, 422, 503)},
    )
    def customer_preview(
        customer_id: str,
        _caller: Annotated[str, Depends(deps.api_caller)],
        body: Annotated[Any, Depends(deps.exact_json)],
        db: Annotated[Engine, Depends(deps.engine)],
        now: Annotated[datetime, Depends(deps.now)],
    ) -> dict[str, Any]:
        """What the invoice closing the current period would be, before and after `events`
        (priced with the catalog active when the preview reads the usage, in one snapshot)."""
        try:
            request = PreviewRequest.model_validate(body)
        except ValidationError as error:
            first = error.errors()[0]
            if first["type"] == "extra_forbidden":
                raise InvalidUsage(
                    f'unknown field {first["loc"][0]!r} in the body: expected {{"mode", "events"}}'
                ) from None
            where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first["loc"])
            raise InvalidUsage(f"{where.lstrip('.') or 'body'}: {first['msg']}") from None
        bound = settings.api_database_timeout_seconds
        return preview_active(db, customer_id, request.events, request.mode, now, bound)

    install_invoice_routes(app)
    install_notification_routes(app)
    install_event_routes(app)
    install_usage_routes(app)
    install_console_routes(app)
    return app
