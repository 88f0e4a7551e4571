"""How the SQL store keeps documents (``juston.storage.sql.bodies``): format 2 with shared
parts is written, format 1 (before schema version 6) is still read and finalized in
place, and downgrading below version 6 writes format 1 back. On SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

import attrs
import orjson
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory

import juston
from juston.errors import StorageError
from juston.model.documents import Invoice
from juston.model.receivables import Balance, BalanceType
from juston.model.subscriptions import Item, Subscription
from juston.storage import codec
from juston.storage.sql import SqlStore
from juston.storage.sql import store as sql_store
from juston.storage.sql.bodies import FORMAT, Documents, row_v1
from juston.storage.sql.migrate import config, current_version, head_version
from juston.storage.sql.schema import document_parts, documents
from juston.testing import sample_store
from juston.testing.conformance import (
    _billed_documents,
    _comparable,
    _comparable_receivables,
    copy_master_data,
    fingerprint,
)
from test_direct_debit_documents import customer, mandate, new_store


@pytest.fixture
def store(url: str) -> Iterator[SqlStore]:
    opened = SqlStore.open(url)
    try:
        yield opened
    finally:
        opened.close()


def _master(store: SqlStore, accounts: int = 6) -> None:
    copy_master_data(sample_store(accounts=accounts), store)


def _with_accounts(store: SqlStore, docs: Sequence[Invoice]) -> None:
    """Put the buyers of *docs* (as accounts) and their seller, so rows may refer to them."""
    with store.transaction() as tx:
        tx.put_company(docs[0].seller)
        for account in {d.buyer.id: d.buyer for d in docs}.values():
            tx.put_account(account)


def _insert_v1(store: SqlStore, docs: Sequence[Invoice]) -> list[Invoice]:
    """Store *docs* as rows in format 1, as juston wrote them before schema version 6."""
    with store.engine.begin() as conn:
        seqs = conn.execute(
            sa.insert(documents).returning(documents.c.seq, sort_by_parameter_order=True),
            [row_v1(d) for d in docs],
        ).scalars()
        return [attrs.evolve(d, id=f"D{seq:08d}") for d, seq in zip(docs, seqs, strict=True)]


def _column(store: SqlStore, name: str) -> list[Any]:
    with store.engine.connect() as conn:
        return list(conn.scalars(sa.select(documents.c[name]).order_by(documents.c.seq)))


def _formats(store: SqlStore) -> list[int]:
    return [orjson.loads(body).get("v", 1) for body in _column(store, "body")]


def _assert_exact(loaded: object, original: object) -> None:
    assert loaded == original
    assert fingerprint(loaded) == fingerprint(original)


def _cycle(store: SqlStore) -> None:
    """Finalized invoices, a cancellation, drafts: what a store holds after some months."""
    finals = juston.finalize(store, juston.invoice_run(store, date(2026, 1, 1)).documents)
    juston.cancel(store, finals[0], cancellation_date=date(2026, 1, 20))
    juston.invoice_run(store, date(2026, 2, 1))


def _held(store: SqlStore) -> list[tuple[str, str]]:
    """The store's documents and billed terms, as one fingerprint."""
    accounts = [a.id for a in store.accounts()]
    return fingerprint(
        {
            "documents": list(store.documents()),
            "terms": [list(store.billed_terms(a)) for a in accounts],
        }
    )


# ------------------------------------------------------------------ format 2


def test_documents_are_written_in_format_2_with_shared_parts(store: SqlStore) -> None:
    _master(store, accounts=12)
    made = juston.invoice_run(store, date(2026, 2, 1)).documents
    assert set(_formats(store)) == {FORMAT}
    contents = {codec.dumps(line.content, type(line.content)) for d in made for line in d.lines}
    with store.engine.connect() as conn:
        parts = conn.scalar(sa.select(sa.func.count()).select_from(document_parts))
    # One part per distinct line content, one for the seller: fewer than there are lines.
    assert parts == len(contents) + 1
    assert parts < sum(len(d.lines) for d in made)
    # Read by a store that has seen none of it.
    again = SqlStore.open(store.share())
    try:
        for document in made:
            _assert_exact(again.document(document.id or ""), document)
    finally:
        again.close()


