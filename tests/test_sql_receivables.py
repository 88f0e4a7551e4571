"""What only the SQL store has to prove about receivables: the schema 3 upgrade books the
balances of documents finalized before it, amounts are exact integers of the minor unit,
a refused call writes nothing, bulk calls stay a few statements, and the storage format
round-trips exactly.

The shared contract is checked by the conformance kit (``test_storage_conformance.py``).
"""

from __future__ import annotations

import importlib.util
import threading
import time
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import attrs
import orjson
import pytest
import sqlalchemy as sa
from alembic import command

import juston
from juston.errors import StateError, StorageError, ValidationError
from juston.model.mandates import Mandate
from juston.model.parties import Account, Company
from juston.model.receivables import (
    Balance,
    BalanceType,
    EntryStatus,
    ImportedFile,
    Installment,
    InstallmentPlan,
    PaymentEntry,
)
from juston.storage import codec
from juston.storage.sql import SqlStore
from juston.storage.sql import schema as sql_schema
from juston.storage.sql.migrate import config, current_version
from juston.testing import sample_company, sample_store
from juston.testing.conformance import copy_master_data, fingerprint


@pytest.fixture
def store(url: str) -> Iterator[SqlStore]:
    """A SQL store with six accounts."""
    opened = SqlStore.open(url)
    copy_master_data(sample_store(accounts=6), opened)
    yield opened
    opened.close()


def _balance(balance_id: str, amount: str, code: str = "EUR", **more: Any) -> Balance:
    fields: dict[str, Any] = {
        "id": balance_id,
        "account_id": "C0000001",
        "document_id": "D1",
        "type": BalanceType.INVOICE,
        "amount": juston.money(amount, code),
        "date": date(2026, 1, 5),
        **more,
    }
    return Balance(**fields)


# ------------------------------------------------------------------ the upgrade to version 3


def _bill_and_cancel(store: SqlStore) -> list[juston.Invoice]:
    """Finalized invoices, drafts, and a cancelled invoice with its cancellation."""
    finals = juston.finalize(store, juston.invoice_run(store, date(2026, 1, 1)).documents)
    juston.invoice_run(store, date(2026, 2, 1))  # drafts: no balances
    juston.cancel(store, finals[0], cancellation_date=date(2026, 1, 20))
    return list(store.documents())


