"""Shared fixtures: database URLs for SQLite and a throw-away PostgreSQL database.

PostgreSQL: ``postgres_url`` creates a uniquely named database on the server of
``WEGWIJS_TEST_PG_URL`` (default ``postgresql://postgres@127.0.0.1:5432/postgres``)
once per test session and drops it at the end. When the server cannot be reached
the tests using it are skipped, or FAIL when ``CI`` or ``WEGWIJS_REQUIRE_PG=1`` is set.
Nothing connects at import time.
"""

from __future__ import annotations

import os
import shutil
import uuid
from typing import Iterator

import pytest

DEFAULT_PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def _truthy(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no")


def require_service(name: str, variable: str) -> bool:
    """True when a missing ``name`` service must fail the tests instead of skipping them."""
    return _truthy("CI") or _truthy(variable)


def unavailable(message: str, *, required: bool) -> None:
    """Fail (``required``) or skip with ``message``."""
    if required:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    """URL of a SQLite file in the test's temp folder (not migrated)."""
    return f"sqlite:///{tmp_path / 'wegwijs.db'}"


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a fresh, empty PostgreSQL database for this test session (dropped at the end)."""
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    admin_url = os.environ.get("WEGWIJS_TEST_PG_URL", DEFAULT_PG_ADMIN_URL)
    required = require_service("PostgreSQL", "WEGWIJS_REQUIRE_PG")
    admin = sa.create_engine(
        admin_url, future=True, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5}
    )
    name = f"wegwijs_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as error:
        admin.dispose()
        reason = str(getattr(error, "orig", error)).strip().splitlines()[0]
        unavailable(
            f"PostgreSQL not reachable at {make_url(admin_url).render_as_string(True)}: {reason}"
            " (set WEGWIJS_TEST_PG_URL; CI / WEGWIJS_REQUIRE_PG=1 make this a failure)",
            required=required,
        )
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def chromium_path() -> str | None:
    """Path of Debian's Chromium (the browser tests never run ``playwright install``)."""
    for candidate in ("chromium", "chromium-headless-shell", "chromium-browser"):
        found = shutil.which(candidate)
        if found:
            return found
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """One headless Chromium per test module, driven by Playwright with ``executable_path``.

    Module scope, never session: Playwright's sync API keeps an event loop running until it
    exits, and every later ``asyncio.run`` (the channel and outbox tests) would fail.

    Checked before any server starts: without Chromium or playwright the tests using it
    skip, or FAIL when ``CI`` or ``WEGWIJS_REQUIRE_BROWSER=1`` is set (scripts/install.sh
    installs chromium and fonts-noto-core with apt-get when it runs as root).
    """
    path = chromium_path()
    if path is None:
        unavailable("Chromium not found: apt-get install chromium fonts-noto-core (scripts/install.sh does)",
                    required=require_service("Chromium", "WEGWIJS_REQUIRE_BROWSER"))
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright not installed (it is in requirements/lock-py310.txt)",
                    required=require_service("playwright", "WEGWIJS_REQUIRE_BROWSER"))
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=path, args=["--no-sandbox"])
        try:
            yield chromium
        finally:
            chromium.close()
