"""The storage conformance kit against every built-in backend."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import juston
from juston.storage.sql import SqlStore
from juston.testing.conformance import StoreConformance


class TestMemoryStore(StoreConformance):
    @pytest.fixture
    def make_store(self) -> Callable[[], juston.Store]:
        return juston.MemoryStore


class TestSqliteStore(StoreConformance):
    @pytest.fixture
    def make_store(self, tmp_path: Path) -> Iterator[Callable[[], Any]]:
        stores: list[Any] = []

        def make() -> Any:
            stores.append(SqlStore.open(f"sqlite:///{tmp_path}/{len(stores)}.db"))
            return stores[-1]

        yield make
        for store in stores:
            store.close()


class TestPostgresStore(StoreConformance):
    @pytest.fixture
    def make_store(self, request: pytest.FixtureRequest) -> Iterator[Callable[[], Any]]:
        new_database = request.getfixturevalue("juston_postgres_database_factory")
        stores: list[Any] = []

        def make() -> Any:
            stores.append(SqlStore.open(new_database()))
            return stores[-1]

        yield make
        # Closed before the databases are dropped (the factory's teardown runs after this).
        for store in stores:
            store.close()
