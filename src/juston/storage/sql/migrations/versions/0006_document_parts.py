"""Version 6: document parts, a compact document format.

The values many documents share (line contents, seller snapshots) are stored once in
``document_parts``, keyed by the digest of their JSON text, and documents are written in
format 2 (:mod:`juston.storage.sql.bodies`): their lines refer to the parts. Documents
stored before keep format 1, which is still read, so upgrading changes no row.

Downgrading writes the format-2 documents back in format 1 (a page at a time) before the
parts are dropped.

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from alembic import op

from juston.storage.sql.bodies import Documents, row_v1

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

#: Documents rewritten per page when downgrading.
PAGE = 1000


def upgrade() -> None:
    op.create_table(
        "document_parts",
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("digest", name="pk_document_parts"),
    )


def downgrade() -> None:
    write_format_1(op.get_bind())
    op.drop_table("document_parts")


# The documents table as this version knows it, whatever later versions make of it.
_documents = sa.table(
    "documents",
    sa.column("seq", sa.BigInteger()),
    sa.column("body", sa.Text()),
    sa.column("seller", sa.Text()),
    sa.column("status", sa.String()),
    sa.column("number", sa.String()),
    sa.column("invoice_date", sa.Date()),
    sa.column("due_date", sa.Date()),
    sa.column("cancelled_by", sa.String()),
    sa.column("terms", sa.Text()),
)


def write_format_1(conn: sa.Connection, page: int = PAGE) -> None:
    """Rewrite every format-2 document in format 1 (body, seller and terms)."""
    documents = Documents()
    update = (
        sa.update(_documents)
        .where(_documents.c.seq == sa.bindparam("_seq"))
        .values(
            body=sa.bindparam("body"), seller=sa.bindparam("seller"), terms=sa.bindparam("terms")
        )
    )
    for rows in _pages(conn, page):
        loaded = documents.load(conn, rows)
        changes = []
        for row, document in zip(rows, loaded, strict=True):
            columns = row_v1(document)
            changes.append(
                {
                    "_seq": row[0],
                    "body": columns["body"],
                    "seller": columns["seller"],
                    "terms": columns["terms"],
                }
            )
        conn.execute(update, changes)


def _pages(conn: sa.Connection, page: int) -> Iterator[list[Any]]:
    """The format-2 documents, *page* at a time, in the order added."""
    query = (
        sa.select(*_documents.c)
        .where(_documents.c.seq > sa.bindparam("after"), _documents.c.body.like('{"v":2,%'))
        .order_by(_documents.c.seq)
        .limit(page)
    )
    after = 0
    while rows := conn.execute(query, {"after": after}).all():
        yield [tuple(row) for row in rows]
        after = rows[-1][0]
