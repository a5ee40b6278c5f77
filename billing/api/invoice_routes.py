"""Invoices over HTTP (SPEC §8, §8a): read them in JSON, pay them, void them.

The same API keys as previews. A customer's list holds its issued invoices and credit notes,
newest first; an unknown customer or number is 404, a pay or void the invoice's state does not
allow is 409. Paying or voiding again what is paid or void already answers 200 with
`"changed": false`. A void's credit note email is queued with it and sent by the next run.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI
from sqlalchemy.engine import Engine

from billing.api import dependencies as deps
from billing.api.invoice_schemas import InvoiceListAnswer, IssuedInvoiceShape, StateChangeAnswer
from billing.api.schemas import error_responses
from billing.services import invoice_states
from billing.store.catalog_versions import StoredCatalog
from billing.views.documents import invoice_document


def install_invoice_routes(app: FastAPI) -> None:
    @app.get(
        "/v1/customers/{customer_id}/invoices",
        responses={200: {"model": InvoiceListAnswer}, **error_responses(401, 404, 503)},
    )
    def customer_invoices(
        customer_id: str,
        _caller: Annotated[str, Depends(deps.api_caller)],
        db: Annotated[Engine, Depends(deps.engine)],
        stored: Annotated[StoredCatalog, Depends(deps.catalog)],
    ) -> dict[str, Any]:
        """The customer's invoices and credit notes, newest first."""
        known = customer_id in stored.catalog.customers_by_id
        found = invoice_states.customer_invoices(db, customer_id, known)
        return {"customer_id": customer_id, "invoices": [invoice_document(i) for i in found]}

    @app.get(
        "/v1/invoices/{number}",
        responses={200: {"model": IssuedInvoiceShape}, **error_responses(401, 404, 503)},
    )
    def one_invoice(
        number: str,
        _caller: Annotated[str, Depends(deps.api_caller)],
        db: Annotated[Engine, Depends(deps.engine)],
    ) -> dict[str, Any]:
        """An invoice or a credit note by its number."""
        return invoice_document(invoice_states.invoice(db, number))

    @app.post(
        "/v1/invoices/{number}/pay",
        responses={200: {"model": StateChangeAnswer}, **error_responses(401, 404, 409, 503)},
    )
    def pay_invoice(
        number: str,
        _caller: Annotated[str, Depends(deps.api_caller)],
        db: Annotated[Engine, Depends(deps.engine)],
        now: Annotated[datetime, Depends(deps.now)],
    ) -> dict[str, Any]:
        """finalized -> paid."""
        return invoice_states.pay(db, number, now).as_dict()

    @app.post(
        "/v1/invoices/{number}/void",
        responses={200: {"model": StateChangeAnswer}, **error_responses(401, 404, 409, 503)},
    )
    def void_invoice(
        number: str,
        _caller: Annotated[str, Depends(deps.api_caller)],
        db: Annotated[Engine, Depends(deps.engine)],
        now: Annotated[datetime, Depends(deps.now)],
        channels: Annotated[tuple[str, ...], Depends(deps.notification_channels)],
    ) -> dict[str, Any]:
        """finalized -> void, and the credit note that reverses it."""
        return invoice_states.void(db, number, now, channels).as_dict()
