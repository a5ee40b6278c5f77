"""What a file holds, in a few bytes: its size and the SHA-256 of its content, read in blocks;
and what its filesystem says of it without reading it: size and modification time.

The scheduled inbox compares these with what it ingested before; the file is streamed, so a file
larger than memory is fingerprinted in one block's worth of memory.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from billing.core.errors import SourceError, SourceMissing

BLOCK_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class FileFingerprint:
    size: int
    sha256: str


def fingerprint(url: str) -> FileFingerprint:
    """The file's bytes as stored (a compressed file is hashed compressed)."""
    import fsspec

    digest = hashlib.sha256()
    size = 0
    try:
        with fsspec.open(url, "rb") as handle:
            while block := handle.read(BLOCK_BYTES):
                digest.update(block)
                size += len(block)
    except FileNotFoundError:
        raise SourceMissing(f"{url}: no such file") from None
    except (ImportError, OSError, ValueError) as error:  # protocol, permissions, network
        raise SourceError(f"{url}: cannot read: {error}") from None
    return FileFingerprint(size, digest.hexdigest())


@dataclass(frozen=True, slots=True)
class FileStat:
    size: int
    modified_at: datetime | None  # None: the filesystem does not say (e.g. memory://)


# where fsspec filesystems put the modification time in `info()`: local and SFTP `mtime`
# (epoch seconds), S3 `LastModified`, GCS `updated`, Azure `last_modified`
_MODIFIED_KEYS = ("mtime", "LastModified", "updated", "last_modified")


def stat(url: str) -> FileStat:
    """The file's size and modification time, from its filesystem's listing (no read)."""
    from fsspec.core import url_to_fs

    try:
        filesystem, path = url_to_fs(url)
        info = filesystem.info(path)
    except FileNotFoundError:
        raise SourceMissing(f"{url}: no such file") from None
    except (ImportError, OSError, ValueError) as error:
        raise SourceError(f"{url}: cannot read: {error}") from None
    return FileStat(int(info.get("size") or 0), modified_at(info))


def modified_at(info: dict[str, Any]) -> datetime | None:
    for key in _MODIFIED_KEYS:
        value = info.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return datetime.fromtimestamp(value, UTC)
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                continue
        if isinstance(value, datetime):
            return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return None
