"""Files through the reader and the flow: a bad line is one record, a bad file fails alone."""

from __future__ import annotations

import gzip
import json

import pytest

from billing.core.errors import SourceError
from billing.sources.usage_files import read_chunks
from billing.store.catalog_versions import save_catalog
from tests.conftest import FIXTURES
from tests.flows.runs import completed_run, task_run_names

pytestmark = pytest.mark.one_database

GOOD = {"customer_id": "alpha", "event_type": "api_call", "timestamp": "2026-03-02T10:00:00Z"}


def _line(txid: str) -> bytes:
    return json.dumps({"transaction_id": txid, **GOOD}).encode()


def test_the_reader_decodes_each_line_on_its_own(tmp_path):
    path = tmp_path / "usage.jsonl"
    lines = [
        b"\xef\xbb\xbf" + _line("t1"),
        b"\xff\xfe not text",
        b"",
        _line("t3") + b"\r",
        b"   ",
        _line("t6"),
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")
    (records,) = read_chunks(str(path))
    assert [r.position for r in records] == [1, 2, 4, 6]
    assert [json.loads(r.text)["transaction_id"] for r in records if r.unreadable is None] == [
        "t1",
        "t3",
        "t6",
    ]
    (bad,) = [r for r in records if r.unreadable]
    assert bad.unreadable == "the row is not UTF-8 text (invalid start byte at byte 0)"
    assert bad.text == "\\xff\\xfe not text"


def test_a_line_over_the_limit_is_streamed_past_and_kept_as_its_first_64_kib(tmp_path):
    from billing.core.events import MAX_ROW_BYTES

    path = tmp_path / "export.json"  # e.g. a JSON array on one line
    at_limit = _line("t3")[:-1] + b" " * (MAX_ROW_BYTES - len(_line("t3"))) + b"}"
    huge = 3 * (1 << 20) + 5
    path.write_bytes(
        b"[" + b"x" * (huge - 1) + b"\r\n" + _line("t2") + b"\r\n" + at_limit + b"\r\n" + b"y" * huge
    )
    (records,) = read_chunks(str(path))
    long, good, limit, last = records
    assert (long.position, long.unreadable) == (
        1,
        f"the row is {huge:,} bytes long, over the limit of 65,536",
    )
    assert long.text == "[" + "x" * (MAX_ROW_BYTES - 1)  # before: the whole line, in memory and in quarantine
    assert (good.position, good.unreadable, json.loads(good.text)["transaction_id"]) == (2, None, "t2")
    assert (limit.position, limit.unreadable, len(limit.text)) == (3, None, MAX_ROW_BYTES)
    assert (last.position, last.unreadable, len(last.text)) == (
        4,
        f"the row is {huge:,} bytes long, over the limit of 65,536",
        MAX_ROW_BYTES,
    )


def test_the_reader_splits_chunks(tmp_path):
    path = tmp_path / "usage.jsonl"
    path.write_bytes(b"\n".join(_line(f"t{n}") for n in range(5)))
    assert [len(c) for c in read_chunks(str(path), chunk_size=2)] == [2, 2, 1]


def test_a_file_that_cannot_be_read_is_one_line_naming_it(tmp_path):
    path = tmp_path / "broken.jsonl.gz"
    path.write_bytes(b"not gzip at all")
    with pytest.raises(SourceError, match=r"broken\.jsonl\.gz: cannot read: "):
        list(read_chunks(str(path)))


@pytest.mark.flow
@pytest.mark.usefixtures("prefect_harness")
def test_a_bad_file_fails_alone_and_the_rest_of_the_glob_is_ingested(configured, tmp_path):
    from billing.runtime.resources import utc_now
    from billing.sources.catalog_file import load_catalog
    from flows.ingest import ingest_usage

    with configured.begin() as connection:
        save_catalog(connection, load_catalog(FIXTURES / "three_customers.yaml"), "fixture", utc_now())
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "1.jsonl").write_bytes(_line("f1") + b"\n" + b'{"transaction_id": "\xff"}\n')
    (inbox / "2.jsonl.gz").write_bytes(b"not gzip at all")
    with gzip.open(inbox / "3.jsonl.gz", "wb") as handle:
        handle.write(_line("f3") + b"\n" + _line("f3") + b"\n")

    summary = ingest_usage(str(inbox / "*.jsonl*"))

    assert (summary["received"], summary["accepted"], summary["duplicates"], summary["quarantined"]) == (
        4,
        2,
        1,
        1,
    )
    assert summary["reasons"] == {"unreadable_row": 1}
    (failure,) = summary["failed_files"]
    assert failure.startswith(f"{inbox / '2.jsonl.gz'}: cannot read: ") and "\n" not in failure
    files = {f["source"]: f for f in summary["files"]}
    assert [files[str(inbox / n)]["received"] for n in ("1.jsonl", "2.jsonl.gz", "3.jsonl.gz")] == [2, 0, 2]
    assert files[str(inbox / "2.jsonl.gz")]["failed_files"] == [failure]


