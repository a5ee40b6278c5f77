"""JSONL files: one event per line, each line decoded on its own with exact numbers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import BinaryIO

from billing.core.events import MAX_ROW_BYTES, EventRejected, decode_row, over_row_limit, storable
from billing.sources.locations import open_stored
from billing.sources.progress import ReadPosition
from billing.sources.raw_records import RawRecord

_BOM = "\ufeff".encode()
_READ = MAX_ROW_BYTES + 2  # a line at the limit and its \r\n
_PAST = 1 << 20  # bytes read at a time past the end of an over-long line


def _lines(handle: BinaryIO) -> Iterator[tuple[bytes, int | None]]:
    """Each line without its line break; a line over the row limit as its first 64 KiB and its
    size, the rest of it streamed past (a 2 GB line, a JSON array on one line, in bounded memory)."""
    while line := handle.readline(_READ):
        if len(line) < _READ or line.endswith(b"\n"):
            yield line.rstrip(b"\r\n"), None
            continue
        size, tail = len(line), line[-2:]
        while not tail.endswith(b"\n") and (rest := handle.readline(_PAST)):
            size, tail = size + len(rest), (tail + rest)[-2:]  # a \r\n may span two reads
        yield line[:MAX_ROW_BYTES], size - (len(tail) - len(tail.rstrip(b"\r\n")))


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
        for number, (line, oversized) in enumerate(_lines(handle), start=1):
            if oversized is not None:
                text = storable(line.decode("utf-8", "backslashreplace"))
                chunk.append(RawRecord(number, text, unreadable=over_row_limit(oversized)))
            else:
                line = line.removeprefix(_BOM) if number == 1 else line
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
