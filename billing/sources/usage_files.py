"""Where usage events come from: files (local or any fsspec URL) read in chunks."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from billing.core.errors import SourceError
from billing.core.events import EventRejected, decode_row, storable

DEFAULT_CHUNK_SIZE = 50_000
_JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")
_BOM = "\ufeff".encode()


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One event as received: the text of a file line, or an already-parsed JSON object.

    A line that could not be read as text (not UTF-8, a NUL byte, over the size limit) keeps
    its bytes written with escapes in `text`, and why in `unreadable`: it is quarantined."""

    position: int  # line number in a file, index in an HTTP batch
    text: str | None = None
    data: Any = None
    unreadable: str | None = None


def _format(url: str) -> str:
    name = url.lower()
    for compression in (".gz", ".bz2", ".xz", ".zst"):
        name = name.removesuffix(compression)
    if name.endswith(_JSONL_SUFFIXES):
        return "jsonl"
    raise SourceError(f"{url}: unsupported format: expected a .jsonl file (optionally compressed)")


@contextmanager
def _readable(url: str) -> Iterator[None]:
    """fsspec's errors as one-line `SourceError`s naming the source."""
    try:
        yield
    except SourceError:
        raise
    except FileNotFoundError:
        raise SourceError(f"{url}: no such file") from None
    except UnicodeDecodeError as error:
        raise SourceError(f"{url}: not UTF-8 text ({error.reason} at byte {error.start})") from None
    except ImportError as error:  # an fsspec protocol whose package is not installed
        raise SourceError(f"{url}: cannot read this kind of URL here: {error}") from None
    except (OSError, ValueError) as error:  # unknown protocol, permissions, network
        raise SourceError(f"{url}: cannot read: {error}") from None


def expand(source: str) -> list[str]:
    """The files a source names: itself, or every file a glob matches ("inbox/*.jsonl")."""
    if not any(char in source for char in "*?["):
        return [source]
    import fsspec

    with _readable(source):
        fs, pattern = fsspec.core.url_to_fs(source)
        local = "://" not in source or source.startswith("file://")
        return [path if local else fs.unstrip_protocol(path) for path in sorted(fs.glob(pattern))]


def record_of_line(number: int, line: bytes) -> RawRecord:
    """One line of a file as a record; a line that is not readable text is kept, with why."""
    try:
        return RawRecord(number, decode_row(line))
    except EventRejected as rejection:
        return RawRecord(
            number, storable(line.decode("utf-8", "backslashreplace")), unreadable=rejection.detail
        )


def read_chunks(url: str, chunk_size: int = DEFAULT_CHUNK_SIZE) -> Iterator[list[RawRecord]]:
    """The source's records in chunks; blank lines are skipped, every other line is a record.

    The file is read as bytes and each line decoded on its own, so a line that is not UTF-8
    text is one bad record, not a failed file."""
    _format(url)
    import fsspec

    with _readable(url), fsspec.open(url, "rb", compression="infer") as handle:
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
                chunk = []
        if chunk:
            yield chunk


def check_readable(url: str) -> None:
    """Fail early, before any flow starts, on a source that cannot be read."""
    _format(url)
    import fsspec

    with _readable(url), fsspec.open(url, "rb", compression="infer") as handle:
        handle.read(1)
