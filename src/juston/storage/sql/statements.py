"""The SQL store's statements, built once.

Building a SQLAlchemy statement costs more than running a small one; these are built at
import with bound parameters and reused, so SQLAlchemy also reuses their compiled form.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from .schema import (
    accounts,
    balances,
    charges,
    company,
    counters,
    documents,
    dunning_blocks,
    dunnings,
    imported_files,
    installment_plans,
    mandates,
    payment_entries,
    subscriptions,
)

_ids: sa.BindParameter[Any] = sa.bindparam("ids", expanding=True)

select_company = sa.select(company.c.body)
select_account = sa.select(accounts.c.body).where(accounts.c.id == sa.bindparam("id"))
account_exists = sa.select(accounts.c.id).where(accounts.c.id == sa.bindparam("id"))
select_accounts_after = (
    sa.select(accounts.c.body)
    .where(accounts.c.id > sa.bindparam("after"))
    .order_by(accounts.c.id)
    .limit(sa.bindparam("limit"))
)
select_accounts_by_id = sa.select(accounts.c.id, accounts.c.body).where(accounts.c.id.in_(_ids))
select_account_ids_after = (
    sa.select(accounts.c.id)
    .where(accounts.c.id > sa.bindparam("after"))
    .order_by(accounts.c.id)
    .limit(sa.bindparam("limit"))
)
select_known_accounts = sa.select(accounts.c.id).where(accounts.c.id.in_(_ids))
count_accounts = sa.select(sa.func.count()).select_from(accounts)

select_subscriptions = (
    sa.select(subscriptions.c.account_id, subscriptions.c.body)
    .where(subscriptions.c.account_id.in_(_ids))
    .order_by(subscriptions.c.account_id, subscriptions.c.number)
)
select_terms = (
    sa.select(documents.c.account_id, documents.c.terms)
    .where(documents.c.account_id.in_(_ids))
    .order_by(documents.c.seq)
)

#: What a document is read back from (see ``bodies.Documents.load``).
_document_columns = (
    documents.c.seq,
    documents.c.body,
    documents.c.seller,
    documents.c.status,
    documents.c.number,
    documents.c.invoice_date,
    documents.c.due_date,
    documents.c.cancelled_by,
    documents.c.terms,
)
select_documents_in = sa.select(*_document_columns).where(documents.c.seq.in_(_ids))

#: What a document is finalized from (see ``bodies.Documents.headers``): its columns and,
#: picked out of the body by the database (every format has them there), the payment
#: terms as JSON text and the buyer's payment method.
_HEADERS = {
    "sqlite": "SELECT seq, status, account_id, number, invoice_date, due_date, kind, "
    "currency, total, seller, json_extract(body, '$.payment_terms'), "
    "json_extract(body, '$.buyer.payment_method') FROM documents",
    "postgresql": "SELECT seq, status, account_id, number, invoice_date, due_date, kind, "
    "currency, total, seller, body::json ->> 'payment_terms', "
    "body::json -> 'buyer' ->> 'payment_method' FROM documents",
}


@functools.cache
def select_draft_headers(dialect: str, lock: bool) -> str:
    """Driver-level SQL for the headers of up to a number of documents of a status after
    a row (parameters: status, row, number), in row order; with *lock*, locked until the
    transaction ends."""
    mark = _mark(dialect)
    query = f"{_HEADERS[dialect]} WHERE status = {mark} AND seq > {mark} ORDER BY seq LIMIT {mark}"
    return query + (" FOR UPDATE" if lock else "")


@functools.cache
def select_headers(dialect: str, lock: bool, count: int) -> str:
    """Driver-level SQL for the headers of the documents in *count* rows (one parameter
    each); with *lock*, locked until the transaction ends."""
    marks = ", ".join([_mark(dialect)] * count)
    query = f"{_HEADERS[dialect]} WHERE seq IN ({marks})"
    return query + (" FOR UPDATE" if lock else "")


select_document = sa.select(*_document_columns).where(documents.c.seq == sa.bindparam("seq"))
document_exists = sa.select(documents.c.seq).where(documents.c.seq == sa.bindparam("seq"))
update_document = sa.update(documents).where(documents.c.seq == sa.bindparam("_seq"))
delete_document = sa.delete(documents).where(documents.c.seq == sa.bindparam("_seq"))


@functools.cache
def insert_parts(dialect: str) -> str:
    """Driver-level SQL that stores a document part (digest, body) unless it is stored."""
    return driver_insert(dialect, "document_parts", ("digest", "body")) + (
        " ON CONFLICT (digest) DO NOTHING"
    )


select_counter = sa.select(counters.c.value).where(counters.c.sequence == sa.bindparam("sequence"))
advance_counter = (
    sa.update(counters)
    .where(counters.c.sequence == sa.bindparam("_sequence"))
    .values(value=counters.c.value + sa.bindparam("count"))
    .returning(counters.c.value)
)


@functools.cache
def select_documents(filters: frozenset[str], lock: bool) -> Any:
    """A page of documents after ``after`` whose *filters* columns equal their parameters."""
    return _page(documents, _document_columns, filters, lock)


def _page(table: sa.Table, columns: Sequence[Any], filters: frozenset[str], lock: bool) -> Any:
    """Up to ``limit`` rows of *table* after row ``seq`` ``after`` in ``seq`` order, whose
    *filters* columns equal their parameters; with *lock*, locked until the transaction ends."""
    query = (
        sa.select(*columns)
        .where(table.c.seq > sa.bindparam("after"), *_equal(table, filters))
        .order_by(table.c.seq)
        .limit(sa.bindparam("limit"))
    )
    return query.with_for_update() if lock else query


def _equal(table: sa.Table, columns: frozenset[str]) -> list[Any]:
    """Each of *columns* equal to the parameter of its name."""
    return [table.c[column] == sa.bindparam(column) for column in sorted(columns)]


select_charges = sa.select(
    charges.c.account_id, charges.c.source, charges.c.key, charges.c.body
).where(charges.c.account_id.in_(_ids))
delete_charge = sa.delete(charges).where(
    charges.c.source == sa.bindparam("_source"), charges.c.key == sa.bindparam("_key")
)

# --- driver-level statements: rows as tuples, no per-value processing in SQLAlchemy -------
#
# For the writes that come by the hundred thousand (documents, their headers, balances):
# SQLAlchemy's per-row parameter processing costs several times what SQLite needs to store
# the row. Values are passed as the driver takes them (see ``store._SqlTransaction._driver_rows``).


def _mark(dialect: str) -> str:
    """The driver's parameter mark."""
    return "?" if dialect == "sqlite" else "%s"


