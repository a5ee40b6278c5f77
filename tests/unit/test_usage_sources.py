"""CSV and Parquet readers, folders and globs, through fsspec's memory filesystem."""

from __future__ import annotations

import csv
import io
import re
import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing.core.errors import SourceError
from billing.core.events import MAX_ROW_BYTES
from billing.sources.usage_files import check_readable, expand, read_chunks

HEADER = "transaction_id,customer_id,event_type,timestamp"
MEMORY = fsspec.filesystem("memory")


@pytest.fixture
def root():
    """A fresh folder in the memory filesystem, removed afterwards."""
    name = f"/sources-{uuid.uuid4().hex}"
    yield name
    if MEMORY.exists(name):
        MEMORY.rm(name, recursive=True)


def _records(url, chunk_size=1000):
    return [record for chunk in read_chunks(url, chunk_size) for record in chunk]


def _parquet(path, table, **options):
    with MEMORY.open(path, "wb") as handle:
        pq.write_table(table, handle, **options)


def test_csv_cells_are_exact_text_and_empty_cells_are_absent(root):
    MEMORY.pipe(
        f"{root}/u.csv",
        (
            f"\ufeff{HEADER},properties.tokens,properties.region,properties.a.b\r\n"
            "t1,alpha,llm,2026-03-02T10:00:00Z,0.10,eu,007\r\n"
            "t2,alpha,llm,1772445600,,,\r\n"
            '"t,3",alpha,llm,2026-03-02T10:00:00+01:00,1E+2,"multi\nline",\r\n'
        ).encode(),
    )
    first, second, third = _records(f"memory://{root}/u.csv")
    assert first.position == 2 and first.data == {
        "transaction_id": "t1",
        "customer_id": "alpha",
        "event_type": "llm",
        "timestamp": "2026-03-02T10:00:00Z",
        "properties": {"tokens": "0.10", "region": "eu", "a.b": "007"},  # text as written
    }
    assert second.position == 3 and "properties" not in second.data
    assert second.data["timestamp"] == Decimal("1772445600")  # Unix seconds, as in JSON
    assert third.position == 4 and third.data["transaction_id"] == "t,3"
    assert third.data["properties"] == {"tokens": "1E+2", "region": "multi\nline"}


def test_csv_rows_that_cannot_be_read_are_records_with_why_in_their_place(root):
    big = "x" * (MAX_ROW_BYTES + 1)
    body = (
        f"{HEADER},properties.note\n"
        "t1,alpha,llm,2026-03-02T10:00:00Z,ok\n"
        "t2,alpha\n"  # line 3: too few cells
        "\n"  # line 4: blank, skipped
        '"t\n5",alpha,llm,2026-03-02T10:00:00Z,two lines\n'  # lines 5-6
        "t7,alpha,llm,2026-03-02T10:00:00Z,\xff\n"
        f"t8,alpha,llm,2026-03-02T10:00:00Z,{big}\n"
        "t9,alpha,llm,2026-03-02T10:00:00Z,a,b\n"  # too many cells
        "t10,alpha,llm,2026-03-02T10:00:00Z,last\n"
    )
    MEMORY.pipe(f"{root}/u.csv", body.encode("latin-1"))
    records = _records(f"memory://{root}/u.csv", chunk_size=2)
    assert [(r.position, r.unreadable is None) for r in records] == [
        (2, True),
        (3, False),
        (5, True),
        (7, False),
        (8, False),
        (9, False),
        (10, True),
    ]
    bad = {r.position: r for r in records if r.unreadable}
    assert bad[3].unreadable == "the row has 2 cells, the header has 5 columns" and bad[3].text == "t2,alpha"
    assert bad[7].unreadable.startswith("the cell 'properties.note' is not UTF-8 text")
    assert "\\xff" in bad[7].text
    # the row's bytes as written, as for a JSONL line: 34 before the big cell
    assert (
        bad[8].unreadable
        == f"the row is {MAX_ROW_BYTES + 1 + 34:,} bytes long, over the limit of {MAX_ROW_BYTES:,}"
    )
    assert len(bad[8].text) == MAX_ROW_BYTES  # its first 64 KiB kept
    assert bad[9].unreadable == "the row has 6 cells, the header has 5 columns"
    assert records[-1].data["properties"] == {"note": "last"}


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("transaction_id,customer_id,timestamp", "no 'event_type' column"),
        (f"{HEADER},region", "unknown column 'region' (a property is written as a 'properties.region'"),
        (f"{HEADER},customer_id", "the column 'customer_id' appears more than once"),
    ],
)
def test_a_csv_header_without_the_right_columns_fails_the_file_in_one_line(root, header, message):
    MEMORY.pipe(f"{root}/u.csv", f"{header}\nt1,alpha,llm,2026-03-02T10:00:00Z\n".encode())
    for attempt in (
        lambda: check_readable(f"memory://{root}/u.csv"),
        lambda: _records(f"memory://{root}/u.csv"),
    ):
        with pytest.raises(SourceError) as raised:
            attempt()
        assert message in str(raised.value) and "\n" not in str(raised.value)
        assert str(raised.value).startswith(f"memory://{root}/u.csv: ")


