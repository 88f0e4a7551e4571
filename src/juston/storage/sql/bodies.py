"""Documents to rows and back: how the SQL store keeps a document.

The header that finalizing and cancelling change (status, number, dates, the cancelling
document) has columns of its own, and so do the totals and what queries filter by. The
rest is stored in one of two formats; both are read, the second is written.

**Format 2** (schema version 6 on). A run makes the same line for every subscription
that bills the same thing, so a line's content (:class:`~juston.LineContent`: what it
says and what it billed, apart from whose it is) is stored once, in ``document_parts``,
keyed by the digest of its exact JSON text; so is the seller snapshot. A document row
then holds

- ``terms``: its lines, each ``[content digest, subscription, item id]`` (the next run
  reads what was billed from here: the contents' term parts);
- ``seller``: the digest of the seller snapshot;
- ``body``: ``{"v": 2, …}`` with the buyer snapshot, the tax breakdown, the totals, the
  payment terms and the other fields of the document, as :mod:`juston.storage.codec`
  writes them.

A row is about a sixth of a format-1 row (1.3 KB instead of 8 KB), and reading a page of
documents turns each distinct content into a value once (kept by digest, shared by every
document that has it) instead of once per line. Finalizing reads only
:class:`DraftHeader` values and writes only the header columns.

**Format 1** (before version 6): ``body`` is the whole document as
:mod:`~juston.storage.codec` JSON but the header (lines flat, each with its terms
whole), ``seller`` the seller's JSON text, ``terms`` the terms again as a list of
objects. Rows in this format are read as they are; a document is written in format 2
when it is next written whole (finalizing changes the header columns only).

Parts are never deleted or changed: the same digest always means the same text.
"""

from __future__ import annotations

import functools
import hashlib
import typing
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

import attrs
import orjson
import sqlalchemy as sa
from moneyed import Currency, Money
from sqlalchemy.engine import Connection

from ...errors import StorageError
from ...model.documents import Invoice, Line, LineContent, TaxSubtotal, Term
from ...model.parties import Account, Company
from ...model.status import DocumentKind, DocumentStatus
from ...model.terms import PaymentTerms
from ...money import currency as _currency_of
from .. import codec
from .schema import document_parts

__all__ = ["COLUMNS", "FORMAT", "HEADER", "Documents", "DraftHeader", "digest", "doc_id", "row_v1"]

#: The format :meth:`Documents.row` writes.
FORMAT = 2

#: What finalizing and cancelling change: kept in columns only, so that such a change
#: rewrites a few columns instead of the whole document.
HEADER = ("status", "number", "invoice_date", "due_date", "cancelled_by")

#: The fields of a format-2 body that are written and read by hand (the hot ones); every
#: other field but the id, the seller, the lines and the header goes through the codec.
_BY_HAND = (
    "kind",
    "currency",
    "billing_date",
    "buyer",
    "tax_breakdown",
    "net_total",
    "tax_total",
    "total",
    "payment_terms",
    "subscriptions",
    "run_id",
    "cancels",
)
_TYPES = typing.get_type_hints(Invoice)
_BY_CODEC = tuple(
    (f.name, _TYPES[f.name])
    for f in attrs.fields(Invoice)
    if f.name not in (*_BY_HAND, *HEADER, "id", "seller", "lines")
)
_BREAKDOWN = tuple[TaxSubtotal, ...]
_TERMS = tuple[Term, ...]
#: The columns of a document row besides ``seq``, in the order of :meth:`Documents.values`.
COLUMNS = (
    *HEADER,
    "account_id",
    "kind",
    "currency",
    "billing_date",
    "net_total",
    "tax_total",
    "total",
    "run_id",
    "cancels",
    "seller",
    "body",
    "terms",
)

#: Parts kept per store, by digest and by the identity of the value written.
CACHE = 10_000
#: Tax breakdowns read kept per store.
SMALL = 4_000
#: Digests known to be stored, kept per store.
STORED = 100_000

_select_parts = sa.select(document_parts.c.digest, document_parts.c.body).where(
    document_parts.c.digest.in_(sa.bindparam("ids", expanding=True))
)


def doc_id(seq: int) -> str:
    """The id of the document in row *seq*."""
    return f"D{seq:08d}"


