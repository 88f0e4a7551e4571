"""Version 2: usage records and ad-hoc charges.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "usage_records",
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
        sa.PrimaryKeyConstraint("id", name="pk_usage_records"),
    )
    op.create_index(
        "ix_usage_records_account_id_subscription_item_id_period_start",
        "usage_records",
        ["account_id", "subscription", "item_id", "period_start"],
    )
    op.create_table(
        "charges",
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("account_id", sa.String(200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name="fk_charges_account_id_accounts"
        ),
        sa.PrimaryKeyConstraint("source", "key", name="pk_charges"),
    )
    op.create_index("ix_charges_account_id", "charges", ["account_id"])


def downgrade() -> None:
    for table in ("charges", "usage_records"):
        op.drop_table(table)
