"""JSONL, CSV and Parquet in one folder or glob through the ingest flow, on both databases:
good rows stored and metered exactly, bad rows quarantined with their reasons, progress heard."""

from __future__ import annotations

import gzip
import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from billing.sources.progress import reporting
from billing.store.catalog_versions import save_catalog
from billing.store.metering_sql import meter_segments
from tests.conftest import FIXTURES

pytestmark = pytest.mark.one_database

MEMORY = fsspec.filesystem("memory")
T0 = datetime(2026, 3, 2, 10, tzinfo=UTC)
HEADER = "transaction_id,customer_id,event_type,timestamp,properties.tokens"


class Recorder:
    def __init__(self):
        self.events = []

    def file_started(self, path):
        self.events.append(("start", path))

    def file_advanced(self, path, position):
        self.events.append(("at", path, position.done, position.total, position.unit))

    def file_finished(self, path, summary):
        self.events.append(("end", path, summary))


def _inbox():
    root = f"/inbox-{uuid.uuid4().hex}"
    csv_rows = [
        HEADER,
        "c1,alpha,llm,2026-03-02T10:00:00Z,0.1",
        "c2,alpha,llm,2026-03-02T10:00:01Z,0.2",
        "c3,alpha,llm,2026-03-02T10:00:02Z,twelve",  # invalid_property
        "c4,alpha,llm",  # unreadable_row: too few cells
        "c5,nobody,llm,2026-03-02T10:00:03Z,1",  # unknown_customer
        "c1,alpha,llm,2026-03-02T10:00:00Z,0.10",  # the same event: a duplicate
    ]
    MEMORY.pipe(f"{root}/a/usage.csv.gz", gzip.compress("\n".join(csv_rows).encode()))
    table = pa.table(
        {
            "transaction_id": ["p1", "p2", "p3", "p4"],
            "customer_id": ["alpha"] * 4,
            "event_type": ["llm", "llm", "llm", "nope"],  # p4: unknown_event_type
            "timestamp": pa.array([T0 + timedelta(minutes=i) for i in range(4)], pa.timestamp("ms", "UTC")),
            "properties": pa.array(
                ['{"tokens": 0.3}', '{"tokens": 0.30000000000000004}', "{broken", '{"tokens": 1}']
            ),
        }
    )
    with MEMORY.open(f"{root}/b/events.parquet", "wb") as handle:
        pq.write_table(table, handle, row_group_size=2)
    structs = pa.table(
        {
            "transaction_id": ["s1", "s2"],
            "customer_id": ["alpha", "alpha"],
            "event_type": ["llm", "llm"],
            "timestamp": ["2026-03-02T11:00:00+01:00", "2026-03-02T10:30:00Z"],
            "properties": pa.array(
                [{"tokens": Decimal("0.0000000001")}, {"tokens": Decimal("-5")}],
                pa.struct([("tokens", pa.decimal128(20, 10))]),
            ),
        }
    )
    with MEMORY.open(f"{root}/b/nested/structs.parquet", "wb") as handle:
        pq.write_table(structs, handle)
    lines = [
        json.dumps(
            {
                "transaction_id": "j1",
                "customer_id": "alpha",
                "event_type": "llm",
                "timestamp": "2026-03-02T10:00:00Z",
                "properties": {"tokens": "0.4"},
            }
        ),
        '{"transaction_id": "j2",',  # malformed_json
    ]
    MEMORY.pipe(f"{root}/c.jsonl", "\n".join(lines).encode())
    MEMORY.pipe(f"{root}/README.txt", b"not usage")
    return root


