"""The SQL store's statements, built once.

Building a SQLAlchemy statement costs more than running a small one; these are built at
import with bound parameters and reused, so SQLAlchemy also reuses their compiled form.
"""

from __future__ import annotations

import functools
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from .schema import accounts, company, counters, documents, subscriptions

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
    query = (
        sa.select(*_document_columns)
        .where(documents.c.seq > sa.bindparam("after"))
        .order_by(documents.c.seq)
        .limit(sa.bindparam("limit"))
    )
    for column in sorted(filters):
        query = query.where(documents.c[column] == sa.bindparam(column))
    return query.with_for_update() if lock else query


def _insert(dialect: str, table: sa.Table) -> Any:
    return (postgresql if dialect == "postgresql" else sqlite).insert(table)


@functools.cache
def insert_counter(dialect: str) -> Any:
    """Create a counter unless it exists (both dialects spell this differently)."""
    return _insert(dialect, counters).on_conflict_do_nothing()


@functools.cache
def upsert(dialect: str, table_name: str) -> Any:
    """Insert a row or, if its key exists, overwrite its other columns."""
    table = {t.name: t for t in (company, accounts, subscriptions)}[table_name]
    statement = _insert(dialect, table)
    keys = [c.name for c in table.primary_key.columns]
    values = {c.name: statement.excluded[c.name] for c in table.columns if c.name not in keys}
    return statement.on_conflict_do_update(index_elements=keys, set_=values)
