"""Version 5: usage records by id, and their totals per item and day kept up to date.

``usage_records`` held each record as JSON text beside columns, with an index on
(account, subscription, item, period) that every record went into at a place of its own
and that totals read all records through. Since this version the usage items are
numbered (``usage_items``); ``usage_records`` holds the records in columns, keyed by id
(a ``WITHOUT ROWID`` table on SQLite) and read for nothing but deduplication; and
``usage_days`` (per item, period, group and billing day: count, sum, maximum, latest
record) and ``usage_values`` (distinct property values) are what totals are added up
from, updated once per transaction for all the records it added.

Upgrading moves every record over, a page at a time, exactly, and adds up its days;
downgrading moves the records back into the version-2 table.

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Iterator
from typing import Any

import orjson
import sqlalchemy as sa
from alembic import op

from juston.model.usage import StoredUsage, UsageRecord
from juston.storage import codec
from juston.storage.sql import usage
from juston.usage.rows import stored_usage, usage_row

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

#: Records moved per page.
PAGE = 10_000

_OLD_INDEX = "ix_usage_records_account_id_subscription_item_id_period_start"


def upgrade() -> None:
    conn = op.get_bind()
    op.drop_index(_OLD_INDEX, table_name="usage_records")
    op.rename_table("usage_records", "usage_records_v2")
    if conn.dialect.name == "postgresql":
        # PostgreSQL names the key's index after the constraint: unique per schema.
        op.execute("ALTER TABLE usage_records_v2 RENAME CONSTRAINT pk_usage_records TO pk_v2")
    op.create_table(
        "usage_items",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("account_id", sa.String(200), nullable=False),
        sa.Column("subscription", sa.String(200), nullable=False),
        sa.Column("item_id", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_usage_items"),
        sa.UniqueConstraint(
            "account_id",
            "subscription",
            "item_id",
            name="uq_usage_items_account_id_subscription_item_id",
        ),
    )
    op.create_table(
        "usage_records",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("item", sa.BigInteger(), nullable=False),
        sa.Column("period_start", sa.Integer(), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("unit_price", sa.Text(), nullable=False),
        sa.Column("criterion", sa.Text(), nullable=False),
        sa.Column("invoice_criterion", sa.Text(), nullable=False),
        sa.Column("properties", sa.JSON(), nullable=True),
        sa.Column("rest", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_usage_records"),
        sqlite_with_rowid=False,
    )
    key = ("item", "period_start", "criterion", "invoice_criterion", "unit_price")
    op.create_table(
        "usage_days",
        sa.Column("item", sa.BigInteger(), nullable=False),
        sa.Column("period_start", sa.Integer(), nullable=False),
        sa.Column("criterion", sa.Text(), nullable=False),
        sa.Column("invoice_criterion", sa.Text(), nullable=False),
        sa.Column("unit_price", sa.Text(), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("peak", sa.BigInteger(), nullable=False),
        sa.Column("latest_at", sa.BigInteger(), nullable=False),
        sa.Column("latest_id", sa.Text(), nullable=False),
        sa.Column("latest_quantity", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(*key, "day", name="pk_usage_days"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "usage_values",
        sa.Column("item", sa.BigInteger(), nullable=False),
        sa.Column("period_start", sa.Integer(), nullable=False),
        sa.Column("criterion", sa.Text(), nullable=False),
        sa.Column("invoice_criterion", sa.Text(), nullable=False),
        sa.Column("unit_price", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint(*key, "name", "value", name="pk_usage_values"),
        sqlite_with_rowid=False,
    )
    old = sa.table(
        "usage_records_v2",
        sa.column("id", sa.Text()),
        sa.column("account_id", sa.Text()),
        sa.column("subscription", sa.Text()),
        sa.column("item_id", sa.Text()),
        sa.column("period_start", sa.Date()),
        sa.column("day", sa.Date()),
        sa.column("body", sa.Text()),
    )
    for page in _pages(conn, sa.select(old).order_by(old.c.id), old.c.id):
        rows = [
            StoredUsage(
                record=codec.loads(row.body, UsageRecord),
                account_id=row.account_id,
                subscription=row.subscription,
                item_id=row.item_id,
                day=row.day,
                period_start=row.period_start,
            )
            for row in page
        ]
        usage.add_rows(conn, [usage_row(row) for row in rows])
        usage.flush(conn)
    op.drop_table("usage_records_v2")


def _pages(conn: sa.Connection, query: Any, key: Any) -> Iterator[list[Any]]:
    """The rows of *query* a page at a time, after the *key* of the last one."""
    page = conn.execute(query.limit(PAGE)).all()
    while page:
        yield page
        after = getattr(page[-1], key.name)
        page = conn.execute(query.where(key > after).limit(PAGE)).all()


def downgrade() -> None:
    conn = op.get_bind()
    postgres = conn.dialect.name == "postgresql"
    op.create_table(
        "usage_records_v2",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("account_id", sa.String(200), nullable=False),
        sa.Column("subscription", sa.String(200), nullable=False),
        sa.Column("item_id", sa.Text(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("unit_price", sa.Text(), nullable=True),
        sa.Column("currency", sa.String(3), nullable=True),
        sa.Column("criterion", sa.Text(), nullable=True),
        sa.Column("invoice_criterion", sa.Text(), nullable=True),
        sa.Column("properties", sa.JSON(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        # PostgreSQL names the key's index after the constraint: unique per schema.
        sa.PrimaryKeyConstraint("id", name="pk_v2" if postgres else "pk_usage_records"),
    )
    items = sa.table(
        "usage_items",
        sa.column("seq", sa.BigInteger()),
        sa.column("account_id", sa.Text()),
        sa.column("subscription", sa.Text()),
        sa.column("item_id", sa.Text()),
    )
    names = {
        seq: (account_id, subscription, item_id)
        for seq, account_id, subscription, item_id in conn.execute(sa.select(items))
    }
    new = sa.table("usage_records", *(sa.column(name) for name in _NEW_COLUMNS))
    old = sa.table("usage_records_v2", *_OLD_COLUMNS)
    for page in _pages(conn, sa.select(new).order_by(new.c.id), new.c.id):
        values = []
        for row in page:
            properties = row.properties
            if isinstance(properties, dict):  # PostgreSQL's driver reads JSON as objects
                properties = orjson.dumps(properties).decode()
            stored = stored_usage((row.id, names[row.item], *row[2:9], properties, row.rest))
            values.append(_old_row(stored))
        conn.execute(sa.insert(old), values)
    for table in ("usage_records", "usage_days", "usage_values", "usage_items"):
        op.drop_table(table)
    op.rename_table("usage_records_v2", "usage_records")
    if postgres:
        op.execute("ALTER TABLE usage_records RENAME CONSTRAINT pk_v2 TO pk_usage_records")
    op.create_index(
        _OLD_INDEX, "usage_records", ["account_id", "subscription", "item_id", "period_start"]
    )


#: The columns of the version-5 table, in the order ``stored_usage`` takes them.
_NEW_COLUMNS = (
    "id",
    "item",
    "period_start",
    "day",
    "at",
    "quantity",
    "unit_price",
    "criterion",
    "invoice_criterion",
    "properties",
    "rest",
)
_OLD_COLUMNS = (
    sa.column("id", sa.Text()),
    sa.column("account_id", sa.Text()),
    sa.column("subscription", sa.Text()),
    sa.column("item_id", sa.Text()),
    sa.column("period_start", sa.Date()),
    sa.column("day", sa.Date()),
    sa.column("at", sa.BigInteger()),
    sa.column("quantity", sa.BigInteger()),
    sa.column("unit_price", sa.Text()),
    sa.column("currency", sa.Text()),
    sa.column("criterion", sa.Text()),
    sa.column("invoice_criterion", sa.Text()),
    sa.column("properties", sa.JSON()),
    sa.column("body", sa.Text()),
)


def _old_row(stored: StoredUsage) -> dict[str, Any]:
    """The version-2 columns of a stored record."""
    record = stored.record
    row = usage_row(stored)
    price = record.unit_price
    return {
        "id": record.id,
        "account_id": stored.account_id,
        "subscription": stored.subscription,
        "item_id": stored.item_id,
        "period_start": stored.period_start,
        "day": stored.day,
        "at": row[4],
        "quantity": row[5],
        "unit_price": row[6] or None,
        "currency": None if price is None else price.currency.code,
        "criterion": record.criterion,
        "invoice_criterion": record.invoice_criterion,
        "properties": None if row[9] is None else orjson.loads(row[9]),
        "body": codec.dumps_usage_record(record),
    }
