"""juston's pytest plugin: PostgreSQL fixtures for storage tests.

Installed with juston (entry point ``pytest11``, name ``juston``), so pytest loads it in
every session; it only defines fixtures, and nothing happens unless a test asks for one.
It imports nothing but the standard library and pytest up front: the cluster code and
psycopg are imported when a PostgreSQL fixture is first used.

Fixtures:

``juston_postgres_url`` (session)
    The SQLAlchemy URL (``postgresql+psycopg://…/postgres``) of a server the tests may
    create databases on. By default a throwaway cluster
    (:func:`juston.testing.postgres.temporary_cluster`) started on first use and removed
    at the end of the session. ``JUSTON_POSTGRES_URL`` names an existing server instead
    (a role that may ``CREATE DATABASE``; ``postgresql://`` URLs are accepted too).
    Without the server binaries (or psycopg) the tests that use it are skipped, unless
    ``JUSTON_REQUIRE_POSTGRES=1``: then they fail, so CI cannot pass by skipping them.
``juston_postgres_database_factory`` (function)
    A callable that creates a new, empty database and returns its URL; every database
    it made is dropped when the test ends.
``juston_postgres_database`` (function)
    The URL of one new, empty database, dropped when the test ends.
"""

from __future__ import annotations

import itertools
import os
import secrets
from collections.abc import Callable, Iterator
from typing import NoReturn

import pytest

__all__ = [
    "juston_postgres_database",
    "juston_postgres_database_factory",
    "juston_postgres_url",
]

_FALSE = ("", "0", "false", "no", "off")

# Database names: a token per process, so that processes sharing one server
# (JUSTON_POSTGRES_URL, pytest-xdist workers) never pick the same name.
_TOKEN = secrets.token_hex(3)
_COUNTER = itertools.count(1)


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("JUSTON_REQUIRE_POSTGRES", "").strip().lower() not in _FALSE:
        pytest.fail(f"{reason} (JUSTON_REQUIRE_POSTGRES is set, so this fails)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def juston_postgres_url() -> Iterator[str]:
    """SQLAlchemy URL of a PostgreSQL server's ``postgres`` database, for this session.

    A throwaway cluster started on first use, or the server ``JUSTON_POSTGRES_URL`` names.
    Skips without server binaries, or fails if ``JUSTON_REQUIRE_POSTGRES=1``.
    """
    from . import postgres

    try:
        import psycopg  # noqa: F401  # only checking that it is installed
    except ImportError:
        _unavailable("psycopg 3 is not installed (pip install 'juston[postgres]')")
    external = os.environ.get("JUSTON_POSTGRES_URL", "").strip()
    if external:
        yield postgres.sqlalchemy_url(external)
        return
    bindir = postgres.find_bindir()
    if bindir is None:
        _unavailable(
            "PostgreSQL server binaries (initdb, pg_ctl) not found on PATH, under "
            "/usr/lib/postgresql/*/bin or in `pg_config --bindir`; install the server or "
            "set JUSTON_POSTGRES_URL"
        )
    with postgres.temporary_cluster(bindir=bindir) as cluster:
        yield cluster.url


@pytest.fixture
def juston_postgres_database_factory(juston_postgres_url: str) -> Iterator[Callable[[], str]]:
    """Make new, empty databases (each call returns one's URL); all are dropped afterwards."""
    from . import postgres

    made: list[str] = []

    def make() -> str:
        name = f"t_{_TOKEN}_{next(_COUNTER)}"
        url = postgres.create_database(juston_postgres_url, name)
        made.append(name)
        return url

    yield make
    for name in reversed(made):
        postgres.drop_database(juston_postgres_url, name)


@pytest.fixture
def juston_postgres_database(juston_postgres_database_factory: Callable[[], str]) -> str:
    """The URL of a new, empty database, dropped when the test ends."""
    return juston_postgres_database_factory()
