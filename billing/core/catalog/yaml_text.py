"""Read catalog YAML without ever making a float.

PyYAML turns `7.10` into a binary float; a price must keep the digits it was written with, so
this loader builds a `Decimal` from the scalar's own text instead.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

import yaml

MAX_NESTING = 64
"""Mappings and lists inside one another: a catalog needs a handful; PyYAML's composer recurses
once per level, so a file of thousands of `[` would otherwise end in a RecursionError."""


class _DecimalLoader(yaml.SafeLoader):
    """SafeLoader whose floats are Decimals made from the text in the file, and which refuses
    nesting deeper than `MAX_NESTING`."""

    _depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        if self._depth >= MAX_NESTING:
            raise yaml.composer.ComposerError(
                None,
                None,
                f"nested more than {MAX_NESTING} levels deep",
                self.peek_event().start_mark,  # type: ignore[no-untyped-call]
            )
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


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


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    """A mapping that refuses a key written twice (YAML would keep the last one silently)."""
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"the key {key!r} is written twice", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node)


def _construct_date(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
    """A date as YAML reads it; an impossible one (2026-02-30) stays text for the catalog's
    validation to report with its path."""
    try:
        return loader.construct_yaml_timestamp(node)
    except ValueError:
        return loader.construct_scalar(node)


_DecimalLoader.add_constructor("tag:yaml.org,2002:float", _construct_decimal)
_DecimalLoader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)
_DecimalLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_date)


def load_yaml(text: str) -> Any:
    """Parse YAML text; numbers with a fraction become `Decimal`."""
    return yaml.load(text, Loader=_DecimalLoader)  # noqa: S506 - a SafeLoader subclass


YAMLError = yaml.YAMLError
