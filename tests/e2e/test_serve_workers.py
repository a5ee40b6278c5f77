"""`billing serve --workers N`: N server processes share the port; a bad count is one line."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.test_cli import billing, fresh_database  # noqa: F401 (a fixture)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _children(pid: int) -> set[int]:
    """The processes whose parent is `pid` (Linux /proc)."""
    found = set()
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line)
        except OSError:
            continue
        if fields.get("PPid", "").strip() == str(pid):
            found.add(int(status.parent.name))
    return found


@pytest.mark.parametrize(
    ("count", "message"), [("0", "must be 1 to 64, got 0"), ("two", "must be a whole number")]
)
def test_a_bad_worker_count_is_refused_in_one_line(fresh_database, count, message):  # noqa: F811
    result = billing("serve", "--workers", count, env=fresh_database)
    assert result.returncode == 2 and result.stdout == ""
    assert "Traceback" not in result.stderr and message in result.stderr


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the process tree from /proc")
def test_two_workers_share_the_port_and_both_answer(fresh_database):  # noqa: F811
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "billing.cli.main", "serve", "--port", str(port), "--workers", "2"],
        env={**os.environ, **fresh_database},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline, answered = time.monotonic() + 90, 0
        while time.monotonic() < deadline and answered < 20:
            assert server.poll() is None, server.stderr.read().decode()  # type: ignore[union-attr]
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                connection.request("GET", "/healthz")
                assert connection.getresponse().status == 200
                connection.close()
                answered += 1
            except OSError:
                time.sleep(0.3)
        assert answered == 20
        # uvicorn's supervisor runs the workers as its children (besides multiprocessing's tracker)
        workers = [
            pid for pid in _children(server.pid) if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
        ]
        assert len(workers) == 2
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_a_server_process_freezes_what_start_up_made(fresh_database):  # noqa: F811
    """Great Expectations' hundreds of thousands of objects, scanned by every full collection,
    would pause requests for 100 ms or more: `served_app` freezes them."""
    script = (
        "import gc; from billing.api.server import served_app; served_app(); print(gc.get_freeze_count())"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, **fresh_database},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.split()[-1]) > 100_000