_cell = st.text(st.characters(codec="utf-8", exclude_characters="\x00\r"), max_size=12)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(_cell, _cell), min_size=1, max_size=30))
def test_any_csv_text_comes_back_exactly_on_its_line(rows):
    """Whatever the cells hold (commas, quotes, newlines, any text), a writer's CSV reads back
    cell for cell, each row at the physical line it starts on."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["transaction_id", "customer_id", "event_type", "timestamp", "properties.p"])
    expected, line = [], 2
    for n, (note, ident) in enumerate(rows):
        writer.writerow([f"t{n}", ident, "llm", "2026-03-02T10:00:00Z", note])
        expected.append((line, ident, note))
        line += 1 + note.count("\n") + ident.count("\n")
    path = f"/hypothesis-{uuid.uuid4().hex}.csv"
    MEMORY.pipe(path, out.getvalue().encode())
    try:
        records = _records(f"memory://{path}", chunk_size=7)
    finally:
        MEMORY.rm(path)
    got = [
        (r.position, r.data.get("customer_id", ""), r.data.get("properties", {}).get("p", ""))
        for r in records
    ]
    assert got == expected


def _events(n, **columns):
    base = {
        "transaction_id": [f"p{i}" for i in range(n)],
        "customer_id": ["alpha"] * n,
        "event_type": ["llm"] * n,
        "timestamp": pa.array(
            [datetime(2026, 3, 2, 10, tzinfo=UTC) + timedelta(seconds=i) for i in range(n)],
            pa.timestamp("us", "UTC"),
        ),
    }
    return pa.table({**base, **columns})


def test_parquet_numbers_become_exact_decimals_whatever_their_type(root):
    struct = pa.struct(
        [
            ("tokens", pa.decimal128(20, 10)),
            ("count", pa.int64()),
            ("ratio", pa.float64()),
            ("small", pa.float32()),
            ("region", pa.string()),
            ("seen", pa.timestamp("ms", "Europe/Berlin")),
        ]
    )
    properties = pa.array(
        [
            {
                "tokens": Decimal("0.1000000001"),
                "count": 3,
                "ratio": 0.1,
                "small": 0.1,
                "region": "eu",
                "seen": datetime(2026, 3, 2, 11, tzinfo=timezone(timedelta(hours=1))),
            },
            {
                "tokens": None,
                "count": None,
                "ratio": float("nan"),
                "small": None,
                "region": None,
                "seen": None,
            },
            None,
        ],
        struct,
    )
    _parquet(f"{root}/p.parquet", _events(3, properties=properties), row_group_size=2)
    first, second, third = _records(f"memory://{root}/p.parquet", chunk_size=2)
    assert [r.position for r in (first, second, third)] == [1, 2, 3]
    assert first.data["timestamp"] == "2026-03-02T10:00:00Z"
    assert first.data["properties"] == {
        "tokens": Decimal("0.1000000001"),
        "count": Decimal(3),
        "ratio": Decimal("0.1"),  # the double's shortest round-trip text
        "small": Decimal("0.1"),  # and the float32's
        "region": "eu",
        "seen": "2026-03-02T10:00:00Z",
    }
    assert str(second.data["properties"]["ratio"]) == "NaN"  # refused by the event's checks
    assert set(second.data["properties"]) == {"ratio"}  # null fields are absent
    assert "properties" not in third.data
    values = [v for r in (first, second) for v in r.data["properties"].values()]
    assert not any(isinstance(v, float) for v in values)


def test_parquet_properties_as_json_text_or_named_columns(root):
    text = pa.array(['{"tokens": 0.30000000000000004}', "{not json", None, ""])
    _parquet(f"{root}/text.parquet", _events(4, properties=text))
    exact, broken, none, empty = _records(f"memory://{root}/text.parquet")
    assert exact.text.endswith(',"properties":{"tokens": 0.30000000000000004}}') and exact.data is None
    assert broken.text.endswith('"properties":{not json}')  # malformed_json when read, like a JSONL line
    assert none.data is not None and "properties" not in none.data
    assert empty.data is not None and "properties" not in empty.data
    named = {
        "properties.tokens": pa.array([Decimal("1.5"), None], pa.decimal128(5, 2)),
        "properties.tier": pa.array(["gold", None]),
    }
    _parquet(f"{root}/named.parquet", _events(2, **named))
    one, two = _records(f"memory://{root}/named.parquet")
    assert one.data["properties"] == {"tokens": Decimal("1.50"), "tier": "gold"}
    assert "properties" not in two.data


def test_parquet_rows_that_cannot_be_read_and_schemas_that_fail_the_file(root):
    notes = pa.array([b"fine", b"\xff\xfe", b"x" * (MAX_ROW_BYTES + 1)], pa.binary())
    _parquet(f"{root}/bad.parquet", _events(3, **{"properties.note": notes}))
    good, undecodable, big = _records(f"memory://{root}/bad.parquet")
    assert good.data["properties"] == {"note": "fine"}
    assert undecodable.unreadable == "binary data that is not UTF-8 text (invalid start byte)"
    assert '"transaction_id":"p1"' in undecodable.text
    assert big.unreadable.startswith(f"the row is {MAX_ROW_BYTES + 1 + 10:,} bytes")
    naive = _events(1).set_column(3, "timestamp", pa.array([datetime(2026, 3, 2)], pa.timestamp("us")))
    _parquet(f"{root}/naive.parquet", naive)
    _parquet(f"{root}/short.parquet", _events(1).drop_columns(["customer_id"]))
    _parquet(f"{root}/list.parquet", _events(1, properties=pa.array([[1]])))
    MEMORY.pipe(f"{root}/junk.parquet", b"not parquet at all")
    for name, message in [
        ("naive", "the timestamp column is a timestamp[us] without a time zone"),
        ("short", "no 'customer_id' column"),
        ("list", "the properties column is a list<element: int64>: expected JSON text, a struct or a map"),
        ("junk", "cannot read: "),
    ]:
        with pytest.raises(SourceError, match=re.escape(message)) as raised:
            check_readable(f"memory://{root}/{name}.parquet")
        assert "\n" not in str(raised.value)


def test_a_folder_is_every_supported_file_inside_sorted_and_a_glob_may_match_folders(root):
    for name in [
        "b/2.csv",
        "b/1.jsonl.gz",
        "a.parquet",
        "b/c/3.ndjson",
        "notes.txt",
        "_SUCCESS",
        "b/.hidden.csv",
        "_tmp/x.csv",
        "z.json",
    ]:
        MEMORY.pipe(f"{root}/inbox/{name}", b"")
    assert expand(f"memory://{root}/inbox") == [
        f"memory://{root}/inbox/{name}"
        for name in ["a.parquet", "b/1.jsonl.gz", "b/2.csv", "b/c/3.ndjson", "z.json"]
    ]
    assert expand(f"memory://{root}/inbox/b*") == [
        f"memory://{root}/inbox/{name}" for name in ["b/1.jsonl.gz", "b/2.csv", "b/c/3.ndjson"]
    ]
    assert expand(f"memory://{root}/inbox/*.txt") == [f"memory://{root}/inbox/notes.txt"]  # asked for
    with pytest.raises(SourceError, match=r"notes\.txt: unsupported format: expected a \.jsonl, \.csv"):
        check_readable(f"memory://{root}/inbox/notes.txt")
    with pytest.raises(SourceError, match="a Parquet file is compressed inside"):
        check_readable(f"memory://{root}/inbox/a.parquet.gz")


def test_local_folders_expand_too(tmp_path):
    (tmp_path / "in" / "deep").mkdir(parents=True)
    (tmp_path / "in" / "deep" / "u.csv").write_text(HEADER + "\n")
    (tmp_path / "in" / "u.jsonl").write_text("")
    assert expand(str(tmp_path / "in")) == [
        str(tmp_path / "in" / "deep" / "u.csv"),
        str(tmp_path / "in" / "u.jsonl"),
    ]
    assert _records(str(tmp_path / "in" / "deep" / "u.csv")) == []


def test_the_progress_bars_follow_each_file_to_its_end():
    from rich.console import Console
    from rich.progress import Progress

    from billing.cli.ingest_progress import _amount, _Bars
    from billing.sources.progress import ReadPosition

    out = io.StringIO()
    progress = Progress(console=Console(file=out, force_terminal=True, width=100))
    bars = _Bars(progress)
    bars.file_started("a.csv")
    bars.file_advanced("a.csv", ReadPosition(500, 1000, "bytes"))
    assert progress.tasks[0].percentage == 50
    bars.file_finished("a.csv", "3 received")
    assert progress.tasks[0].finished and progress.tasks[0].fields["outcome"] == "3 received"
    assert _amount(ReadPosition(1500, 3000, "rows")) == "1,500 / 3,000 rows"
    assert _amount(ReadPosition(1500, None, "bytes")) == "1.5 kB"


def test_a_parquet_properties_text_cannot_name_the_rows_customer_or_id(root):
    from billing.core.events import EventRejected, read_row

    smuggled = pa.array(['{"tokens": 1}, "customer_id": "victim"', '{"tokens": 1}, "transaction_id": "p0"'])
    _parquet(f"{root}/smuggle.parquet", _events(2, properties=smuggled))
    for record in _records(f"memory://{root}/smuggle.parquet"):
        with pytest.raises(EventRejected) as rejected:
            read_row(record.text)
        assert rejected.value.reason == "malformed_json"
        assert "appears twice in one object" in rejected.value.detail


def test_a_parquet_properties_text_cannot_fill_a_field_the_row_leaves_null(root):
    from billing.core.events import EventRejected, read_row

    smuggled = pa.array(['{"tokens": 1}, "customer_id": "victim"', '{"tokens": 1}, "transaction_id": "p0"'])
    table = _events(2, properties=smuggled)
    table = table.set_column(0, "transaction_id", pa.array(["p1", None]))
    table = table.set_column(1, "customer_id", pa.array([None, "alpha"]))
    _parquet(f"{root}/nulls.parquet", table)
    for record in _records(f"memory://{root}/nulls.parquet"):
        with pytest.raises(EventRejected) as rejected:
            read_row(record.text)
        assert rejected.value.reason == "malformed_json"
        assert "appears twice in one object" in rejected.value.detail


def test_csv_empty_lines_before_the_header_are_skipped_and_lines_still_counted(root):
    MEMORY.pipe(
        f"{root}/late.csv", f"\r\n\n{HEADER}\r\nz1,alpha,llm,2026-03-02T10:00:00Z\r\nz2,alpha\r\n".encode()
    )
    MEMORY.pipe(f"{root}/bom.csv", f"\ufeff\n{HEADER}\nz1,alpha,llm,2026-03-02T10:00:00Z\n".encode())
    MEMORY.pipe(f"{root}/spaces.csv", f"  \n{HEADER}\nz1,alpha,llm,2026-03-02T10:00:00Z\n".encode())
    good, short = _records(f"memory://{root}/late.csv")
    assert (good.position, good.data["transaction_id"]) == (4, "z1")
    assert (short.position, short.unreadable) == (5, "the row has 2 cells, the header has 4 columns")
    (only,) = _records(f"memory://{root}/bom.csv")
    assert (only.position, only.data["transaction_id"]) == (3, "z1")
    with pytest.raises(SourceError, match="no 'transaction_id', 'customer_id'"):  # never 0 rows, silently
        check_readable(f"memory://{root}/spaces.csv")
    with pytest.raises(SourceError, match="no 'transaction_id', 'customer_id'"):
        _records(f"memory://{root}/spaces.csv")


def test_a_csv_with_carriage_returns_only_fails_its_file_in_one_line(root):
    MEMORY.pipe(f"{root}/cr.csv", f"{HEADER}\rz1,alpha,llm,2026-03-02T10:00:00Z\r".encode())
    from billing.core.errors import SourceError

    with pytest.raises(SourceError) as raised:
        _records(f"memory://{root}/cr.csv")
    assert str(raised.value).startswith(f"memory://{root}/cr.csv: ")
    assert "\n" not in str(raised.value)


class _RangedFile(fsspec.spec.AbstractBufferedFile):
    def _fetch_range(self, start, end):
        return MEMORY.cat_file(self.path)[start:end]


class _RangedFileSystem(fsspec.AbstractFileSystem):
    """Files read by byte ranges through fsspec's AbstractBufferedFile, as S3, GCS, Azure and
    HTTP files are (no `readline(limit)`), over the memory filesystem's bytes."""

    protocol = "ranged"

    def info(self, path, **kwargs):
        return MEMORY.info(self._strip_protocol(path))

    def ls(self, path, detail=True, **kwargs):
        return MEMORY.ls(self._strip_protocol(path), detail=detail)

    def _open(self, path, mode="rb", **kwargs):
        path = self._strip_protocol(path)
        return _RangedFile(self, path, mode, size=MEMORY.size(path))