def digest(text: str) -> str:
    """The key of a part: 32 hex digits of the BLAKE2b digest of its text."""
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


@functools.cache
def _currency(code: str) -> Currency:
    return _currency_of(code)


def _money_text(value: Money) -> str:
    return f"{value.amount} {value.currency.code}"


def _subtotal(each: TaxSubtotal) -> dict[str, Any]:
    """``codec.unstructure(each, TaxSubtotal)``, faster (a test keeps them the same)."""
    return {
        "category": each.category,
        "rate": str(each.rate),
        "basis": _money_text(each.basis),
        "tax": _money_text(each.tax),
        "line_tax": _money_text(each.line_tax),
        "exemption_code": each.exemption_code,
        "exemption_reason": each.exemption_reason,
    }


def _terms(terms: PaymentTerms) -> Any:
    return codec.unstructure(terms, PaymentTerms)


def _money(text: str) -> Money:
    amount, code = text.split(" ")
    return Money(Decimal(amount), _currency(code))


#: Statuses and kinds by their stored value (faster than calling the enum).
_STATUSES = {status.value: status for status in DocumentStatus}
_KINDS = {kind.value: kind for kind in DocumentKind}


def _date(value: date | str) -> date:
    """A date column's value: SQLite's driver gives ISO text."""
    return value if isinstance(value, date) else date.fromisoformat(value)


