"""How far a reader is through a file, for whoever shows it (the command line's progress bar).

The hook is set by the caller around a run (`reporting`), not passed as a flow parameter: flow
parameters stay plain values Prefect can store, and runs without a terminal report nothing."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal, Protocol


@dataclass(frozen=True, slots=True)
class ReadPosition:
    done: int
    total: int | None  # None when the size is not known (a stream without a length)
    unit: Literal["bytes", "rows"]  # bytes of the file as stored (compressed), or Parquet rows


class ProgressHook(Protocol):
    def file_started(self, path: str) -> None: ...

    def file_advanced(self, path: str, position: ReadPosition) -> None: ...

    def file_finished(self, path: str, summary: str) -> None: ...


class _Silent:
    def file_started(self, path: str) -> None:
        pass

    def file_advanced(self, path: str, position: ReadPosition) -> None:
        pass

    def file_finished(self, path: str, summary: str) -> None:
        pass


_current: ProgressHook = _Silent()


def current_hook() -> ProgressHook:
    return _current


@contextmanager
def reporting(hook: ProgressHook) -> Iterator[ProgressHook]:
    """Report every file read meanwhile to `hook` (one run at a time per process)."""
    global _current
    previous, _current = _current, hook
    try:
        yield hook
    finally:
        _current = previous