@pytest.mark.flow
@pytest.mark.usefixtures("prefect_harness")
def test_a_folder_of_every_format_is_ingested_exactly(configured):
    from billing.runtime.resources import utc_now
    from billing.sources.catalog_file import load_catalog
    from flows.ingest import ingest_usage

    catalog = load_catalog(FIXTURES / "three_customers.yaml")
    with configured.begin() as connection:
        save_catalog(connection, catalog, "fixture", utc_now())
    root = _inbox()
    recorder = Recorder()
    try:
        with reporting(recorder):
            summary = ingest_usage(f"memory://{root}", chunk_size=2)
        again = ingest_usage(f"memory://{root}/*")  # a glob matching folders and the .txt file
    finally:
        MEMORY.rm(root, recursive=True)

    counts = (summary["received"], summary["accepted"], summary["duplicates"], summary["quarantined"])
    assert counts == (14, 6, 1, 7)
    assert summary["reasons"] == {
        "invalid_property": 2,  # "twelve" and a negative sum
        "malformed_json": 2,  # the JSONL line and the Parquet properties text
        "unknown_customer": 1,
        "unknown_event_type": 1,
        "unreadable_row": 1,
    }
    assert [f["source"].rsplit("/", 1)[1] for f in summary["files"]] == [
        "usage.csv.gz",
        "events.parquet",
        "structs.parquet",
        "c.jsonl",
    ]
    assert summary["failed_files"] == []
    key = ("alpha", T0 - timedelta(hours=1), T0 + timedelta(hours=2))
    with configured.connect() as connection:
        tokens = meter_segments(connection, catalog, [key])[key]["tokens"].quantity
    # 0.1 + 0.2 (CSV text) + 0.3 + 0.30000000000000004 (Parquet JSON text) + 1E-10 + 0.4
    assert tokens == Decimal("1.3000000001000000400")

    assert (again["received"], again["accepted"], again["duplicates"]) == (14, 0, 7)
    assert len(again["failed_files"]) == 1 and "README.txt: unsupported format" in again["failed_files"][0]

    files = [e[1] for e in recorder.events if e[0] == "start"]
    assert len(files) == 4
    for path in files:
        positions = [e for e in recorder.events if e[0] == "at" and e[1] == path]
        done, total, unit = positions[-1][2:]
        assert done == total and unit == ("rows" if path.endswith(".parquet") else "bytes")
    ends = [e for e in recorder.events if e[0] == "end"]
    assert ends[0][2] == "6 received, 2 accepted, 1 duplicates, 3 quarantined"


@pytest.mark.flow
@pytest.mark.usefixtures("prefect_harness")
def test_a_csv_with_rows_pyarrow_cannot_read_ingests_every_other_row(configured):
    """A row longer than pyarrow's 1 MiB block, an unclosed quote and a row of commas are each
    one quarantined row; the rows around them are stored, and the counts add up."""
    from billing.runtime.resources import utc_now
    from billing.sources.catalog_file import load_catalog
    from flows.ingest import ingest_usage

    catalog = load_catalog(FIXTURES / "three_customers.yaml")
    with configured.begin() as connection:
        save_catalog(connection, catalog, "fixture", utc_now())
    path = f"/bad-rows-{uuid.uuid4().hex}/usage.csv"
    rows = [
        HEADER,
        "r1,alpha,llm,2026-03-02T10:00:00Z,1",
        "r2,alpha,llm,2026-03-02T10:00:01Z," + "9" * (2 << 20),  # over a block: unreadable_row
        "r3,alpha,llm,2026-03-02T10:00:02Z,2",
        'r4,"alpha,llm,2026-03-02T10:00:03Z,4',  # an unclosed quote: unreadable_row
        "r5,alpha,llm,2026-03-02T10:00:04Z,8",
        "",  # an empty line: skipped
        ",,,,",  # a row of empty cells: unreadable_row
        'r6,alpha,llm,2026-03-02T10:00:05Z,"16"',
    ]
    MEMORY.pipe(path, "\n".join(rows).encode())
    try:
        summary = ingest_usage(f"memory://{path}", chunk_size=2)
    finally:
        MEMORY.rm(path.rsplit("/", 1)[0], recursive=True)

    counts = (summary["received"], summary["accepted"], summary["duplicates"], summary["quarantined"])
    assert counts == (7, 4, 0, 3) and counts[0] == sum(counts[1:])
    assert summary["reasons"] == {"unreadable_row": 3}
    assert summary["failed_files"] == []
    key = ("alpha", T0 - timedelta(hours=1), T0 + timedelta(hours=2))
    with configured.connect() as connection:
        tokens = meter_segments(connection, catalog, [key])[key]["tokens"].quantity
    assert tokens == Decimal(1 + 2 + 8 + 16)
    with configured.connect() as connection:
        lines = connection.execute(
            sa.text("SELECT line, detail FROM quarantined_events WHERE source LIKE :source ORDER BY line"),
            {"source": f"%{path}"},
        ).all()
    assert [line for line, _ in lines] == [3, 5, 8]
    assert "over the limit" in lines[0][1] and "an unclosed quote in line 5" in lines[1][1]
    assert "every cell is empty" in lines[2][1]
