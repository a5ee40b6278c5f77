"""`POST /v1/events`: usage over HTTP, by the rules files follow (SPEC §5, §8).

Up to 1,000 events a call, as `{"events": [...]}` (`application/json`) or as CloudEvents in
structured JSON mode (`application/cloudevents+json`, `application/cloudevents-batch+json`;
see `cloud_events`). Every event becomes one record of one ingest chunk: idempotent by
transaction id, each bad event quarantined with its reason and answered by its index, the good
ones stored, all in one transaction. Only a body that cannot be split into events (not JSON,
not the expected shape, too many events) fails the request, with a JSON 4xx.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import BackgroundTasks, Depends, FastAPI
from sqlalchemy.engine import Engine

from billing.api import cloud_events
from billing.api import dependencies as deps
from billing.api.event_records import JSON, EventBatch, event_batch
from billing.api.schemas import MAX_EVENTS, CloudEvent, EventsAnswer, EventsRequest, error_responses
from billing.api.spend_notices import SpendNotifier
from billing.services.ingest import IngestReport
from billing.services.ingest_requests import RequestIngest
from billing.store.catalog_versions import StoredCatalog
from billing.validation.suite import EventSuite  # at run time: FastAPI reads the annotation


def _request_body() -> dict[str, Any]:
    batch_schema = {"type": "array", "items": CloudEvent.model_json_schema(), "maxItems": MAX_EVENTS}
    return {
        "required": True,
        "content": {
            JSON: {"schema": EventsRequest.model_json_schema()},
            cloud_events.SINGLE: {"schema": CloudEvent.model_json_schema()},
            cloud_events.BATCH: {"schema": batch_schema},
        },
    }


def answer(report: IngestReport, cloud: bool) -> dict[str, Any]:
    worded = cloud_events.attribute_message if cloud else str
    rejections = sorted(report.rejections, key=lambda rejection: rejection.position)
    return {
        "received": report.received,
        "accepted": report.accepted,
        "duplicates": report.duplicates,
        "quarantined": report.quarantined,
        "late": report.late,
        "rejections": [
            {
                "index": r.position,
                "reason": r.reason,
                "message": worded(r.detail),
                "quarantine_id": r.quarantine_id,
            }
            for r in rejections
        ],
    }


def install_event_routes(app: FastAPI) -> None:
    app.state.spend_notifier = SpendNotifier(app.state.engine, app.state.settings)
    ingest = RequestIngest()  # concurrent requests' validations and stores done together

    @app.post(
        "/v1/events",
        response_model=EventsAnswer,
        openapi_extra={"requestBody": _request_body()},
        responses=error_responses(401, 413, 415, 422, 503),
    )
    def post_events(
        caller: Annotated[str, Depends(deps.api_caller)],
        batch: Annotated[EventBatch, Depends(event_batch)],
        db: Annotated[Engine, Depends(deps.engine)],
        stored: Annotated[StoredCatalog, Depends(deps.catalog)],
        suite: Annotated[EventSuite, Depends(deps.event_suite)],
        now: Annotated[datetime, Depends(deps.now)],
        background: BackgroundTasks,
    ) -> dict[str, Any]:
        """Store usage events; bad ones are quarantined and answered by index with their reason.
        The spend alerts of the customers stored for are evaluated after the answer is sent."""
        source = f"api:{caller}"
        if not batch.records:
            return answer(IngestReport(source), batch.cloud)
        report = ingest.ingest(db, stored.catalog, suite, batch.records, source, now)
        alerting = [c for c in report.customers if stored.catalog.customer(c).spend_alerts]
        if alerting:  # nothing to evaluate for customers without alerts: no background task
            notifier: SpendNotifier = app.state.spend_notifier
            notifier.add(alerting)
            background.add_task(notifier.run, stored.catalog, now)
        return answer(report, batch.cloud)
