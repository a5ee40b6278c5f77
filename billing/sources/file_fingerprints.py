"""What a file holds, in a few bytes: its size and the SHA-256 of its content, read in blocks.

The scheduled inbox compares these with what it ingested before; the file is streamed, so a file
larger than memory is fingerprinted in one block's worth of memory.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from billing.core.errors import SourceError

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
        raise SourceError(f"{url}: no such file") from None
    except (ImportError, OSError, ValueError) as error:  # protocol, permissions, network
        raise SourceError(f"{url}: cannot read: {error}") from None
    return FileFingerprint(size, digest.hexdigest())