@functools.cache
def driver_insert(dialect: str, table: str, columns: tuple[str, ...]) -> str:
    """Driver-level SQL that inserts one row of *columns* per parameter tuple."""
    mark = _mark(dialect)
    names = ", ".join(f'"{name}"' for name in columns)
    return f'INSERT INTO "{table}" ({names}) VALUES ({", ".join(mark for _ in columns)})'


@functools.cache
def driver_update(dialect: str, table: str, columns: tuple[str, ...], key: str) -> str:
    """Driver-level SQL that sets *columns* of the row whose *key* is the last parameter."""
    mark = _mark(dialect)
    values = ", ".join(f'"{name}" = {mark}' for name in columns)
    return f'UPDATE "{table}" SET {values} WHERE "{key}" = {mark}'


#: The largest document row number ever given out on SQLite (``AUTOINCREMENT`` keeps it in
#: ``sqlite_sequence``): a transaction that holds the write lock numbers its new rows on.
last_document_seq = (
    "SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'documents'), 0), "
    "coalesce((SELECT max(seq) FROM documents), 0))"
)


#: Row numbers for new documents on PostgreSQL (parameter: how many), from the sequence
#: of the ``seq`` column.
next_document_seqs = (
    "SELECT nextval(pg_get_serial_sequence('documents', 'seq')) FROM generate_series(1, %s)"
)


def _insert(dialect: str, table: sa.Table) -> Any:
    return (postgresql if dialect == "postgresql" else sqlite).insert(table)


@functools.cache
def insert_counter(dialect: str) -> Any:
    """Create a counter unless it exists (both dialects spell this differently)."""
    return _insert(dialect, counters).on_conflict_do_nothing()


#: The tables whose rows are put whole: added, or replaced by their key.
_PUT = (
    company,
    accounts,
    subscriptions,
    charges,
    payment_entries,
    mandates,
    installment_plans,
    dunning_blocks,
)


@functools.cache
def upsert(dialect: str, table_name: str) -> Any:
    """Insert a row or, if its key exists, overwrite its other columns."""
    table = {t.name: t for t in _PUT}[table_name]
    statement = _insert(dialect, table)
    keys = [c.name for c in table.primary_key.columns]
    values = {c.name: statement.excluded[c.name] for c in table.columns if c.name not in keys}
    return statement.on_conflict_do_update(index_elements=keys, set_=values)


