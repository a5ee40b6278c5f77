"""Where usage files are: one file, a glob or a folder, local or any fsspec URL; their format.

A folder stands for every supported file inside it, nested folders included, sorted by path;
hidden files and folders (a name starting with "." or "_", like Spark's `_SUCCESS`) are left out.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, BinaryIO, Literal, cast

from billing.core.errors import SourceError

FileFormat = Literal["jsonl", "csv", "parquet"]
COMPRESSIONS = (".gz", ".bz2", ".xz", ".zst")
_SUFFIXES: dict[str, FileFormat] = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
}
_SUPPORTED = "a .jsonl, .csv (optionally compressed) or .parquet file"


def _uncompressed_name(url: str) -> tuple[str, bool]:
    name = url.lower()
    for compression in COMPRESSIONS:
        if name.endswith(compression):
            return name.removesuffix(compression), True
    return name, False


def file_format(url: str) -> FileFormat:
    """The format a file's name says; `SourceError` for any other name."""
    name, compressed = _uncompressed_name(url)
    for suffix, kind in _SUFFIXES.items():
        if name.endswith(suffix):
            if kind == "parquet" and compressed:
                raise SourceError(
                    f"{url}: a Parquet file is compressed inside: give the .parquet file itself"
                )
            return kind
    raise SourceError(f"{url}: unsupported format: expected {_SUPPORTED}")


def _supported(path: str) -> bool:
    name, compressed = _uncompressed_name(path)
    kind = next((k for s, k in _SUFFIXES.items() if name.endswith(s)), None)
    return kind is not None and not (kind == "parquet" and compressed)


@contextmanager
def readable(url: str) -> Iterator[None]:
    """fsspec's and pyarrow's errors as one-line `SourceError`s naming the source."""
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
    except (OSError, ValueError, NotImplementedError, EOFError, csv.Error) as error:  # network, corrupt
        raise SourceError(f"{url}: cannot read: {_one_line(error)}") from None


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def _hidden(relative: str) -> bool:
    return any(part.startswith((".", "_")) for part in relative.split("/") if part)


def expand(source: str) -> list[str]:
    """The files a source names: itself, every file a glob matches ("inbox/*.jsonl"), or every
    supported file in a folder and its subfolders; folders a glob matches are expanded too."""
    import fsspec

    with readable(source):
        fs, pattern = fsspec.core.url_to_fs(source)
        local = "://" not in source or source.startswith("file://")
        name: Callable[[str], str] = (lambda p: p) if local else fs.unstrip_protocol
        if any(char in source for char in "*?["):
            matches: dict[str, Any] = fs.glob(pattern, detail=True)
            found: list[str] = []
            for path, info in matches.items():
                if info.get("type") == "directory":
                    found.extend(_folder_files(fs, path))
                else:
                    found.append(path)
            return [name(p) for p in sorted(set(found))]
        if not fs.isdir(pattern):
            return [source]
        return [name(p) for p in _folder_files(fs, pattern)]


def _folder_files(fs: Any, folder: str) -> list[str]:
    root = folder.rstrip("/")
    files = fs.find(root)
    return sorted(p for p in files if _supported(p) and not _hidden(p[len(root) :]))


@contextmanager
def open_stored(
    url: str, decompress: bool = True
) -> Iterator[tuple[BinaryIO, Callable[[], int], int | None]]:
    """The file's bytes (decompressed as its name says), how many stored bytes were read so
    far, and the stored size if the filesystem knows it."""
    import fsspec
    from fsspec.compression import compr
    from fsspec.utils import infer_compression

    fs, path = fsspec.core.url_to_fs(url)
    try:
        size: int | None = fs.size(path)
    except (OSError, NotImplementedError, KeyError, TypeError):
        size = None
    compression = infer_compression(path) if decompress else None
    with fs.open(path, "rb") as raw:
        if compression is None:
            # the object stores' files (S3, GCS, Azure, HTTP: fsspec's AbstractBufferedFile)
            # have no `readline(limit)`, which bounds a header or a line read: buffered here
            buffered = raw if isinstance(raw, io.BufferedIOBase) else io.BufferedReader(raw)
            yield cast(BinaryIO, buffered), raw.tell, size
            return
        handle = compr[compression](raw, mode="rb")
        try:
            yield handle, raw.tell, size
        finally:
            handle.close()
