"""JSONL files: one event per line, each line decoded on its own with exact numbers."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from billing.core.events import EventRejected, decode_row, storable
from billing.sources.locations import open_stored
from billing.sources.progress import ReadPosition
from billing.sources.raw_records import RawRecord

_BOM = "\ufeff".encode()


def record_of_line(number: int, line: bytes) -> RawRecord:
    """One line of a file as a record; a line that is not readable text is kept, with why."""
    try:
        return RawRecord(number, decode_row(line))
    except EventRejected as rejection:
        return RawRecord(
            number, storable(line.decode("utf-8", "backslashreplace")), unreadable=rejection.detail
        )


def read_jsonl(
    url: str, chunk_size: int, on_position: Callable[[ReadPosition], None]
) -> Iterator[list[RawRecord]]:
    """The file's records in chunks; blank lines are skipped, every other line is a record.

    The file is read as bytes and each line decoded on its own, so a line that is not UTF-8
    text is one bad record, not a failed file."""
    with open_stored(url) as (handle, stored_bytes, size):
        chunk: list[RawRecord] = []
        for number, line in enumerate(handle, start=1):
            line = line.rstrip(b"\r\n")
            if number == 1:
                line = line.removeprefix(_BOM)
            if not line.strip():
                continue
            chunk.append(record_of_line(number, line))
            if len(chunk) >= chunk_size:
                yield chunk
                on_position(ReadPosition(stored_bytes(), size, "bytes"))
                chunk = []
        if chunk:
            yield chunk
        on_position(ReadPosition(stored_bytes(), size, "bytes"))


def check_jsonl(url: str) -> None:
    with open_stored(url) as (handle, _, _):
        handle.read(1)
