"""Shared fixtures: databases (SQLite always, PostgreSQL when configured), settings, Prefect.

`BILLING_TEST_DATABASE_URL` points the PostgreSQL half of every database test at a real server
(CI sets it); without it those cases are skipped, the SQLite ones still run.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# Prefect reads these at import: keep its state out of the user's home and the network quiet.
_PREFECT_HOME = tempfile.mkdtemp(prefix="billing-tests-prefect-")
atexit.register(shutil.rmtree, _PREFECT_HOME, ignore_errors=True)
os.environ["PREFECT_HOME"] = _PREFECT_HOME
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ["DO_NOT_TRACK"] = "1"
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
for _name in [n for n in os.environ if n.startswith("BILLING_") and n != "BILLING_TEST_DATABASE_URL"]:
    del os.environ[_name]

import sqlalchemy as sa  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402

from billing.runtime import resources  # noqa: E402
from billing.runtime.settings import get_settings  # noqa: E402
from billing.store.database import create_engine, upgrade  # noqa: E402
from billing.store.models import Base  # noqa: E402

pytest_plugins = ["tests.fake_sendgrid", "tests.fake_webhook"]  # `sendgrid_server`, `webhook_receiver`

FIXTURES = Path(__file__).parent / "fixtures"


def _worker_database(url: str | None) -> str | None:
    """Under pytest-xdist each worker gets a database of its own, `<name>_<worker>`, created on
    the same server: the tests empty and migrate their database freely."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not url or not worker:
        return url
    base = sa.engine.make_url(url).set(drivername="postgresql+psycopg")
    name = f"{base.database}_{worker}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            found = connection.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
            if not found:
                connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


POSTGRES_URL = _worker_database(os.environ.get("BILLING_TEST_DATABASE_URL"))


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test marked `one_database` drives the product as flows or CLI processes: what it adds to
    the integration tests (which run every store path on both databases) is not the dialect, and
    its SQLite half would double the run. With PostgreSQL configured, that half is `slow` (run by
    `-m slow` or `-m "slow or not slow"`); without it, SQLite is the one database and it runs."""
    if not POSTGRES_URL:
        return
    for item in items:
        callspec = getattr(item, "callspec", None)
        if item.get_closest_marker("one_database") and callspec and callspec.params.get("engine") == "sqlite":
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def sqlite_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    path = tmp_path_factory.mktemp("db") / "billing.db"
    engine = create_engine(f"sqlite:///{path}")
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def postgresql_engine() -> Iterator[Engine]:
    if not POSTGRES_URL:
        pytest.skip("BILLING_TEST_DATABASE_URL is not set")
    url = POSTGRES_URL
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    engine = create_engine(url)
    with engine.begin() as connection:  # a clean schema: the test database is ours
        connection.execute(sa.text("DROP SCHEMA IF EXISTS public CASCADE"))
        connection.execute(sa.text("CREATE SCHEMA public"))
    upgrade(engine)
    yield engine
    engine.dispose()


def _empty(engine: Engine) -> None:
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            names = ", ".join(t.name for t in Base.metadata.sorted_tables)
            # the triggers refuse to truncate what was billed (migration 0019): set aside here
            connection.execute(sa.text("SET LOCAL session_replication_role = replica"))
            connection.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:  # the triggers refuse to delete finalized invoices: set them aside meanwhile
            triggers = connection.execute(
                sa.text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
            )
            saved = triggers.all()
            for name, _ in saved:
                connection.exec_driver_sql(f'DROP TRIGGER "{name}"')
            for table in reversed(Base.metadata.sorted_tables):
                connection.execute(table.delete())
            for _, sql in saved:
                connection.exec_driver_sql(sql)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """An empty, migrated database: each test runs on SQLite and on PostgreSQL."""
    if request.param == "postgresql":
        request.applymarker(pytest.mark.postgres)
    engine = request.getfixturevalue(f"{request.param}_engine")
    _empty(engine)
    yield engine


@pytest.fixture
def wipe(engine: Engine) -> Callable[[], None]:
    """Empty the test's database again, midway through the test."""
    return lambda: _empty(engine)


@pytest.fixture
def configured(engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """Settings pointing at the test database and a fresh outbox, as the flows and CLI read them."""
    monkeypatch.setenv("BILLING_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("BILLING_OUTBOX_DIR", str(tmp_path / "outbox"))
    monkeypatch.setenv("BILLING_EMAIL_FROM", "billing@vendor.example")
    get_settings.cache_clear()
    yield engine
    get_settings.cache_clear()
    resources.engine_for.cache_clear()


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One temporary Prefect server for every flow test (it takes seconds to start)."""
    from prefect.testing.utilities import prefect_test_harness

    # Its default 30 s to start is tight on a busy 2-core machine; a slow start is not a failure.
    with prefect_test_harness(server_startup_timeout=180):
        yield


@pytest.fixture(autouse=True)
def _flow_tests_start_synchronous(request: pytest.FixtureRequest) -> None:
    """A flow test starts outside any event loop and any flow run: Prefect decides between its
    sync and async API from those, so a leaked loop (Playwright's sync API keeps one running
    while open) or run context would turn a later `state.result()` into a coroutine."""
    if request.node.get_closest_marker("flow") is None:
        return
    import asyncio

    from prefect.context import FlowRunContext, TaskRunContext

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        pytest.fail("an event loop is left running in this thread by an earlier test")
    if FlowRunContext.get() is not None or TaskRunContext.get() is not None:
        pytest.fail("a Prefect run context is left open by an earlier test")


@pytest.fixture(scope="session")
def event_suite():
    """The Great Expectations suite, built once (importing GX takes seconds)."""
    from billing.validation.suite import EventSuite

    return EventSuite()
