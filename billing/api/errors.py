"""Every error as `{"error": {"code", "message"}}` with a 4xx status; never a bare 500 for bad input.

A database that cannot serve the request in time (no pooled connection free, a statement past
its bound, the server unreachable) answers 503 with `Retry-After`: the caller may try again.
"""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

import psycopg
import sqlalchemy.exc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from billing.core.errors import (
    BillingError,
    DatabaseNotReady,
    InvoiceStateError,
    UnknownCustomer,
    UnknownInvoice,
    UnknownMetric,
    UnknownPlan,
    UnmeterableUsage,
)
from billing.notify.invoice_pdf import DocumentError
from billing.services.console_sessions import ConsoleDisabled
from billing.store.catalog_versions import NoCatalog

logger = logging.getLogger("billing.api")
RETRY_AFTER_SECONDS = 2

_STATUS: dict[type[BillingError], int] = {
    UnknownCustomer: 404,
    UnknownInvoice: 404,
    InvoiceStateError: 409,
    UnmeterableUsage: 409,
    UnknownPlan: 404,
    UnknownMetric: 422,
    DatabaseNotReady: 503,
    NoCatalog: 503,
    DocumentError: 503,
    ConsoleDisabled: 403,
}


def error_response(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, **extra}}, status_code=status)


def install_error_handlers(app: FastAPI) -> None:
    _document_validation_errors_as_error_bodies(app)

    @app.exception_handler(BillingError)
    async def _billing(_: Request, error: BillingError) -> JSONResponse:
        status = next((s for cls, s in _STATUS.items() if isinstance(error, cls)), 422)
        extra = {}
        problems = getattr(error, "problems", None)
        if problems and not isinstance(problems[0], str):
            extra["problems"] = [
                {"index": p.index, "reason": p.reason, "message": p.message} for p in problems
            ]
        return error_response(
            status, error.code, str(error).splitlines()[0] if str(error) else error.code, **extra
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        details = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors())
        return error_response(422, "invalid_request", details or "invalid request")

    @app.exception_handler(sqlalchemy.exc.TimeoutError)
    async def _pool_exhausted(_: Request, error: sqlalchemy.exc.TimeoutError) -> JSONResponse:
        return unavailable("busy", "every database connection is in use; try again shortly")

    @app.exception_handler(sqlalchemy.exc.OperationalError)
    async def _database(_: Request, error: sqlalchemy.exc.OperationalError) -> JSONResponse:
        return database_unavailable(error.orig)

    @app.exception_handler(psycopg.OperationalError)
    async def _driver(_: Request, error: psycopg.OperationalError) -> JSONResponse:
        return database_unavailable(error)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, error: Exception) -> JSONResponse:
        # A bug, not the caller's mistake: say so in the usual shape, without internals.
        logger.exception("unexpected error", exc_info=error)
        return error_response(500, "internal_error", "an unexpected error occurred; it has been logged")

    @app.exception_handler(HTTPException)
    async def _http(_: Request, error: HTTPException) -> JSONResponse:
        code = {
            400: "bad_request",
            401: "unauthorized",
            403: "forbidden",
            404: "not_found",
            405: "method_not_allowed",
            413: "payload_too_large",
            415: "unsupported_media_type",
            429: "rate_limited",
        }.get(error.status_code, "http_error")
        response = error_response(error.status_code, code, str(error.detail))
        if error.headers:
            response.headers.update(error.headers)
        return response


def unavailable(code: str, message: str) -> JSONResponse:
    response = error_response(503, code, message)
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def database_unavailable(error: BaseException | None) -> JSONResponse:
    """503 for a statement past its time bound or a database that cannot be reached."""
    text = str(error)
    interrupted = isinstance(error, sqlite3.OperationalError) and text == "interrupted"
    if interrupted or isinstance(error, psycopg.errors.QueryCanceled):
        return unavailable("timeout", "the request took longer than the database allows; try again later")
    logger.warning("database unavailable: %s", text.splitlines()[0] if text else type(error).__name__)
    return unavailable("database_unavailable", "the database is unavailable; try again later")


def _document_validation_errors_as_error_bodies(app: FastAPI) -> None:
    """FastAPI documents a 422 of its own shape (`HTTPValidationError`) on every route with
    parameters; this app answers every 422 with the error body (`_invalid` above): say so."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = build()
        own = "#/components/schemas/HTTPValidationError"
        for operations in document.get("paths", {}).values():
            for operation in operations.values():
                answer = operation.get("responses", {}).get("422", {})
                schema = answer.get("content", {}).get("application/json", {}).get("schema")
                if schema == {"$ref": own}:
                    answer["description"] = "a path, query or header parameter it cannot take"
                    answer["content"]["application/json"]["schema"] = {
                        "$ref": "#/components/schemas/ErrorBody"
                    }
        schemas = document.get("components", {}).get("schemas", {})
        if "ErrorBody" in schemas:
            for name in ("HTTPValidationError", "ValidationError"):
                schemas.pop(name, None)
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]
