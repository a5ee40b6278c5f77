"""Read catalog YAML without ever making a float.

PyYAML turns `7.10` into a binary float; a price must keep the digits it was written with, so
this loader builds a `Decimal` from the scalar's own text instead.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

import yaml


class _DecimalLoader(yaml.SafeLoader):
    """SafeLoader whose floats are Decimals made from the text in the file."""


def _construct_decimal(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Decimal:
    text = str(loader.construct_scalar(node)).replace("_", "")
    try:
        value = Decimal(text)
    except InvalidOperation:  # .inf, .nan and friends
        raise yaml.constructor.ConstructorError(
            None, None, f"{text!r} is not a finite decimal number", node.start_mark
        ) from None
    if not value.is_finite():
        raise yaml.constructor.ConstructorError(
            None, None, f"{text!r} is not a finite decimal number", node.start_mark
        )
    return value


_DecimalLoader.add_constructor("tag:yaml.org,2002:float", _construct_decimal)


def load_yaml(text: str) -> Any:
    """Parse YAML text; numbers with a fraction become `Decimal`."""
    return yaml.load(text, Loader=_DecimalLoader)  # noqa: S506 - a SafeLoader subclass


YAMLError = yaml.YAMLError
