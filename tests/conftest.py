"""Fixtures shared by the SQL store tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new SQLite file, or the throwaway PostgreSQL server's database (either can be
    opened again by its URL)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/juston.db"
    return str(request.getfixturevalue("juston_postgres_database"))