def _migration() -> ModuleType:
    path = Path(sql_schema.__file__).parent / "migrations" / "versions" / "0003_receivables.py"
    spec = importlib.util.spec_from_file_location("juston_migration_0003", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_upgrading_from_version_2_books_the_balances_of_finalized_documents(
    store: SqlStore,
) -> None:
    documents = _bill_and_cancel(store)
    booked = store.balances()
    # Finalizing and cancelling booked invoice and clearing balances only (nothing paid).
    assert {b.type for b in booked} == {BalanceType.INVOICE, BalanceType.CLEARING}
    with store.engine.begin() as conn:
        command.downgrade(config(conn), "0002")
        assert current_version(conn) == "0002"
        assert "balances" not in sa.inspect(conn).get_table_names()
    url = store.share()
    store.close()

    upgraded = SqlStore.open(url)
    try:
        # The same balances, exactly, in the order finalizing and cancelling added them.
        assert fingerprint(upgraded.balances()) == fingerprint(booked)
        finalized = [d for d in documents if d.status is not juston.DocumentStatus.DRAFT]
        cancelled = [d for d in documents if d.status is juston.DocumentStatus.CANCELLED]
        assert len(finalized) < len(documents) and len(cancelled) == 1
        assert {b.document_id for b in upgraded.balances()} == {d.id for d in finalized}
        (original,) = cancelled
        for document_id in (original.id, original.cancelled_by):
            amounts = [b.amount.amount for b in upgraded.balances(document_id=document_id)]
            assert len(amounts) == 2 and sum(amounts) == 0
        assert {o.document_id for o in upgraded.open_documents()} == {
            d.id for d in finalized if d.kind is juston.DocumentKind.INVOICE
        } - {original.id}
        # Reading page by page books the same, whatever the page size.
        with upgraded.engine.begin() as conn:
            conn.execute(sa.delete(sql_schema.balances))
            _migration().book_finalized_documents(conn, page=2)
        assert fingerprint(upgraded.balances()) == fingerprint(booked)
    finally:
        upgraded.close()


def test_old_rows_without_the_new_fields_still_load() -> None:
    company = attrs.evolve(sample_company(), creditor_id="DE98ZZZ09999999999")
    account = attrs.evolve(
        sample_store(accounts=1).account("C0000001"), payment_method="sepa_direct_debit"
    )
    for value, cls, new in (
        (company, Company, ("creditor_id",)),
        (account, Account, ("bank_account", "payment_method")),
    ):
        data = orjson.loads(codec.dumps(value, cls))
        for name in new:
            del data[name]
        assert codec.structure(data, cls) == attrs.evolve(value, **dict.fromkeys(new))


# ------------------------------------------------------------------ exact amounts


def test_balance_amounts_are_exact_integers_of_the_minor_unit(store: SqlStore) -> None:
    balances = [
        # Beyond the 15-17 digits a float holds.
        _balance("b1", "90071992547409.93"),
        _balance("b2", "0.01", type=BalanceType.PAYMENT),
        _balance("b3", "-1.234", "KWD", account_id="C0000002", document_id="D2"),
        _balance("b4", "5000", "JPY", account_id="C0000003", document_id="D3"),
        _balance("b5", "7", account_id="C0000004", document_id="D4"),
    ]
    with store.transaction() as tx:
        tx.add_balances(balances)
    with store.engine.connect() as conn:
        columns = sql_schema.balances.c
        rows = conn.execute(sa.select(columns.id, columns.amount).order_by(columns.seq)).all()
    assert [tuple(r) for r in rows] == [
        ("b1", 9007199254740993),
        ("b2", 1),
        ("b3", -1234),
        ("b4", 5000),
        ("b5", 700),
    ]
    opens = {o.document_id: o.amount for o in store.open_documents()}
    assert {d: str(m.amount) for d, m in opens.items()} == {
        "D1": "90071992547409.94",
        "D2": "-1.234",
        "D3": "5000",
        "D4": "7.00",  # summed in the database: at the minor unit
    }
    # The body keeps the amount as given.
    assert str(store.balances(document_id="D4")[0].amount.amount) == "7"


def test_an_amount_too_large_for_the_store_is_refused(store: SqlStore) -> None:
    too_large = _balance("huge", "92233720368547758.08")  # 2⁶³ cents
    with pytest.raises(ValidationError, match="more than"), store.transaction() as tx:
        tx.add_balances([too_large])
    assert store.balances() == []


# ------------------------------------------------------------------ refused writes


def test_a_refused_add_balances_adds_none_of_its_balances_even_if_the_caller_goes_on(
    store: SqlStore,
) -> None:
    with store.transaction() as tx:
        tx.add_balances([_balance("old", "1.00")])
    with store.transaction() as tx:
        with pytest.raises(StateError, match="old"):
            tx.add_balances([_balance("new", "2.00"), _balance("old", "3.00")])
        tx.add_balances([_balance("later", "4.00")])
    assert [b.id for b in store.balances()] == ["old", "later"]


def test_two_transactions_adding_the_same_balance_at_once_store_it_once(
    store: SqlStore,
) -> None:
    added = threading.Event()

    def first() -> None:
        with store.transaction() as tx:
            tx.add_balances([_balance("same", "1.00")])
            added.set()
            time.sleep(0.5)  # the second transaction checks and inserts meanwhile

    thread = threading.Thread(target=first)
    thread.start()
    assert added.wait(30)
    try:
        # SQLite: it waits for the first to commit, then sees the id; PostgreSQL: the
        # unique index makes its insert wait, then fail.
        refused = pytest.raises((StateError, StorageError), match=r"same|balances_id")
        with refused, store.transaction() as tx:
            tx.add_balances([_balance("same", "2.00")])
    finally:
        thread.join()
    assert [str(b.amount.amount) for b in store.balances()] == ["1.00"]


def test_a_file_imported_again_is_a_state_error(store: SqlStore) -> None:
    first = ImportedFile(name="a.xml", digest="sha256:aa", imported_on=date(2026, 2, 3))
    with store.transaction() as tx:
        tx.add_imported_file(first)
    for again in (
        attrs.evolve(first, digest="sha256:other"),
        attrs.evolve(first, name="renamed.xml"),
    ):
        with pytest.raises(StateError, match=again.name), store.transaction() as tx:
            tx.add_imported_file(again)
    assert store.imported_file("renamed.xml", "sha256:other") is None


# ------------------------------------------------------------------ statements per call


def _statements(store: SqlStore) -> list[str]:
    seen: list[str] = []

    @sa.event.listens_for(store.engine, "before_cursor_execute")
    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement.split(None, 1)[0].upper())

    return seen


