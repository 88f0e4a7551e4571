"""The tables of the SQL store (SQLAlchemy Core).

Each object is stored whole as exact JSON text (:mod:`juston.storage.codec`) in a
``body`` column; the columns beside it are copies of what queries filter, order or add
up by. Amounts are exact: ``NUMERIC`` on PostgreSQL, decimal text on SQLite (which has
no decimal type and would turn ``NUMERIC`` into binary floating point). Balance amounts,
which the database adds up, are integers of the currency's minor unit
(:func:`minor_units`), so their sums are exact on SQLite too.

This module describes the newest schema; the migrations in ``migrations/versions``
build it step by step, and a test checks that both agree.
"""

from __future__ import annotations

from decimal import Context, Decimal
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
    UniqueConstraint,
)
from sqlalchemy.types import TypeEngine

from ...errors import ValidationError
from ...model.receivables import Balance
from ...rounding import minor_digits
from .. import codec

__all__ = [
    "Amount",
    "accounts",
    "balance_row",
    "balances",
    "charges",
    "company",
    "counters",
    "document_parts",
    "documents",
    "dunning_blocks",
    "dunnings",
    "from_minor_units",
    "imported_files",
    "installment_plans",
    "mandates",
    "metadata",
    "minor_units",
    "payment_entries",
    "subscriptions",
    "usage_days",
    "usage_items",
    "usage_records",
    "usage_values",
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


# Whatever context the caller set: shifting the decimal point never rounds.
_EXACT = Context(prec=60)
_MAX_BIGINT = 2**63 - 1


def minor_units(amount: Decimal, currency_code: str) -> int:
    """*amount* as an integer of the currency's minor unit: ``119.00`` EUR is 11900.

    >>> minor_units(Decimal("119.5"), "EUR"), minor_units(Decimal("5000"), "JPY")
    (11950, 5000)
    """
    units = _EXACT.scaleb(amount, minor_digits(currency_code))
    if units != units.to_integral_value():
        raise ValidationError(
            "amount", amount, f"has more decimals than the minor unit of {currency_code}"
        )
    if abs(units) > _MAX_BIGINT:
        raise ValidationError("amount", amount, "is more than the SQL store holds")
    return int(units)


def from_minor_units(units: int | Decimal, currency_code: str) -> Decimal:
    """The amount of *units* of the currency's minor unit, with that many decimals.

    >>> from_minor_units(11950, "EUR"), from_minor_units(-1234, "KWD")
    (Decimal('119.50'), Decimal('-1.234'))
    """
    return _EXACT.scaleb(Decimal(int(units)), -minor_digits(currency_code))


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
    # The seller snapshot: the same for every document of a company version. Since
    # version 6 the digest of its text in document_parts, before that the text itself.
    Column("seller", Text, nullable=False),
    # The rest of the document (storage.sql.bodies: the lines are in "terms" since
    # version 6).
    Column("body", Text, nullable=False),
    # What the document billed, apart from the body: the next run reads only this. Since
    # version 6 the lines, each as [digest of its content in document_parts, subscription,
    # item] (the terms are the contents' term parts); before that the terms themselves.
    Column("terms", Text, nullable=False),
    Index(None, "account_id", "seq"),
    # Pages of documents by status or run are read in seq order.
    Index(None, "status", "seq"),
    Index(None, "run_id", "seq"),
    # Never hand a deleted document's id to a new one (SQLite reuses the largest otherwise).
    sqlite_autoincrement=True,
)

document_parts = Table(
    "document_parts",
    metadata,
    # Values many documents share (line contents, seller snapshots), stored once: the
    # key is a digest of the exact JSON text (storage.sql.bodies.digest).
    Column("digest", String(64), primary_key=True),
    Column("body", Text, nullable=False),
)

