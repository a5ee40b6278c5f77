"""Pydantic's field errors in the catalog author's words, each with its path and value.

Pydantic says "Tuple should have at least 1 item after validation" or "String should match
pattern '^[A-Za-z0-9]...'"; a catalog author needs "needs at least one item" and "a code may
contain only letters, digits, '_' and '-'". Every error type a catalog can meet has its own
message here; a type without one gets a plain "is not a valid value", never pydantic's text.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pydantic import ValidationError

from billing.core.pricing import CHARGE_MODELS
from billing.core.pricing.base import LocatedValueError

Problem = tuple[str, str, object]  # (path, message, offending value or NO_VALUE)
NO_VALUE = object()

CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]*$"
CUSTOMER_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:@-]*$"
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+$"

_PATTERN_MEANINGS = {
    CODE_PATTERN: "a code may contain only letters, digits, '_' and '-', and starts with a letter or digit",
    CUSTOMER_ID_PATTERN: (
        "a customer id may contain only letters, digits and '_', '.', ':', '@', '-', "
        "and starts with a letter or digit"
    ),
    EMAIL_PATTERN: "must be an email address such as billing@example.com",
}
_MODELS = ", ".join(CHARGE_MODELS)

Context = dict[str, Any]

_MESSAGES: dict[str, str | Callable[[Context], str]] = {
    "missing": "is required",
    "extra_forbidden": "is not a known setting (check the spelling)",
    "string_type": "must be text",
    "string_too_short": lambda ctx: (
        "must not be empty"
        if ctx.get("min_length") == 1
        else f"needs at least {ctx['min_length']} characters"
    ),
    "string_too_long": lambda ctx: f"must be at most {ctx['max_length']} characters",
    "string_pattern_mismatch": lambda ctx: _PATTERN_MEANINGS.get(
        ctx.get("pattern", ""), "does not have the expected form"
    ),
    "too_short": lambda ctx: (
        "needs at least one item"
        if ctx.get("min_length") == 1
        else f"needs at least {ctx['min_length']} items"
    ),
    "too_long": lambda ctx: f"takes at most {ctx['max_length']} items",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "int_parsing_size": "is too large",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "decimal_type": 'must be a decimal number such as "12.50"',
    "decimal_parsing": 'must be a decimal number such as "12.50"',
    "finite_number": "must be a finite number",
    "date_type": "must be a date written YYYY-MM-DD",
    "date_parsing": "must be a date written YYYY-MM-DD",
    "date_from_datetime_parsing": "must be a date written YYYY-MM-DD",
    "date_from_datetime_inexact": "must be a date written YYYY-MM-DD, without a time of day",
    "tuple_type": "must be a list",
    "list_type": "must be a list",
    "dict_type": "must be a mapping (key: value)",
    "model_type": "must be a mapping of settings (key: value)",
    "model_attributes_type": "must be a mapping of settings (key: value)",
    "literal_error": lambda ctx: f"must be one of {ctx.get('expected', 'the documented values')}",
    "greater_than": lambda ctx: f"must be greater than {ctx['gt']}",
    "greater_than_equal": lambda ctx: f"must be {ctx['ge']} or more",
    "less_than": lambda ctx: f"must be less than {ctx['lt']}",
    "less_than_equal": lambda ctx: f"must be {ctx['le']} or less",
    "union_tag_invalid": f"is not a charge model (known: {_MODELS})",
    "union_tag_not_found": f"is required: the charge's model (one of: {_MODELS})",
}
_UNION_TAG_TYPES = {"union_tag_invalid", "union_tag_not_found"}
_OWN_MESSAGE_TYPES = {"value_error", "assertion_error"}  # raised by the catalog's own validators


def _path(loc: tuple[int | str, ...]) -> str:
    text = ""
    for index, part in enumerate(loc):
        if isinstance(part, int):
            text += f"[{part}]"
        elif part in CHARGE_MODELS and (index == 0 or isinstance(loc[index - 1], int)):
            continue  # the discriminated union's tag, not a key in the file
        elif part.startswith("function-"):
            continue
        elif not part.isprintable() or not part.strip() or "." in part or "[" in part:
            text += f"[{part!r}]"  # a key that would not read as one: quoted, on one line
        else:
            text += f".{part}" if text else part
    return text


def _message(kind: str, ctx: Context, pydantic_text: str) -> str:
    if kind in _OWN_MESSAGE_TYPES:
        error = ctx.get("error")
        return str(error) if error is not None else pydantic_text.split(", ", 1)[-1]
    known = _MESSAGES.get(kind, "is not a valid value")
    return known(ctx) if callable(known) else known


def field_message(item: Mapping[str, Any]) -> str:
    """One pydantic error (an item of `ValidationError.errors()`) as the product says it."""
    return _message(item["type"], item.get("ctx") or {}, item["msg"])


def pydantic_problems(error: ValidationError, prefix: tuple[int | str, ...] = ()) -> list[Problem]:
    """Each of pydantic's errors as `(path, message, value)`, in the product's words."""
    problems: list[Problem] = []
    items = error.errors(include_url=False)
    failing = {_path(prefix + tuple(item["loc"])) for item in items}
    for item in items:
        kind = item["type"]
        path = _path(prefix + tuple(item["loc"]))
        if kind == "too_short" and any(f.startswith(path + "[") for f in failing):
            continue  # pydantic's echo of an invalid item inside this list, reported already
        ctx: Context = item.get("ctx") or {}
        message = _message(kind, ctx, item["msg"])
        value: object = NO_VALUE if kind in ("missing", "extra_forbidden") else item.get("input", NO_VALUE)
        if kind in _UNION_TAG_TYPES:
            path = f"{path}.{ctx.get('discriminator', 'model').strip(chr(39))}" if path else "model"
            value = ctx.get("tag", NO_VALUE)
        error_object = ctx.get("error")
        if isinstance(error_object, LocatedValueError):  # points inside the value it checked
            path += "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error_object.where)
            message, value = str(error_object), error_object.value
        problems.append((path, message, value))
    return problems
