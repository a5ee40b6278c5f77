"""A `POST /v1/events` body as the records of one ingest chunk, by its Content-Type.

`application/json` is `{"events": [...]}`; `application/cloudevents+json` one CloudEvent and
`application/cloudevents-batch+json` an array of them (`cloud_events` reads each as a usage
event). Only a body that cannot be split into events fails, with a JSON 4xx naming what is
wrong; anything wrong inside one event is left for ingestion to quarantine at its index.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from fastapi import HTTPException, Request

from billing.api import cloud_events
from billing.api.request_body import NestedTooDeep, parsed_json, refuse_encoded
from billing.api.schemas import MAX_EVENTS
from billing.core.errors import InvalidUsage
from billing.core.events import MAX_DEPTH, MAX_ROW_BYTES, dumps, over_row_limit, oversized, storable
from billing.sources.usage_files import RawRecord

JSON = "application/json"
MEDIA_TYPES = ("", JSON, cloud_events.SINGLE, cloud_events.BATCH)
# A number past what exact arithmetic writes (over 200 digits, a huge exponent) needs at least
# a run of 100 digits or a three-digit exponent: a body without one, and no longer than one
# row may be, skips the per-event check below.
_HUGE_NUMBER = re.compile(rb"[0-9]{100,}|[0-9.][eE][+-]?[0-9]{3,}")


@dataclass(frozen=True, slots=True)
class EventBatch:
    records: list[RawRecord]
    cloud: bool  # CloudEvents: rejection messages name their attributes


async def event_batch(request: Request) -> EventBatch:
    """The body as records; a body that holds no batch of events is a 4xx."""
    kind = cloud_events.media_type(request.headers.get("content-type"))
    if kind not in MEDIA_TYPES:
        raise HTTPException(
            415,
            f'cannot read a {kind[:80]!r} body: send {JSON} ({{"events": [...]}}), '
            f"{cloud_events.SINGLE} or {cloud_events.BATCH}",
        )
    refuse_encoded(request)
    body = await request.body()
    try:
        batch = _batch(kind, parsed_json(body))
    except NestedTooDeep as too_deep:  # an event past the parser's depth: that event is refused
        batch = _batch_by_event(kind, body.decode("utf-8"), too_deep)
    if len(body) <= MAX_ROW_BYTES and not _HUGE_NUMBER.search(body):
        return batch  # no event of it can be over the row limit or hold an unwritable number
    return EventBatch([_bounded(record) for record in batch.records], batch.cloud)


def _batch(kind: str, document: Any) -> EventBatch:
    if kind == cloud_events.SINGLE:
        if not isinstance(document, dict):
            raise InvalidUsage(
                f"a CloudEvent body must be one JSON object (a batch is sent as {cloud_events.BATCH})"
            )
        return EventBatch([_cloud_record(0, document)], cloud=True)
    if kind == cloud_events.BATCH:
        if not isinstance(document, list):
            raise InvalidUsage(f"a {cloud_events.BATCH} body must be a JSON array of CloudEvents")
        _check_size(len(document))
        return EventBatch([_cloud_record(i, e) for i, e in enumerate(document)], cloud=True)
    if not isinstance(document, dict):
        raise InvalidUsage('the request body must be a JSON object: {"events": [...]}')
    unknown = sorted(str(key)[:40] for key in document if key != "events")
    if unknown:
        raise InvalidUsage(f'unknown field {unknown[0]!r} in the body: expected {{"events": [...]}}')
    events = document.get("events")
    if not isinstance(events, list):
        got = "missing" if events is None else f"a JSON {_kind(events)}"
        raise InvalidUsage(f"events must be a JSON array of events, got {got}")
    _check_size(len(events))
    return EventBatch([RawRecord(i, data=event) for i, event in enumerate(events)], cloud=False)


# the tokens that nest JSON, a string being one token (brackets inside it nest nothing)
_NESTING = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{},]')
_TOO_DEEP = f"the event is nested deeper than {MAX_DEPTH} levels"


def _batch_by_event(kind: str, text: str, too_deep: NestedTooDeep) -> EventBatch:
    """A body too deep for the parser, read event by event as a file is read line by line: the
    body with each event's text set aside (`null` in its place) is the shape, read as usual;
    then each event is parsed alone, and one still too deep is its own unreadable row."""
    if kind == cloud_events.SINGLE:
        if not text.lstrip().startswith("{"):
            raise too_deep
        return EventBatch([_unreadable(0, text)], cloud=True)
    spans = _element_spans(text, 1 if kind == cloud_events.BATCH else 2)
    hollow, end = [], 0
    for start, stop in spans:
        hollow += [text[end:start], "null"]
        end = stop
    batch = _batch(kind, parsed_json("".join([*hollow, text[end:]]).encode()))
    if len(batch.records) != len(spans):
        raise too_deep
    records = []
    for record, (start, stop) in zip(batch.records, spans, strict=True):
        try:
            value = parsed_json(text[start:stop].encode())
        except NestedTooDeep:
            records.append(_unreadable(record.position, text[start:stop]))
        else:
            records.append(
                _cloud_record(record.position, value) if batch.cloud else replace(record, data=value)
            )
    return EventBatch(records, batch.cloud)


def _unreadable(position: int, text: str) -> RawRecord:
    """An event too deep to parse, kept whole; over 64 KiB, said so first (as `decode_row`)."""
    size = oversized(text)
    return RawRecord(position, storable(text), unreadable=_TOO_DEEP if size is None else over_row_limit(size))


def _element_spans(text: str, depth: int) -> list[tuple[int, int]]:
    """Where each element of the arrays `depth` levels down starts and ends (1: the top-level
    array's; 2: those of an array in the top-level object), read without recursion."""
    spans: list[tuple[int, int]] = []
    open_at: list[str] = []
    after: int | None = None  # where the text of the element being read begins
    for token in _NESTING.finditer(text):
        mark = token.group()
        if mark in (",", "]") and after is not None and len(open_at) == depth and open_at[-1] == "[":
            element = text[after : token.start()]
            start = after + len(element) - len(element.lstrip())
            stop = after + len(element.rstrip())
            if start < stop:
                spans.append((start, stop))
            after = token.end() if mark == "," else None
        if mark in ("[", "{"):
            open_at.append(mark)
            if len(open_at) == depth and mark == "[":
                after = token.end()
        elif mark in ("]", "}") and open_at:
            open_at.pop()
    return spans


def _cloud_record(index: int, cloud_event: Any) -> RawRecord:
    translated = cloud_events.usage_event(cloud_event)
    return RawRecord(index, data=translated.data, unreadable=translated.envelope_problem)


def _check_size(count: int) -> None:
    if count > MAX_EVENTS:
        raise InvalidUsage(f"{count:,} events in one request: at most {MAX_EVENTS:,} a call")


def _kind(value: Any) -> str:
    return {dict: "object", str: "string", bool: "boolean"}.get(type(value), "number")


def _bounded(record: RawRecord) -> RawRecord:
    """An event as a file's line would be read (SPEC §5): over 64 KiB as written, it is one
    quarantined `unreadable_row`; holding a number the canonical writer cannot write exactly
    (refused at ingest anyway), it is given as its JSON text, so that its quarantine keeps it."""
    try:
        text, exact = dumps(record.data), False
    except (ArithmeticError, TypeError, ValueError, RecursionError):
        try:
            text, exact = _json_text(record.data), True
        except RecursionError:
            text, exact = None, True
    if text is None:
        shown = storable(repr(record.data)[:1000])
        return RawRecord(record.position, shown, unreadable="holds a number too large to store exactly")
    size = oversized(text)
    if size is not None:  # kept whole, as a line is
        return RawRecord(record.position, storable(text), unreadable=over_row_limit(size))
    return RawRecord(record.position, storable(text), unreadable=record.unreadable) if exact else record


def _json_text(value: Any) -> str:
    """JSON with every number as its Decimal's own text (`1E+400`, `9.99E-1000001`): valid JSON,
    read back as the same Decimal, however large."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        items = sorted(value.items())
        return "{" + ",".join(f"{json.dumps(k, ensure_ascii=False)}:{_json_text(v)}" for k, v in items) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_json_text(item) for item in value) + "]"
    return json.dumps(value, ensure_ascii=False)
