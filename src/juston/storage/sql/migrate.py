"""Schema versions, managed with Alembic.

The migrations ship inside the package (``juston/storage/sql/migrations``). Opening a
store upgrades its database to the newest version this juston knows; a database whose
version this juston does not know (written by a newer release) is refused rather than
guessed at.
"""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy.engine import Connection

from ...errors import StorageError

__all__ = ["SchemaError", "config", "current_version", "head_version", "upgrade"]


class SchemaError(StorageError):
    """The database's schema version is unknown or older than this juston needs."""


def config(conn: Connection | None = None) -> Config:
    """An Alembic configuration for the shipped migrations (bound to *conn* if given)."""
    cfg = Config()
    cfg.set_main_option("script_location", "juston.storage.sql:migrations")
    if conn is not None:
        cfg.attributes["connection"] = conn
    return cfg


def head_version() -> str:
    """The newest schema version this juston knows."""
    head = ScriptDirectory.from_config(config()).get_current_head()
    assert head is not None
    return head


def current_version(conn: Connection) -> str | None:
    """The schema version of the database on *conn*; ``None`` for an empty database."""
    return MigrationContext.configure(conn).get_current_revision()


def upgrade(conn: Connection, *, apply: bool = True) -> None:
    """Bring the database on *conn* to the newest version, or refuse it.

    :param apply: upgrade an empty or older database; if false, such a database is an
        error instead (for read-only tools that must not change it).
    """
    version = current_version(conn)
    scripts = ScriptDirectory.from_config(config())
    try:
        known = version is None or scripts.get_revision(version) is not None
    except CommandError:
        known = False
    if not known:
        raise SchemaError(
            f"schema version: {version!r} is not known to this juston (newest known: "
            f"{head_version()!r}); the database was written by a newer release, upgrade juston"
        )
    if version == head_version():
        return
    if not apply:
        raise SchemaError(
            f"schema version: {version!r} is older than {head_version()!r}; open the store "
            "with upgrade_schema=True to upgrade it"
        )
    command.upgrade(config(conn), "head")
