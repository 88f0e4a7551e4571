"""Version 4: dunnings and dunning blocks.

The balance types DUNNING_FEE and INTEREST need no change: ``balances.type`` holds any
type's value.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dunnings",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("account_id", sa.String(200), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("dunning_date", sa.Date(), nullable=False),
        sa.Column("number", sa.String(200), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name="fk_dunnings_account_id_accounts"
        ),
        sa.PrimaryKeyConstraint("seq", name="pk_dunnings"),
        sa.UniqueConstraint("number", name="uq_dunnings_number"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_dunnings_account_id_seq", "dunnings", ["account_id", "seq"])
    op.create_index("ix_dunnings_status_seq", "dunnings", ["status", "seq"])
    op.create_table(
        "dunning_blocks",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_dunning_blocks"),
    )


def downgrade() -> None:
    for table in ("dunning_blocks", "dunnings"):
        op.drop_table(table)
