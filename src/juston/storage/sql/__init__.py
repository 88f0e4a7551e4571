"""SQL storage: SQLite (the embedded default) and PostgreSQL, through SQLAlchemy Core.

This module is the plugin that answers ``juston_open_store`` for ``sqlite:`` and
``postgresql:`` URLs; it imports SQLAlchemy only when such a store is opened, so
loading the plugins stays cheap.

    >>> import juston
    >>> juston.open_store("sqlite://")  # doctest: +ELLIPSIS
    SqlStore('sqlite://')
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...hookspecs import hookimpl

if TYPE_CHECKING:
    from .store import SqlStore

__all__ = ["SqlStore", "juston_open_store"]

_SCHEMES = ("sqlite:", "sqlite+", "postgresql:", "postgresql+")


@hookimpl
def juston_open_store(url: str) -> SqlStore | None:
    """Open a SQL store for SQLite and PostgreSQL URLs (SQLAlchemy URL syntax)."""
    if not url.startswith(_SCHEMES):
        return None
    from .store import SqlStore

    return SqlStore.open(url)


def __getattr__(name: str) -> Any:
    if name == "SqlStore":
        from .store import SqlStore

        return SqlStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