# --- receivables -------------------------------------------------------------------------


@functools.cache
def select_balances(filters: frozenset[str]) -> Any:
    """Balances whose *filters* columns equal their parameters, in the order added."""
    return sa.select(balances.c.body).where(*_equal(balances, filters)).order_by(balances.c.seq)


select_balances_of = (
    sa.select(balances.c.account_id, balances.c.body)
    .where(balances.c.account_id.in_(_ids))
    .order_by(balances.c.seq)
)
select_known_balances = sa.select(balances.c.id).where(balances.c.id.in_(_ids))
insert_balances = sa.insert(balances)


@functools.cache
def open_documents(of_accounts: bool) -> Any:
    """Per document (of the accounts ``ids`` if *of_accounts*) whose balances do not sum
    to zero: its id, the sum, and its first balance's account, currency, date, type and
    cause."""
    b = balances.c
    sums = (
        sa.select(
            b.document_id,
            sa.func.sum(b.amount).label("open"),
            sa.func.min(b.seq).label("first"),
        )
        .where(b.document_id.is_not(None), *([b.account_id.in_(_ids)] if of_accounts else []))
        .group_by(b.document_id)
        .having(sa.func.sum(b.amount) != 0)
        .subquery("sums")
    )
    return sa.select(
        sums.c.document_id, b.account_id, sums.c.open, b.currency, b.date, b.type, b.cause
    ).join_from(sums, balances, b.seq == sums.c.first)


select_entry = sa.select(payment_entries.c.body).where(payment_entries.c.id == sa.bindparam("id"))


@functools.cache
def select_entries(filters: frozenset[str], dialect: str) -> Any:
    """A page of payment entries after (``after_date``, ``after_id``) in (booking date,
    id) order whose *filters* columns equal their parameters."""
    e = payment_entries.c
    # Ids in code point order, as Python orders text (PostgreSQL's "C" collation).
    entry_id = e.id.collate("C") if dialect == "postgresql" else e.id
    after = sa.bindparam("after_date", type_=sa.Date)
    return (
        sa.select(e.body)
        .where(
            sa.or_(
                e.booking_date > after,
                sa.and_(e.booking_date == after, entry_id > sa.bindparam("after_id")),
            ),
            *_equal(payment_entries, filters),
        )
        .order_by(e.booking_date, entry_id)
        .limit(sa.bindparam("limit"))
    )


@functools.cache
def insert_imported_file(dialect: str) -> Any:
    """Record a file unless its name or digest is recorded already; returns its name if
    it recorded it."""
    statement = _insert(dialect, imported_files).on_conflict_do_nothing()
    return statement.returning(imported_files.c.name)


_file = imported_files.c
select_imported_file = (
    sa.select(_file.name, _file.digest, _file.imported_on, _file.entries)
    .where(sa.or_(_file.name == sa.bindparam("name"), _file.digest == sa.bindparam("digest")))
    .order_by(_file.seq)
    .limit(1)
)

select_mandates = sa.select(mandates.c.body).where(mandates.c.account_id == sa.bindparam("id"))
select_plans = sa.select(installment_plans.c.document_id, installment_plans.c.body).where(
    installment_plans.c.document_id.in_(_ids)
)


# --- dunning -----------------------------------------------------------------------------

#: What a dunning is read back from (see ``store._dunning``).
_dunning_columns = (dunnings.c.seq, dunnings.c.body)
select_dunning = sa.select(*_dunning_columns).where(dunnings.c.seq == sa.bindparam("seq"))
insert_dunning = sa.insert(dunnings).returning(dunnings.c.seq)
update_dunning = sa.update(dunnings).where(dunnings.c.seq == sa.bindparam("_seq"))
delete_dunning = sa.delete(dunnings).where(dunnings.c.seq == sa.bindparam("_seq"))


@functools.cache
def select_dunnings(filters: frozenset[str], lock: bool) -> Any:
    """A page of dunnings after ``after`` whose *filters* columns equal their parameters."""
    return _page(dunnings, _dunning_columns, filters, lock)


select_dunning_blocks = sa.select(dunning_blocks.c.key, dunning_blocks.c.body)
delete_dunning_block = sa.delete(dunning_blocks).where(dunning_blocks.c.key == sa.bindparam("_key"))
