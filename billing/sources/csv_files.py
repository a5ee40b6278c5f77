"""CSV files: a header row naming the columns, one event per row, streamed by pyarrow.

Every cell is read as text (never a type pyarrow guesses: "007" stays "007", "0.1" stays the
exact text), an empty cell is an absent field or property, and admission reads the decimal text of
a numeric metric's field as an exact number. Positions are physical line numbers (the header is
line 1), cells spanning lines included.

A row that cannot be read is one quarantined record (`unreadable_row`) with why, and the rows
after it are read as usual:
- the wrong number of cells, or a cell that is not UTF-8 text;
- a row over 64 KiB (MAX_ROW_BYTES) as written, whatever its length (a 2 GB line is streamed past);
- a quote that does not close into a well-formed row: a quoted cell may hold line breaks only
  if it closes within 64 KiB of its row's start, by a quote followed by a comma or the line's
  end, into a row of the header's number of cells. Otherwise the quote is taken as unclosed.
Such a row over the limit or with an unclosed quote is quarantined as its first line alone
("an unclosed quote in line L: ..."), and reading resumes on the next line: a stray `"` costs
one line, never the rest of the file.
An empty line is skipped, as in JSONL; a row of empty cells (`,,,`) is a row: quarantined
("every cell is empty")."""

from __future__ import annotations

import csv
import re
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, BinaryIO

from billing.core.errors import SourceError
from billing.core.events import MAX_ROW_BYTES, storable
from billing.sources.column_layout import ColumnLayout, column_layout
from billing.sources.csv_row_guard import RowStream
from billing.sources.locations import open_stored
from billing.sources.progress import ReadPosition
from billing.sources.raw_records import RawRecord

BLOCK_BYTES = 1 << 20  # pyarrow parses this much at a time; RowStream keeps every row far shorter
_BOM = "\ufeff".encode()
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")


@dataclass(frozen=True, slots=True)
class _BadRow:
    number: int | None  # pyarrow's count of rows after the header
    text: str
    cells: int


def _header(handle: BinaryIO, url: str) -> tuple[list[str], int] | None:
    """The header row's names and its physical line; None for a file of empty lines only.
    Empty lines before the header are skipped, as empty lines after it are."""
    number = 0
    while line := handle.readline(MAX_ROW_BYTES + 1):
        number += 1
        if len(line) > MAX_ROW_BYTES:
            raise SourceError(f"{url}: the header row is over the limit of {MAX_ROW_BYTES:,} bytes")
        if number == 1:
            line = line.removeprefix(_BOM)
        if line.rstrip(b"\r\n"):
            break
    else:
        return None
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as error:
        raise SourceError(
            f"{url}: the header row is not UTF-8 text ({error.reason} at byte {error.start})"
        ) from None
    return next(csv.reader([text.rstrip("\r\n")])), number


class _Rows:
    """Batches of cells to records, in order, with the rows set aside put back in place: those
    pyarrow's `invalid_row_handler` gave (by their row number) and those `RowStream` took out
    before pyarrow saw them (by how many rows came before)."""

    def __init__(self, names: list[str], layout: ColumnLayout, stream: RowStream, first_line: int) -> None:
        self.names = names
        self.layout = layout
        self.stream = stream
        self.set_aside: deque[_BadRow] = deque()
        self.next_row = 1  # pyarrow's number of the next row
        self.next_line = first_line

    def invalid(self, row: Any) -> str:  # pyarrow's invalid_row_handler
        self.set_aside.append(_BadRow(row.number, row.text, row.actual_columns))
        return "skip"

    def _bad_rows_due(self) -> Iterator[RawRecord]:
        taken_out = self.stream.taken_out
        while True:
            if taken_out and taken_out[0].rows_before < self.next_row:
                taken = taken_out.popleft()
                yield taken.record
                self.next_line = taken.record.position + taken.lines
            elif self.set_aside and (self.set_aside[0].number or 0) <= self.next_row:
                bad = self.set_aside.popleft()
                detail = f"the row has {bad.cells} cells, the header has {len(self.names)} columns"
                yield RawRecord(self.next_line, storable(bad.text), unreadable=detail)
                self.next_row += 1
                self.next_line += 1 + bad.text.count("\n")
            else:
                return

    def rest(self) -> list[RawRecord]:
        """The rows set aside after the last row pyarrow kept."""
        out: list[RawRecord] = []
        while self.set_aside or self.stream.taken_out:
            if self.set_aside:
                self.next_row = max(self.next_row, self.set_aside[0].number or 0)
            else:
                self.next_row = max(self.next_row, self.stream.taken_out[0].rows_before + 1)
            out.extend(self._bad_rows_due())
        return out

    def _blank(self, row: int) -> bool:
        """Whether the row (all cells empty) is an empty line, skipped, rather than commas."""
        blanks = self.stream.blanks
        while blanks and blanks[0] < row:
            blanks.popleft()
        if blanks and blanks[0] == row:
            blanks.popleft()
            return True
        return False

    def records(self, batch: Any) -> list[RawRecord]:
        import pyarrow as pa
        import pyarrow.compute as pc

        columns = batch.columns
        lengths = [pc.binary_length(c) for c in columns]
        sizes = _row_sums(lengths, batch.num_rows)
        breaks = _row_sums([pc.count_substring(c, "\n") for c in columns], batch.num_rows)
        full = [len(c) == 0 or pc.min(c).as_py() > 0 for c in lengths]  # no empty cell
        texts: list[list[str]] = []
        undecodable: dict[int, str] = {}
        for name, column in zip(self.names, columns, strict=True):
            try:
                texts.append(column.cast(pa.string()).to_pylist())
            except pa.ArrowInvalid:
                texts.append(_decoded(name, column.to_pylist(), undecodable))
        events = _events(
            [(field, texts[index], full[index]) for index, field in self.layout.top],
            [(name, texts[index], full[index]) for index, name in self.layout.properties],
            batch.num_rows,
        )
        _unix_seconds(events, columns[self.names.index("timestamp")])
        out: list[RawRecord] = []
        for i in range(batch.num_rows):
            out.extend(self._bad_rows_due())
            line, row = self.next_line, self.next_row
            self.next_row += 1
            self.next_line += 1 + breaks[i]
            if sizes[i] == 0:
                if not self._blank(row):
                    written = ",".join(column[i] for column in texts)
                    out.append(
                        RawRecord(line, written, unreadable="every cell is empty: the row names no event")
                    )
                continue
            if i in undecodable:
                written = ",".join(column[i] for column in texts)
                out.append(RawRecord(line, storable(written), unreadable=undecodable[i]))
                continue
            out.append(RawRecord(line, data=events[i]))
        return out