def test_files_of_an_object_store_read_like_local_ones(root):
    fsspec.register_implementation("ranged", _RangedFileSystem, clobber=True)
    MEMORY.pipe(f"{root}/u.csv", f"{HEADER}\nz1,alpha,llm,2026-03-02T10:00:00Z\n".encode())
    MEMORY.pipe(f"{root}/u.jsonl", b'{"transaction_id": "j1"}\n')
    _parquet(f"{root}/u.parquet", _events(1))
    for name, txid in [("u.csv", "z1"), ("u.jsonl", None), ("u.parquet", "p0")]:
        url = f"ranged://{root}/{name}"
        check_readable(url)  # before: the CSV header's readline(limit) was a TypeError
        (record,) = _records(url)
        assert record.unreadable is None
        assert txid is None or record.data["transaction_id"] == txid


@pytest.mark.parametrize("line_break", ["\n", "\r\n"])
@pytest.mark.parametrize("extra", [1, 2, 5_000])
def test_a_jsonl_line_over_the_limit_is_said_to_be_its_own_size_whatever_its_line_break(
    root, line_break, extra
):
    """The size named is the line's, without its line break: a CRLF line one byte over the
    limit is 65,537 bytes, as the same line ending in LF is (it was said to be 65,538)."""
    line = '{"transaction_id": "' + "x" * (MAX_ROW_BYTES + extra - 22) + '"}'
    assert len(line) == MAX_ROW_BYTES + extra
    MEMORY.pipe(f"{root}/u.jsonl", (line + line_break + '{"transaction_id": "j2"}' + line_break).encode())
    big, after = _records(f"memory://{root}/u.jsonl")
    assert big.unreadable == (
        f"the row is {MAX_ROW_BYTES + extra:,} bytes long, over the limit of {MAX_ROW_BYTES:,}"
    )
    assert (after.position, after.unreadable) == (2, None)
