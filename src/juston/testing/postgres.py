"""A throwaway PostgreSQL cluster for tests, and fresh databases in it.

:func:`temporary_cluster` runs ``initdb`` in a temporary directory, starts the server on
a free port of 127.0.0.1 (and nowhere else), yields where it listens, and always stops it
and removes the directory afterwards. Durability is switched off (``fsync``,
``synchronous_commit``, ``full_page_writes``): the data is thrown away anyway, and it
makes creating databases and committing several times faster.

PostgreSQL refuses to run as root, so under root the server runs as the ``postgres``
system user (or ``nobody``) through ``runuser`` or ``setpriv``.

The pytest fixtures built on this live in :mod:`juston.testing.pytest_plugin`. Used
directly::

    with temporary_cluster() as cluster:
        url = create_database(cluster.url, "scratch")   # postgresql+psycopg://…/scratch
        ...
        drop_database(cluster.url, "scratch")

Only the standard library is imported here; psycopg is imported when a database is
created or dropped.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..errors import JustonError

__all__ = [
    "ClusterError",
    "PostgresUnavailable",
    "TemporaryCluster",
    "create_database",
    "drop_database",
    "find_bindir",
    "sqlalchemy_url",
    "temporary_cluster",
    "with_database",
]

#: The superuser of a temporary cluster (trust authentication, no password).
SUPERUSER = "postgres"

# The data is thrown away, so durability only costs time.
_FAST_SETTINGS = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
}


class PostgresUnavailable(JustonError):
    """The PostgreSQL server binaries (``initdb``, ``pg_ctl``) or psycopg are not installed."""


class ClusterError(JustonError):
    """The binaries are there but the temporary cluster could not be set up or started."""


@dataclass(frozen=True)
class TemporaryCluster:
    """Where a temporary cluster listens; :attr:`url` names its ``postgres`` database."""

    host: str
    port: int
    user: str
    directory: Path
    bindir: Path

    @property
    def url(self) -> str:
        """The SQLAlchemy URL of the maintenance database ``postgres``."""
        return self.database_url("postgres")

    def database_url(self, name: str) -> str:
        """The SQLAlchemy URL of database *name* in this cluster (psycopg 3 driver)."""
        return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{name}"


def _version_key(bindir: Path) -> tuple[int, ...]:
    # /usr/lib/postgresql/<version>/bin: "15" > "9.6"; names that are not versions last.
    try:
        return tuple(int(part) for part in bindir.parent.name.split("."))
    except ValueError:
        return (-1,)


def _is_server_bindir(path: Path) -> bool:
    return all(os.access(path / tool, os.X_OK) for tool in ("initdb", "pg_ctl"))


def find_bindir() -> Path | None:
    """The directory with ``initdb`` and ``pg_ctl``, or ``None`` if there is none.

    Looks on ``PATH`` first, then under ``/usr/lib/postgresql/*/bin`` (Debian and Ubuntu
    keep the server binaries there, off ``PATH``; the highest version wins), then in
    ``pg_config --bindir``.
    """
    candidates: list[Path] = []
    initdb = shutil.which("initdb")
    if initdb:
        # initdb on PATH is often a symlink (Debian's /usr/bin wrappers, /usr/local/bin):
        # pg_ctl may sit only next to its target.
        candidates += [Path(initdb).resolve().parent, Path(initdb).parent]
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_version_key, reverse=True)
    pg_config = shutil.which("pg_config")
    if pg_config:
        with suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True
            ).stdout.strip()
            if out:
                candidates.append(Path(out))
    return next((c for c in candidates if _is_server_bindir(c)), None)


def _free_port() -> int:
    # The kernel picks a port that is free now; another process could take it before the
    # server binds it, so starting retries with a new port when the bind fails.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class _RunAs:
    """How to run a command as the unprivileged user that owns the cluster."""

    prefix: tuple[str, ...]
    uid: int | None
    gid: int | None


def _run_as() -> _RunAs:
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return _RunAs((), None, None)
    import pwd  # POSIX only, and only needed under root

    for name in ("postgres", "nobody"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        if shutil.which("runuser"):
            return _RunAs(("runuser", "-u", name, "--"), entry.pw_uid, entry.pw_gid)
        if shutil.which("setpriv"):
            prefix = ("setpriv", f"--reuid={entry.pw_uid}", f"--regid={entry.pw_gid}")
            return _RunAs((*prefix, "--clear-groups", "--"), entry.pw_uid, entry.pw_gid)
        raise ClusterError(
            "PostgreSQL refuses to run as root, and neither runuser nor setpriv is installed "
            f"to run it as {name!r}"
        )
    raise ClusterError(
        "PostgreSQL refuses to run as root, and there is no 'postgres' or 'nobody' user to "
        "run it as"
    )


def _run(
    run_as: _RunAs, command: Sequence[str], cwd: Path, timeout: int
) -> subprocess.CompletedProcess[str]:
    # cwd inside the cluster directory: under runuser the server user may not be allowed
    # into the caller's working directory (/root), and initdb and pg_ctl complain then.
    return subprocess.run(
        [*run_as.prefix, *command],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _make_directory(run_as: _RunAs) -> Path:
    """A temporary directory the server user can write to."""
    parents = [None] if run_as.uid is None else [None, "/tmp"]
    for parent in parents:
        directory = Path(tempfile.mkdtemp(prefix="juston-pg-", dir=parent))
        if run_as.uid is None:
            return directory
        assert run_as.gid is not None
        os.chown(directory, run_as.uid, run_as.gid)
        # The user also needs to get through every parent directory: $TMPDIR may be
        # private to root.
        probe = _run(run_as, ["test", "-w", str(directory)], Path("/"), 30)
        if probe.returncode == 0:
            return directory
        shutil.rmtree(directory, ignore_errors=True)
    raise ClusterError(
        f"the server user cannot write to a directory under {tempfile.gettempdir()} or /tmp"
    )


def _conf_value(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def _log_tail(log: Path, lines: int = 30) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no server log)"


def _stop(run_as: _RunAs, pg_ctl: Path, data: Path, directory: Path) -> None:
    result = _run(
        run_as, [str(pg_ctl), "-D", str(data), "-m", "immediate", "-w", "stop"], directory, 60
    )
    pid_file = data / "postmaster.pid"
    if result.returncode != 0 and pid_file.exists():
        # pg_ctl could not stop it (or is gone): do not leave a server running.
        with suppress(OSError, ValueError):
            os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)


@contextmanager
def temporary_cluster(
    *,
    bindir: Path | None = None,
    settings: dict[str, str] | None = None,
    timeout: int = 60,
) -> Iterator[TemporaryCluster]:
    """A PostgreSQL cluster in a temporary directory, stopped and removed on exit.

    *bindir* holds ``initdb`` and ``pg_ctl`` (default: :func:`find_bindir`). *settings*
    are extra ``postgresql.conf`` lines (name → value, quoted for you). The superuser is
    ``postgres`` with trust authentication; the server listens only on 127.0.0.1 and on a
    Unix socket inside the temporary directory. *timeout* (seconds) bounds ``initdb`` and
    the wait for the server to accept connections.

    :raises PostgresUnavailable: the binaries are not installed.
    :raises ClusterError: ``initdb`` or the server failed (the message has their output).
    """
    if bindir is None:
        bindir = find_bindir()
        if bindir is None:
            raise PostgresUnavailable(
                "PostgreSQL server binaries (initdb, pg_ctl) not found on PATH, under "
                "/usr/lib/postgresql/*/bin or in `pg_config --bindir`; install the server "
                "(Debian/Ubuntu: apt-get install postgresql) or set JUSTON_POSTGRES_URL"
            )
    run_as = _run_as()
    directory = _make_directory(run_as)
    data = directory / "data"
    pg_ctl = bindir / "pg_ctl"
    started = False
    try:
        initdb = _run(
            run_as,
            # --no-sync: the files need not reach the disk; C locale: no dependence on the
            # locales installed, and UTF8 works with it.
            [str(bindir / "initdb"), "-D", str(data), "-U", SUPERUSER, "-A", "trust",
             "-E", "UTF8", "--locale=C", "--no-sync"],
            directory,
            timeout,
        )  # fmt: skip
        if initdb.returncode != 0:
            raise ClusterError(
                f"initdb failed ({initdb.returncode}):\n{initdb.stdout}{initdb.stderr}"
            )
        conf = {
            "listen_addresses": "127.0.0.1",
            "unix_socket_directories": str(directory),
            **_FAST_SETTINGS,
            **(settings or {}),
        }
        with (data / "postgresql.conf").open("a") as file:
            file.write("\n# juston.testing.postgres\n")
            file.writelines(f"{name} = {_conf_value(value)}\n" for name, value in conf.items())
        for attempt in range(5):
            port = _free_port()
            # One log per attempt, so a failure is judged by its own messages.
            log = directory / f"server-{attempt}.log"
            # The port goes through -o (pg_ctl hands it to a shell), so it is digits only;
            # everything else is in postgresql.conf.
            start = _run(
                run_as,
                [str(pg_ctl), "-D", str(data), "-l", str(log), "-w", "-t", str(timeout),
                 "-o", f"-p {port}", "start"],
                directory,
                timeout + 10,
            )  # fmt: skip
            if start.returncode == 0:
                started = True
                break
            tail = _log_tail(log)
            if "could not bind" not in tail or attempt == 4:
                raise ClusterError(
                    f"the PostgreSQL server did not start ({start.returncode}):\n"
                    f"{start.stdout}{start.stderr}\nserver log:\n{tail}"
                )
            _stop(run_as, pg_ctl, data, directory)
        yield TemporaryCluster(
            host="127.0.0.1", port=port, user=SUPERUSER, directory=directory, bindir=bindir
        )
    finally:
        try:
            if started or (data / "postmaster.pid").exists():
                _stop(run_as, pg_ctl, data, directory)
        finally:
            shutil.rmtree(directory, ignore_errors=True)


