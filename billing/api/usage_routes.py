"""`GET /v1/customers/{id}/usage`: the current period so far, with the preview's API keys."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI
from sqlalchemy.engine import Engine

from billing.api import dependencies as deps
from billing.api.schemas import error_responses
from billing.api.usage_schemas import UsageAnswer
from billing.runtime.settings import Settings
from billing.services.customer_usage import customer_usage
from billing.store.catalog_versions import StoredCatalog
from billing.views.usage_document import usage_document


def install_usage_routes(app: FastAPI) -> None:
    @app.get(
        "/v1/customers/{customer_id}/usage",
        responses={200: {"model": UsageAnswer}, **error_responses(401, 404, 409, 503)},
    )
    def usage(
        customer_id: str,
        _caller: Annotated[str, Depends(deps.api_caller)],
        db: Annotated[Engine, Depends(deps.engine)],
        stored: Annotated[StoredCatalog, Depends(deps.catalog)],
        now: Annotated[datetime, Depends(deps.now)],
        settings: Annotated[Settings, Depends(deps.settings)],
    ) -> dict[str, Any]:
        """Each metric so far and per local day, the running invoice, spend and its projection,
        credits left and the spend alerts."""
        found = customer_usage(db, stored, customer_id, now, settings.api_database_timeout_seconds)
        return usage_document(found, stored.catalog.currency)
