"""`GET /v1/invoices/{number}.html` and `.pdf`: an invoice document, with the preview's API keys.

A finalized invoice's PDF is the stored one, the very bytes its email carried (rendered and
stored on first request when the invoice run has not printed it yet). These routes are added
before any `GET /v1/invoices/{number}` route, so `INV-000012.pdf` never reaches that one as a
number with a suffix: routes match in the order they were added.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Depends, FastAPI, Path
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.engine import Engine

from billing.api import dependencies as deps
from billing.api.schemas import error_responses
from billing.services.invoice_documents import document_html, document_pdf

# An invoice or credit note number ("INV-000012", "CN-000003"); anything else is a 422.
Number = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$", max_length=32)]

PDF_RESPONSE = {
    200: {
        "description": "the invoice as an A4 PDF",
        "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
    }
}
HTML_RESPONSE = {200: {"description": "the invoice as an HTML page", "content": {"text/html": {}}}}


def add_document_routes(app: FastAPI) -> None:
    # The default (JSON) response class keeps the error bodies documented as JSON; the routes
    # return their document as a `Response` of its own type, documented under 200.
    not_found = error_responses(401, 404, 422, 503)
    not_found[404]["description"] = "unknown invoice number"

    @app.get(
        "/v1/invoices/{number}.pdf",
        responses={**PDF_RESPONSE, **not_found},  # type: ignore[dict-item]
    )
    def invoice_pdf(
        number: Number,
        _caller: Annotated[str, Depends(deps.api_caller)],
        db: Annotated[Engine, Depends(deps.engine)],
        now: Annotated[datetime, Depends(deps.now)],
    ) -> Response:
        """The invoice's PDF, shown inline (`Content-Disposition: inline; filename=NUMBER.pdf`)."""
        pdf = document_pdf(db, number, now)
        disposition = f'inline; filename="{file_name(number)}.pdf"'
        return Response(pdf, media_type="application/pdf", headers={"Content-Disposition": disposition})

    @app.get(
        "/v1/invoices/{number}.html",
        responses={**HTML_RESPONSE, **not_found},  # type: ignore[dict-item]
    )
    def invoice_page(
        number: Number,
        _caller: Annotated[str, Depends(deps.api_caller)],
        db: Annotated[Engine, Depends(deps.engine)],
    ) -> HTMLResponse:
        """The invoice as an HTML page: the same template the PDF is printed from."""
        return HTMLResponse(document_html(db, number))


def file_name(number: str) -> str:
    """Numbers are "INV-000012"; anything else a header could not carry is replaced."""
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in number)