def _libpq_url(url: str) -> str:
    """A SQLAlchemy URL (``postgresql+psycopg://``) as a libpq URL (``postgresql://``)."""
    parts = urlsplit(url)
    scheme = parts.scheme.split("+", 1)[0]
    if scheme not in ("postgresql", "postgres"):
        raise ValueError(f"url: {url!r} is not a PostgreSQL URL")
    return urlunsplit(parts._replace(scheme="postgresql"))


def sqlalchemy_url(url: str) -> str:
    """*url* (SQLAlchemy or libpq form) as a SQLAlchemy URL; no database means ``postgres``.

    >>> sqlalchemy_url("postgresql://u@db")
    'postgresql+psycopg://u@db/postgres'
    """
    return with_database(url, urlsplit(url).path.lstrip("/") or "postgres")


def with_database(url: str, name: str) -> str:
    """*url* (SQLAlchemy or libpq form) naming database *name* instead, as a SQLAlchemy URL.

    >>> with_database("postgresql://u:p@db:5432/postgres?sslmode=require", "t_1")
    'postgresql+psycopg://u:p@db:5432/t_1?sslmode=require'
    """
    parts = urlsplit(_libpq_url(url))
    return urlunsplit(parts._replace(scheme="postgresql+psycopg", path=f"/{name}"))


_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def _connect(url: str) -> Any:
    try:
        import psycopg
    except ImportError as exc:  # pragma: no cover - psycopg is in the test extra
        raise PostgresUnavailable(
            "psycopg 3 is not installed (pip install 'juston[postgres]')"
        ) from exc
    # CREATE/DROP DATABASE cannot run inside a transaction block.
    return psycopg.connect(_libpq_url(url), autocommit=True, connect_timeout=30)


def create_database(url: str, name: str) -> str:
    """Create database *name* on the server of *url*; return its SQLAlchemy URL.

    *name* must be a plain lower-case identifier (it is also quoted).
    """
    if not _NAME.fullmatch(name):
        raise ValueError(f"name: {name!r} is not a lower-case identifier")
    from psycopg import sql

    with _connect(url) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return with_database(url, name)


def drop_database(url: str, name: str) -> None:
    """Drop database *name* if it exists, disconnecting whoever is still connected."""
    from psycopg import sql

    with _connect(url) as conn:
        # FORCE (PostgreSQL 13+) ends sessions a test left open, e.g. a store not closed
        # or a connection pool; without it the drop would fail.
        force = sql.SQL(" WITH (FORCE)") if conn.info.server_version >= 130000 else sql.SQL("")
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)) + force)
