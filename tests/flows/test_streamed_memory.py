"""A file far larger than the memory it is read in: a ~2 GB stream, generated while it is read
(nothing written to disk), goes through `read_chunks` in a child process whose peak resident
memory stays a small fraction of it. Slow: minutes; run with `pytest -m slow`."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

STREAM_BYTES = 2 * 1024**3
PEAK_RSS_LIMIT_MB = 600

CHILD = r"""
import io, json, resource, sys, time

import fsspec
from fsspec.spec import AbstractFileSystem

from billing.sources.usage_files import read_chunks

kind, size = sys.argv[1], int(sys.argv[2])
if kind == "csv":
    head = b"transaction_id,customer_id,event_type,timestamp,properties.tokens,properties.note\n"
    row = b"t%08d,alpha,llm,2026-03-02T10:00:00Z,0.1,some text to make a row of about 100 bytes\n"
else:
    head = b""
    row = (b'{"transaction_id":"t%08d","customer_id":"alpha","event_type":"llm",'
           b'"timestamp":"2026-03-02T10:00:00Z","properties":{"tokens":0.1}}\n')
block = b"".join(row % n for n in range(10_000))
blocks = (size - len(head)) // len(block)
total = len(head) + blocks * len(block)


class Generated(io.RawIOBase):
    # the stream's bytes, made as they are read: the header, then the same block again and again
    def __init__(self):
        self.position = 0

    def readable(self):
        return True

    def tell(self):
        return self.position

    def readinto(self, buffer):
        if self.position >= total:
            return 0
        if self.position < len(head):
            data = head[self.position:]
        else:
            offset = (self.position - len(head)) % len(block)
            data = block[offset:]
        data = data[: len(buffer)]
        buffer[: len(data)] = data
        self.position += len(data)
        return len(data)


class GeneratedFileSystem(AbstractFileSystem):
    protocol = "generated"

    def _open(self, path, mode="rb", **kwargs):
        return io.BufferedReader(Generated(), 1 << 20)

    def info(self, path, **kwargs):
        return {"name": path, "size": total, "type": "file"}


fsspec.register_implementation("generated", GeneratedFileSystem, clobber=True)
started = time.perf_counter()
rows = last = 0
positions = []
for chunk in read_chunks(f"generated://usage.{kind}", 50_000, positions.append):
    rows += len(chunk)
    last = chunk[-1].position
    assert all(record.unreadable is None for record in chunk)
    del chunk
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"kind": kind, "bytes": total, "rows": rows, "last_position": last,
                  "read_bytes": positions[-1].done, "seconds": round(time.perf_counter() - started, 1),
                  "peak_rss_mb": round(peak)}))
"""


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["jsonl", "csv"])
def test_a_2_gb_stream_is_read_in_bounded_memory(kind):
    done = subprocess.run(
        [sys.executable, "-c", CHILD, kind, str(STREAM_BYTES)],
        capture_output=True,
        text=True,
        check=False,
        timeout=3600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    print(figures)
    assert figures["bytes"] > 0.99 * STREAM_BYTES and figures["read_bytes"] == figures["bytes"]
    header_lines = 1 if kind == "csv" else 0
    assert figures["last_position"] == figures["rows"] + header_lines  # every row, on its line
    assert figures["peak_rss_mb"] < PEAK_RSS_LIMIT_MB  # under a third of the stream's size