def _row_sums(arrays: list[Any], rows: int) -> list[int]:
    import numpy as np

    total = np.zeros(rows, dtype=np.int64)
    for array in arrays:
        total += array.to_numpy(zero_copy_only=False)
    return [int(v) for v in total]


def _decoded(name: str, cells: list[bytes], undecodable: dict[int, str]) -> list[str]:
    texts = []
    for row, cell in enumerate(cells):
        try:
            texts.append(cell.decode("utf-8"))
        except UnicodeDecodeError as error:
            texts.append(cell.decode("utf-8", "backslashreplace"))
            undecodable.setdefault(
                row, f"the cell {name!r} is not UTF-8 text ({error.reason} at byte {error.start})"
            )
    return texts


def _cells_by_row(columns: list[tuple[str, list[str], bool]], rows: int) -> list[dict[str, Any]]:
    """Each row's non-empty cells by name; zipped in C when no column has an empty cell."""
    names = [name for name, _, _ in columns]
    cells = [values for _, values, _ in columns]
    if all(full for _, _, full in columns):
        return [dict(zip(names, row, strict=True)) for row in zip(*cells, strict=True)]
    return [
        {name: values[i] for name, values in zip(names, cells, strict=True) if values[i]} for i in range(rows)
    ]


def _events(
    top: list[tuple[str, list[str], bool]], properties: list[tuple[str, list[str], bool]], rows: int
) -> list[dict[str, Any]]:
    records = _cells_by_row(top, rows)
    if properties:
        for record, found in zip(records, _cells_by_row(properties, rows), strict=True):
            if found:
                record["properties"] = found
    return records


def _unix_seconds(records: list[dict[str, Any]], timestamps: Any) -> None:
    """Timestamps written as a number are Unix seconds, as a JSON number would be."""
    import numpy as np
    import pyarrow.compute as pc

    numeric = pc.match_substring_regex(timestamps, _NUMBER.pattern.join("^$"))
    for i in np.flatnonzero(numeric.to_numpy(zero_copy_only=False)):
        records[i]["timestamp"] = Decimal(records[i]["timestamp"])


def _reader(handle: RowStream, names: list[str], rows: _Rows) -> Any:
    from pyarrow import ArrowInvalid, binary
    from pyarrow import csv as arrow_csv

    try:
        return arrow_csv.open_csv(
            handle,
            read_options=arrow_csv.ReadOptions(column_names=names, block_size=BLOCK_BYTES, use_threads=False),
            parse_options=arrow_csv.ParseOptions(
                newlines_in_values=True, ignore_empty_lines=False, invalid_row_handler=rows.invalid
            ),
            convert_options=arrow_csv.ConvertOptions(
                column_types={name: binary() for name in names},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except ArrowInvalid as error:
        if str(error) == "Empty CSV file":  # a header and no rows
            return iter(())
        raise


def read_csv(
    url: str, chunk_size: int, on_position: Callable[[ReadPosition], None]
) -> Iterator[list[RawRecord]]:
    with open_stored(url) as (handle, stored_bytes, size):
        header = _header(handle, url)
        if header is not None:
            names, line = header
            stream = RowStream(handle, len(names), first_line=line + 1)
            rows = _Rows(names, column_layout(url, names, properties_column=False), stream, line + 1)
            chunk: list[RawRecord] = []
            for batch in _reader(stream, names, rows):
                chunk.extend(rows.records(batch))
                while len(chunk) >= chunk_size:
                    yield chunk[:chunk_size]
                    on_position(ReadPosition(stored_bytes(), size, "bytes"))
                    chunk = chunk[chunk_size:]
            chunk.extend(rows.rest())
            if chunk:
                yield chunk
        on_position(ReadPosition(stored_bytes(), size, "bytes"))


def check_csv(url: str) -> None:
    """The header names the required columns and nothing unknown."""
    with open_stored(url) as (handle, _, _):
        header = _header(handle, url)
        if header is not None:
            column_layout(url, header[0], properties_column=False)
