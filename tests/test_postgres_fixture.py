"""The throwaway PostgreSQL cluster and the pytest fixtures built on it."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from pathlib import Path

import pytest

from juston.testing import postgres

pytest_plugins = ["pytester"]

_FALSE = ("", "0", "false", "no", "off")  # as in juston.testing.pytest_plugin


def _require_binaries() -> None:
    # The same rule as the fixtures: skip without a server, unless CI demands one.
    if postgres.find_bindir() is None:
        reason = "PostgreSQL server binaries not installed"
        if os.environ.get("JUSTON_REQUIRE_POSTGRES", "").strip().lower() not in _FALSE:
            pytest.fail(reason)
        pytest.skip(reason)


def _accepts_connections(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return True
    except OSError:
        return False


def test_a_cluster_starts_answers_queries_and_is_removed() -> None:
    _require_binaries()
    import psycopg

    with postgres.temporary_cluster() as cluster:
        assert cluster.directory.is_dir()
        with psycopg.connect(f"postgresql://{cluster.user}@127.0.0.1:{cluster.port}/postgres") as c:
            row = c.execute(
                "SELECT 6 * 7, current_user, current_setting('listen_addresses'),"
                " current_setting('fsync'), current_setting('data_directory')"
            ).fetchone()
        assert row is not None
        answer, user, listen, fsync, data = row
        assert (answer, user, listen, fsync) == (42, "postgres", "127.0.0.1", "off")
        if os.geteuid() == 0:
            # PostgreSQL refuses root: the cluster belongs to an unprivileged user.
            assert Path(data).stat().st_uid != 0
    assert not cluster.directory.exists()
    assert not _accepts_connections(cluster.port)


def test_a_taken_port_is_retried_and_a_failed_block_removes_the_cluster(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Another process takes the free port before the server binds it: start on another.
    _require_binaries()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        ports = iter([taken.getsockname()[1], postgres._free_port()])
        monkeypatch.setattr(postgres, "_free_port", lambda: next(ports))
        with (
            pytest.raises(RuntimeError, match="test failed"),
            postgres.temporary_cluster() as cluster,
        ):
            assert cluster.port != taken.getsockname()[1]
            assert _accepts_connections(cluster.port)
            raise RuntimeError("test failed")
    assert not cluster.directory.exists()
    assert not _accepts_connections(cluster.port)


def test_a_missing_server_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(postgres, "find_bindir", lambda: None)
    with pytest.raises(postgres.PostgresUnavailable, match="initdb"), postgres.temporary_cluster():
        pass


def test_find_bindir_finds_initdb_and_pg_ctl() -> None:
    bindir = postgres.find_bindir()
    if bindir is not None:
        assert (bindir / "initdb").exists() and (bindir / "pg_ctl").exists()


def test_urls() -> None:
    assert postgres.sqlalchemy_url("postgresql://u:p%40ss@db:5433") == (
        "postgresql+psycopg://u:p%40ss@db:5433/postgres"
    )
    assert postgres.with_database("postgresql+psycopg://u@h:1/postgres", "t_1") == (
        "postgresql+psycopg://u@h:1/t_1"
    )
    with pytest.raises(ValueError, match="mysql"):
        postgres.with_database("mysql://u@h/db", "t_1")


def test_the_database_fixture_is_a_new_empty_database(juston_postgres_database: str) -> None:
    import psycopg

    with psycopg.connect(juston_postgres_database.replace("+psycopg", "")) as conn:
        name, tables = conn.execute(
            "SELECT current_database(),"
            " (SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public')"
        ).fetchone() or (None, None)
        conn.execute("CREATE TABLE t (amount numeric(12, 2))")
        conn.execute("INSERT INTO t VALUES ('25.00')")
    assert juston_postgres_database.startswith("postgresql+psycopg://")
    assert juston_postgres_database.endswith(f"/{name}")
    assert tables == 0


def test_the_factory_makes_separate_databases(
    juston_postgres_database_factory: Callable[[], str],
) -> None:
    first, second = juston_postgres_database_factory(), juston_postgres_database_factory()
    assert first != second


def test_create_and_drop_database(juston_postgres_url: str) -> None:
    import psycopg

    url = postgres.create_database(juston_postgres_url, "t_create_drop")
    # A connection left open must not stop the drop.
    left_open = psycopg.connect(url.replace("+psycopg", ""))
    try:
        postgres.drop_database(juston_postgres_url, "t_create_drop")
    finally:
        left_open.close()
    assert "t_create_drop" not in _databases(juston_postgres_url)


def _databases(url: str) -> set[str]:
    import psycopg

    with psycopg.connect(url.replace("+psycopg", "")) as conn:
        return {name for (name,) in conn.execute("SELECT datname FROM pg_database")}


# hypothesis's plugin re-imports hypothesis in every inner session (1.5 s each).
INNER_ARGS = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest")

INNER_TEST = """
def test_inner(juston_postgres_database):
    import pathlib
    pathlib.Path({out!r}).write_text(juston_postgres_database.rsplit("/", 1)[1])
"""


def test_the_fixtures_use_juston_postgres_url_and_drop_their_databases(
    pytester: pytest.Pytester, juston_postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An inner session pointed at this session's server through the environment variable:
    # it must not start a cluster of its own, and must drop the database it made.
    monkeypatch.setenv("JUSTON_POSTGRES_URL", juston_postgres_url.replace("+psycopg", ""))
    monkeypatch.setattr(postgres, "temporary_cluster", None)  # would fail if called
    out = pytester.path / "database-name"
    pytester.makepyfile(INNER_TEST.format(out=str(out)))
    pytester.runpytest(*INNER_ARGS).assert_outcomes(passed=1)
    name = out.read_text()
    assert name.startswith("t_")
    assert name not in _databases(juston_postgres_url)


INNER_POSTGRES_TEST = """
def test_inner(juston_postgres_url):
    pass
"""


@pytest.mark.parametrize("require", ["", "1"])
def test_missing_binaries_skip_unless_required(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, require: str
) -> None:
    monkeypatch.delenv("JUSTON_POSTGRES_URL", raising=False)
    monkeypatch.setenv("JUSTON_REQUIRE_POSTGRES", require)
    monkeypatch.setattr(postgres, "find_bindir", lambda: None)
    pytester.makepyfile(INNER_POSTGRES_TEST)
    result = pytester.runpytest(*INNER_ARGS, "-rsE")
    if require:
        result.assert_outcomes(errors=1)
        result.stdout.fnmatch_lines(["*initdb, pg_ctl*JUSTON_REQUIRE_POSTGRES is set*"])
    else:
        result.assert_outcomes(skipped=1)
        result.stdout.fnmatch_lines(["*SKIPPED*initdb, pg_ctl*not found*"])


def test_the_plugin_does_not_import_database_drivers() -> None:
    # Loaded into every pytest session where juston is installed: it must stay cheap.
    import subprocess
    import sys

    code = (
        "import sys, juston.testing.pytest_plugin; "
        "print(sorted(m for m in ('sqlalchemy', 'psycopg', 'juston.testing.postgres') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
