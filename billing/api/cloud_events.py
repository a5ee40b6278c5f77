"""CloudEvents 1.0 in structured JSON mode, read as usage events (SPEC §5).

`application/cloudevents+json` carries one event, `application/cloudevents-batch+json` a JSON
array of them. Each becomes the usage event the rest of ingestion knows:

    id -> transaction_id, subject -> customer_id, type -> event_type, time -> timestamp,
    data -> properties

so that idempotency, the catalog checks and the quarantine are the ones of files and of
`{"events": [...]}`. The envelope is checked here (`specversion` "1.0", a `source`); a missing
`id`, `subject`, `type` or `time` is left out of the usage event and so quarantined as that
field's `missing_field`, for that event only. Extension attributes, `datacontenttype` and
`dataschema` are accepted and not kept: they carry nothing a bill depends on.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

SINGLE = "application/cloudevents+json"
BATCH = "application/cloudevents-batch+json"

# usage field <- CloudEvents attribute
_ATTRIBUTES = {
    "transaction_id": "id",
    "customer_id": "subject",
    "event_type": "type",
    "timestamp": "time",
    "properties": "data",
}
# a field's name, unless inside a quoted value (what the sender sent is shown as sent)
_NAMED = re.compile(r"""'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|\b(""" + "|".join(_ATTRIBUTES) + r")\b")


@dataclass(frozen=True, slots=True)
class Translated:
    """One CloudEvent as a usage event (`data`), or why its envelope is not CloudEvents 1.0."""

    data: Any
    envelope_problem: str | None = None


def media_type(content_type: str | None) -> str:
    """`application/cloudevents+json; charset=utf-8` -> `application/cloudevents+json`."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def usage_event(cloud_event: Any) -> Translated:
    """The usage event a structured-mode CloudEvent stands for."""
    if not isinstance(cloud_event, dict):
        return Translated(cloud_event)  # quarantined as "an event must be a JSON object"
    event: dict[str, Any] = {}
    for field, attribute in _ATTRIBUTES.items():
        value = cloud_event.get(attribute)
        if value is not None:
            event[field] = value
    if "data_base64" in cloud_event and "data" not in cloud_event:
        event["properties"] = cloud_event["data_base64"]  # binary data: not properties
    specversion = cloud_event.get("specversion")
    if specversion != "1.0":
        problem = f'specversion must be the string "1.0" (CloudEvents 1.0), got {_written(specversion)}'
        return Translated(event, problem)
    source = cloud_event.get("source")
    if not isinstance(source, str) or not source.strip():
        return Translated(event, "source is missing or not a non-empty string (a CloudEvents URI-reference)")
    return Translated(event)


def _written(value: Any) -> str:
    """An attribute's value as sent: the number 1.0 is not the string "1.0" it was shown as."""
    if value is None:
        return "missing"
    if isinstance(value, str):
        return f"{value[:20]!r}"
    kind = {bool: "boolean", dict: "object", list: "array"}.get(type(value), "number")
    text = str(value) if kind == "number" else json.dumps(value, default=str)  # a Decimal as sent
    return f"the JSON {kind} {text[:20]}"


def attribute_message(message: str) -> str:
    """A rejection message in the caller's terms, every field it names: `customer_id is
    missing` -> `subject (customer_id) is missing`; a quoted value is left as it was sent."""
    return _NAMED.sub(_worded, message)


def _worded(match: re.Match[str]) -> str:
    field = match.group(1)
    return match.group() if field is None else f"{_ATTRIBUTES[field]} ({field})"
