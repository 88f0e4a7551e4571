"""The tables of the SQL store (SQLAlchemy Core).

Each object is stored whole as exact JSON text (:mod:`juston.storage.codec`) in a
``body`` column; the columns beside it are copies of what queries filter, order or add
up by. Amounts are exact: ``NUMERIC`` on PostgreSQL, decimal text on SQLite (which has
no decimal type and would turn ``NUMERIC`` into binary floating point).

This module describes the newest schema; the migrations in ``migrations/versions``
build it step by step, and a test checks that both agree.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Date,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    TypeDecorator,
)
from sqlalchemy.types import TypeEngine

__all__ = [
    "Amount",
    "accounts",
    "charges",
    "company",
    "counters",
    "documents",
    "metadata",
    "subscriptions",
    "usage_records",
]


class Amount(TypeDecorator[Decimal]):
    """An exact decimal amount: ``NUMERIC`` where the database has it, text on SQLite."""

    impl = Numeric
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(40))
        return dialect.type_descriptor(Numeric(asdecimal=True))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None or dialect.name != "sqlite":
            return value
        return str(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(value)


# Constraint names follow one convention so that migrations can refer to them.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

company = Table(
    "company",
    metadata,
    # One row: the store holds one issuing company.
    Column("slot", Integer, primary_key=True, autoincrement=False),
    Column("id", String(200), nullable=False),
    Column("body", Text, nullable=False),
)

accounts = Table(
    "accounts",
    metadata,
    Column("id", String(200), primary_key=True),
    Column("name", String(500), nullable=False),
    Column("country", String(2), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("body", Text, nullable=False),
)

subscriptions = Table(
    "subscriptions",
    metadata,
    Column("account_id", String(200), ForeignKey("accounts.id"), primary_key=True),
    Column("number", String(200), primary_key=True),
    Column("body", Text, nullable=False),
)

documents = Table(
    "documents",
    metadata,
    # The document id is ``D`` + this number: unique across processes without a lock.
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("account_id", String(200), ForeignKey("accounts.id"), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("status", String(20), nullable=False),
    Column("number", String(200), unique=True),
    Column("currency", String(3), nullable=False),
    Column("invoice_date", Date, nullable=False),
    Column("due_date", Date, nullable=False),
    Column("billing_date", Date, nullable=False),
    Column("net_total", Amount, nullable=False),
    Column("tax_total", Amount, nullable=False),
    Column("total", Amount, nullable=False),
    Column("run_id", String(200)),
    Column("cancels", String(40)),
    Column("cancelled_by", String(40)),
    # The seller snapshot: the same text for every document of a company version.
    Column("seller", Text, nullable=False),
    Column("body", Text, nullable=False),
    # What the document billed, apart from the body: the next run reads only this.
    Column("terms", Text, nullable=False),
    Index(None, "account_id", "seq"),
    # Pages of documents by status or run are read in seq order.
    Index(None, "status", "seq"),
    Index(None, "run_id", "seq"),
    # Never hand a deleted document's id to a new one (SQLite reuses the largest otherwise).
    sqlite_autoincrement=True,
)

counters = Table(
    "counters",
    metadata,
    Column("sequence", String(300), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

usage_records = Table(
    "usage_records",
    metadata,
    # The record's own id: a record whose id is stored is a duplicate.
    Column("id", Text, primary_key=True),
    Column("account_id", String(200), nullable=False),
    Column("subscription", String(200), nullable=False),
    Column("item_id", Text, nullable=False),
    Column("period_start", Date, nullable=False),
    Column("day", Date, nullable=False),
    # The timestamp in microseconds since 1970-01-01 UTC: the exact order of instants.
    Column("at", BigInteger, nullable=False),
    # The quantity in millionths (QUANTITY_PLACES = 6): sums and maxima are exact
    # integers on every database.
    Column("quantity", BigInteger, nullable=False),
    # The record's unit price without trailing zeros (one group for 0.10 and 0.1).
    Column("unit_price", Text),
    Column("currency", String(3)),
    Column("criterion", Text),
    Column("invoice_criterion", Text),
    # Property names to values, for UNIQUE_COUNT; NULL when the record has none.
    Column("properties", JSON),
    # The whole UsageRecord as exact JSON (juston.storage.codec).
    Column("body", Text, nullable=False),
    Index(None, "account_id", "subscription", "item_id", "period_start"),
)

charges = Table(
    "charges",
    metadata,
    # Ad-hoc charges (juston.Billable), one per (source, key).
    Column("source", Text, primary_key=True),
    Column("key", Text, primary_key=True),
    Column("account_id", String(200), ForeignKey("accounts.id"), nullable=False, index=True),
    Column("body", Text, nullable=False),
)