def test_every_kind_of_document_round_trips_through_a_fresh_store(store: SqlStore) -> None:
    originals = _billed_documents()
    _with_accounts(store, originals)
    with store.transaction() as tx:
        added = tx.add_documents([attrs.evolve(d, id=None) for d in originals])
    fresh = SqlStore.open(store.share())
    try:
        for original, stored in zip(originals, added, strict=True):
            expected = attrs.evolve(original, id=stored.id)
            _assert_exact(fresh.document(stored.id or ""), expected)
            assert list(fresh.billed_terms(original.account_id)) == [
                t for d in added if d.account_id == original.account_id for t in d.terms()
            ]
    finally:
        fresh.close()


def test_parts_of_a_rolled_back_transaction_are_written_again(store: SqlStore) -> None:
    _master(store, accounts=3)
    drafts = juston.invoice_run(store, date(2026, 2, 1), dry_run=True).documents
    with pytest.raises(RuntimeError), store.transaction() as tx:
        tx.add_documents(drafts)
        raise RuntimeError("boom")
    with store.engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(document_parts)) == 0
    with store.transaction() as tx:
        added = tx.add_documents(drafts)
    fresh = SqlStore.open(store.share())
    try:
        assert list(fresh.documents()) == added
    finally:
        fresh.close()


def test_a_missing_part_is_a_storage_error(store: SqlStore) -> None:
    _master(store, accounts=1)
    (draft,) = juston.invoice_run(store, date(2026, 2, 1)).documents
    with store.engine.begin() as conn:
        conn.execute(sa.delete(document_parts))
    fresh = SqlStore.open(store.share())
    try:
        with pytest.raises(StorageError, match=r"document part .* not stored"):
            fresh.document(draft.id or "")
    finally:
        fresh.close()


def test_a_damaged_body_is_a_storage_error_naming_the_document(store: SqlStore) -> None:
    _master(store, accounts=1)
    (draft,) = juston.invoice_run(store, date(2026, 2, 1)).documents
    with store.engine.begin() as conn:
        body = orjson.loads(conn.scalar(sa.select(documents.c.body)))
        del body["payment_terms"]
        conn.execute(sa.update(documents).values(body=orjson.dumps(body).decode()))
    with pytest.raises(StorageError, match=f"stored Invoice {draft.id}"):
        store.document(draft.id or "")


# ------------------------------------------------------------------ format 1


def test_format_1_rows_are_read_exactly(store: SqlStore) -> None:
    originals = _billed_documents()
    _with_accounts(store, originals)
    stored = _insert_v1(store, originals)
    assert set(_formats(store)) == {1}
    _assert_exact(list(store.documents()), stored)
    for account_id in {d.account_id for d in stored}:
        expected = [t for d in stored if d.account_id == account_id for t in d.terms()]
        _assert_exact(list(store.billed_terms(account_id)), expected)


def test_format_1_drafts_are_finalized_in_place_and_billed_once(store: SqlStore) -> None:
    _master(store)
    drafts = juston.invoice_run(sample_store(accounts=6), date(2026, 2, 1)).documents
    stored = _insert_v1(store, [attrs.evolve(d, id=None) for d in drafts])
    bodies = _column(store, "body")
    finals = juston.finalize(store)
    assert [d.id for d in finals] == [d.id for d in stored]
    assert _column(store, "body") == bodies  # the header columns changed, nothing else
    _assert_exact(list(store.documents()), finals)
    # The next run reads what format-1 rows billed and bills nothing twice.
    assert juston.invoice_run(store, date(2026, 2, 1)).documents == ()
    # New documents beside them are format 2, and both are read in one page.
    juston.invoice_run(store, date(2026, 3, 1))
    assert set(_formats(store)) == {1, FORMAT}
    fresh = SqlStore.open(store.share())
    try:
        _assert_exact(_held(fresh), _held(store))
    finally:
        fresh.close()


def test_a_format_1_document_written_whole_becomes_format_2(store: SqlStore) -> None:
    originals = _billed_documents()[:2]
    _with_accounts(store, originals)
    first, second = _insert_v1(store, originals)
    with store.transaction() as tx:
        loaded = tx.document(first.id or "")
        tx.replace_document(attrs.evolve(loaded, lines=loaded.lines[:1]))
    assert _formats(store) == [FORMAT, 1]
    _assert_exact(store.document(first.id or ""), attrs.evolve(first, lines=first.lines[:1]))
    _assert_exact(store.document(second.id or ""), second)


# ------------------------------------------------------------------ schema version 6


def _earlier_versions() -> list[str]:
    scripts = ScriptDirectory.from_config(config())
    return sorted(r.revision for r in scripts.walk_revisions() if r.revision != head_version())


