"""Bulk ingestion with worker processes (``ingest_usage_rows(..., workers=N)``) and the
staged batches they send a SQLite store (``juston.storage.sql.usage.stage``).

Whatever checks and stages the rows, the result (new, duplicates, rejections with their
reasons) and what the store holds (records, day rows, property values) must be exactly
those of the single-process path: duplicates within a piece, across pieces and
transactions, and ids stored by an earlier ingestion each count once, and a failure
leaves nothing of its transaction behind.
"""

from __future__ import annotations

import marshal
import pickle
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import juston.usage.ingest as ingest
from juston import ingest_usage_rows, invoice_run, money, testing
from juston.errors import ValidationError
from juston.storage.base import Store
from juston.storage.sql import SqlStore
from juston.storage.sql import usage as sql_usage
from juston.usage.ingest import UsageItems
from juston.usage.rows import day_key
from usage_items import add_rejecting_item

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
JANUARY = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp())


def at(day: int, hour: int = 10) -> int:
    return JANUARY + (day - 1) * 86400 + hour * 3600


#: Every kind of row: plain ones, an order-number reference, offsets, decimal text, a
#: price, criteria, properties, bad ones, and ids repeated near and far.
ROWS: list[tuple[Any, ...]] = [
    ("a", "S-1/api", at(5), 8000),
    ("b", "ORD-00001-API", datetime(2026, 1, 20, 10, tzinfo=UTC), 4500),
    ("c", "S-1/api", datetime(2026, 1, 31, 23, 30, tzinfo=timezone(timedelta(hours=1))), 7),
    ("d", "S-2/api", "2026-01-10T10:00:00+01:00", "2.50"),
    ("e", "S-2/api", at(11), D("1.000000"), money("0.02", "EUR")),
    ("f", "S-2/api", at(12), 3, None, "eu-west", "project-x"),
    ("g", "S-1/seats", at(3), 4, None, None, None, {"who": "x"}),
    ("a", "S-2/api", at(6), 1),  # a again, in the same piece
    ("h", "S-9/api", at(5), 1),  # no such item
    ("i", "S-1/api", at(5), -1),  # negative
    ("j", "S-1/api", at(5), 5),
    ("k", "S-2/api", at(5), 6),
    ("j", "S-1/api", at(7), 9),  # j again, in another piece
    ("l", "S-1/api", at(5), 5),  # the same day and instant as j: the greater id is latest
    ("m", "S-1/seats", at(9), 2, None, None, None, {"who": "y"}),
    ("n", "S-1/seats", at(9), 3, None, None, None, {"who": "x"}),
    ("a", "S-1/api", at(8), 2),  # a again, in another transaction
]


@pytest.fixture
def sqlite(tmp_path: Path) -> Iterator[Any]:
    opened: list[SqlStore] = []

    def make() -> SqlStore:
        store = SqlStore.open(f"sqlite:///{tmp_path}/{len(opened)}.db")
        opened.append(store)
        testing.usage_store(2, store=store)
        return store

    yield make
    for store in opened:
        store.close()


def held(store: SqlStore) -> dict[str, list[tuple[Any, ...]]]:
    """What the store holds of usage, with item keys instead of their numbers (which
    depend on the order items were numbered in)."""
    item = "i.account_id, i.subscription, i.item_id"
    join = "JOIN usage_items i ON i.seq = t.item"
    found = {}
    with store.engine.connect() as conn:
        for table in ("usage_records", "usage_days", "usage_values"):
            result = conn.exec_driver_sql(f"SELECT {item}, t.* FROM {table} t {join}")
            names = list(result.keys())
            number = names.index("item")
            found[table] = sorted(row[:number] + row[number + 1 :] for row in map(tuple, result))
    return found


def invoices(store: Store) -> list[tuple[Any, ...]]:
    result = invoice_run(store, date(2026, 2, 1))
    assert not result.failures
    return sorted(
        (doc.account_id, line.description, line.quantity, line.net.amount)
        for doc in result.documents
        for line in doc.lines
    )


def _two_stores(sqlite: Any) -> tuple[SqlStore, SqlStore]:
    """Two alike SQLite stores that hold records "k" (which ROWS repeats) and "z"."""
    stores = sqlite(), sqlite()
    earlier = [("k", "S-2/api", at(4), 1), ("z", "S-1/api", at(4), 1)]
    for store in stores:
        assert ingest_usage_rows(store, earlier).new == 2
    return stores


def test_workers_store_exactly_what_one_process_does(
    sqlite: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ingest, "PIECE", 4)  # several pieces per transaction
    alone, together = _two_stores(sqlite)
    expected = ingest_usage_rows(alone, ROWS, batch_size=10)
    got = ingest_usage_rows(together, ROWS, batch_size=10, workers=2)
    assert got == expected
    assert (got.new, got.duplicates, len(got.rejected)) == (11, 4, 2)
    assert held(together) == held(alone)
    assert invoices(together) == invoices(alone)


