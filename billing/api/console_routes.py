"""The embeddable billing console (SPEC §8): a signed URL, the page, and its documents.

`POST /v1/customers/{id}/console-sessions` (an API key) mints a URL whose token is the only
credential of `GET /console?token=...` and of the documents it links
(`/console/invoices/{number}.html|.pdf?token=...`); the page carries no API key. An email's
console link, `GET /console/open?customer=&expires=&sig=` (`billing.core.console_links`), mints
a fresh token and redirects (303) to the console: the email never holds a token. Every token
or link problem (missing, expired, forged, malformed, another version, a customer gone from
the catalog, no console secret) is the same 403, so a refusal says nothing about why. Another
customer's invoice under a token is the same 404 as a number that does not exist.

Headers: `Content-Security-Policy` lets the page load nothing from anywhere (its style carries
a per-response nonce, its chart is inline SVG) and be framed only by
`BILLING_CONSOLE_FRAME_ANCESTORS`; `Referrer-Policy: no-referrer` keeps the token out of any
Referer; `Cache-Control: no-store` keeps the page out of caches.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.engine import Engine

from billing.api import dependencies as deps
from billing.api.invoice_documents import HTML_RESPONSE, PDF_RESPONSE, Number, file_name
from billing.api.schemas import error_responses
from billing.core.console_links import OPEN_PATH
from billing.core.console_tokens import ConsoleGrant
from billing.runtime.settings import Settings
from billing.services import console_sessions
from billing.services.console import console_document_html, console_document_pdf, console_page
from billing.services.console_links import open_link
from billing.store.catalog_versions import StoredCatalog
from billing.views.console_page import render_console_page

REFUSED = "this console link is invalid or has expired: open the console again from the app"
Token = Annotated[str | None, Query(description="the console token of the URL a console session answered")]
LinkCustomer = Annotated[str | None, Query(description="the customer whose console an email's link opens")]
LinkExpires = Annotated[
    str | None, Query(description="when the link stops working, in Unix seconds (signed with the customer)")
]
LinkSignature = Annotated[
    str | None, Query(description="the link's HMAC-SHA256 signature under the console secret (base64url)")
]
OPENED: dict[str, Any] = {
    "description": "a fresh console token: `Location` is the console, BILLING_PUBLIC_URL/console?token=...",
    "headers": {
        "Location": {"description": "the console URL with its new token", "schema": {"type": "string"}}
    },
}


class ConsoleSessionAnswer(BaseModel):
    url: str = Field(description="the console for this customer: BILLING_PUBLIC_URL/console?token=...")
    expires_at: str = Field(description="when the token stops working (ISO 8601, UTC), at most 60 minutes on")


def _refused_responses() -> dict[int | str, dict[str, Any]]:
    responses = error_responses(403, 422, 503)
    responses[403]["description"] = "a missing, expired, forged or malformed token (one answer for all)"
    responses[422]["description"] = "a query parameter it cannot take (a NUL)"
    return responses


def _headers(settings: Settings, style_nonce: str | None = None) -> dict[str, str]:
    style = f"'nonce-{style_nonce}'" if style_nonce else "'unsafe-inline'"
    policy = (
        f"default-src 'none'; style-src {style}; img-src 'self' data:; base-uri 'none'; "
        f"form-action 'none'; frame-ancestors {settings.console_frame_ancestors}"
    )
    return {
        "Content-Security-Policy": policy,
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
    }


def grant(
    stored: Annotated[StoredCatalog, Depends(deps.catalog)],
    settings: Annotated[Settings, Depends(deps.settings)],
    now: Annotated[datetime, Depends(deps.now)],
    token: Token = None,
) -> ConsoleGrant:
    """The grant of the request's token; one 403 for every kind of refusal."""
    secret = None if settings.console_secret is None else settings.console_secret.get_secret_value()
    found = console_sessions.granted(stored.catalog, secret, token, now)
    if found is None:
        raise HTTPException(403, REFUSED)
    return found


