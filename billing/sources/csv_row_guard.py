"""The CSV body as pyarrow reads it, with every row it could not read taken out first.

pyarrow parses 1 MiB blocks and fails the rest of a file on a row longer than a block, and an
unclosed quote makes it read every later line into one cell. `RowStream` stands between the file
and pyarrow: it passes the bytes through in bounded pieces, row boundaries found by
`csv_row_scan`, and takes out each row it cannot hand on: a row over the limit whose quoted cells
close into a well-formed row within HORIZON, whole (so that no line inside a cell is ever read as
a row); any other row over the limit, or with a quote that does not close into a well-formed
row, as its first line alone (the first 64 KiB of it kept), reading on from the next line.
What it took out, and which rows are empty lines, it notes for the reader to put back in place
by pyarrow's row numbers."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import BinaryIO

from billing.core.events import storable
from billing.sources.csv_row_scan import LIMIT, NEED_MORE, read_row, scan_window
from billing.sources.raw_records import RawRecord

PIECE = 1 << 20  # bytes read from the file at a time
WINDOW = 4 * LIMIT  # bytes scanned at a time; more than a row so that each scan makes progress
HORIZON = 16 << 20  # how far an over-long row whose quoted cell spans lines is followed to its end


@dataclass(frozen=True, slots=True)
class TakenOut:
    rows_before: int  # rows pyarrow was given before it
    record: RawRecord
    lines: int = 1  # physical lines it takes


class RowStream:
    """A read-only stream of the CSV body (after the header) for pyarrow's reader."""

    def __init__(self, source: BinaryIO, columns: int, first_line: int = 2) -> None:
        self.source = source
        self.columns = columns
        self.data = b""
        self.pos = 0  # where the next row begins in `data`
        self.eof = False
        self.exact = False  # the row at `pos` goes through `read_row`
        self.following = False  # ... read up to HORIZON: an over-long row spanning lines
        self.line = first_line  # physical line of data[pos]
        self.rows = 0  # rows handed on
        self.ready: deque[bytes] = deque()
        self.ready_bytes = 0
        self.taken_out: deque[TakenOut] = deque()
        self.blanks: deque[int] = deque()  # row numbers (from 1, as pyarrow counts) of empty lines

    # the file protocol pyarrow uses
    closed = False

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def close(self) -> None:
        self.closed = True

    def read(self, size: int = -1) -> bytes:
        while (size < 0 or self.ready_bytes < size) and not (self.eof and self.pos >= len(self.data)):
            self._advance()
        out = b"".join(self.ready)
        self.ready.clear()
        if 0 <= size < len(out):
            self.ready.append(out[size:])
            out = out[:size]
        self.ready_bytes -= len(out)
        return out

    def _more(self) -> None:
        piece = self.source.read(PIECE)
        if not piece:
            self.eof = True
        self.data = self.data[self.pos :] + piece
        self.pos = 0

    def _advance(self) -> None:
        if not self.eof and len(self.data) - self.pos <= WINDOW:
            self._more()
            return
        if self.exact:
            self.exact = False
            limit = HORIZON if self.following else LIMIT
            row = read_row(self.data, self.pos, self.eof, self.columns, self.line, limit)
            if row is NEED_MORE:
                self.exact = True
                self._more()
            elif row.problem is not None and row.follow and not self.following:
                self.following = self.exact = True  # where does it end, if its quotes are real?
            elif row.problem is not None:
                self.following = False
                self._take_out(row.problem)
            elif self.following:
                self.following = False
                self._take_out_whole(row.end)
            else:
                self._hand_on(row.end, 1, self.data.count(b"\n", self.pos, row.end), [0] if row.blank else [])
            return
        end = min(len(self.data), self.pos + WINDOW)
        window = scan_window(self.data, self.pos, end, self.eof)
        if window.cut > self.pos:
            self._hand_on(window.cut, window.rows, window.lines, window.blanks)
        self.exact = window.exact

    def _hand_on(self, end: int, rows: int, lines: int, blanks: list[int]) -> None:
        piece = self.data[self.pos : end]
        self.ready.append(piece)
        self.ready_bytes += len(piece)
        self.blanks.extend(self.rows + 1 + blank for blank in blanks)
        self.rows += rows
        self.line += lines
        self.pos = end

    def _take_out(self, problem: str) -> None:
        """The row at `pos` as its first line alone; reading goes on at the next line."""
        start = self.pos
        kept = self.data[start : start + LIMIT]
        newline = self.data.find(b"\n", start)
        length = (newline if newline != -1 else len(self.data)) - start
        while newline == -1 and not self.eof:  # a line longer than what is held: stream past it
            self.pos = len(self.data)
            self._more()
            newline = self.data.find(b"\n")
            if len(kept) < LIMIT:
                kept += self.data[: LIMIT - len(kept)]
            length += newline if newline != -1 else len(self.data)
        if length > LIMIT:
            problem = f"the row is {length:,} bytes long, over the limit of {LIMIT:,}"
        text = kept[: min(length, LIMIT)].removesuffix(b"\r")
        record = RawRecord(self.line, storable(text.decode("utf-8", "backslashreplace")), unreadable=problem)
        self.taken_out.append(TakenOut(self.rows, record))
        self.line += 1
        self.pos = newline + 1 if newline != -1 else len(self.data)

    def _take_out_whole(self, end: int) -> None:
        """The row at `pos`, over the limit, whose quoted cells hold line breaks and close into a
        well-formed row ending at `end`: one row, all its lines. Read as its first line alone, the
        lines inside its cells would be read as rows of their own, and could be accepted."""
        start = self.pos
        row = self.data[start:end]
        body = end - (2 if row.endswith(b"\r\n") else 1 if row.endswith((b"\n", b"\r")) else 0)
        lines = self.data.count(b"\n", start, end)
        spanned = self.data.count(b"\n", start, body) + 1
        where = f" over lines {self.line} to {self.line + spanned - 1}" if spanned > 1 else ""
        problem = f"the row is {body - start:,} bytes long{where}, over the limit of {LIMIT:,}"
        text = self.data[start : start + LIMIT]
        record = RawRecord(self.line, storable(text.decode("utf-8", "backslashreplace")), unreadable=problem)
        self.taken_out.append(TakenOut(self.rows, record, spanned))
        self.line += lines
        self.pos = end
