"""Arguments as the shell hands them over: bytes that are not UTF-8, names that would not print as
themselves, an empty file name."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from billing.cli.main import main
from tests.e2e.test_cli import billing

pytestmark = pytest.mark.one_database

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def fresh_database(tmp_path_factory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("arguments")
    env = {"BILLING_DATABASE_URL": f"sqlite:///{folder / 'b.db'}", "BILLING_OUTBOX_DIR": str(folder)}
    upgraded = subprocess.run(
        [sys.executable, "-m", "billing.cli.main", "db", "upgrade"],
        capture_output=True,
        env={**os.environ, **env},
        cwd=ROOT,
        timeout=120,
    )
    assert upgraded.returncode == 0, upgraded.stderr
    return env


@pytest.mark.parametrize(
    "args",
    [
        [b"invoices", b"show", b"INV-\xff"],
        [b"invoices", b"pay", b"INV-\xff"],
        [b"invoices", b"void", b"INV-\xff"],
        [b"invoices", b"list", b"--customer", b"acme\xff"],
        [b"invoices", b"list", b"--customer=acme\xff"],
        [b"quarantine", b"list", b"--source", b"usage\xff"],
        [b"notifications", b"list", b"--customer", b"acme\xff"],
        [b"api-key", b"create", b"shop\xff"],
        [b"api-key", b"revoke", b"shop\xff"],
    ],
)
def test_an_argument_that_is_not_utf8_is_one_line_naming_it(fresh_database, args):
    """Before, each of these ended in a UnicodeEncodeError traceback from the database driver."""
    result = subprocess.run(
        [sys.executable, "-m", "billing.cli.main", *args],
        capture_output=True,
        env={**os.environ, **fresh_database},
        cwd=ROOT,
        timeout=120,
    )
    stderr = result.stderr.decode()
    assert (result.returncode, result.stdout) == (2, b""), stderr
    shown = args[-1].decode("utf-8", "backslashreplace")
    assert stderr == f"billing: argument {len(args)} is not UTF-8 text: '{shown}' (see billing --help)\n"


def test_a_lone_surrogate_or_a_control_character_is_shown_escaped(capsys):
    assert main(["invoices", "show", "\ud800é\n"]) == 2
    assert capsys.readouterr().err == (
        "billing: argument 3 is not UTF-8 text: '\\ud800é\\n' (see billing --help)\n"
    )


@pytest.mark.parametrize("name", ["shop\nfake  bk_1  2026-01-01 00:00 UTC  -", " shop", "shop\t", "a\x1b[2J"])
def test_an_api_key_name_that_would_not_print_as_itself_is_refused(fresh_database, name):
    """Before, such a name was stored, and drew a row of its own into `billing api-key list`."""
    result = billing("api-key", "create", name, env=fresh_database)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        f"billing: an API key's name is printable text without leading or trailing spaces (got {name!r})\n"
    )


@pytest.mark.parametrize("option", ["--pdf", "--html"])
def test_an_empty_document_file_is_refused_not_read_as_no_option(fresh_database, option):
    """Before, `--pdf ""` was taken for no `--pdf` at all: the text invoice went to stdout, exit 0."""
    result = billing("invoices", "show", "INV-000001", option, "", env=fresh_database)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == f"billing: {option} needs a FILE to write ('-': stdout)\n"
