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

from ...model.usage import Aggregation
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
    usage_records,
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

#: What a document is read back from (see ``store._Documents.load``).
_document_columns = (
    documents.c.seq,
    documents.c.body,
    documents.c.seller,
    documents.c.status,
    documents.c.number,
    documents.c.invoice_date,
    documents.c.due_date,
    documents.c.cancelled_by,
)
select_document = sa.select(*_document_columns).where(documents.c.seq == sa.bindparam("seq"))
document_exists = sa.select(documents.c.seq).where(documents.c.seq == sa.bindparam("seq"))
insert_documents = sa.insert(documents).returning(documents.c.seq, sort_by_parameter_order=True)
update_document = sa.update(documents).where(documents.c.seq == sa.bindparam("_seq"))
delete_document = sa.delete(documents).where(documents.c.seq == sa.bindparam("_seq"))

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


select_known_usage = sa.select(usage_records.c.id).where(usage_records.c.id.in_(_ids))

select_charges = sa.select(
    charges.c.account_id, charges.c.source, charges.c.key, charges.c.body
).where(charges.c.account_id.in_(_ids))
delete_charge = sa.delete(charges).where(
    charges.c.source == sa.bindparam("_source"), charges.c.key == sa.bindparam("_key")
)

#: The columns of a usage row, in the order :func:`insert_usage` takes them.
USAGE_COLUMNS = (
    "id",
    "account_id",
    "subscription",
    "item_id",
    "period_start",
    "day",
    "at",
    "quantity",
    "unit_price",
    "currency",
    "criterion",
    "invoice_criterion",
    "properties",
    "body",
)


@functools.cache
def insert_usage(dialect: str) -> str:
    """Driver-level SQL that inserts usage rows, skipping ids already stored.

    Each row is a tuple of :data:`USAGE_COLUMNS` (dates as ISO text, properties as JSON
    text). SQLite takes one tuple per row (``executemany``). PostgreSQL takes all rows as
    one JSON array of arrays and inserts them in one statement, so its row count is exact;
    one text parameter costs the driver far less than a parameter per value.
    """
    names = ", ".join(f'"{name}"' for name in USAGE_COLUMNS)
    if dialect == "postgresql":
        # ->> gives text (exact for numbers too); assigning it to a VARCHAR(n) column
        # refuses a value too long, where a cast would cut it silently.
        casts = {"period_start": "date", "day": "date", "at": "bigint", "quantity": "bigint"}
        casts["properties"] = "json"
        picked = ", ".join(
            f"(e->>{n})::{casts[name]}" if name in casts else f"e->>{n}"
            for n, name in enumerate(USAGE_COLUMNS)
        )
        return (
            f"INSERT INTO usage_records ({names}) SELECT {picked} "
            "FROM jsonb_array_elements(%s::jsonb) AS e ON CONFLICT (id) DO NOTHING"
        )
    marks = ", ".join("?" for _ in USAGE_COLUMNS)
    return f"INSERT INTO usage_records ({names}) VALUES ({marks}) ON CONFLICT (id) DO NOTHING"


#: What a usage total is grouped by.
_GROUP = (
    usage_records.c.account_id,
    usage_records.c.subscription,
    usage_records.c.item_id,
    usage_records.c.period_start,
    usage_records.c.criterion,
    usage_records.c.invoice_criterion,
    usage_records.c.unit_price,
)


#: Usage items per totals query: SQLite binds each value on its own (SQLite allows 32,766
#: parameters), PostgreSQL takes three arrays.
ITEMS_PER_QUERY = {"sqlite": 500, "postgresql": 10_000}


def usage_items(dialect: str, items: Sequence[tuple[str, str, str]]) -> dict[str, Any]:
    """The parameters of :func:`usage_totals` that name the (distinct) usage *items*, each
    an (account id, subscription number, item id)."""
    if dialect == "postgresql":
        return {
            "account_ids": [account_id for account_id, _, _ in items],
            "numbers": [number for _, number, _ in items],
            "item_ids": [item_id for _, _, item_id in items],
        }
    return {"items": items, "accounts": sorted({account_id for account_id, _, _ in items})}


