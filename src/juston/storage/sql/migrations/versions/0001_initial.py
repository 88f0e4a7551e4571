"""Version 1: company, accounts, subscriptions, documents, counters.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from juston.storage.sql.schema import Amount

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "company",
        sa.Column("slot", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("id", sa.String(200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("slot", name="pk_company"),
    )
    op.create_table(
        "accounts",
        sa.Column("id", sa.String(200), nullable=False),
        sa.Column("name", sa.String(500), nullable=False),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_accounts"),
    )
    op.create_table(
        "subscriptions",
        sa.Column("account_id", sa.String(200), nullable=False),
        sa.Column("number", sa.String(200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name="fk_subscriptions_account_id_accounts"
        ),
        sa.PrimaryKeyConstraint("account_id", "number", name="pk_subscriptions"),
    )
    op.create_table(
        "documents",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("account_id", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("number", sa.String(200), nullable=True),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("invoice_date", sa.Date(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("billing_date", sa.Date(), nullable=False),
        sa.Column("net_total", Amount(), nullable=False),
        sa.Column("tax_total", Amount(), nullable=False),
        sa.Column("total", Amount(), nullable=False),
        sa.Column("run_id", sa.String(200), nullable=True),
        sa.Column("cancels", sa.String(40), nullable=True),
        sa.Column("cancelled_by", sa.String(40), nullable=True),
        sa.Column("seller", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("terms", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name="fk_documents_account_id_accounts"
        ),
        sa.PrimaryKeyConstraint("seq", name="pk_documents"),
        sa.UniqueConstraint("number", name="uq_documents_number"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_documents_account_id_seq", "documents", ["account_id", "seq"])
    op.create_index("ix_documents_status_seq", "documents", ["status", "seq"])
    op.create_index("ix_documents_run_id_seq", "documents", ["run_id", "seq"])
    op.create_table(
        "counters",
        sa.Column("sequence", sa.String(300), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("sequence", name="pk_counters"),
    )


def downgrade() -> None:
    for table in ("counters", "documents", "subscriptions", "accounts", "company"):
        op.drop_table(table)