@pytest.mark.parametrize("version", _earlier_versions())
def test_downgrading_writes_format_1_and_upgrading_again_keeps_every_document(
    url: str, version: str
) -> None:
    store = SqlStore.open(url)
    _master(store)
    _cycle(store)
    held = _held(store)
    assert set(_formats(store)) == {FORMAT}
    with store.engine.begin() as conn:
        command.downgrade(config(conn), version)
        assert current_version(conn) == version
        assert "document_parts" not in sa.inspect(conn).get_table_names()
    assert set(_formats(store)) == {1}
    url = store.share()
    store.close()

    upgraded = SqlStore.open(url)
    try:
        with upgraded.engine.connect() as conn:
            assert current_version(conn) == head_version()
        _assert_exact(_held(upgraded), held)
        # And it goes on billing from there.
        assert juston.invoice_run(upgraded, date(2026, 2, 1)).documents == ()
    finally:
        upgraded.close()


def test_format_1_is_what_the_codec_wrote_before() -> None:
    # Format 1 is the codec's JSON of the whole document minus the header, id and seller.
    document = _billed_documents()[0]
    row = row_v1(document)
    body = orjson.loads(row["body"])
    assert body == {
        **orjson.loads(codec.dumps(document, Invoice)),
        "id": None,
        "seller": None,
        "status": None,
        "number": None,
        "invoice_date": None,
        "due_date": None,
        "cancelled_by": None,
    }
    assert codec.loads(row["seller"], juston.Company) == document.seller
    assert row["terms"] == codec.dumps(tuple(document.terms()), tuple[juston.Term, ...])


def test_a_page_mixing_formats_reads_each_row_in_its_own() -> None:
    docs = Documents()
    originals = _billed_documents()[:3]
    parts: dict[str, str] = {}
    rows: list[tuple[Any, ...]] = []
    for seq, document in enumerate(originals, start=1):
        columns = row_v1(document) if seq == 2 else docs.row(document, parts)
        rows.append(
            (
                seq,
                columns["body"],
                columns["seller"],
                columns["status"],
                columns["number"],
                columns["invoice_date"],
                columns["due_date"],
                columns["cancelled_by"],
                columns["terms"],
            )
        )
    engine = sa.create_engine("sqlite://")
    document_parts.create(engine)
    with engine.begin() as conn:
        conn.execute(
            sa.insert(document_parts), [{"digest": k, "body": v} for k, v in parts.items()]
        )
        loaded = Documents().load(conn, rows)
    expected = [attrs.evolve(d, id=f"D{n:08d}") for n, d in enumerate(originals, start=1)]
    _assert_exact(loaded, expected)


# ------------------------------------------------------------------ faster codec paths


def test_alike_stored_items_are_read_once_and_shared() -> None:
    subscription = sample_store(accounts=1).subscriptions("C0000001")[0]
    other = attrs.evolve(subscription, number="S-other", account_id="C-other")
    first = codec.loads(codec.dumps(subscription), Subscription)
    second = codec.loads(codec.dumps(other), Subscription)
    assert first == subscription and second == other
    assert all(a is b for a, b in zip(first.items, second.items, strict=True))
    # A different item is its own value; a built item passes through.
    changed = attrs.evolve(subscription.items[0], quantity=Decimal("7.50"))
    back = codec.loads(codec.dumps(changed, Item), Item)
    assert back == changed and str(back.quantity) == "7.50"
    assert codec.structure(changed, Item) is changed


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"document_id": None, "type": BalanceType.PREPAYMENT, "amount": "-10.00"},
        {"cause": "INV-1", "pair": "settle:D2:D1", "note": 'a "quoted" note ✓'},
        {"amount": "-1234.567", "currency": "KWD"},
    ],
)
def test_the_fast_balance_encoding_is_the_codecs(fields: dict[str, Any]) -> None:
    amount = fields.pop("amount", "119.00")
    code = fields.pop("currency", "EUR")
    balance = Balance(
        **{
            "id": "invoice:D1",
            "account_id": "C-1",
            "document_id": "D1",
            "type": BalanceType.INVOICE,
            "amount": juston.money(amount, code),
            "date": date(2026, 2, 1),
            **fields,
        }
    )
    assert codec.dumps_balance(balance) == codec.dumps(balance, Balance)
    assert codec.loads(codec.dumps_balance(balance), Balance) == balance


