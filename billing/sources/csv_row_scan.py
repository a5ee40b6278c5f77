"""Where CSV rows end in the raw bytes, found the way pyarrow's parser reads them.

pyarrow's rules (RFC 4180 without its strictness): a `"` opens a quoted cell only as a cell's
first byte; inside one, `""` is a quote and a `"` followed by anything else closes the cell, the
rest of it read as plain text; a `"` inside a plain cell is plain text; a row ends at `\\n`,
`\\r\\n` or a lone `\\r` outside a quoted cell. `scan_window` finds the plain rows of a stretch of
bytes in bulk (byte searches, numpy for quotes); `read_row` reads one row exactly, for the few
that are not plain: over the row limit, a quoted cell holding line breaks, a lone `\\r`, a
stray quote inside a plain cell, the last row of the file.

A row is at most MAX_ROW_BYTES (64 KiB) as written. A row that holds line breaks in a quoted
cell must be well formed: every quoted cell closed by a quote followed by a comma or the line's
end, the header's number of cells, within the limit. A row that is not is read as its first line
alone (`read_row` says why): an unclosed quote does not swallow the lines after it. A row past
the limit with a quoted cell open or holding line breaks (`Row.follow`) is read again with a
larger `limit`, to find where it ends if its quotes are real (`csv_row_guard`)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from billing.core.events import MAX_ROW_BYTES

LIMIT = MAX_ROW_BYTES  # bytes of a row before its line break
_QUOTE, _COMMA, _LF, _CR = 0x22, 0x2C, 0x0A, 0x0D
_PLAIN_END = re.compile(rb'[,\r\n"]')
_EMPTY_LINE = re.compile(rb"\n\r?\n")


@dataclass(slots=True)
class Window:
    """The plain rows from a window's start to `cut`; `exact` when the row at `cut` must go
    through `read_row` (otherwise it only needs more bytes)."""

    cut: int
    rows: int
    lines: int  # line breaks before `cut`
    blanks: list[int] = field(default_factory=list)  # rows (from 0) that are empty lines
    exact: bool = False


@dataclass(frozen=True, slots=True)
class Row:
    """One row read exactly: where it ends, or why it cannot be read as it stands."""

    end: int = 0  # just after its line break (the file's end for the last row)
    blank: bool = False
    problem: str | None = None  # set: the row is read as its first line alone, with this reason
    follow: bool = False  # a problem row with a quoted cell still open or holding a line break


NEED_MORE = Row(end=-1)


def scan_window(data: bytes, start: int, end: int, final: bool) -> Window:
    """The plain rows of data[start:end]; `start` is where a row begins and `final` says that
    `end` is the end of the file."""
    quoted = data.find(b'"', start, end) != -1
    window = _quoted(data, start, end) if quoted else _unquoted(data, start, end)
    if not window.exact:
        tail = end - window.cut
        window.exact = tail > LIMIT or (final and end == len(data) and tail > 0)
    return window


def _unquoted(data: bytes, start: int, end: int) -> Window:
    last = data.rfind(b"\n", start, end)
    cut = last + 1 if last != -1 else start
    exact = False
    at = start
    while at < cut:  # every row ends within LIMIT bytes of its start
        found = data.rfind(b"\n", at, min(at + LIMIT + 1, cut))
        if found == -1:
            cut, exact = at, True
            break
        at = found + 1
    if data.find(b"\r", start, cut) != -1 and data.count(b"\r", start, cut) != data.count(
        b"\r\n", start, cut
    ):
        lone = _first_lone_cr(data, start, cut)
        cut, exact = data.rfind(b"\n", start, lone) + 1 or start, True
    rows = data.count(b"\n", start, cut)
    return Window(cut, rows, rows, _blank_rows(data, start, cut), exact)


def _first_lone_cr(data: bytes, start: int, end: int) -> int:
    at = data.find(b"\r", start, end)
    while at != -1 and data[at + 1 : at + 2] == b"\n":
        at = data.find(b"\r", at + 1, end)
    return at if at != -1 else end


def _blank_rows(data: bytes, start: int, cut: int) -> list[int]:
    """Rows (from 0) that are empty lines, `\n` or `\r\n` alone, in plain rows without quotes."""
    blanks: list[int] = []
    if data.startswith(b"\n", start) or data.startswith(b"\r\n", start):
        blanks.append(0)
    counted, rows = start, 0
    found = _EMPTY_LINE.search(data, start, cut)
    while found is not None:
        at = found.start()
        rows += data.count(b"\n", counted, at + 1)
        counted = at + 1
        blanks.append(rows)
        found = _EMPTY_LINE.search(data, found.end() - 1, cut)
    return blanks


def _quoted(data: bytes, start: int, end: int) -> Window:
    """Quote parity tells inside from outside exactly, unless a quote run of odd length sits
    inside a plain cell (a literal quote, which pyarrow keeps as text): rows from the first such
    run on, and from the first lone `\\r`, are left to `read_row`."""
    import numpy as np

    a = np.frombuffer(data, np.uint8, count=end - start, offset=start)
    quotes = np.flatnonzero(a == _QUOTE)
    # A quote with an even number before it is outside a quoted cell by parity: it must open a
    # cell (follow a comma or a line's end) or follow a quote. A literal run of odd length
    # starts with such a quote, so none of them means parity is exact (a few false alarms
    # only send rows to `read_row`).
    even = quotes[::2]
    before = a[np.maximum(even - 1, 0)]
    literal = (even > 0) & (before != _COMMA) & (before != _LF) & (before != _CR) & (before != _QUOTE)
    stop, exact = len(a), False
    if literal.any():
        stop, exact = int(even[np.argmax(literal)]), True
    if data.find(b"\r", start, start + stop) != -1:
        returns = np.flatnonzero(a[:stop] == _CR)
        after = a[np.minimum(returns + 1, len(a) - 1)]
        lone = returns[
            ((returns + 1 >= len(a)) | (after != _LF)) & (np.searchsorted(quotes, returns) % 2 == 0)
        ]
        if len(lone):
            stop, exact = int(lone[0]), True
    breaks = np.flatnonzero(a[:stop] == _LF)
    inside = (np.searchsorted(quotes, breaks) % 2).astype(bool)
    ends = breaks[~inside] + 1
    starts = np.concatenate(([0], ends[:-1]))
    bad = ends - 1 - starts > LIMIT
    spanning = np.searchsorted(ends, breaks[inside], side="right")
    bad[spanning[spanning < len(ends)]] = True  # rows holding line breaks: read exactly
    good = int(np.argmax(bad)) if bad.any() else len(ends)
    cut = int(ends[good - 1]) if good else 0
    sizes = ends[:good] - starts[:good]
    empty = (sizes == 1) | ((sizes == 2) & (a[np.maximum(ends[:good] - 2, 0)] == _CR))
    blanks = [int(i) for i in np.flatnonzero(empty)]
    lines = int(np.searchsorted(breaks, cut))
    return Window(start + cut, good, lines, blanks, exact or good < len(ends))


def read_row(data: bytes, start: int, final: bool, columns: int, line: int, limit: int = LIMIT) -> Row:
    """The row starting at data[start], read exactly; NEED_MORE when the bytes so far cannot
    tell. `line` is its physical line, for the reasons given; `limit` the bytes a row may take
    (the row limit, or HORIZON to find where an over-long quoted row really ends)."""
    n = len(data)
    stop = min(n, start + limit + 1)
    at_end = final and stop == n  # the file ends before the limit
    at, cells, field_start, clean = start, 1, True, True
    spans: int | None = None  # the first line break inside a quoted cell
    while True:
        if at >= stop:
            if at_end:
                return _ended(data, start, n, spans, clean, cells, columns, line)
            if stop == n:
                return NEED_MORE
            return Row(problem=_past_limit(line, spans, inside=False), follow=spans is not None)
        if field_start and data[at] == _QUOTE:
            at += 1
            while True:
                close = data.find(b'"', at, stop)
                if spans is None:
                    spans = _find(data, b"\n", at, close if close != -1 else stop)
                if close == -1 or close + 1 == stop:
                    if at_end and close == -1:
                        return Row(
                            problem=f"an unclosed quote in line {line}: no closing quote before the file ends"
                        )
                    if stop == n and not at_end:
                        return NEED_MORE
                    if close == -1:
                        return Row(problem=_past_limit(line, spans, inside=True), follow=True)
                if close + 1 < stop and data[close + 1] == _QUOTE:
                    at = close + 2
                    continue
                at = close + 1
                break
            field_start = False
            if at < stop and data[at] not in (_COMMA, _LF, _CR):
                clean = False
            continue
        found = _PLAIN_END.search(data, at, stop)
        if found is None:
            at = stop
            continue
        at = found.start()
        byte = data[at]
        if byte == _COMMA:
            cells, field_start, at = cells + 1, True, at + 1
            continue
        if byte == _QUOTE:  # plain text inside a plain cell
            field_start, at = False, at + 1
            continue
        if byte == _CR and at + 1 == n and not final:
            return NEED_MORE
        end = at + 2 if byte == _CR and data[at + 1 : at + 2] == b"\n" else at + 1
        if spans is not None and (not clean or cells != columns):
            return Row(problem=_malformed(data, start, at, line, clean, cells, columns))
        return Row(end=end, blank=at == start)


def _find(data: bytes, sub: bytes, start: int, end: int) -> int | None:
    found = data.find(sub, start, end)
    return None if found == -1 else found


def _ended(
    data: bytes, start: int, n: int, spans: int | None, clean: bool, cells: int, columns: int, line: int
) -> Row:
    """The last row, ended by the file's end."""
    if spans is not None and (not clean or cells != columns):
        return Row(problem=_malformed(data, start, n, line, clean, cells, columns))
    return Row(end=n)


def _past_limit(line: int, spans: int | None, inside: bool) -> str:
    if inside:
        return f"an unclosed quote in line {line}: no closing quote within {LIMIT:,} bytes"
    if spans is not None:
        return f"the row spans lines past the limit of {LIMIT:,} bytes"
    return f"the row is over the limit of {LIMIT:,} bytes"


def _malformed(data: bytes, start: int, end: int, line: int, clean: bool, cells: int, columns: int) -> str:
    last = line + data.count(b"\n", start, end)
    if not clean:
        why = f"read as a cell spanning lines, it closes in line {last} with text after the quote"
    else:
        why = (
            f"read as a cell spanning lines, it makes a row of {cells} cells to line {last},"
            f" the header has {columns} columns"
        )
    return f"an unclosed quote in line {line}: {why}"
