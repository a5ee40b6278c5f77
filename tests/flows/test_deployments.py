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
        assert deployment["schedules"], deployment["name"]
        assert deployment["work_pool"]["name"] == "billing"
        names.add(flow.name)
    assert names == {"ingest-usage", "run-invoices", "scan-lifecycle"}
