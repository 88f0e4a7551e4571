"""Finalizing in the database: what ``billing.run.finalize`` asks of a SQL transaction.

Drafts are finalized a chunk at a time, in finalizing order. Per chunk the caller reads
the drafts' groups (:class:`DraftGroup`: documents of one seller, kind, invoice date,
status and currency), draws the counters' values for them, and hands back per group how
its numbers are written (:data:`GroupNumbers`). Then a few statements do what used to be
a row each in Python: one ``UPDATE`` numbers and dates every document of the chunk
(the counters' values go to the documents in chunk order) and finalizes those whose due
date is known, one ``INSERT … SELECT`` adds their invoice balances with the body the
codec writes. What is left for Python comes back as headers: drafts whose payment terms
have not been seen yet in the transaction (their due dates are then known for the next
chunks) and invoices that the buyer pays by direct debit (their pre-notification becomes
part of the document); and, for settling, the documents of accounts that have balances or
more than one document in the chunk.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

import orjson
import sqlalchemy as sa

from ...errors import NotFound
from ...model.parties import Company
from ...model.status import DocumentKind, DocumentStatus
from ...model.terms import PaymentTerms
from ...money import currency
from ...rounding import minor_digits
from . import statements as sql
from .bodies import _KINDS, _STATUSES, DraftHeader, _date, doc_id

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from .store import _Reads

__all__ = ["DraftChunk", "DraftGroup", "FinalizesInDatabase", "GroupNumbers"]

#: Payment terms (as picked from bodies) whose due dates a transaction passes to the
#: database: beyond this many distinct texts the drafts that have others are finished in
#: Python (``finalize_drafts`` returns them), which is slower but the same.
KNOWN_TERMS = 64

_DRAFT = DocumentStatus.DRAFT.value


class DraftChunk:
    """Documents finalized together: their row numbers in finalizing order, and ids."""

    __slots__ = ("_ids", "seqs")

    def __init__(self, seqs: list[int], ids: list[str] | None = None) -> None:
        self.seqs = seqs
        self._ids = ids

    @property
    def ids(self) -> list[str]:
        if self._ids is None:  # only some chunks need them
            self._ids = [doc_id(seq) for seq in self.seqs]
        return self._ids


#: How the documents of a group are numbered and dated (``billing.run._GroupNumbers``):
#: the *n*-th document (in chunk order, from 0) of the groups that share a counter (its
#: index in the chunk) gets ``prefix + (first + n) zero-padded to width + suffix``, where
#: *mark* in the prefix and suffix stands for the document's account id (empty: none
#: does), and the invoice date.
GroupNumbers = tuple[int, int, str, int, str, str, date]


class DraftGroup:
    """Documents of a chunk with the same seller, kind, invoice date, status and currency:
    how many, and the id of the first. *plain* if the database can book their totals
    (decimal text with exactly the currency's decimals, as a run writes them); a chunk with
    a group that is not is finalized document by document."""

    __slots__ = ("count", "first", "invoice_date", "key", "kind", "plain", "seller", "status")

    def __init__(
        self,
        *,
        seller: Company,
        kind: DocumentKind,
        invoice_date: date,
        status: DocumentStatus,
        count: int,
        first: str,
        plain: bool,
        key: tuple[Any, ...],
    ) -> None:
        self.seller = seller
        self.kind = kind
        self.invoice_date = invoice_date
        self.status = status
        self.count = count
        self.first = first
        self.plain = plain
        # The stored seller, kind, currency and invoice date, as the statements compare them.
        self.key = key

    def __repr__(self) -> str:
        return (
            f"DraftGroup({self.kind.value}, {self.invoice_date}, {self.status.value}, {self.count})"
        )


def _plain(code: str, fewest: int, most: int, odd: int) -> bool:
    """Whether totals of the currency *code* with between *fewest* and *most* decimals,
    *odd* of them out of the plain form, can be turned into minor units in the database."""
    try:
        digits = minor_digits(currency(code).code)
    except Exception:  # not a currency: reading the documents says what is wrong
        return False
    return not odd and fewest == most == digits


def _iso(day: date | str) -> str:
    """A date column's value as ISO text (SQLite's driver gives it so)."""
    return day if isinstance(day, str) else day.isoformat()


class FinalizesInDatabase:
    """The finalizing methods of a SQL transaction (mixed into it)."""

    conn: Connection
    dialect: str
    r: _Reads
    # Payment terms as picked from the bodies of drafts read in this transaction.
    _terms: dict[str, PaymentTerms]

    def _chunk(self, seqs: Sequence[int]) -> Any:
        """The chunk parameter of the statements: a JSON array on SQLite, an array on
        PostgreSQL."""
        return orjson.dumps(list(seqs)).decode() if self.dialect == "sqlite" else list(seqs)

    def _day_param(self, value: date) -> Any:
        """A date as the driver takes it for a text parameter of the statements."""
        return value.isoformat() if self.dialect == "sqlite" else value

    def draft_chunks(self, ids: Sequence[str] | None, size: int) -> Iterator[DraftChunk]:
        """The documents *ids* (NotFound for the first in a chunk that does not exist), or
        every draft in the order added, *size* at a time; on PostgreSQL locked until the
        transaction ends. The next chunk is read once the one before is finalized."""
        if ids is None:
            query = sql.select_draft_seqs(self.dialect, self.r.lock)
            after = 0
            # A chunk's rows come as one value: fetching them a row at a time would cost
            # more than finalizing them.
            while True:
                found = self.conn.exec_driver_sql(query, (_DRAFT, after, size)).scalar()
                seqs = sorted(orjson.loads(found) if isinstance(found, str) else found or ())
                if not seqs:
                    return
                yield DraftChunk(seqs)
                after = seqs[-1]
        from .store import _seq

        query = sql.select_chunk_seqs(self.dialect, self.r.lock)
        for start in range(0, len(ids), size):
            chunk = list(ids[start : start + size])
            seqs = [_seq(document_id) for document_id in chunk]
            wanted = sorted({seq for seq in seqs if seq is not None})
            found = (
                set(self.conn.exec_driver_sql(query, (self._chunk(wanted),)).scalars())
                if wanted
                else set()
            )
            for document_id, seq in zip(chunk, seqs, strict=True):
                if seq is None or seq not in found:
                    raise NotFound(f"document: {document_id!r} does not exist")
            yield DraftChunk([seq for seq in seqs if seq is not None], chunk)

    def draft_groups(self, chunk: DraftChunk) -> list[DraftGroup]:
        """The groups of the documents of *chunk*, in the order of their first documents."""
        rows = self.conn.exec_driver_sql(
            sql.select_draft_groups(self.dialect), (self._chunk(chunk.seqs),)
        ).all()
        sellers = self.r.docs.sellers(self.conn, {row[0] for row in rows})
        groups = []
        for seller, kind, day, status, code, count, first, fewest, most, odd in rows:
            plain = _plain(code, fewest, most, odd)
            groups.append(
                DraftGroup(
                    seller=sellers[seller],
                    kind=_KINDS[kind],
                    invoice_date=_date(day),
                    status=_STATUSES[status],
                    count=count,
                    first=doc_id(chunk.seqs[first]),
                    plain=plain,
                    key=(seller, kind, code, day),
                )
            )
        return groups

    def finalize_drafts(
        self,
        chunk: DraftChunk,
        groups: Sequence[DraftGroup],
        numbers: Sequence[GroupNumbers],
        due_dates: Mapping[tuple[PaymentTerms, date], date],
        whole: str,
    ) -> list[DraftHeader]:
        """Number and date the documents of *chunk* (all drafts, in *groups* as
        :meth:`draft_groups` gave them) as *numbers* says per group, and finalize those
        whose due date *due_dates* has (by payment terms and invoice date) and whose buyer
        does not pay by the method *whole*. Returns the headers of the others, numbered
        and dated but still drafts, in row order."""
        group_rows: list[Any] = []
        days: dict[Any, date] = {}
        for group, (part, first, prefix, width, suffix, mark, day) in zip(
            groups, numbers, strict=True
        ):
            seller, kind, code, doc_day = group.key
            days[doc_day] = day
            group_rows += (seller, kind, code, doc_day, part, first)
            group_rows += (prefix, width, suffix, mark, self._day_param(day))
        known: list[Any] = []
        for text, terms in self._terms.items():
            for doc_day, day in days.items():
                due = due_dates.get((terms, day))
                if due is not None:
                    known += (f"{text} {_iso(doc_day)}", self._day_param(due))
        parts = len({how[0] for how in numbers})
        statement = sql.finalize_drafts(self.dialect, len(groups), len(known) // 2, parts)
        params = (self._chunk(chunk.seqs), *group_rows, *known, *known)
        self.conn.exec_driver_sql(statement, (*params, whole, DocumentStatus.OPEN.value))
        rows = self.conn.exec_driver_sql(
            sql.select_left_drafts(self.dialect), (self._chunk(chunk.seqs), _DRAFT)
        ).all()
        headers = self.r.docs.headers(self.conn, rows)
        if len(self._terms) >= KNOWN_TERMS:
            self._terms.clear()
        for row, header in zip(rows, headers, strict=True):
            self._terms.setdefault(row[10], header.payment_terms)
        return headers

    def settling(self, chunk: DraftChunk) -> list[str]:
        """The documents of *chunk* whose account has balances or more than one document
        in the chunk (then finalizing may settle something), in chunk order."""
        query = sql.select_settling(self.dialect)
        rows = self.conn.exec_driver_sql(query, (self._chunk(chunk.seqs),)).scalars()
        return [doc_id(seq) for seq in rows]

    def add_invoice_balances(self, chunk: DraftChunk, kind: str) -> None:
        """Add the invoice balance (type *kind*) of each document of *chunk*, finalized, in
        chunk order: what ``add_balances`` of the balances booking makes would add
        (StateError if one is stored already, and then nothing is added)."""
        from .store import _stored_already

        statement = sql.insert_invoice_balances(self.dialect)
        try:
            with self.conn.begin_nested():
                self.conn.exec_driver_sql(statement, (self._chunk(chunk.seqs), kind, kind))
        except sa.exc.IntegrityError:
            ids = [f"invoice:{document_id}" for document_id in chunk.ids]
            known = self.r.known_balances(ids)
            if known:
                raise _stored_already(next(i for i in ids if i in known)) from None
            raise
