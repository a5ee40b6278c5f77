"""prefect.yaml stays true to the flows: every entrypoint imports, every parameter exists."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_every_deployment_points_at_a_flow_with_those_parameters():
    config = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    names = set()
    for deployment in config["deployments"]:
        path, _, name = deployment["entrypoint"].partition(":")
        module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
        flow = getattr(module, name)
        accepted = set(inspect.signature(flow.fn).parameters)
        assert set(deployment.get("parameters", {})) <= accepted, deployment["name"]
        if flow.name == "backfill":  # started by an operator, never on a schedule
            assert not deployment.get("schedules"), deployment["name"]
        else:
            assert deployment["schedules"], deployment["name"]
        assert deployment["work_pool"]["name"] == "billing"
        names.add(flow.name)
    assert names == {"ingest-usage", "run-invoices", "scan-lifecycle", "backfill"}


def test_the_backfill_deployment_renders_a_typed_form():
    """The UI builds its run form from this schema: dates as date pickers, a list of customer
    ids, a text for the catalog version, a checkbox for the dry run (on by default)."""
    from prefect.utilities.callables import parameter_schema

    from flows.backfill import backfill

    schema = parameter_schema(backfill.fn).model_dump()
    properties = schema["properties"]
    assert schema["required"] == ["start", "end"]
    assert (properties["start"]["type"], properties["start"]["format"]) == ("string", "date")
    assert (properties["end"]["type"], properties["end"]["format"]) == ("string", "date")
    customer_ids = {option.get("type") for option in properties["customer_ids"]["anyOf"]}
    assert customer_ids == {"array", "null"}
    catalog_version = {option.get("type") for option in properties["catalog_version"]["anyOf"]}
    assert catalog_version == {"string", "null"}
    assert (properties["dry_run"]["type"], properties["dry_run"]["default"]) == ("boolean", True)