def _asked(dialect: str) -> tuple[Any, Any]:
    """The usage rows of the items asked for: what to select from, and where."""
    u = usage_records.c
    if dialect == "postgresql":
        # A join with the items, each found through the index.
        arrays = (
            sa.bindparam(name, type_=postgresql.ARRAY(sa.Text))
            for name in ("account_ids", "numbers", "item_ids")
        )
        asked = (
            sa.func.unnest(*arrays)
            .table_valued("account_id", "subscription", "item_id")
            .render_derived(name="asked")
        )
        on = sa.and_(
            u.account_id == asked.c.account_id,
            u.subscription == asked.c.subscription,
            u.item_id == asked.c.item_id,
        )
        return usage_records.join(asked, on), None
    # The accounts alone as well: SQLite seeks the index for a list of values, but scans
    # all of it for a list of tuples.
    where = sa.and_(
        u.account_id.in_(sa.bindparam("accounts", expanding=True)),
        sa.tuple_(u.account_id, u.subscription, u.item_id).in_(
            sa.bindparam("items", expanding=True)
        ),
    )
    return usage_records, where


@functools.cache
def usage_totals(dialect: str, aggregation: Aggregation) -> Any:
    """The totals of the usage items named by :func:`usage_items`, one row per group (and
    day, for gauges): the group's columns, ``day``, ``quantity`` (in millionths, except for
    COUNT and UNIQUE_COUNT) and ``records``. UNIQUE_COUNT counts the distinct values of the
    record property named by the parameter ``prop``.
    """
    source, where = _asked(dialect)
    records = sa.func.count().label("records")
    if aggregation in (Aggregation.LATEST, Aggregation.TIME_WEIGHTED):
        day = usage_records.c.day if aggregation is Aggregation.TIME_WEIGHTED else sa.null()
        partition = (
            (*_GROUP, usage_records.c.day) if aggregation is Aggregation.TIME_WEIGHTED else _GROUP
        )
        # The latest instant wins; records at the same instant are ordered by id, in code
        # point order as Python orders text (PostgreSQL's "C" collation; SQLite's default).
        record_id: Any = usage_records.c.id
        if dialect == "postgresql":
            record_id = record_id.collate("C")
        ranked = (
            sa.select(
                *_GROUP,
                day.label("day"),
                usage_records.c.quantity,
                sa.func.row_number()
                .over(
                    partition_by=partition, order_by=(usage_records.c.at.desc(), record_id.desc())
                )
                .label("latest_first"),
                sa.func.count().over(partition_by=partition).label("records"),
            )
            .select_from(source)
            .where(*_just(where))
            .subquery("ranked")
        )
        return sa.select(
            *(ranked.c[c.name] for c in _GROUP),
            ranked.c.day,
            ranked.c.quantity,
            ranked.c.records,
        ).where(ranked.c.latest_first == 1)
    if aggregation is Aggregation.SUM:
        quantity: Any = sa.func.sum(usage_records.c.quantity)
    elif aggregation is Aggregation.COUNT:
        quantity = sa.func.count()
    elif aggregation is Aggregation.MAX:
        quantity = sa.func.max(usage_records.c.quantity)
    else:  # UNIQUE_COUNT: records without the property are not counted
        quantity = sa.func.count(sa.distinct(_property(dialect)))
    return (
        sa.select(*_GROUP, sa.null().label("day"), quantity.label("quantity"), records)
        .select_from(source)
        .where(*_just(where))
        .group_by(*_GROUP)
    )


def _just(condition: Any) -> tuple[Any, ...]:
    return () if condition is None else (condition,)


def _property(dialect: str) -> Any:
    """The value of the record property named by the parameter ``prop``, or NULL."""
    name = sa.bindparam("prop", type_=sa.Text)
    if dialect == "postgresql":
        return usage_records.c.properties.op("->>", return_type=sa.Text)(name)
    # json_each compares the unescaped names: a JSON path would trip over quotes and
    # backslashes in a name.
    each = sa.func.json_each(usage_records.c.properties).table_valued("key", "value")
    return sa.select(each.c.value).where(each.c.key == name).scalar_subquery()


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