@pytest.mark.flow
@pytest.mark.usefixtures("prefect_harness")
def test_billing_ingest_reads_the_rest_of_a_folder_and_exits_1_naming_the_file_not_read(
    configured, tmp_path, capsys
):
    from billing.cli.main import main
    from billing.runtime.resources import utc_now
    from billing.sources.catalog_file import load_catalog

    with configured.begin() as connection:
        save_catalog(connection, load_catalog(FIXTURES / "three_customers.yaml"), "fixture", utc_now())
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "1.jsonl").write_bytes(_line("f1") + b"\n")
    (inbox / "2.csv").write_text("transaction_id,customer_id,event_type,timestamp,region\n")
    (inbox / "3.jsonl.gz").write_bytes(b"not gzip at all")

    status = main(["ingest", str(inbox)])  # before: refused whole, nothing read, by 2.csv's header

    out, err = capsys.readouterr()
    assert status == 1
    assert out.startswith(f"{inbox}: received 1 = accepted 1 + duplicates 0 + quarantined 0")
    problems = [line for line in err.splitlines() if line.startswith("billing: ")]
    assert problems == [
        f"billing: not read: {inbox / '2.csv'}: unknown column 'region'"
        " (a property is written as a 'properties.region' column)",
        problems[1],
    ]
    assert problems[1].startswith(f"billing: not read: {inbox / '3.jsonl.gz'}: cannot read: ")
    assert main(["ingest", str(inbox / "2.csv")]) == 1  # one file named: refused before a flow starts
    assert capsys.readouterr().err.startswith(f"billing: {inbox / '2.csv'}: unknown column 'region'")


@pytest.mark.flow
@pytest.mark.usefixtures("prefect_harness")
def test_chunks_are_stored_in_file_order_each_a_validate_and_a_store_task_run(configured, tmp_path):
    """The store of chunk N overlaps the validation of N+1; a transaction id repeated with
    another payload in a later chunk is still that chunk's conflict."""
    import sqlalchemy as sa

    from billing.runtime.resources import utc_now
    from billing.sources.catalog_file import load_catalog
    from billing.store.models import Event
    from flows.ingest import ingest_usage

    with configured.begin() as connection:
        save_catalog(connection, load_catalog(FIXTURES / "three_customers.yaml"), "fixture", utc_now())
    later = json.dumps({"transaction_id": "p1", **GOOD, "timestamp": "2026-03-03T10:00:00Z"}).encode()
    path = tmp_path / "usage.jsonl"
    path.write_bytes(b"\n".join([_line("p1"), _line("p2"), _line("p3"), later, _line("p2")]) + b"\n")

    summary, run_id = completed_run(ingest_usage, str(path), chunk_size=2)

    assert (summary["received"], summary["accepted"], summary["duplicates"], summary["quarantined"]) == (
        5,
        3,
        1,
        1,
    )
    assert summary["reasons"] == {"conflict": 1}
    with configured.connect() as connection:
        stamp = connection.scalar(sa.select(Event.timestamp).where(Event.transaction_id == "p1"))
    assert stamp.day == 2  # the first chunk's payload
    names = task_run_names(run_id, at_least=6)
    assert names.count("validate-chunk") == 3 and names.count("store-chunk") == 3