def test_bulk_balance_calls_are_a_few_statements(store: SqlStore) -> None:
    accounts = [f"C{n:07d}" for n in range(1, 7)]
    balances = [
        _balance(f"invoice:D{n}", "1.00", account_id=accounts[n % 6], document_id=f"D{n}")
        for n in range(500)
    ]
    seen = _statements(store)
    with store.transaction() as tx:
        tx.add_balances(balances)
        written = len(seen)
        got = tx.balances_of([*accounts, *(f"X{n}" for n in range(494))])
        read = len(seen) - written
        assert tx.known_balances([b.id for b in balances]) == {b.id for b in balances}
    assert sum(len(v) for v in got.values()) == 500
    # (BEGIN,) one insert under a savepoint (the unique index refuses ids stored before:
    # no select first); one select for 500 accounts.
    assert seen[written - 3 : written] == ["SAVEPOINT", "INSERT", "RELEASE"], seen
    assert written <= 4, seen
    assert read == 1, seen


def test_a_refused_balance_call_adds_nothing_and_the_transaction_goes_on(
    store: SqlStore,
) -> None:
    first, fresh, last = (_balance(f"b-{n}", "1.00") for n in range(3))
    with store.transaction() as tx:
        tx.add_balances([first])
        with pytest.raises(StateError, match="b-0: is stored already"):
            tx.add_balances([fresh, first])
        tx.add_balances([last])
    assert [b.id for b in store.balances()] == ["b-0", "b-2"]


# ------------------------------------------------------------------ storage format


def test_receivables_survive_the_storage_format_exactly() -> None:
    mandate = Mandate(
        reference="M-1",
        account_id="C1",
        iban="DE89370400440532013000",
        signed_on=date(2026, 1, 5),
        scheme="B2B",
        revoked_on=date(2026, 3, 1),
    )
    values: list[tuple[object, type[Any]]] = [
        (_balance("b", "-1.50", note="n", pair="p", cause="c", document_id=None), Balance),
        (_balance("b", "1.234", "KWD", type=BalanceType.SETTLEMENT), Balance),
        (
            PaymentEntry(
                id="E1",
                amount=juston.money("-119.00", "EUR"),
                booking_date=date(2026, 2, 3),
                payer_iban="DE89370400440532013000",
                value_date=date(2026, 2, 4),
                foreign_amount=juston.money("130.5", "USD"),
                status=EntryStatus.ASSIGNED,
                account_id="C1",
                document_ids=["D1", "D2"],
            ),
            PaymentEntry,
        ),
        (
            ImportedFile(name="a.xml", digest="d", imported_on=date(2026, 2, 3), entries=4),
            ImportedFile,
        ),
        (mandate, Mandate),
        (attrs.evolve(mandate, reference="M-2", bic=None, scheme="CORE", revoked_on=None), Mandate),
        (
            InstallmentPlan(
                document_id="D1",
                installments=(
                    Installment(due_date=date(2026, 2, 1), amount=juston.money("60", "EUR")),
                    Installment(due_date=date(2026, 3, 1), amount=juston.money("59.00", "EUR")),
                ),
            ),
            InstallmentPlan,
        ),
    ]
    for value, cls in values:
        loaded = codec.loads(codec.dumps(value, cls), cls)
        assert loaded == value
        assert fingerprint(loaded) == fingerprint(value)
    plan = values[-1][0]
    assert isinstance(plan, InstallmentPlan)
    assert str(plan.installments[0].amount.amount) == "60"
    assert isinstance(codec.loads(codec.dumps(values[2][0]), PaymentEntry).document_ids, tuple)


def test_minor_units_are_exact() -> None:
    assert sql_schema.minor_units(Decimal("119.5"), "EUR") == 11950
    assert sql_schema.minor_units(Decimal("1E+2"), "JPY") == 100
    assert sql_schema.from_minor_units(-1, "KWD") == Decimal("-0.001")
    with pytest.raises(ValidationError, match="minor unit of EUR"):
        sql_schema.minor_units(Decimal("0.001"), "EUR")