def test_driver_level_writes_turn_exactly_the_date_and_amount_columns_into_text() -> None:
    columns = ("seq", "invoice_date", "total", "body", "due_date", "net_total", "number")
    assert sql_store._sqlite_text("documents", columns) == (1, 2, 4, 5)
    assert sql_store._sqlite_text("balances", ("id", "amount", "date", "cause")) == (2,)
    assert sql_store._sqlite_text("document_parts", ("digest", "body")) == ()


def test_the_header_finalizing_reads_is_picked_from_the_body_by_the_database(
    store: SqlStore,
) -> None:
    _master(store, accounts=6)
    juston.invoice_run(store, date(2026, 2, 1))
    drafts = list(store.documents())
    with store.transaction() as tx:
        headers = list(tx.draft_headers())
    assert [h.id for h in headers] == [d.id for d in drafts]
    for header, draft in zip(headers, drafts, strict=True):
        assert (header.total, str(header.total.amount)) == (draft.total, str(draft.total.amount))
        assert header.payment_terms == draft.payment_terms
        assert header.payment_method == draft.buyer.payment_method
        assert (header.invoice_date, header.due_date) == (draft.invoice_date, draft.due_date)
        assert (header.kind, header.status, header.seller) == (
            draft.kind,
            draft.status,
            draft.seller,
        )
    # The terms are read once per distinct stored text and shared.
    assert len({id(h.payment_terms) for h in headers}) == len({h.payment_terms for h in headers})


def test_the_fast_tax_breakdown_encoding_is_the_codecs() -> None:
    breakdowns = [d.tax_breakdown for d in _billed_documents()]
    assert any(s.exemption_code for b in breakdowns for s in b)  # every field exercised
    for breakdown in breakdowns:
        data = Documents._breakdown(breakdown)
        assert data == codec.unstructure(breakdown, tuple[juston.TaxSubtotal, ...])
        assert orjson.dumps(data) == orjson.dumps(codec.unstructure(breakdown, type(breakdown)))


# ------------------------------------------------------------------ finalizing by header


def _debit_customers(store: juston.Store) -> None:
    """Invoices to collect by direct debit (with and without a mandate) and by transfer."""
    new_store(store)
    customer(store, "C-1", mandates=[mandate("C-1")])
    customer(store, "C-2", method=None)
    customer(store, "C-3")  # pays by direct debit, but has no mandate
    customer(store, "C-4", mandates=[mandate("C-4")], currency="CHF")
    juston.invoice_run(store, date(2026, 1, 1))


@pytest.mark.parametrize("collect", [True, False])
def test_finalizing_by_header_gives_what_finalizing_whole_documents_gives(
    url: str, collect: bool
) -> None:
    memory = juston.MemoryStore()
    store = SqlStore.open(url)
    try:
        finalized: dict[str, list[Invoice]] = {}
        for name, each in (("memory", memory), ("sql", store)):
            _debit_customers(each)
            drafts = [d.id or "" for d in each.documents()]
            # Some by id, in another order and re-dated; then every draft left.
            first = juston.finalize(
                each, drafts[:-3:-1], invoice_date=date(2026, 1, 5), collect=collect
            )
            finalized[name] = first + juston.finalize(each, collect=collect)
        assert fingerprint(_comparable(finalized["sql"])) == fingerprint(
            _comparable(finalized["memory"])
        )
        stored = {"memory": list(memory.documents()), "sql": list(store.documents())}
        assert fingerprint(_comparable(stored["sql"])) == fingerprint(_comparable(stored["memory"]))
        assert any(d.direct_debit for d in stored["sql"])
        assert _comparable_receivables(store, stored["sql"]) == _comparable_receivables(
            memory, stored["memory"]
        )
        if collect:
            _assert_exact(finalized["sql"], [store.document(d.id or "") for d in finalized["sql"]])
        else:
            assert finalized["sql"] == []
    finally:
        store.close()


def test_finalizing_by_header_refuses_what_finalizing_whole_documents_refuses(
    store: SqlStore,
) -> None:
    _master(store, accounts=3)
    drafts = juston.invoice_run(store, date(2026, 2, 1)).documents
    juston.finalize(store, [drafts[0]])
    held = _held(store)
    with pytest.raises(juston.NotADraft):
        juston.finalize(store, [drafts[1], drafts[0]])
    with pytest.raises(juston.NotFound):
        juston.finalize(store, [drafts[1], "D99999999"])
    with pytest.raises(juston.NotFound):
        juston.finalize(store, [drafts[1], "no such id"])
    assert _held(store) == held  # nothing numbered, nothing booked
    with store.transaction() as tx:
        assert tx.next_number(f"{drafts[0].seller.id}/invoice/2026") == 2
