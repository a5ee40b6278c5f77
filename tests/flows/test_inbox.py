"""The scheduled inbox: the deployment's parameters run twice read each file once; a file changed
after it was ingested is reported, not read; a file still being written waits for a later run;
the run's artifact shows the first bad rows."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from billing.runtime.resources import utc_now
from billing.sources.catalog_file import load_catalog
from billing.store.catalog_versions import save_catalog
from billing.store.models import Event, IngestedFile
from tests.conftest import FIXTURES
from tests.flows.runs import artifact, completed_run

pytestmark = [pytest.mark.flow, pytest.mark.one_database, pytest.mark.usefixtures("prefect_harness")]
ROOT = Path(__file__).resolve().parents[2]


def _line(txid: str, customer: str = "alpha") -> str:
    row = {"transaction_id": txid, "customer_id": customer, "event_type": "api_call"}
    return json.dumps(row | {"timestamp": "2026-03-02T10:00:00Z"})


def _written_a_while_ago(*paths: Path) -> None:
    """As the inbox finds a file its producer finished an hour ago (past the settle interval)."""
    then = time.time() - 3600
    for path in paths:
        os.utime(path, (then, then))


def _deployment_parameters(inbox: Path) -> dict[str, object]:
    config = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    (deployment,) = [d for d in config["deployments"] if d["name"] == "ingest-usage"]
    return {**deployment["parameters"], "source": str(inbox / "*.jsonl")}


@pytest.fixture
def inbox(configured, tmp_path) -> Path:
    with configured.begin() as connection:
        save_catalog(connection, load_catalog(FIXTURES / "three_customers.yaml"), "fixture", utc_now())
    folder = tmp_path / "inbox"
    folder.mkdir()
    (folder / "1.jsonl").write_text(f"{_line('i1')}\n{_line('i2', 'zulu')}\n")
    (folder / "2.jsonl").write_text(f"{_line('i3')}\n")
    _written_a_while_ago(folder / "1.jsonl", folder / "2.jsonl")
    return folder


def test_the_inbox_deployment_run_twice_reads_each_file_once(configured, inbox):
    from flows.ingest import ingest_usage

    parameters = _deployment_parameters(inbox)
    assert parameters["skip_ingested"] is True
    first = ingest_usage(**parameters)
    assert (first["received"], first["accepted"], first["quarantined"], first["skipped"]) == (3, 2, 1, 0)
    with configured.connect() as connection:
        ledger = {
            Path(path).name: (size, received)
            for path, size, received in connection.execute(
                sa.select(IngestedFile.path, IngestedFile.size, IngestedFile.received)
            )
        }
    assert ledger == {
        "1.jsonl": ((inbox / "1.jsonl").stat().st_size, 2),
        "2.jsonl": ((inbox / "2.jsonl").stat().st_size, 1),
    }

    second, run_id = completed_run(ingest_usage, **parameters)

    assert (second["received"], second["duplicates"], second["skipped"]) == (0, 0, 2)  # nothing re-read
    assert second["files"] == []
    assert [s.split(": ")[0] for s in second["skipped_files"]] == [
        str(inbox / "1.jsonl"),
        str(inbox / "2.jsonl"),
    ]
    assert "## Files skipped (unchanged since ingested)" in artifact(run_id, "ingest-usage")


def test_a_file_changed_after_ingest_is_reported_not_read(configured, inbox):
    from flows.ingest import ingest_usage

    parameters = _deployment_parameters(inbox)
    ingest_usage(**parameters)
    (inbox / "2.jsonl").write_text(f"{_line('i3')}\n{_line('i4')}\n")  # appended after it was read
    (inbox / "3.jsonl").write_text(f"{_line('i5')}\n")  # a new file
    _written_a_while_ago(inbox / "2.jsonl", inbox / "3.jsonl")

    summary, run_id = completed_run(ingest_usage, **parameters)

    assert (summary["received"], summary["accepted"], summary["skipped"]) == (1, 1, 1)  # only 3.jsonl read
    (changed,) = summary["changed_files"]
    assert changed.startswith(f"{inbox / '2.jsonl'}: changed since it was ingested at ")
    assert f"not read again; `billing ingest {inbox / '2.jsonl'}` reads it" in changed
    markdown = artifact(run_id, "ingest-usage")
    assert "## Files changed after they were ingested (not read)" in markdown and "2.jsonl" in markdown
    with configured.connect() as connection:
        assert "i4" not in set(connection.scalars(sa.select(Event.transaction_id)))

    explicit = ingest_usage(str(inbox / "2.jsonl"))  # `billing ingest FILE` reads what it is given
    assert (explicit["received"], explicit["accepted"], explicit["duplicates"]) == (2, 1, 1)
    after = ingest_usage(**parameters)  # and the ledger now knows the new content
    assert (after["received"], after["skipped"], after["changed_files"]) == (0, 3, [])


def test_a_file_still_being_written_waits_for_a_later_run(configured, inbox):
    from flows.ingest import ingest_usage

    parameters = _deployment_parameters(inbox)
    ingest_usage(**parameters)
    half, last = inbox / "3.jsonl", _line("i6")
    half.write_text(f"{_line('i5')}\n{last[:30]}")  # the producer is mid-line, and writes on

    summary, run_id = completed_run(ingest_usage, **parameters)

    assert (summary["received"], summary["skipped"], summary["changed_files"]) == (0, 2, [])
    (waiting,) = summary["settling_files"]
    assert waiting.startswith(f"{half}: modified ") and "still being written?" in waiting
    markdown = artifact(run_id, "ingest-usage")
    assert "## Files still being written (taken by a later run)" in markdown
    with configured.connect() as connection:
        assert str(half) not in set(connection.scalars(sa.select(IngestedFile.path)))

    with half.open("a") as handle:  # finished, and quiet for longer than the interval since
        handle.write(f"{last[30:]}\n")
    _written_a_while_ago(half)
    done = ingest_usage(**parameters)
    assert (done["received"], done["accepted"], done["quarantined"], done["settling_files"]) == (2, 2, 0, [])
    assert ingest_usage(**parameters)["changed_files"] == []  # and never "changed after ingest"


def test_the_run_artifact_shows_counts_by_reason_and_the_first_examples(configured, inbox):
    from flows.ingest import ingest_usage

    (inbox / "3.jsonl").write_text("{broken\n" + "".join(f"{_line(f'z{n}', 'zulu')}\n" for n in range(5)))
    summary, run_id = completed_run(ingest_usage, str(inbox / "*.jsonl"))

    assert summary["reasons"] == {"malformed_json": 1, "unknown_customer": 6}
    examples = [
        (Path(e["file"]).name, e["line"], e["reason"], e["transaction_id"]) for e in summary["examples"]
    ]
    assert examples == [  # at most three of a reason, in the order received
        ("1.jsonl", 2, "unknown_customer", "i2"),
        ("3.jsonl", 1, "malformed_json", None),
        ("3.jsonl", 2, "unknown_customer", "z0"),
        ("3.jsonl", 3, "unknown_customer", "z1"),
    ]
    markdown = artifact(run_id, "ingest-usage")
    assert "## First quarantined rows" in markdown
    assert (
        f"| {inbox / '1.jsonl'} | 2 | unknown_customer | customer 'zulu' is not in the catalog | i2 |"
        in markdown
    )
    assert f"| {inbox / '3.jsonl'} | 1 | malformed_json | " in markdown
    assert "| unknown_customer | 6 |" in markdown
