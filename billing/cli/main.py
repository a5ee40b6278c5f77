"""The `billing` command. Parses arguments and hands over to `billing.cli.commands`.

Imports stay lazy: `billing quote` and the read-only commands load neither Prefect nor Great
Expectations. A user's mistake is one line on stderr and exit status 1 (2 for bad arguments),
never a traceback; a run that did part of its work prints what it did on stdout and each thing
it could not do on stderr, exit status 1. When the reader of stdout goes away (`| head`), the
command ends quietly with status 141, as a process killed by SIGPIPE does.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from billing.core.errors import BillingError, RunIncomplete


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def worker_count(text: str) -> int:
    """`--workers`: a whole number of server processes, 1 to 64."""
    try:
        count = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if not 1 <= count <= 64:
        raise argparse.ArgumentTypeError(f"must be 1 to 64, got {count}")
    return count


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="billing", description="Usage-based billing run as Prefect flows.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    commands.add_parser("demo", help="set up the embedded database and run the whole pipeline on sample data")

    db = commands.add_parser("db", help="database schema").add_subparsers(dest="action", required=True)
    db.add_parser("upgrade", help="create or migrate the schema to the latest revision")

    catalog = commands.add_parser("catalog", help="check or load a catalog YAML file")
    catalog_actions = catalog.add_subparsers(dest="action", required=True)
    for action, text in (("check", "validate without storing"), ("load", "store as a version and activate")):
        catalog_actions.add_parser(action, help=text).add_argument(
            "file", nargs="?", help="default: BILLING_CATALOG (config/catalog.example.yaml)"
        )

    ingest = commands.add_parser(
        "ingest", help="ingest usage files (JSONL, CSV, Parquet): a file, folder or glob, local or fsspec URL"
    )
    ingest.add_argument("sources", nargs="+", metavar="PATH_OR_URL")

    invoice = commands.add_parser("invoice", help="draft, finalize and email the invoices due")
    invoice.add_argument("--as-of", help="YYYY-MM-DD (end of that day, UTC) or an ISO datetime; default now")
    invoice.add_argument("--customer", action="append", default=[], metavar="ID", help="repeatable")
    invoice.add_argument("--dry-run", action="store_true", help="compute and show, write nothing")

    backfill = commands.add_parser(
        "backfill",
        help="re-rate finalized periods and correct what was billed wrong (dry run unless --apply)",
    )
    backfill.add_argument(
        "--start", required=True, metavar="DATE", help="first local day of the first period"
    )
    backfill.add_argument("--end", required=True, metavar="DATE", help="periods starting before this day")
    backfill.add_argument("--customer", action="append", default=[], metavar="ID", help="repeatable")
    backfill.add_argument(
        "--catalog-version",
        metavar="HASH",
        help="rate with this version (8+ hex digits); default: each invoice's",
    )
    backfill.add_argument("--apply", action="store_true", help="issue the corrections (default: show them)")

    lifecycle = commands.add_parser("lifecycle", help="lifecycle reminders")
    scan = lifecycle.add_subparsers(dest="action", required=True).add_parser(
        "scan", help="send due reminders"
    )
    scan.add_argument("--as-of", help="YYYY-MM-DD (end of that day, UTC) or an ISO datetime; default now")
    scan.add_argument("--dry-run", action="store_true")

    serve = commands.add_parser("serve", help="run the HTTP API (cost previews)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--workers",
        type=worker_count,
        default=1,
        help="server processes sharing the port (1 to 64; default 1): about one per core",
    )

    console = commands.add_parser("console-url", help="a signed console URL for one customer (SPEC §8)")
    console.add_argument("customer", help="the customer's id in the catalog")

    keys = commands.add_parser("api-key", help="create, list or revoke HTTP API keys")
    keys.add_argument("action", choices=["create", "list", "revoke"])
    keys.add_argument("name", nargs="?", help="the key's name (create, revoke)")

    invoices = commands.add_parser("invoices", help="read, pay and void invoices")
    invoice_actions = invoices.add_subparsers(dest="action", required=True)
    listing = invoice_actions.add_parser("list")
    listing.add_argument("--customer", metavar="ID")
    listing.add_argument("--json", action="store_true")
    show = invoice_actions.add_parser("show")
    show.add_argument("number")
    shown_as = show.add_mutually_exclusive_group()
    shown_as.add_argument("--json", action="store_true")
    shown_as.add_argument("--pdf", metavar="FILE", help="write the invoice's PDF to FILE ('-': stdout)")
    shown_as.add_argument(
        "--html", metavar="FILE", help="write the invoice's HTML page to FILE ('-': stdout)"
    )
    invoice_actions.add_parser("pay", help="mark a finalized invoice paid").add_argument("number")
    invoice_actions.add_parser(
        "void", help="void a finalized invoice and issue its credit note"
    ).add_argument("number")

    _quarantine_parser(commands)
    _notifications_parser(commands)

    quote = commands.add_parser("quote", help="price usage for one period of a plan (no database)")
    quote.add_argument("--catalog", required=True, metavar="FILE")
    quote.add_argument("--plan", required=True, metavar="CODE")
    quote.add_argument("--usage", nargs="*", default=[], metavar="METRIC=QTY")
    quote.add_argument(
        "--tax-rate", action="append", default=[], metavar="NAME=PERCENT", help="repeatable, e.g. VAT=20"
    )
    quote.add_argument("--json", action="store_true", help="print exactly one JSON object")
    return parser


def _quarantine_parser(commands: argparse._SubParsersAction[_Parser]) -> None:
    quarantine = commands.add_parser("quarantine", help="list, show, retry or discard quarantined rows")
    actions = quarantine.add_subparsers(dest="action", required=True)

    def filters(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--reason", metavar="CODE", help="e.g. unknown_customer")
        parser.add_argument("--source", metavar="TEXT", help="part of the file, URL or API source")
        parser.add_argument("--customer", metavar="ID")

    listing = actions.add_parser("list", help="quarantined rows, newest first")
    filters(listing)
    listing.add_argument("--status", choices=["held", "retried", "discarded", "all"], default="held")
    listing.add_argument("--limit", type=int, default=50, metavar="N", help="at most N rows (default 50)")
    listing.add_argument("--json", action="store_true")
    show = actions.add_parser("show", help="one row in full: reason, source, line, payload, history")
    show.add_argument("id", type=int)
    show.add_argument("--json", action="store_true")
    retry = actions.add_parser("retry", help="ingest held rows again with the active catalog, once")
    retry.add_argument("ids", nargs="*", type=int, metavar="ID")
    filters(retry)
    discard = actions.add_parser("discard", help="set held rows aside for good (audited)")
    discard.add_argument("ids", nargs="+", type=int, metavar="ID")
    for parser in (retry, discard):
        parser.add_argument("--note", help="why, kept in the audit trail")
        parser.add_argument("--by", metavar="NAME", help="who, kept in the audit trail (default: login)")


def _notifications_parser(commands: argparse._SubParsersAction[_Parser]) -> None:
    from billing.core.notification_kinds import NOTIFICATION_KINDS, NOTIFICATION_STATUSES

    notifications = commands.add_parser(
        "notifications", help="the notification history: what was sent, is pending, failed or was skipped"
    )
    actions = notifications.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="notifications, newest first, with each channel's delivery")
    listing.add_argument("--customer", metavar="ID")
    listing.add_argument("--kind", choices=NOTIFICATION_KINDS)
    listing.add_argument("--status", choices=NOTIFICATION_STATUSES)
    listing.add_argument(
        "--limit", type=int, default=50, metavar="N", help="at most N (1 to 200, default 50)"
    )
    listing.add_argument("--before", type=int, metavar="ID", help="only older than this id: the next page")
    listing.add_argument("--json", action="store_true")


def _run_quarantine(args: argparse.Namespace) -> str:
    from billing.cli.commands import quarantine as q

    if args.action == "show":
        return q.quarantine_show(args.id, args.json)
    if args.action == "discard":
        return q.quarantine_discard(args.ids, args.by, args.note)
    where = q.quarantine_filter(getattr(args, "status", "held"), args.reason, args.source, args.customer)
    if args.action == "list":
        return q.quarantine_list(where, args.limit, args.json)
    return q.quarantine_retry(args.ids, where, args.by, args.note)


def run(args: argparse.Namespace) -> str | None:
    command = args.command
    if command == "quarantine":
        return _run_quarantine(args)
    if command == "notifications":
        from billing.cli.commands.notifications import notifications_list

        return notifications_list(args.customer, args.kind, args.status, args.limit, args.before, args.json)
    if command == "console-url":
        from billing.cli.commands.console import console_url

        return console_url(args.customer)
    if command == "quote":
        from billing.cli.commands.quoting import run_quote

        return run_quote(args.catalog, args.plan, args.usage, args.json, args.tax_rate)
    if command in ("db", "catalog", "api-key", "invoices"):
        from billing.cli.commands import admin

        if command == "db":
            return admin.db_upgrade()
        if command == "catalog":
            from billing.runtime.settings import get_settings

            path = args.file or str(get_settings().catalog)
            return admin.catalog_check(path) if args.action == "check" else admin.catalog_load(path)
        if command == "api-key":
            return admin.api_key(args.action, args.name)
        if args.action == "list":
            return admin.invoices_list(args.customer, args.json)
        if args.action == "pay":
            return admin.invoices_pay(args.number)
        if args.action == "void":
            return admin.invoices_void(args.number)
        if args.pdf is not None or args.html is not None:
            return admin.write_invoice_document(args.number, pdf=args.pdf, html=args.html)
        return admin.invoices_show(args.number, args.json)
    if command == "serve":
        from billing.api.server import serve

        serve(args.host, args.port, args.workers)
        return None
    if command == "demo":
        from billing.cli.demo import run_demo

        run_demo(print)
        return None
    from billing.cli.commands import pipeline

    if command == "ingest":
        return pipeline.ingest(args.sources)
    if command == "invoice":
        return pipeline.invoice(args.as_of, args.customer, args.dry_run)
    if command == "backfill":
        from billing.cli.commands.backfill import backfill

        return backfill(args.start, args.end, args.customer, args.catalog_version, args.apply)
    return pipeline.lifecycle_scan(args.as_of, args.dry_run)


def not_utf8(argv: Sequence[str]) -> str | None:
    """Why an argument cannot be used, or None: bytes that are not UTF-8 (the shell hands them
    over as lone surrogates) reach no database, no file name printed back and no email."""
    for position, argument in enumerate(argv, start=1):
        try:
            argument.encode("utf-8")
        except UnicodeEncodeError:
            return f"argument {position} is not UTF-8 text: '{''.join(map(_escaped, argument))}'"
    return None


def _escaped(char: str) -> str:
    """A character as one line prints it: a byte the shell could not decode as `\\xff`; any
    other as a table cell shows it (`billing.views.tables.cell`: a control character or another
    lone surrogate as its escape)."""
    from billing.views.tables import cell  # only for an argument refused: not on every start

    code = ord(char)
    return f"\\x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else cell(char)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        problem = not_utf8(sys.argv[1:] if argv is None else argv)
        if problem:
            print(f"billing: {problem} (see billing --help)", file=sys.stderr)
            return 2
        args = build_parser().parse_args(argv)
        output = run(args)
        if output:
            print(output)
        sys.stdout.flush()
    except BrokenPipeError:  # `billing invoices list | head`: the reader has all it wanted
        return _stdout_closed()
    except RunIncomplete as error:  # what the run did on stdout, what it could not on stderr
        if error.report:
            _print_quietly(str(error.report))
        return _report(error)
    except BillingError as error:
        return _report(error)
    except KeyboardInterrupt:
        print("billing: interrupted", file=sys.stderr)
        return 130
    except Exception as error:
        from sqlalchemy.exc import OperationalError

        if not isinstance(error, OperationalError):
            raise
        reason = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
        print(f"billing: cannot use the database: {reason}", file=sys.stderr)
        return 1
    return 0


def _report(error: BillingError) -> int:
    for line in str(error).splitlines() or [type(error).__name__]:
        print(f"billing: {line}", file=sys.stderr)
    return 1


def _print_quietly(text: str) -> None:
    try:
        print(text, flush=True)
    except BrokenPipeError:
        _stdout_closed()


def _stdout_closed() -> int:
    """The reader of stdout went away: point stdout at nothing, so that the interpreter's own
    flush at exit does not complain, and end as a process killed by SIGPIPE would."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 128 + 13  # SIGPIPE, as `yes | head` ends


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
