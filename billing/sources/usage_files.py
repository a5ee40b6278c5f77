"""Where usage events come from: files (local or any fsspec URL) read in chunks.

The entry points the ingest flow and the command line use: `expand` (a file, a glob or a
folder to files), `check_readable` (fail early, in one line), `read_chunks` (the records of
one file, in bounded memory whatever its size). The formats live in their own modules: JSONL
(`jsonl_files`), CSV (`csv_files`) and Parquet (`parquet_files`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from billing.sources.csv_files import check_csv, read_csv
from billing.sources.jsonl_files import check_jsonl, read_jsonl, record_of_line
from billing.sources.locations import expand, file_format, readable
from billing.sources.parquet_files import check_parquet, read_parquet
from billing.sources.progress import ReadPosition
from billing.sources.raw_records import RawRecord

__all__ = ["DEFAULT_CHUNK_SIZE", "RawRecord", "check_readable", "expand", "read_chunks", "record_of_line"]

DEFAULT_CHUNK_SIZE = 50_000

_READERS = {"jsonl": read_jsonl, "csv": read_csv, "parquet": read_parquet}
_CHECKS = {"jsonl": check_jsonl, "csv": check_csv, "parquet": check_parquet}


def _unreported(position: ReadPosition) -> None:
    pass


def read_chunks(
    url: str,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    on_position: Callable[[ReadPosition], None] = _unreported,
) -> Iterator[list[RawRecord]]:
    """The file's records in chunks of at most `chunk_size`; `on_position` hears how far the
    reader is after each chunk. A row that cannot be read is one record with why; a file that
    cannot be read (or whose columns are wrong) is one `SourceError` line."""
    reader = _READERS[file_format(url)]
    with readable(url):
        yield from reader(url, chunk_size, on_position)


def check_readable(url: str) -> None:
    """Fail early, before any flow starts, on a source that cannot be read."""
    check = _CHECKS[file_format(url)]
    with readable(url):
        check(url)