def install_console_routes(app: FastAPI) -> None:
    sessions = error_responses(401, 403, 404, 503)
    sessions[403]["description"] = "the console is off: BILLING_CONSOLE_SECRET is not set"

    @app.post(
        "/v1/customers/{customer_id}/console-sessions",
        response_model=ConsoleSessionAnswer,
        responses=sessions,
    )
    def console_session(
        customer_id: str,
        _caller: Annotated[str, Depends(deps.api_caller)],
        stored: Annotated[StoredCatalog, Depends(deps.catalog)],
        settings: Annotated[Settings, Depends(deps.settings)],
        now: Annotated[datetime, Depends(deps.now)],
    ) -> dict[str, str]:
        """A console URL for the customer, its token valid for BILLING_CONSOLE_TTL_MINUTES."""
        secret = None if settings.console_secret is None else settings.console_secret.get_secret_value()
        session = console_sessions.open_session(
            stored.catalog,
            customer_id,
            secret,
            settings.console_ttl_minutes,
            settings.console_public_url,
            now,
        )
        return {"url": session.url, "expires_at": session.expires_at.isoformat()}

    @app.get(
        "/console",
        responses={200: {"description": "the console page", "content": {"text/html": {}}}}
        | _refused_responses(),  # type: ignore[operator]
    )
    def console(
        granted: Annotated[ConsoleGrant, Depends(grant)],
        db: Annotated[Engine, Depends(deps.engine)],
        stored: Annotated[StoredCatalog, Depends(deps.catalog)],
        settings: Annotated[Settings, Depends(deps.settings)],
        now: Annotated[datetime, Depends(deps.now)],
        token: Token = None,
    ) -> HTMLResponse:
        """One customer's console: spend against its alerts, usage by day, invoices, dates."""
        nonce = secrets.token_urlsafe(16)
        page = console_page(db, stored, granted.customer_id, now, settings.api_database_timeout_seconds)
        html = render_console_page(page, token or "", nonce)
        return HTMLResponse(html, headers=_headers(settings, nonce))

    @app.get(
        OPEN_PATH,
        status_code=303,
        response_class=RedirectResponse,
        responses={303: OPENED} | _refused_responses(),  # type: ignore[operator]
    )
    def console_open(
        stored: Annotated[StoredCatalog, Depends(deps.catalog)],
        settings: Annotated[Settings, Depends(deps.settings)],
        now: Annotated[datetime, Depends(deps.now)],
        customer: LinkCustomer = None,
        expires: LinkExpires = None,
        sig: LinkSignature = None,
    ) -> RedirectResponse:
        """The console link of an email: a fresh console token, and a redirect to the console."""
        secret = None if settings.console_secret is None else settings.console_secret.get_secret_value()
        session = open_link(
            stored.catalog,
            secret,
            customer,
            expires,
            sig,
            link_days=settings.console_link_days,
            ttl_minutes=settings.console_ttl_minutes,
            public_url=settings.console_public_url,
            now=now,
        )
        if session is None:
            raise HTTPException(403, REFUSED)
        return RedirectResponse(session.url, status_code=303, headers=_headers(settings))

    not_found = _refused_responses() | error_responses(404)
    not_found[404]["description"] = "no invoice of this customer has this number"

    @app.get(
        "/console/invoices/{number}.pdf",
        responses={**PDF_RESPONSE, **not_found},  # type: ignore[dict-item]
    )
    def console_invoice_pdf(
        number: Number,
        granted: Annotated[ConsoleGrant, Depends(grant)],
        db: Annotated[Engine, Depends(deps.engine)],
        settings: Annotated[Settings, Depends(deps.settings)],
        now: Annotated[datetime, Depends(deps.now)],
    ) -> Response:
        """The customer's invoice as a PDF, under the console's token."""
        pdf = console_document_pdf(db, granted.customer_id, number, now)
        headers = _headers(settings) | {"Content-Disposition": f'inline; filename="{file_name(number)}.pdf"'}
        return Response(pdf, media_type="application/pdf", headers=headers)

    @app.get(
        "/console/invoices/{number}.html",
        responses={**HTML_RESPONSE, **not_found},  # type: ignore[dict-item]
    )
    def console_invoice_html(
        number: Number,
        granted: Annotated[ConsoleGrant, Depends(grant)],
        db: Annotated[Engine, Depends(deps.engine)],
        settings: Annotated[Settings, Depends(deps.settings)],
    ) -> HTMLResponse:
        """The customer's invoice as an HTML page, under the console's token."""
        html = console_document_html(db, granted.customer_id, number)
        return HTMLResponse(html, headers=_headers(settings))
