"""`billing ingest`'s progress bar on a terminal: one bar per file, in stored bytes (JSONL and
CSV, compressed size for a compressed file) or rows (Parquet). `rich` draws it: it is already
installed with Prefect, and its live display keeps Prefect's log lines above the bars."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from billing.sources.progress import ProgressHook, ReadPosition, reporting


def _amount(position: ReadPosition) -> str:
    if position.unit == "rows":
        total = f" / {position.total:,}" if position.total is not None else ""
        return f"{position.done:,}{total} rows"
    from rich.filesize import decimal

    total = f" / {decimal(position.total)}" if position.total is not None else ""
    return f"{decimal(position.done)}{total}"


class _Bars:
    def __init__(self, progress: Any) -> None:
        self.progress = progress
        self.tasks: dict[str, Any] = {}
        self.totals: dict[str, int | None] = {}

    def file_started(self, path: str) -> None:
        self.tasks[path] = self.progress.add_task(path, total=None, amount="", outcome="")

    def file_advanced(self, path: str, position: ReadPosition) -> None:
        self.totals[path] = position.total
        self.progress.update(
            self.tasks[path], completed=position.done, total=position.total, amount=_amount(position)
        )

    def file_finished(self, path: str, summary: str) -> None:
        total = self.totals.get(path) or 1
        self.progress.update(self.tasks[path], completed=total, total=total, outcome=summary)


@contextmanager
def progress_on_terminal() -> Iterator[ProgressHook | None]:
    """Bars on stderr when it is a terminal; nothing otherwise (the summary says it all)."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[amount]}"),
        TimeElapsedColumn(),
        TextColumn("{task.fields[outcome]}"),
        console=Console(stderr=True),
    )
    with progress, reporting(_Bars(progress)) as hook:
        yield hook
