"""Version 3: receivables (balances, payment entries, imported files, mandates, installment
plans), with the balances of the documents finalized before.

Every document that is not a draft gets its invoice balance, and each cancellation and
the document it cancels get the clearing balances that bring both to zero, as finalizing
and cancelling book them since this version. The documents are read a page at a time.

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from alembic import op
from moneyed import Money

from juston.model.receivables import Balance, BalanceType
from juston.storage.sql.schema import Amount, balance_row

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

#: Documents read per page while booking their balances.
PAGE = 5000


def upgrade() -> None:
    op.create_table(
        "balances",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("account_id", sa.String(200), nullable=False),
        sa.Column("document_id", sa.String(40), nullable=True),
        sa.Column("type", sa.String(20), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("cause", sa.Text(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_balances"),
        sa.UniqueConstraint("id", name="uq_balances_id"),
    )
    op.create_index("ix_balances_account_id_seq", "balances", ["account_id", "seq"])
    op.create_index("ix_balances_document_id_seq", "balances", ["document_id", "seq"])
    op.create_table(
        "payment_entries",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("account_id", sa.String(200), nullable=True),
        sa.Column("booking_date", sa.Date(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_payment_entries"),
    )
    op.create_index(
        "ix_payment_entries_status_booking_date", "payment_entries", ["status", "booking_date"]
    )
    op.create_index(
        "ix_payment_entries_account_id_booking_date",
        "payment_entries",
        ["account_id", "booking_date"],
    )
    op.create_table(
        "imported_files",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("digest", sa.Text(), nullable=False),
        sa.Column("imported_on", sa.Date(), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_imported_files"),
        sa.UniqueConstraint("name", name="uq_imported_files_name"),
        sa.UniqueConstraint("digest", name="uq_imported_files_digest"),
    )
    op.create_table(
        "mandates",
        sa.Column("reference", sa.String(35), nullable=False),
        sa.Column("account_id", sa.String(200), nullable=False),
        sa.Column("signed_on", sa.Date(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name="fk_mandates_account_id_accounts"
        ),
        sa.PrimaryKeyConstraint("reference", name="pk_mandates"),
    )
    op.create_index("ix_mandates_account_id", "mandates", ["account_id"])
    op.create_table(
        "installment_plans",
        sa.Column("document_id", sa.String(40), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("document_id", name="pk_installment_plans"),
    )
    book_finalized_documents(op.get_bind())


def downgrade() -> None:
    for table in ("installment_plans", "mandates", "imported_files", "payment_entries", "balances"):
        op.drop_table(table)


# The tables as this version knows them, whatever later versions make of them.
_documents = sa.table(
    "documents",
    sa.column("seq", sa.BigInteger()),
    sa.column("account_id", sa.String()),
    sa.column("status", sa.String()),
    sa.column("number", sa.String()),
    sa.column("currency", sa.String()),
    sa.column("invoice_date", sa.Date()),
    sa.column("total", Amount()),
    sa.column("cancels", sa.String()),
)
_balances = sa.table(
    "balances",
    *map(sa.column, ("id", "account_id", "document_id", "type", "amount", "currency", "cause")),
    sa.column("date", sa.Date()),
    sa.column("body"),
)


def book_finalized_documents(conn: sa.Connection, page: int = PAGE) -> None:
    """Book the invoice and clearing balances of the documents finalized so far, in the
    order finalizing and cancelling would have: by document, a cancellation's clearing
    balances right after its invoice balance."""
    for documents in _pages(conn, page):
        cancelled = _by_id(conn, [d.cancels for d in documents if d.cancels])
        added: list[Balance] = []
        for document in documents:
            added.append(_balance(document, "invoice", BalanceType.INVOICE, document.total))
            if document.cancels:
                original = cancelled[document.cancels]
                stem = f"cancel:{original.id}:clearing"
                for cleared in (original, document):
                    added.append(
                        _balance(cleared, stem, BalanceType.CLEARING, -cleared.total, document)
                    )
        conn.execute(sa.insert(_balances), [balance_row(b) for b in added])


class _Document:
    def __init__(self, row: Any) -> None:
        self.id = f"D{row.seq:08d}"
        self.account_id: str = row.account_id
        self.number: str | None = row.number
        self.total = Money(row.total, row.currency)
        self.invoice_date = row.invoice_date
        self.cancels: str | None = row.cancels


_COLUMNS = [c for c in _documents.c if c.name != "status"]


def _pages(conn: sa.Connection, page: int) -> Iterator[list[_Document]]:
    """The documents that are not drafts, *page* at a time, in the order added."""
    query = (
        sa.select(*_COLUMNS)
        .where(_documents.c.seq > sa.bindparam("after"), _documents.c.status != "draft")
        .order_by(_documents.c.seq)
        .limit(page)
    )
    after = 0
    while rows := conn.execute(query, {"after": after}).all():
        yield [_Document(row) for row in rows]
        after = rows[-1].seq


def _by_id(conn: sa.Connection, ids: list[str]) -> dict[str, _Document]:
    if not ids:
        return {}
    seqs = [int(document_id[1:]) for document_id in ids]
    query = sa.select(*_COLUMNS).where(_documents.c.seq.in_(seqs))
    return {d.id: d for d in map(_Document, conn.execute(query))}


def _balance(
    document: _Document,
    stem: str,
    kind: BalanceType,
    amount: Money,
    cancellation: _Document | None = None,
) -> Balance:
    """The balance *stem*``:<document id>`` of *document*; clearing balances are dated
    and caused as cancelling books them."""
    return Balance(
        id=f"{stem}:{document.id}",
        account_id=document.account_id,
        document_id=document.id,
        type=kind,
        amount=amount,
        date=(cancellation or document).invoice_date,
        cause=None if cancellation else document.number,
    )