counters = Table(
    "counters",
    metadata,
    Column("sequence", String(300), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

usage_items = Table(
    "usage_items",
    metadata,
    # A usage item's number: usage records refer to their item by it.
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("account_id", String(200), nullable=False),
    Column("subscription", String(200), nullable=False),
    Column("item_id", Text, nullable=False),
    UniqueConstraint("account_id", "subscription", "item_id"),
)

usage_records = Table(
    "usage_records",
    metadata,
    # Every stored record, whole, keyed by its id (a record whose id is here is a
    # duplicate); on SQLite a WITHOUT ROWID table. The columns are those of
    # juston.usage.rows: "" stands for no criterion or unit price, days are date ordinals
    # (date.toordinal()), and "rest" holds, as JSON, what the other columns do not give
    # back (the item reference as given, the UTC offset, exponents). Totals are read from
    # usage_days and usage_values, which the store keeps up to date.
    Column("id", Text, primary_key=True),
    Column("item", BigInteger, nullable=False),  # usage_items.seq
    Column("period_start", Integer, nullable=False),
    Column("day", Integer, nullable=False),
    # The timestamp in microseconds since 1970-01-01 UTC: the exact order of instants.
    Column("at", BigInteger, nullable=False),
    # The quantity in millionths (QUANTITY_PLACES = 6): sums and maxima are exact
    # integers on every database.
    Column("quantity", BigInteger, nullable=False),
    # The record's unit price without trailing zeros (one group for 0.10 and 0.1).
    Column("unit_price", Text, nullable=False),
    Column("criterion", Text, nullable=False),
    Column("invoice_criterion", Text, nullable=False),
    # Property names to values (the first value of a name); NULL when there are none.
    Column("properties", JSON),
    Column("rest", Text),
    sqlite_with_rowid=False,
)


def _usage_group() -> list[Column[Any]]:
    """The key of a usage group: item, period, criteria and unit price (a table's own
    columns; tables cannot share Column objects)."""
    return [
        Column("item", BigInteger, primary_key=True),
        Column("period_start", Integer, primary_key=True),
        Column("criterion", Text, primary_key=True),
        Column("invoice_criterion", Text, primary_key=True),
        Column("unit_price", Text, primary_key=True),
    ]


usage_days = Table(
    "usage_days",
    metadata,
    # The records of one item, period, group (criterion, invoice criterion, unit price)
    # and billing day, added up: every usage total is added up from these rows.
    *_usage_group(),
    Column("day", Integer, primary_key=True),
    Column("records", Integer, nullable=False),
    # The sum and the largest of the quantities, in millionths.
    Column("quantity", BigInteger, nullable=False),
    Column("peak", BigInteger, nullable=False),
    # The latest record: the latest instant, and of records at one instant the greatest id.
    Column("latest_at", BigInteger, nullable=False),
    Column("latest_id", Text, nullable=False),
    Column("latest_quantity", BigInteger, nullable=False),
    sqlite_with_rowid=False,
)

usage_values = Table(
    "usage_values",
    metadata,
    # The distinct values of each record property per item, period and group, for
    # UNIQUE_COUNT.
    *_usage_group(),
    Column("name", Text, primary_key=True),
    Column("value", Text, primary_key=True),
    sqlite_with_rowid=False,
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

balances = Table(
    "balances",
    metadata,
    # The order added, in which balances are read back.
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("id", Text, nullable=False, unique=True),
    Column("account_id", String(200), nullable=False),
    Column("document_id", String(40)),
    Column("type", String(20), nullable=False),
    # In the currency's minor unit (minor_units): sums are exact integers everywhere.
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("date", Date, nullable=False),
    # An open document's number is the cause of its first balance.
    Column("cause", Text),
    Column("body", Text, nullable=False),
    Index(None, "account_id", "seq"),
    Index(None, "document_id", "seq"),
)

payment_entries = Table(
    "payment_entries",
    metadata,
    Column("id", Text, primary_key=True),
    Column("status", String(20), nullable=False),
    Column("account_id", String(200)),
    Column("booking_date", Date, nullable=False),
    Column("body", Text, nullable=False),
    Index(None, "status", "booking_date"),
    Index(None, "account_id", "booking_date"),
)

imported_files = Table(
    "imported_files",
    metadata,
    # The order of import: of a file known by name and another by content, the first wins.
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("name", Text, nullable=False, unique=True),
    Column("digest", Text, nullable=False, unique=True),
    Column("imported_on", Date, nullable=False),
    Column("entries", Integer, nullable=False),
)

mandates = Table(
    "mandates",
    metadata,
    Column("reference", String(35), primary_key=True),
    Column("account_id", String(200), ForeignKey("accounts.id"), nullable=False, index=True),
    Column("signed_on", Date, nullable=False),
    Column("body", Text, nullable=False),
)

installment_plans = Table(
    "installment_plans",
    metadata,
    # Documents are keyed by their row number; a plan by the document id the store gave out.
    Column("document_id", String(40), primary_key=True),
    Column("body", Text, nullable=False),
)

dunnings = Table(
    "dunnings",
    metadata,
    # The dunning id is ``N`` + this number, as a document's is ``D`` + its own.
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("account_id", String(200), ForeignKey("accounts.id"), nullable=False),
    Column("status", String(20), nullable=False),
    Column("dunning_date", Date, nullable=False),
    Column("number", String(200), unique=True),
    # The whole Dunning (with its account and company snapshots) but its id.
    Column("body", Text, nullable=False),
    Index(None, "account_id", "seq"),
    Index(None, "status", "seq"),
    # Never hand a deleted dunning's id to a new one.
    sqlite_autoincrement=True,
)

dunning_blocks = Table(
    "dunning_blocks",
    metadata,
    Column("key", Text, primary_key=True),
    Column("body", Text, nullable=False),
)


def balance_row(balance: Balance) -> dict[str, Any]:
    """The row of :data:`balances` that holds *balance* (without its ``seq``)."""
    code = balance.amount.currency.code
    return {
        "id": balance.id,
        "account_id": balance.account_id,
        "document_id": balance.document_id,
        "type": balance.type.value,
        "amount": minor_units(balance.amount.amount, code),
        "currency": code,
        "date": balance.date,
        "cause": balance.cause,
        "body": codec.dumps_balance(balance),
    }
