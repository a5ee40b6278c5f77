"""A customer's notification history over HTTP (SPEC §9): what was decided, and how each channel
delivered it. The same API keys as the other routes; an unknown customer is 404, a kind, status,
limit or `before` it cannot take 422. Pages are newest first: pass the answer's `next_before`
as `before` to read the next."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Query
from sqlalchemy.engine import Engine

from billing.api import dependencies as deps
from billing.api.schemas import NotificationHistory, error_responses
from billing.core.notification_kinds import NOTIFICATION_KINDS, NOTIFICATION_STATUSES
from billing.services.notification_history import history, history_query
from billing.store.catalog_versions import StoredCatalog
from billing.store.notification_history import DEFAULT_LIMIT, MAX_LIMIT
from billing.views.notification_history import UTC_ZONE, history_document

Kind = Literal[NOTIFICATION_KINDS]  # type: ignore[valid-type]
Status = Literal[NOTIFICATION_STATUSES]  # type: ignore[valid-type]


def install_notification_routes(app: FastAPI) -> None:
    @app.get(
        "/v1/customers/{customer_id}/notifications",
        response_model=NotificationHistory,
        responses=error_responses(401, 404, 422, 503),
    )
    def customer_notifications(
        customer_id: str,
        _caller: Annotated[str, Depends(deps.api_caller)],
        db: Annotated[Engine, Depends(deps.engine)],
        stored: Annotated[StoredCatalog, Depends(deps.catalog)],
        kind: Annotated[Kind | None, Query(description="only this kind")] = None,
        status: Annotated[Status | None, Query(description="only notifications in this state")] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="at most this many")] = DEFAULT_LIMIT,
        before: Annotated[
            int | None, Query(ge=1, description="only notifications with a lower id: the next page")
        ] = None,
    ) -> dict[str, Any]:
        """The customer's notifications, newest first, each with its deliveries per channel."""
        customer = stored.catalog.customers_by_id.get(customer_id)
        query = history_query(customer_id, kind, status, limit, before)
        page = history(db, query, known=customer is not None)
        return history_document(customer_id, page, UTC_ZONE if customer is None else customer.tz)