def _count_staged(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The sizes of the staged batches stored from now on, as they are stored."""
    calls: list[int] = []
    add_staged = sql_usage.add_staged

    def counting(conn: Any, batch: Any) -> int:
        calls.append(batch.records)
        return add_staged(conn, batch)

    monkeypatch.setattr(sql_usage, "add_staged", counting)
    return calls


def test_one_process_stages_on_sqlite_and_stores_what_the_exact_path_does(
    sqlite: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ingest, "STAGED_PIECE", 4)  # several pieces per transaction
    staged, exact = _two_stores(sqlite)
    calls = _count_staged(monkeypatch)
    got = ingest_usage_rows(staged, ROWS, batch_size=10)
    assert calls, "one process stages its pieces on SQLite"
    calls.clear()
    monkeypatch.setattr(ingest, "_stages", lambda store: False)
    monkeypatch.setattr(ingest, "CHUNK", 4)
    expected = ingest_usage_rows(exact, ROWS, batch_size=10)
    assert not calls
    assert got == expected
    assert held(staged) == held(exact)
    assert invoices(staged) == invoices(exact)


def test_workers_on_a_store_without_staged_batches() -> None:
    # The memory store takes the checked rows themselves.
    alone, together = testing.usage_store(2), testing.usage_store(2)
    expected = ingest_usage_rows(alone, ROWS, batch_size=10)
    assert ingest_usage_rows(together, ROWS, batch_size=10, workers=2) == expected
    assert invoices(together) == invoices(alone)


def test_workers_must_be_at_least_one() -> None:
    with pytest.raises(ValidationError, match="workers"):
        ingest_usage_rows(testing.usage_store(1), ROWS, workers=0)


def test_a_failed_transaction_leaves_nothing_behind(
    sqlite: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ingest, "PIECE", 3)
    store = sqlite()
    calls: list[int] = []
    add_staged = sql_usage.add_staged

    def failing(conn: Any, staged: Any) -> int:
        calls.append(staged.records)
        if len(calls) == 3:  # the first piece of the second transaction
            raise RuntimeError("disk full")
        return add_staged(conn, staged)

    monkeypatch.setattr(sql_usage, "add_staged", failing)
    rows = [(f"r{n}", "S-1/api", at(1 + n), 1) for n in range(12)]
    with pytest.raises(RuntimeError, match="disk full"):
        ingest_usage_rows(store, rows, batch_size=6, workers=2)
    records = held(store)["usage_records"]
    assert sorted(row[3] for row in records) == sorted(f"r{n}" for n in range(6))
    assert sum(row[8] for row in held(store)["usage_days"]) == 6


def test_rows_of_items_that_reject_late_usage_go_through_the_writer(
    sqlite: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A rejected row's id seen again in the same piece is a duplicate; in a later one it
    # is new: pieces as large as the chunks of one process give the same result.
    monkeypatch.setattr(ingest, "PIECE", 2)
    monkeypatch.setattr(ingest, "STAGED_PIECE", 2)
    results = []
    for workers in (1, 2):
        store = sqlite()
        testing_items = add_rejecting_item(store)
        ingest_usage_rows(store, [("1", testing_items, at(3), 5)])
        invoice_run(store, date(2026, 2, 1))
        rows = [
            ("2", testing_items, at(4), 5),  # January: invoiced already
            ("1", testing_items, at(4), 5),  # stored before
            ("3", testing_items, at(35), 5),
            ("4", "S-1/api", at(36), 5),
            ("2", testing_items, at(35), 5),  # 2 again
        ]
        results.append((ingest_usage_rows(store, rows, workers=workers), held(store)))
    assert results[0] == results[1]
    assert str(results[1][0]) == "3 new, 1 duplicates, 1 rejected"


# --- staged batches, in this process ------------------------------------------------

ROW = st.tuples(
    st.sampled_from(["a", "b", "c", "d", "e", "f", "g", "h"]),
    st.sampled_from(["S-1/api", "S-2/api", "ORD-00001-API", "S-1/seats"]),
    st.integers(0, 31 * 86400 - 1).map(lambda s: JANUARY + s),
    st.integers(0, 50),
    st.sampled_from([(), (None, "eu"), (money("0.5", "EUR"),), (None, None, None, {"p": "1"})]),
).map(lambda r: (*r[:4], *r[4]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ROW, max_size=25), st.lists(ROW, max_size=25), st.integers(1, 25))
def test_a_staged_batch_stores_what_its_rows_do(
    before: list[Any], rows: list[Any], size: int
) -> None:
    # Stored before or not, repeated within a piece or not: the staged way (all new, or
    # taken back and stored the exact way) leaves the store as the plain rows do.
    stores = [SqlStore.open("sqlite://") for _ in range(2)]
    try:
        for store in stores:
            testing.usage_store(2, store=store)
            ingest_usage_rows(store, before)
        items = UsageItems(stores[1])
        ingest._start(pickle.dumps(items), ingest._numbering(stores[1], items._keys))
        expected = ingest_usage_rows(stores[0], rows, batch_size=size)
        counts = [0, 0]
        with stores[1].transaction() as tx:
            for start in range(0, len(rows), size):
                batch = ingest._check(rows[start : start + size], start, True, True)
                # What a worker sends may repeat ids stored before, never its own.
                assert batch.staged is not None
                ingest._store(tx, batch, counts, items._keys)
        assert (counts[0], counts[1]) == (expected.new, expected.duplicates)
        assert held(stores[1]) == held(stores[0])
    finally:
        for store in stores:
            store.close()


def test_a_staged_batch_may_repeat_ids() -> None:
    # The first of equal ids is stored (plain rows before the others), and only it counts.
    store = SqlStore.open("sqlite://")
    try:
        testing.usage_store(2, store=store)
        key = ("C00001", "S-1", "api")
        with store.transaction() as tx:
            conn = sql_usage.staging(tx)
            assert conn is not None
            (number,) = sql_usage.item_numbers(conn, [key])
            items = {number: key}
            first = (day_key(number, 739617, 739622), "x", at(6) * 10**6, 5 * 10**6)
            again = (day_key(number, 739617, 739623), "x", at(7) * 10**6, 9 * 10**6)
            assert sql_usage.add_staged(conn, sql_usage.stage([first, again], [], items)) == 1
            assert sql_usage.add_staged(conn, sql_usage.stage([again], [], items)) == 0
        days = held(store)["usage_days"]
        assert [(row[7], row[8], row[9]) for row in days] == [(739622, 1, 5 * 10**6)]
    finally:
        store.close()


def test_items_are_numbered_once_and_for_good() -> None:
    store = SqlStore.open("sqlite://")
    try:
        testing.usage_store(2, store=store)
        keys = UsageItems(store)._keys
        first = ingest._numbering(store, keys)
        assert ingest._numbering(store, list(reversed(keys))) == list(reversed(first))
        with store.engine.connect() as conn:
            table = conn.exec_driver_sql(
                "SELECT seq, account_id, subscription, item_id FROM usage_items"
            ).all()
        assert sorted((seq, (a, s, i)) for seq, a, s, i in table) == sorted(
            zip(first, keys, strict=True)
        )
    finally:
        store.close()


def test_a_staged_batch_whose_item_numbers_are_wrong_is_stored_the_exact_way() -> None:
    # The image names items by numbers; if usage_items numbers them otherwise, its rows
    # are taken back and stored under the items it names, never under another's number.
    store = SqlStore.open("sqlite://")
    try:
        testing.usage_store(2, store=store)
        keys = [("C00001", "S-1", "api"), ("C00002", "S-2", "api")]
        with store.transaction() as tx:
            conn = sql_usage.staging(tx)
            assert conn is not None
            _, two = sql_usage.item_numbers(conn, keys)
            wrong = {two: keys[0]}  # S-1's rows under S-2's number
            row = (day_key(two, 739617, 739622), "x", at(6) * 10**6, 5 * 10**6)
            assert sql_usage.add_staged(conn, sql_usage.stage([row], [], wrong)) == 1
        held_now = held(store)
        assert [r[:4] for r in held_now["usage_records"]] == [("C00001", "S-1", "api", "x")]
        assert [(r[:3], r[8]) for r in held_now["usage_days"]] == [(keys[0], 1)]
    finally:
        store.close()


def test_rows_go_to_workers_marshalled_when_they_can() -> None:
    plain = [("a", "S-1/api", at(5), 3), ["b", "S-1/api", at(5), True, None]]
    sent = ingest._packed(plain)
    assert isinstance(sent, bytes)
    assert marshal.loads(sent) == plain
    assert [type(v) for v in marshal.loads(sent)[1]] == [str, str, int, bool, type(None)]
    # Anything marshal does not take goes as it is, to be pickled.
    other = [("c", "S-1/api", datetime(2026, 1, 5, tzinfo=UTC), D("1.5"))]
    assert ingest._packed(other) is other


def test_input_of_one_piece_is_stored_without_staging(
    sqlite: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Staging pays off for many rows; one piece is stored as it is, and no item is
    # numbered but those it names.
    calls = _count_staged(monkeypatch)
    monkeypatch.setattr(ingest, "STAGED_PIECE", len(ROWS))
    store = sqlite()
    assert str(ingest_usage_rows(store, ROWS)) == "12 new, 3 duplicates, 2 rejected"
    assert not calls
    monkeypatch.setattr(ingest, "STAGED_PIECE", len(ROWS) - 1)
    again = sqlite()
    assert ingest_usage_rows(again, ROWS) == ingest_usage_rows(sqlite(), ROWS)
    assert calls
    assert held(again) == held(store)
