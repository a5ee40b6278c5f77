"""Catalog files: read a YAML file from disk and validate it into a `Catalog`."""

from __future__ import annotations

from pathlib import Path

from billing.core.catalog import Catalog, parse_catalog
from billing.core.catalog.problems import yaml_problem
from billing.core.catalog.yaml_text import YAMLError, load_yaml
from billing.core.errors import CatalogError


def load_catalog(path: str | Path) -> Catalog:
    """Read and validate a catalog YAML file; `CatalogError` lists every problem found."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise CatalogError([f"{source}: cannot read the catalog: {error.strerror}"]) from None
    except UnicodeDecodeError as error:
        byte = error.object[error.start]
        message = f"cannot read the catalog: not UTF-8 text (byte {error.start} is {byte:#04x})"
        raise CatalogError([f"{source}: {message}"]) from None
    try:
        data = load_yaml(text)
    except YAMLError as error:
        raise CatalogError([f"{source}: not valid YAML: {yaml_problem(error)}"]) from None
    return parse_catalog(data, source)