@pytest.mark.flow
@pytest.mark.usefixtures("prefect_harness")
def test_a_chunk_that_cannot_be_stored_fails_the_run_after_the_later_chunks_are_stored(
    configured, tmp_path, monkeypatch
):
    import sqlalchemy as sa

    import flows.ingest
    from billing.runtime.resources import utc_now
    from billing.services import ingest
    from billing.sources.catalog_file import load_catalog
    from billing.store.models import Event
    from flows.ingest import ingest_usage

    with configured.begin() as connection:
        save_catalog(connection, load_catalog(FIXTURES / "three_customers.yaml"), "fixture", utc_now())
    real = ingest.store_chunk

    def store_chunk(engine, prepared):
        if any(event.transaction_id == "q3" for _, event in prepared.candidates):
            raise RuntimeError("the database refused chunk 2")
        return real(engine, prepared)

    monkeypatch.setattr(ingest, "store_chunk", store_chunk)
    monkeypatch.setattr(flows.ingest, "store_chunk", flows.ingest.store_chunk.with_options(retries=0))
    path = tmp_path / "usage.jsonl"
    path.write_bytes(b"\n".join(_line(f"q{n}") for n in range(1, 7)) + b"\n")

    with pytest.raises(RuntimeError, match="the database refused chunk 2"):
        ingest_usage(str(path), chunk_size=2)

    with configured.connect() as connection:
        stored = connection.scalars(sa.select(Event.transaction_id).order_by(Event.transaction_id)).all()
    assert stored == ["q1", "q2", "q5", "q6"]  # chunk 3 after the failed chunk 2


@pytest.mark.flow
@pytest.mark.usefixtures("prefect_harness")
def test_a_broken_link_in_a_folder_is_named_once_not_a_failed_and_retried_task(
    configured, tmp_path, monkeypatch
):
    import tasks.inbox
    from billing.runtime.resources import utc_now
    from billing.sources.catalog_file import load_catalog
    from flows.ingest import ingest_usage

    with configured.begin() as connection:
        save_catalog(connection, load_catalog(FIXTURES / "three_customers.yaml"), "fixture", utc_now())
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "1.jsonl").write_bytes(_line("l1") + b"\n")
    (inbox / "2.jsonl").symlink_to(tmp_path / "gone.jsonl")
    checked: list[str] = []
    real = tasks.inbox.check_file

    def check_file(engine, path, *args):
        checked.append(path)
        return real(engine, path, *args)

    monkeypatch.setattr(tasks.inbox, "check_file", check_file)

    summary = ingest_usage(str(inbox))

    assert (summary["received"], summary["accepted"]) == (1, 1)
    assert summary["failed_files"] == [f"{inbox / '2.jsonl'}: no such file"]
    assert checked == [str(inbox / "1.jsonl"), str(inbox / "2.jsonl")]  # before: 2.jsonl 3 times, 10 s


@pytest.mark.flow
@pytest.mark.usefixtures("prefect_harness")
def test_a_check_that_fails_otherwise_than_a_missing_file_is_tried_again(configured, tmp_path, monkeypatch):
    """An object store's blip is not a missing file: the check's task retries it, and the file
    is then ingested as any other."""
    import flows.ingest
    import tasks.inbox
    from billing.core.errors import SourceError
    from billing.runtime.resources import utc_now
    from billing.sources.catalog_file import load_catalog

    with configured.begin() as connection:
        save_catalog(connection, load_catalog(FIXTURES / "three_customers.yaml"), "fixture", utc_now())
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "1.jsonl").write_bytes(_line("b1") + b"\n")
    tries: list[str] = []
    real = tasks.inbox.check_file

    def check_file(engine, path, *args):
        tries.append(path)
        if len(tries) == 1:
            raise SourceError(f"{path}: cannot read: connection reset by peer")
        return real(engine, path, *args)

    monkeypatch.setattr(tasks.inbox, "check_file", check_file)
    quick = tasks.inbox.check_inbox_file.with_options(retry_delay_seconds=0)
    monkeypatch.setattr(flows.ingest, "check_inbox_file", quick)

    summary = flows.ingest.ingest_usage(str(inbox))

    assert (summary["received"], summary["accepted"], summary["failed_files"]) == (1, 1, [])
    assert tries == [str(inbox / "1.jsonl")] * 2  # failed once, tried again by the task's retry
