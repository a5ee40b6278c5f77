"""The usage-event expectation suite, run with Great Expectations on each chunk.

Great Expectations takes seconds to import, so it is imported on first use: quoting and
read-only commands never pay for it. One validation run covers a whole chunk; membership of
customer ids is checked by a database join instead (a value set of thousands of ids costs a
second per run).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd

from billing.core.events import FUTURE_TOLERANCE, format_timestamp
from billing.validation.frame import TABLE_CEILING


@dataclass(frozen=True, slots=True)
class RowFailure:
    reason: str
    detail: str


class EventSuite:
    """Row rules over an `EventFrame` table; the first failed rule names the row's reason."""

    def __init__(self) -> None:
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        self._gx = gx
        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        asset = context.data_sources.add_pandas("usage").add_dataframe_asset("chunk")
        self._batches = asset.add_batch_definition_whole_dataframe("whole_chunk")

    def _suite(self, now: datetime) -> Any:
        gx = self._gx
        # Bounds on UTC timestamps must be tz-aware: a naive one fails inside GX silently.
        latest = pd.Timestamp(now + FUTURE_TOLERANCE)
        suite = gx.ExpectationSuite(name="usage_events")
        suite.add_expectation(gx.expectations.ExpectColumnValuesToBeNull(column="parse_problem"))
        suite.add_expectation(
            gx.expectations.ExpectColumnValuesToBeBetween(column="timestamp", max_value=latest)
        )
        return suite

    def failures(self, table: pd.DataFrame, now: datetime) -> dict[int, RowFailure]:
        """Failing rows by index; raises if the suite itself could not run."""
        if table.empty:
            return {}
        batch = self._batches.get_batch(batch_parameters={"dataframe": table})
        result = batch.validate(self._suite(now), result_format="COMPLETE")
        failed: dict[int, RowFailure] = {}
        for outcome in result.results:
            info = outcome.exception_info or {}
            if info.get("raised_exception"):
                raise RuntimeError(f"expectation could not run: {info.get('exception_message')}")
            column = outcome.expectation_config.kwargs["column"]
            for index in outcome.result.get("unexpected_index_list") or []:
                if index not in failed:
                    failed[index] = _failure(column, table, index)
        return failed


def _failure(column: str, table: pd.DataFrame, index: int) -> RowFailure:
    if column == "parse_problem":
        return RowFailure(table.at[index, "parse_reason"], table.at[index, "parse_problem"])
    instant = table.at[index, "timestamp"].to_pydatetime()
    written = f"after {format_timestamp(instant)}" if instant >= TABLE_CEILING else format_timestamp(instant)
    return RowFailure("future_timestamp", f"timestamp {written} is more than 5 minutes in the future")
