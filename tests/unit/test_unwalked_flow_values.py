"""What a flow hands Prefect without Prefect walking its elements: task arguments marked
`unwalked` and the run's invoices in its summary (a walk per element cost seconds per run)."""

from __future__ import annotations

import pickle
from unittest import mock

from prefect.utilities.collections import visit_collection
from prefect.utilities.engine import collect_task_run_inputs_sync

from flows.invoices import InvoiceList
from flows.unwalked import unwalked


def _visited(value: object) -> list[object]:
    seen: list[object] = []
    visit_collection(value, visit_fn=seen.append, return_data=False)
    return seen


def _looked_at(parameters: object) -> int:
    """How many values Prefect looks at to record a task's inputs from its parameters."""
    with mock.patch("prefect.utilities.engine.get_state_for_result", return_value=None) as look:
        collect_task_run_inputs_sync(parameters)
    return look.call_count


def test_an_unwalked_argument_is_not_walked():
    ids = [f"c-{n}" for n in range(500)]
    assert _looked_at({"ids": ids}) > 500  # what Prefect does by default
    assert _looked_at({"ids": unwalked(ids)}) < 5


def test_the_runs_invoices_are_a_sequence_prefect_does_not_walk():
    rows = [{"customer_id": "alpha", "number": "INV-000001"}, {"customer_id": "bravo", "number": None}]
    invoices = InvoiceList(rows)
    assert list(invoices) == rows and len(invoices) == 2 and invoices[1]["customer_id"] == "bravo"
    assert invoices == rows and invoices[:1] == rows[:1] and not InvoiceList([])
    seen = _visited({"invoices": invoices})
    assert "alpha" not in seen and rows[0] not in seen
    assert pickle.loads(pickle.dumps(invoices)) == invoices