def _chunks(values: Sequence[str], size: int = 500) -> Iterator[Sequence[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


class DraftHeader:
    """What finalizing a document needs of it, read without the rest of the document.

    The columns, the seller, and from the body the total (exact, as stored), the payment
    terms and the buyer's payment method. :meth:`finalized` gives the header as
    finalizing leaves it.
    """

    __slots__ = (
        "account_id",
        "currency",
        "due_date",
        "id",
        "invoice_date",
        "kind",
        "number",
        "payment_method",
        "payment_terms",
        "seller",
        "status",
        "total",
    )

    def __init__(
        self,
        *,
        id: str,
        status: DocumentStatus,
        kind: DocumentKind,
        currency: Currency,
        total: Money,
        seller: Company,
        account_id: str,
        number: str | None,
        invoice_date: date,
        due_date: date,
        payment_terms: PaymentTerms,
        payment_method: str | None,
    ) -> None:
        self.id = id
        self.status = status
        self.kind = kind
        self.currency = currency
        self.total = total
        self.seller = seller
        self.account_id = account_id
        self.number = number
        self.invoice_date = invoice_date
        self.due_date = due_date
        self.payment_terms = payment_terms
        self.payment_method = payment_method

    def finalized(self, number: str, invoice_date: date, due_date: date) -> DraftHeader:
        """The header of the document finalized with *number* on *invoice_date*."""
        return DraftHeader(
            id=self.id,
            status=DocumentStatus.OPEN,
            kind=self.kind,
            currency=self.currency,
            total=self.total,
            seller=self.seller,
            account_id=self.account_id,
            number=number,
            invoice_date=invoice_date,
            due_date=due_date,
            payment_terms=self.payment_terms,
            payment_method=self.payment_method,
        )

    def __repr__(self) -> str:
        return f"DraftHeader({self.id!r}, {self.status.value}, {self.number!r})"


class Documents:
    """Documents to rows and back for one store, shared by its connections.

    Keeps, bounded: the digests of the parts it has written (by the identity of the
    value: a run shares its line contents between documents), the digests known to be
    stored (committed), and the values of the parts it has read.
    """

    def __init__(self) -> None:
        self._refs: dict[int, tuple[object, str]] = {}
        # Plain data of values documents share, by identity (see _shared).
        self._unstructured: dict[int, tuple[object, Any]] = {}
        self._stored: set[str] = set()
        self._values: dict[str, Any] = {}
        self._small: dict[tuple[object, bytes | str], Any] = {}
        # Format 1: seller snapshots by their text.
        self._sellers: dict[str, Company] = {}

    # --- writing

    def _part(self, value: object, cls: type[Any], pending: dict[str, str]) -> str:
        """The digest of a part; its text goes to *pending* unless it is stored."""
        known = self._refs.get(id(value))
        if known is not None and known[0] is value:
            key = known[1]
            if key in self._stored or key in pending:
                return key
            text = codec.dumps(value, cls)
        else:
            text = codec.dumps(value, cls)
            key = digest(text)
            if len(self._refs) >= CACHE:
                self._refs.clear()
            self._refs[id(value)] = (value, key)
            if len(self._values) >= CACHE:
                self._values.clear()
            self._values.setdefault(key, value)
            if key in self._stored:
                return key
        pending[key] = text
        return key

    def row(self, document: Invoice, pending: dict[str, str]) -> dict[str, Any]:
        """The columns of *document* in format 2 (without its ``seq``); the parts it refers
        to that may not be stored yet are added to *pending* (digest: text)."""
        return dict(zip(COLUMNS, self.values(document, pending), strict=True))

    def values(
        self, document: Invoice, pending: dict[str, str], *, textual: bool = False
    ) -> list[Any]:
        """:meth:`row` as a list in the order of :data:`COLUMNS`; with *textual*, dates and
        amounts as text (what SQLite's driver takes, as SQLAlchemy's types would store
        them)."""
        part = self._part
        lines = [
            [part(line.content, LineContent, pending), line.subscription, line.item_id]
            for line in document.lines
        ]
        shared = self._shared
        kind = document.kind._value_
        code = document.currency.code
        billing_date = document.billing_date
        net_total, tax_total, total = document.net_total, document.tax_total, document.total
        run_id, cancels = document.run_id, document.cancels
        # The codec's JSON of each field (a test keeps them the same), made by hand where
        # that is cheaper; what documents share is made once per value.
        body = {
            "v": FORMAT,
            "kind": kind,
            "currency": code,
            "billing_date": billing_date.isoformat(),
            "buyer": codec.unstructure(document.buyer, Account),
            "tax_breakdown": [shared(each, _subtotal) for each in document.tax_breakdown],
            "net_total": f"{net_total.amount} {net_total.currency.code}",
            "tax_total": f"{tax_total.amount} {tax_total.currency.code}",
            "total": f"{total.amount} {total.currency.code}",
            "payment_terms": shared(document.payment_terms, _terms),
            "subscriptions": document.subscriptions,
            "run_id": run_id,
            "cancels": cancels,
        }
        for name, hint in _BY_CODEC:
            value = getattr(document, name)
            body[name] = None if value is None else codec.unstructure(value, hint)
        invoice_date: date | str = document.invoice_date
        due_date: date | str = document.due_date
        billing: date | str = billing_date
        net: Decimal | str = net_total.amount
        tax: Decimal | str = tax_total.amount
        gross: Decimal | str = total.amount
        if textual:
            invoice_date, due_date, billing = str(invoice_date), str(due_date), str(billing)
            net, tax, gross = str(net), str(tax), str(gross)
        return [
            document.status._value_,
            document.number,
            invoice_date,
            due_date,
            document.cancelled_by,
            document.account_id,
            kind,
            code,
            billing,
            net,
            tax,
            gross,
            run_id,
            cancels,
            part(document.seller, Company, pending),
            orjson.dumps(body).decode(),
            orjson.dumps(lines).decode(),
        ]

    def _shared(self, value: object, unstructure: Callable[[Any], Any]) -> Any:
        """``unstructure(value)`` once per *value* (by identity): for what documents share.
        The result is only serialized, never changed."""
        known = self._unstructured.get(id(value))
        if known is not None and known[0] is value:
            return known[1]
        data = unstructure(value)
        if len(self._unstructured) >= CACHE:
            self._unstructured.clear()
        self._unstructured[id(value)] = (value, data)
        return data

    @staticmethod
    def _breakdown(breakdown: tuple[TaxSubtotal, ...]) -> list[dict[str, Any]]:
        # codec.unstructure(breakdown, tuple[TaxSubtotal, ...]), faster (a test keeps them
        # the same).
        return [_subtotal(each) for each in breakdown]

    @staticmethod
    def header(document: Invoice) -> dict[str, Any]:
        """The columns that finalizing and cancelling change."""
        return {
            "status": document.status.value,
            "number": document.number,
            "invoice_date": document.invoice_date,
            "due_date": document.due_date,
            "cancelled_by": document.cancelled_by,
        }

    def stored(self, digests: Iterable[str]) -> None:
        """Note parts as stored (their transaction has committed)."""
        if len(self._stored) >= STORED:
            self._stored.clear()
        self._stored.update(digests)

    # --- reading

    def _fetch(self, conn: Connection, wanted: Mapping[str, type[Any]]) -> None:
        """Read the parts *wanted* (digest: class) that are not at hand."""
        missing = sorted(key for key in wanted if key not in self._values)
        for chunk in _chunks(missing):
            for key, text in conn.execute(_select_parts, {"ids": chunk}):
                self._values[key] = codec.loads(text, wanted[key])
        for key in missing:
            if key not in self._values:
                raise StorageError(f"document part {key}: is referred to but not stored")

    def _forget(self) -> None:
        # Bounded memory: forget everything before a page when full (a page needs at most
        # a few thousand parts, all read again at once).
        if len(self._values) >= CACHE:
            self._values.clear()
        if len(self._small) >= SMALL:
            self._small.clear()

    def load(self, conn: Connection, rows: Sequence[Sequence[Any]]) -> list[Invoice]:
        """The documents of rows of ``statements.document_columns``, in their order."""
        self._forget()
        parsed: list[tuple[Sequence[Any], Any, Any]] = []
        wanted: dict[str, type[Any]] = {}
        for row in rows:
            data = orjson.loads(row[1])
            if data.get("v") == FORMAT:
                lines = orjson.loads(row[8])
                wanted.update((line[0], LineContent) for line in lines)
                wanted[row[2]] = Company
            else:
                lines = None
            parsed.append((row, data, lines))
        if wanted:
            self._fetch(conn, wanted)
        found = []
        for row, data, lines in parsed:
            try:
                if lines is None:
                    found.append(self._load_v1(row, data))
                else:
                    found.append(self._load_v2(row, data, lines))
            except StorageError:
                raise
            except Exception as exc:
                raise StorageError(
                    f"stored Invoice {doc_id(row[0])}: cannot be read back ({exc!r})"
                ) from exc
        return found

    def _load_v1(self, row: Sequence[Any], data: dict[str, Any]) -> Invoice:
        seq, _, seller, status, number, invoice_date, due_date, cancelled_by, _ = row
        data["id"] = doc_id(seq)
        data["seller"] = self._seller(seller)  # passes through as it is
        data["status"] = status
        data["number"] = number
        data["invoice_date"] = invoice_date.isoformat()
        data["due_date"] = due_date.isoformat()
        data["cancelled_by"] = cancelled_by
        return codec.structure(data, Invoice)

    def _seller(self, text: str) -> Company:
        seller = self._sellers.get(text)
        if seller is None:
            if len(self._sellers) > 64:
                self._sellers.clear()
            seller = self._sellers[text] = codec.loads(text, Company)
        return seller

    def _breakdown_of(self, data: list[dict[str, Any]]) -> tuple[TaxSubtotal, ...]:
        """The tax breakdown stored as *data*, once per distinct one."""
        key = (_BREAKDOWN, orjson.dumps(data))
        value = self._small.get(key)
        if value is None:
            value = self._small[key] = tuple(
                [
                    TaxSubtotal(
                        **{
                            **each,
                            "rate": Decimal(each["rate"]),
                            "basis": _money(each["basis"]),
                            "tax": _money(each["tax"]),
                            "line_tax": _money(each["line_tax"]),
                        }
                    )
                    for each in data
                ]
            )
        return value

    def _load_v2(self, row: Sequence[Any], data: dict[str, Any], lines: list[Any]) -> Invoice:
        seq, _, seller, status, number, invoice_date, due_date, cancelled_by, _ = row
        values = self._values
        # A field added to documents later is missing from the bodies written before: it
        # takes its default, as the codec does.
        extra = {
            name: None if data[name] is None else codec.structure(data[name], hint)
            for name, hint in _BY_CODEC
            if name in data
        }
        return Invoice(
            id=doc_id(seq),
            kind=DocumentKind(data["kind"]),
            status=DocumentStatus(status),
            number=number,
            currency=_currency(data["currency"]),
            invoice_date=invoice_date,
            due_date=due_date,
            billing_date=date.fromisoformat(data["billing_date"]),
            seller=values[seller],
            buyer=codec.structure(data["buyer"], Account),
            lines=tuple([Line(values[key], sub, item) for key, sub, item in lines]),
            tax_breakdown=self._breakdown_of(data["tax_breakdown"]),
            net_total=_money(data["net_total"]),
            tax_total=_money(data["tax_total"]),
            total=_money(data["total"]),
            payment_terms=codec.structure(data["payment_terms"], PaymentTerms),
            subscriptions=tuple(data["subscriptions"]),
            run_id=data["run_id"],
            cancels=data["cancels"],
            cancelled_by=cancelled_by,
            **extra,
        )

    def headers(self, conn: Connection, rows: Sequence[Sequence[Any]]) -> list[DraftHeader]:
        """The headers of rows of ``statements.select_draft_headers``, in their order."""
        self._forget()
        sellers = self.sellers(conn, {row[9] for row in rows})
        found = []
        for row in rows:
            seq, status, account_id, number, invoice_date, due_date, *rest = row
            kind, code, total, seller, terms, method = rest
            try:
                currency = _currency(code)
                found.append(
                    DraftHeader(
                        id=doc_id(seq),
                        status=_STATUSES[status],
                        kind=_KINDS[kind],
                        currency=currency,
                        # The column is the exact total (decimal text on SQLite).
                        total=Money(Decimal(total), currency),
                        seller=sellers[seller],
                        account_id=account_id,
                        number=number,
                        invoice_date=_date(invoice_date),
                        due_date=_date(due_date),
                        payment_terms=self.payment_terms(terms),
                        payment_method=method,
                    )
                )
            except StorageError:
                raise
            except Exception as exc:
                raise StorageError(
                    f"stored Invoice {doc_id(seq)}: cannot be read back ({exc!r})"
                ) from exc
        return found

    def sellers(self, conn: Connection, texts: Iterable[str]) -> dict[str, Company]:
        """The sellers of the ``seller`` column values *texts*: a format-2 row refers to
        its seller by digest, a format-1 row holds its JSON."""
        texts = set(texts)
        wanted = {text: Company for text in texts if not text.startswith("{")}
        if wanted:
            self._fetch(conn, wanted)
        return {
            text: self._seller(text) if text.startswith("{") else self._values[text]
            for text in texts
        }

    def payment_terms(self, text: str) -> PaymentTerms:
        """The payment terms stored as JSON *text*, once per distinct text."""
        key = (PaymentTerms, text)
        value: PaymentTerms | None = self._small.get(key)
        if value is None:
            value = self._small[key] = codec.loads(text, PaymentTerms)
        return value

    def terms(
        self, conn: Connection, rows: Iterable[Sequence[Any]]
    ) -> Iterator[tuple[str, list[Term]]]:
        """The terms of rows of (account id, ``terms`` column), by account, in row order."""
        self._forget()
        parsed = [(account_id, orjson.loads(text)) for account_id, text in rows]
        wanted = {
            line[0]: LineContent
            for _, lines in parsed
            if lines and isinstance(lines[0], list)
            for line in lines
        }
        if wanted:
            self._fetch(conn, wanted)
        values = self._values
        for account_id, lines in parsed:
            if lines and isinstance(lines[0], list):
                terms = [
                    Term(sub or "", item or "", *part)
                    for key, sub, item in lines
                    for part in values[key].term_parts
                ]
                yield account_id, terms
            else:
                yield account_id, list(codec.structure(lines, _TERMS))


def _columns(document: Invoice) -> dict[str, Any]:
    """The columns of *document* besides its body and seller, the same in every format."""
    return {
        **Documents.header(document),
        "account_id": document.account_id,
        "kind": document.kind.value,
        "currency": document.currency.code,
        "billing_date": document.billing_date,
        "net_total": document.net_total.amount,
        "tax_total": document.tax_total.amount,
        "total": document.total.amount,
        "run_id": document.run_id,
        "cancels": document.cancels,
    }


def row_v1(document: Invoice) -> dict[str, Any]:
    """The columns of *document* in format 1 (for a downgrade below schema version 6)."""
    data = codec.unstructure(document, Invoice)
    for name in ("id", "seller", *HEADER):
        data[name] = None
    return {
        **_columns(document),
        "seller": codec.dumps(document.seller, Company),
        "body": orjson.dumps(data).decode(),
        "terms": codec.dumps(tuple(document.terms()), _TERMS),
    }
