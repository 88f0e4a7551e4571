"""What only the SQL store has to prove about dunning: the schema 4 upgrade, the columns
beside the body, unique numbers, the new balance types, concurrent finalizing, paging,
and a dunning cycle that ends as on the memory store.

The shared contract is checked by the conformance kit (``test_storage_conformance.py``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import date

import attrs
import orjson
import pytest
import sqlalchemy as sa
from alembic import command

import juston
from juston.dunning import (
    DunningStatus,
    block_dunning,
    cancel_dunning,
    dunning_run,
    finalize_dunnings,
)
from juston.errors import StorageError
from juston.model.dunning import Dunning
from juston.model.receivables import Balance, BalanceType
from juston.storage import codec
from juston.storage.base import Store
from juston.storage.sql import SqlStore
from juston.storage.sql import schema as sql_schema
from juston.storage.sql import store as sql_store
from juston.storage.sql.migrate import config, current_version, head_version
from juston.testing import sample_store
from juston.testing.conformance import copy_master_data, fingerprint
from juston.testing.receivables import issue


@pytest.fixture
def store(url: str) -> Iterator[SqlStore]:
    """A SQL store with three accounts."""
    opened = SqlStore.open(url)
    copy_master_data(sample_store(accounts=3), opened)
    yield opened
    opened.close()


def _draft(store: SqlStore, account_id: str = "C0000001", **more: object) -> Dunning:
    """A dunning of *account_id* over nothing (the store does not look inside)."""
    account = store.account(account_id)
    zero = juston.money("0.00", account.currency.code)
    dunning = Dunning(
        id=None,
        account=account,
        company=store.company(),
        status=DunningStatus.DRAFT,
        number=None,
        dunning_date=date(2026, 3, 1),
        due_date=date(2026, 3, 8),
        level=1,
        details=(),
        fee=zero,
        credits=zero,
    )
    return attrs.evolve(dunning, **more)


# ------------------------------------------------------------------ the upgrade to version 4


def test_upgrading_from_version_3_adds_the_dunning_tables(store: SqlStore) -> None:
    invoice = issue(store, "C0000001", "119.00", on=date(2026, 1, 1))
    with store.engine.begin() as conn:
        command.downgrade(config(conn), "0003")
        assert current_version(conn) == "0003"
        tables = sa.inspect(conn).get_table_names()
        assert "dunnings" not in tables and "dunning_blocks" not in tables
    url = store.share()
    store.close()

    upgraded = SqlStore.open(url)
    try:
        with upgraded.engine.connect() as conn:
            assert current_version(conn) == head_version()
        assert list(upgraded.documents()) == [invoice]
        assert list(upgraded.dunnings()) == [] and upgraded.dunning_blocks() == []
        with upgraded.transaction() as tx:
            added = tx.add_dunning(_draft(upgraded))
        assert list(upgraded.dunnings()) == [added]
    finally:
        upgraded.close()


# ------------------------------------------------------------------ columns and constraints


def test_the_columns_are_copies_of_the_body_and_the_id_is_the_row_number(
    store: SqlStore,
) -> None:
    with store.transaction() as tx:
        draft = tx.add_dunning(_draft(store))
        closed = tx.add_dunning(
            _draft(store, "C0000002", status=DunningStatus.CLOSED, number="DUN-2026-00001")
        )
    table = sql_schema.dunnings
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(table).order_by(table.c.seq)).all()
    assert [f"N{row.seq:08d}" for row in rows] == [draft.id, closed.id]
    for row, dunning in zip(rows, (draft, closed), strict=True):
        assert (row.account_id, row.status, row.dunning_date, row.number) == (
            dunning.account_id,
            dunning.status.value,
            dunning.dunning_date,
            dunning.number,
        )
        body = orjson.loads(row.body)
        assert body["id"] is None
        assert codec.structure({**body, "id": dunning.id}, Dunning) == dunning


def test_a_number_is_unique(store: SqlStore) -> None:
    with store.transaction() as tx:
        first = tx.add_dunning(_draft(store, status=DunningStatus.CLOSED, number="DUN-1"))
    with pytest.raises(StorageError, match="number"), store.transaction() as tx:
        tx.add_dunning(_draft(store))
        tx.add_dunning(_draft(store, "C0000002", status=DunningStatus.CLOSED, number="DUN-1"))
    assert list(store.dunnings()) == [first]


def test_dunning_fees_and_interest_are_balances_like_any_other(store: SqlStore) -> None:
    invoice = issue(store, "C0000001", "119.00", on=date(2026, 1, 1))
    assert invoice.id is not None
    charges = [
        Balance(
            id=f"dunning:N1:{kind.value}",
            account_id="C0000001",
            document_id=invoice.id,
            type=kind,
            amount=juston.money(amount, "EUR"),
            date=date(2026, 3, 1),
            cause="DUN-1",
        )
        for kind, amount in ((BalanceType.DUNNING_FEE, "5.00"), (BalanceType.INTEREST, "1.19"))
    ]
    with store.transaction() as tx:
        tx.add_balances(charges)
    assert fingerprint(store.balances(document_id=invoice.id)[1:]) == fingerprint(charges)
    (opened,) = store.open_documents()
    assert str(opened.amount.amount) == "125.19" and opened.number == invoice.number


# ------------------------------------------------------------------ reads


def test_dunnings_are_read_in_pages_in_the_order_added(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sql_store, "PAGE", 2)
    with store.transaction() as tx:
        added = [tx.add_dunning(_draft(store, f"C000000{1 + n % 3}")) for n in range(7)]
        assert list(tx.dunnings()) == added
    assert list(store.dunnings()) == added
    assert list(store.dunnings(account_id="C0000002")) == added[1::3]


def test_two_transactions_closing_the_same_drafts_at_once_close_each_once(
    store: SqlStore,
) -> None:
    with store.transaction() as tx:
        drafts = [tx.add_dunning(_draft(store, a)) for a in ("C0000001", "C0000002")]
    read = threading.Event()

    def close(number: str) -> list[Dunning]:
        with store.transaction() as tx:
            found = list(tx.dunnings(status=DunningStatus.DRAFT))
            read.set()
            time.sleep(0.5)  # the other transaction reads the drafts meanwhile
            for n, draft in enumerate(found):
                tx.replace_dunning(
                    attrs.evolve(draft, status=DunningStatus.CLOSED, number=f"{number}-{n}")
                )
            return found

    results: list[list[Dunning]] = []
    thread = threading.Thread(target=lambda: results.append(close("A")))
    thread.start()
    assert read.wait(30)
    try:
        # SQLite: the second writer waits to begin; PostgreSQL: it waits for the rows the
        # first has read, then finds them closed.
        assert close("B") == []
    finally:
        thread.join()
    assert results == [drafts]
    assert [d.number for d in store.dunnings()] == ["A-0", "A-1"]


# ------------------------------------------------------------------ a dunning cycle


def _dunning_cycle(store: Store) -> list[tuple[str, str]]:
    """Invoices of three accounts, runs with finalizing, a block, a cancellation; the
    dunnings and balances afterwards, with the dunning ids the store gave out replaced by
    their positions."""
    issue(store, "C0000001", "119.00", on=date(2026, 1, 1))
    issue(store, "C0000001", "59.50", on=date(2026, 1, 20))
    issue(store, "C0000002", "238.00", on=date(2026, 1, 5))
    issue(store, "C0000003", "10.00", on=date(2026, 1, 5))
    block_dunning(store, account_id="C0000003", reason="disputed")
    dunning_run(store, date(2026, 2, 16))
    finalize_dunnings(store)
    dunning_run(store, date(2026, 3, 20))
    closed = finalize_dunnings(store)
    cancel_dunning(store, closed[0], on=date(2026, 3, 25))
    dunning_run(store, date(2026, 4, 20))
    dunnings = list(store.dunnings())
    assert {d.status for d in dunnings} == set(DunningStatus), dunnings
    ids = {d.id: f"#{n}" for n, d in enumerate(dunnings)}
    balances = [
        attrs.evolve(b, id=":".join(ids.get(part, part) for part in b.id.split(":")))
        for b in store.balances()
    ]
    return fingerprint(
        {
            "dunnings": [attrs.evolve(d, id=ids[d.id]) for d in dunnings],
            "balances": balances,
            "blocks": store.dunning_blocks(),
        }
    )


def test_a_dunning_cycle_ends_as_on_the_memory_store(store: SqlStore) -> None:
    assert _dunning_cycle(store) == _dunning_cycle(sample_store(accounts=3))
