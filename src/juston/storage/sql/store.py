"""The SQL store: one implementation for SQLite (the embedded default) and PostgreSQL.

Built on SQLAlchemy Core. A transaction is a database transaction: it commits when the
block ends normally and rolls back when it raises. On SQLite a writing transaction
starts with ``BEGIN IMMEDIATE`` (the database's write lock), so concurrent writers
queue instead of failing half-way; on PostgreSQL, the rows of documents and dunnings
read inside a transaction and the number counters it advances are locked until it ends,
so two processes finalizing at once draw gapless, unique numbers.

Usage records are stored by the million and totalled where they are: ``usage_totals``
groups and adds them up in the database (quantities are integers of 10⁻⁶ units there, so
sums are exact on SQLite too), and only the totals come back. Open amounts of documents
are summed there too, from balances in minor units.

    >>> store = SqlStore.open("sqlite://")  # an in-memory database
    >>> with store.transaction() as tx:
    ...     tx.next_number("acme/invoice/2026"), tx.next_number("acme/invoice/2026")
    (1, 2)
"""

from __future__ import annotations

import decimal
import enum
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Concatenate, ParamSpec, TypeVar

import attrs
import orjson
import sqlalchemy as sa
from moneyed import Money
from sqlalchemy.engine import Connection, Engine

from ...errors import NotFound, StateError, StorageError, ValidationError
from ...model.billables import Billable
from ...model.documents import Invoice, Term
from ...model.dunning import Dunning, DunningBlock, DunningStatus
from ...model.mandates import Mandate
from ...model.parties import Account, Company
from ...model.receivables import (
    Balance,
    BalanceType,
    EntryStatus,
    ImportedFile,
    InstallmentPlan,
    OpenAmount,
    PaymentEntry,
)
from ...model.status import DocumentStatus
from ...model.subscriptions import Subscription
from ...model.usage import (
    QUANTITY_PLACES,
    Aggregation,
    StoredUsage,
    UsageQuery,
    UsageTotal,
    canonical_quantity,
)
from ...money import currency
from ...usage.aggregate import order
from .. import codec
from ..base import DirectWrites
from . import statements as sql
from .migrate import upgrade
from .schema import balance_row, from_minor_units

__all__ = ["SqlStore"]

#: Accounts read per query when iterating over all of them: memory stays flat.
PAGE = 1000

_TERMS = tuple[Term, ...]

_T = TypeVar("_T")
_K = TypeVar("_K")
_P = ParamSpec("_P")

#: Usage rows per insert statement.
USAGE_BATCH = 10_000


def _doc_id(seq: int) -> str:
    return f"D{seq:08d}"


def _dunning_id(seq: int) -> str:
    return f"N{seq:08d}"


#: What the ids of the store's numbered rows start with.
_PREFIXES = {"document": "D", "dunning": "N"}


def _seq(object_id: str | None, prefix: str = "D") -> int | None:
    """The row number in an id the store gave out: ``D`` + a document's, ``N`` + a dunning's."""
    if object_id and object_id[:1] == prefix and object_id[1:].isdigit():
        return int(object_id[1:])
    return None


class _Documents:
    """Documents to rows and back, sharing the seller snapshot between them.

    Every document of a company carries the same seller snapshot; it is stored in its
    own column and converted once per distinct text instead of once per document.
    """

    def __init__(self) -> None:
        self._sellers: dict[str, Company] = {}
        self._seller_texts: dict[int, tuple[Company, str]] = {}

    def _seller_text(self, seller: Company) -> str:
        known = self._seller_texts.get(id(seller))
        if known is None or known[0] is not seller:
            if len(self._seller_texts) > 64:
                self._seller_texts.clear()
            known = self._seller_texts[id(seller)] = (seller, codec.dumps(seller, Company))
        return known[1]

    def _seller(self, text: str) -> Company:
        seller = self._sellers.get(text)
        if seller is None:
            if len(self._sellers) > 64:
                self._sellers.clear()
            seller = self._sellers[text] = codec.loads(text, Company)
        return seller

    def load(self, row: Sequence[Any]) -> Invoice:
        """The document of a row of ``statements.document_columns``."""
        seq, body, seller, status, number, invoice_date, due_date, cancelled_by = row
        data = orjson.loads(body)
        data["id"] = _doc_id(seq)
        data["seller"] = self._seller(seller)  # passes through as it is
        data["status"] = status
        data["number"] = number
        data["invoice_date"] = invoice_date.isoformat()
        data["due_date"] = due_date.isoformat()
        data["cancelled_by"] = cancelled_by
        return codec.structure(data, Invoice)

    def row(self, document: Invoice) -> dict[str, Any]:
        data = codec.unstructure(document, Invoice)
        # The id is the row's number; the seller and the header have columns of their own.
        for name in ("id", "seller", *HEADER):
            data[name] = None
        return {
            **self.header(document),
            "account_id": document.account_id,
            "kind": document.kind.value,
            "currency": document.currency.code,
            "billing_date": document.billing_date,
            "net_total": document.net_total.amount,
            "tax_total": document.tax_total.amount,
            "total": document.total.amount,
            "run_id": document.run_id,
            "cancels": document.cancels,
            "seller": self._seller_text(document.seller),
            "body": orjson.dumps(data).decode(),
            "terms": codec.dumps(tuple(document.terms()), _TERMS),
        }

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


#: What finalizing and cancelling change: kept in columns only, so that such a change
#: rewrites a few columns instead of the whole document.
HEADER = ("status", "number", "invoice_date", "due_date", "cancelled_by")
_BODY = tuple(f.name for f in attrs.fields(Invoice) if f.name not in (*HEADER, "id"))


class _Reads:
    """Reads over one connection (a store's short read, or a transaction's own).

    With *lock*, the documents read are locked until the transaction ends (PostgreSQL's
    ``FOR UPDATE``): a concurrent transaction that wants to change them waits, then sees
    the change. Finalizing relies on it: no draft is numbered twice.
    """

    def __init__(self, conn: Connection, docs: _Documents, *, lock: bool = False) -> None:
        self.conn = conn
        self.docs = docs
        self.lock = lock and conn.dialect.name == "postgresql"
        # In a transaction: the documents read and not yet replaced, by row number.
        self.loaded: dict[int, Invoice] | None = {} if lock else None

    def _load(self, row: Sequence[Any]) -> Invoice:
        document = self.docs.load(row)
        if self.loaded is not None:
            if len(self.loaded) > 10_000:  # read but never replaced: forget them
                self.loaded.clear()
            self.loaded[row[0]] = document
        return document

    def company(self) -> Company:
        body = self.conn.scalar(sql.select_company)
        if body is None:
            raise NotFound("company: none stored yet; put_company() first")
        return codec.loads(body, Company)

    def account(self, account_id: str) -> Account:
        body = self.conn.scalar(sql.select_account, {"id": account_id})
        if body is None:
            raise NotFound(f"account: {account_id!r} does not exist")
        return codec.loads(body, Account)

    def accounts_page(self, after: str, limit: int) -> list[Account]:
        bodies = self.conn.scalars(sql.select_accounts_after, {"after": after, "limit": limit})
        return [codec.loads(body, Account) for body in bodies]

    def accounts_by_id(self, ids: Collection[str]) -> list[Account]:
        wanted = sorted(set(ids))
        found: dict[str, str] = {}
        for chunk in _chunks(wanted):
            found.update(
                (i, b) for i, b in self.conn.execute(sql.select_accounts_by_id, {"ids": chunk})
            )
        for account_id in wanted:
            if account_id not in found:
                raise NotFound(f"account: {account_id!r} does not exist")
        return [codec.loads(found[i], Account) for i in wanted]

    def count_accounts(self) -> int:
        return self.conn.scalar(sql.count_accounts) or 0

    def _rows_in(self, statement: Any, ids: Collection[str]) -> Iterator[Any]:
        """The rows of *statement* for the distinct *ids* (its parameter ``ids``)."""
        for chunk in _chunks(sorted(set(ids))):
            yield from self.conn.execute(statement, {"ids": chunk})

    def subscriptions_of(self, account_ids: Collection[str]) -> dict[str, list[Subscription]]:
        result: dict[str, list[Subscription]] = {i: [] for i in account_ids}
        for account_id, body in self._rows_in(sql.select_subscriptions, result):
            result[account_id].append(codec.loads(body, Subscription))
        return result

    def billed_terms_of(self, account_ids: Collection[str]) -> dict[str, list[Term]]:
        result: dict[str, list[Term]] = {i: [] for i in account_ids}
        for account_id, terms in self._rows_in(sql.select_terms, result):
            result[account_id].extend(codec.loads(terms, _TERMS))
        return result

    def known_usage(self, ids: Collection[str]) -> set[str]:
        return {record_id for (record_id,) in self._rows_in(sql.select_known_usage, ids)}

    def usage_totals(self, queries: Collection[UsageQuery]) -> list[UsageTotal]:
        # One query per aggregation (and property), each over the items that ask for it; an
        # item asked for twice the same way gets its totals twice, as from the memory store.
        wanted: dict[tuple[Aggregation, str | None], Counter[tuple[str, str, str]]] = {}
        for query in queries:
            unique = query.aggregation is Aggregation.UNIQUE_COUNT
            prop = (query.property or None) if unique else None
            items = wanted.setdefault((query.aggregation, prop), Counter())
            items[(query.account_id, query.subscription, query.item_id)] += 1
        totals: list[UsageTotal] = []
        dialect = self.conn.dialect.name
        for (aggregation, prop), items in wanted.items():
            statement = sql.usage_totals(dialect, aggregation)
            counted = aggregation in (Aggregation.COUNT, Aggregation.UNIQUE_COUNT)
            for chunk in _chunks(sorted(items), sql.ITEMS_PER_QUERY[dialect]):
                params = {**sql.usage_items(dialect, chunk), "prop": prop}
                for row in self.conn.execute(statement, params):
                    total = _usage_total(row, counted)
                    key = (total.account_id, total.subscription, total.item_id)
                    totals.extend([total] * items[key])
        totals.sort(key=order)
        return totals

    def charges_of(self, account_ids: Collection[str]) -> dict[str, list[Billable]]:
        found: dict[str, list[tuple[str, str, str]]] = {i: [] for i in account_ids}
        for account_id, source, key, body in self._rows_in(sql.select_charges, found):
            found[account_id].append((source, key, body))
        # Sorted here, in code point order as Python sorts, whatever the database collation.
        return {
            account_id: [codec.loads(body, Billable) for _, _, body in sorted(rows)]
            for account_id, rows in found.items()
        }

    def document(self, document_id: str) -> Invoice:
        seq = _seq(document_id)
        query = sql.select_document.with_for_update() if self.lock else sql.select_document
        row = None if seq is None else self.conn.execute(query, {"seq": seq}).first()
        if row is None:
            raise NotFound(f"document: {document_id!r} does not exist")
        return self._load(row)

    def documents_page(self, after: int, limit: int, filters: dict[str, str]) -> list[Invoice]:
        """Up to *limit* documents after row *after* whose columns equal *filters*."""
        query = sql.select_documents(frozenset(filters), self.lock)
        params = {"after": after, "limit": limit, **filters}
        return [self._load(row) for row in self.conn.execute(query, params)]

    # --- receivables

    def balances(self, filters: dict[str, str]) -> list[Balance]:
        bodies = self.conn.scalars(sql.select_balances(frozenset(filters)), filters)
        return [codec.loads(body, Balance) for body in bodies]

    def balances_of(self, account_ids: Collection[str]) -> dict[str, list[Balance]]:
        result: dict[str, list[Balance]] = {i: [] for i in account_ids}
        for account_id, body in self._rows_in(sql.select_balances_of, result):
            result[account_id].append(codec.loads(body, Balance))
        return result

    def known_balances(self, ids: Collection[str]) -> set[str]:
        return {balance_id for (balance_id,) in self._rows_in(sql.select_known_balances, ids)}

    def open_documents(self, account_ids: Collection[str] | None) -> list[OpenAmount]:
        if account_ids is None:
            rows: Iterator[Any] = iter(self.conn.execute(sql.open_documents(False)))
        else:
            rows = self._rows_in(sql.open_documents(True), account_ids)
        found = [_open_amount(row) for row in rows]
        # Sorted here, in code point order as Python sorts, whatever the database collation.
        found.sort(key=lambda o: (o.since, o.document_id))
        return found

    def payment_entry(self, entry_id: str) -> PaymentEntry:
        body = self.conn.scalar(sql.select_entry, {"id": entry_id})
        if body is None:
            raise NotFound(f"payment entry: {entry_id!r} does not exist")
        return codec.loads(body, PaymentEntry)

    def entries_page(
        self, after: tuple[date, str], limit: int, filters: dict[str, str]
    ) -> list[PaymentEntry]:
        """Up to *limit* payment entries after (booking date, id) *after* whose columns
        equal *filters*."""
        query = sql.select_entries(frozenset(filters), self.conn.dialect.name)
        params = {"after_date": after[0], "after_id": after[1], "limit": limit, **filters}
        return [codec.loads(body, PaymentEntry) for body in self.conn.scalars(query, params)]

    def imported_file(self, name: str, digest: str) -> ImportedFile | None:
        found = self.conn.execute(sql.select_imported_file, {"name": name, "digest": digest})
        row = found.first()
        return None if row is None else ImportedFile(**row._mapping)

    def mandates(self, account_id: str) -> list[Mandate]:
        bodies = self.conn.scalars(sql.select_mandates, {"id": account_id})
        found = [codec.loads(body, Mandate) for body in bodies]
        return sorted(found, key=lambda m: (m.signed_on, m.reference))

    def installment_plans_of(self, document_ids: Collection[str]) -> dict[str, InstallmentPlan]:
        return {
            document_id: codec.loads(body, InstallmentPlan)
            for document_id, body in self._rows_in(sql.select_plans, document_ids)
        }

    # --- dunning

    def dunning(self, dunning_id: str) -> Dunning:
        seq = _seq(dunning_id, "N")
        query = sql.select_dunning.with_for_update() if self.lock else sql.select_dunning
        row = None if seq is None else self.conn.execute(query, {"seq": seq}).first()
        if row is None:
            raise NotFound(f"dunning: {dunning_id!r} does not exist")
        return _dunning(row)

    def dunnings_page(self, after: int, limit: int, filters: dict[str, str]) -> list[Dunning]:
        """Up to *limit* dunnings after row *after* whose columns equal *filters*."""
        query = sql.select_dunnings(frozenset(filters), self.lock)
        params = {"after": after, "limit": limit, **filters}
        return [_dunning(row) for row in self.conn.execute(query, params)]

    def dunning_blocks(self) -> list[DunningBlock]:
        # Sorted here, in code point order as Python sorts, whatever the database collation.
        rows = sorted(self.conn.execute(sql.select_dunning_blocks).all())
        return [codec.loads(body, DunningBlock) for _, body in rows]


def _chunks(values: Sequence[_T], size: int = 500) -> Iterator[Sequence[_T]]:
    # Bound the number of parameters per statement (SQLite allows 32,766).
    for start in range(0, len(values), size):
        yield values[start : start + size]


#: 10⁻⁶, the unit usage quantities are stored in.
_PLACES = QUANTITY_PLACES
_MILLION = Decimal(10**QUANTITY_PLACES)
# Whatever context the caller set: quantities and sums (at most 20 digits) stay exact.
_EXACT = decimal.Context(prec=60)
_times = _EXACT.multiply
_MAX_MICROS = 2**63 - 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _usage_total(row: Sequence[Any], counted: bool) -> UsageTotal:
    """A row of ``statements.usage_totals`` as a total; *counted*: its quantity is a count,
    not millionths."""
    (
        account_id,
        subscription,
        item_id,
        period_start,
        criterion,
        invoice_criterion,
        unit_price,
        day,
        quantity,
        records,
    ) = row
    amount = Decimal(quantity) if counted else _EXACT.scaleb(Decimal(quantity), -_PLACES)
    return UsageTotal(
        account_id=account_id,
        subscription=subscription,
        item_id=item_id,
        period_start=period_start,
        criterion=criterion,
        invoice_criterion=invoice_criterion,
        unit_price=None if unit_price is None else Decimal(unit_price),
        quantity=canonical_quantity(amount),
        records=int(records),
        day=day,
    )


def _usage_row(row: StoredUsage, iso: dict[date, str]) -> tuple[Any, ...]:
    """The values of ``statements.USAGE_COLUMNS`` for *row*, dates as ISO text (*iso*
    caches them: a batch has few distinct days)."""
    record = row.record
    quantity = record.quantity
    micros = int(_times(quantity, _MILLION))  # exact: at most QUANTITY_PLACES places
    if micros > _MAX_MICROS:
        raise ValidationError(
            "quantity", quantity, f"is more than the SQL store holds (record {record.id!r})"
        )
    price = record.unit_price
    if price is None:
        unit_price = currency = None
    else:
        # One text per value: 0.10 and 0.1 are the same price, in one group.
        unit_price = str(canonical_quantity(price.amount) if price.amount else Decimal(0))
        currency = price.currency.code
    if record.properties:
        names: dict[str, str] = {}
        for name, value in record.properties:
            names.setdefault(name, value)  # the first, as UsageRecord.property() finds it
        properties = orjson.dumps(names).decode()
    else:
        properties = None
    period_start = iso.get(row.period_start) or iso.setdefault(
        row.period_start, row.period_start.isoformat()
    )
    day = iso.get(row.day) or iso.setdefault(row.day, row.day.isoformat())
    return (
        record.id,
        row.account_id,
        row.subscription,
        row.item_id,
        period_start,
        day,
        (record.timestamp - _EPOCH) // _MICROSECOND,
        micros,
        unit_price,
        currency,
        record.criterion,
        record.invoice_criterion,
        properties,
        codec.dumps_usage_record(record),
    )


def _filters(**given: str | enum.Enum | None) -> dict[str, str]:
    """The columns given a value (an enum's stored as its value) and their values."""
    return {
        column: value.value if isinstance(value, enum.Enum) else value
        for column, value in given.items()
        if value is not None
    }


def _open_amount(row: Sequence[Any]) -> OpenAmount:
    """A row of ``statements.open_documents`` as an open amount."""
    document_id, account_id, units, code, since, kind, cause = row
    amount = Money(from_minor_units(units, code), currency(code))
    number = cause if kind == BalanceType.INVOICE.value else None
    return OpenAmount(document_id, account_id, amount, since, number)


def _entry_row(entry: PaymentEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "status": entry.status.value,
        "account_id": entry.account_id,
        "booking_date": entry.booking_date,
        "body": codec.dumps(entry, PaymentEntry),
    }


def _dunning(row: Sequence[Any]) -> Dunning:
    """The dunning of a row of ``statements.select_dunning``: its id is the row's number."""
    seq, body = row
    data = orjson.loads(body)
    data["id"] = _dunning_id(seq)
    return codec.structure(data, Dunning)


def _dunning_row(dunning: Dunning) -> dict[str, Any]:
    data = codec.unstructure(dunning, Dunning)
    data["id"] = None  # the row's number
    return {
        "account_id": dunning.account_id,
        "status": dunning.status.value,
        "dunning_date": dunning.dunning_date,
        "number": dunning.number,
        "body": orjson.dumps(data).decode(),
    }


def _stored_already(balance_id: str) -> StateError:
    return StateError(f"balance {balance_id}: is stored already; balances never change")


class _StoreReads:
    """The :class:`~juston.storage.Reader` methods, shared by the store and its transactions."""

    def _reads(self) -> AbstractContextManager[_Reads]:
        raise NotImplementedError

    def _read(
        self, method: Callable[Concatenate[_Reads, _P], _T], *args: _P.args, **kwargs: _P.kwargs
    ) -> _T:
        with self._reads() as r:
            return method(r, *args, **kwargs)

    def _paged(
        self, page_after: Callable[[_Reads, _K], list[_T]], key: Callable[[_T], _K], first: _K
    ) -> Iterator[_T]:
        """Everything, page by page, each page its own short read, so no cursor stays open
        between pages; a page continues after the *key* of the last one (*first*: before
        everything)."""
        after = first
        while True:
            page = self._read(page_after, after)
            if not page:
                return
            yield from page
            after = key(page[-1])

    def company(self) -> Company:
        return self._read(_Reads.company)

    def account(self, account_id: str) -> Account:
        return self._read(_Reads.account, account_id)

    def accounts(self, ids: Collection[str] | None = None) -> Iterator[Account]:
        if ids is not None:
            yield from self._read(_Reads.accounts_by_id, ids)
            return
        # Account ids are never empty.
        yield from self._paged(lambda r, after: r.accounts_page(after, PAGE), _account_id, "")

    def count_accounts(self) -> int:
        return self._read(_Reads.count_accounts)

    def subscriptions(self, account_id: str) -> Sequence[Subscription]:
        return self.subscriptions_of([account_id])[account_id]

    def subscriptions_of(
        self, account_ids: Collection[str]
    ) -> Mapping[str, Sequence[Subscription]]:
        return self._read(_Reads.subscriptions_of, account_ids)

    def billed_terms(self, account_id: str) -> Sequence[Term]:
        return self.billed_terms_of([account_id])[account_id]

    def billed_terms_of(self, account_ids: Collection[str]) -> Mapping[str, Sequence[Term]]:
        return self._read(_Reads.billed_terms_of, account_ids)

    def known_usage(self, ids: Collection[str]) -> set[str]:
        return self._read(_Reads.known_usage, ids)

    def usage_totals(self, queries: Collection[UsageQuery]) -> list[UsageTotal]:
        return self._read(_Reads.usage_totals, queries)

    def charges_of(self, account_ids: Collection[str]) -> Mapping[str, Sequence[Billable]]:
        return self._read(_Reads.charges_of, account_ids)

    def document(self, document_id: str) -> Invoice:
        return self._read(_Reads.document, document_id)

    def documents(
        self,
        *,
        account_id: str | None = None,
        status: DocumentStatus | None = None,
        run_id: str | None = None,
        number: str | None = None,
    ) -> Iterator[Invoice]:
        filters = _filters(account_id=account_id, status=status, run_id=run_id, number=number)
        return self._paged(
            lambda r, after: r.documents_page(after, PAGE, filters), _document_seq, 0
        )

    def balances(
        self, *, account_id: str | None = None, document_id: str | None = None
    ) -> list[Balance]:
        return self._read(_Reads.balances, _filters(account_id=account_id, document_id=document_id))

    def balances_of(self, account_ids: Collection[str]) -> Mapping[str, Sequence[Balance]]:
        return self._read(_Reads.balances_of, account_ids)

    def known_balances(self, ids: Collection[str]) -> set[str]:
        return self._read(_Reads.known_balances, ids)

    def open_documents(self, account_ids: Collection[str] | None = None) -> list[OpenAmount]:
        return self._read(_Reads.open_documents, account_ids)

    def payment_entry(self, entry_id: str) -> PaymentEntry:
        return self._read(_Reads.payment_entry, entry_id)

    def payment_entries(
        self, *, status: EntryStatus | None = None, account_id: str | None = None
    ) -> Iterator[PaymentEntry]:
        filters = _filters(status=status, account_id=account_id)
        # Entry ids are never empty.
        return self._paged(
            lambda r, after: r.entries_page(after, PAGE, filters), _entry_key, (date.min, "")
        )

    def imported_file(self, name: str, digest: str) -> ImportedFile | None:
        return self._read(_Reads.imported_file, name, digest)

    def mandates(self, account_id: str) -> Sequence[Mandate]:
        return self._read(_Reads.mandates, account_id)

    def installment_plans_of(self, document_ids: Collection[str]) -> Mapping[str, InstallmentPlan]:
        return self._read(_Reads.installment_plans_of, document_ids)

    def dunning(self, dunning_id: str) -> Dunning:
        return self._read(_Reads.dunning, dunning_id)

    def dunnings(
        self, *, account_id: str | None = None, status: DunningStatus | None = None
    ) -> Iterator[Dunning]:
        filters = _filters(account_id=account_id, status=status)
        return self._paged(lambda r, after: r.dunnings_page(after, PAGE, filters), _dunning_seq, 0)

    def dunning_blocks(self) -> list[DunningBlock]:
        return self._read(_Reads.dunning_blocks)


def _account_id(account: Account) -> str:
    return account.id


def _document_seq(document: Invoice) -> int:
    return _seq(document.id) or 0


def _dunning_seq(dunning: Dunning) -> int:
    return _seq(dunning.id, "N") or 0


def _entry_key(entry: PaymentEntry) -> tuple[date, str]:
    return (entry.booking_date, entry.id)


class SqlStore(DirectWrites, _StoreReads):
    """A store in a SQL database named by a SQLAlchemy URL.

    ``sqlite:///billing.db`` is a file (created on first use), ``sqlite://`` an
    in-memory database, ``postgresql+psycopg://user@host/db`` a PostgreSQL database
    (install ``juston[postgres]``). Opening brings the schema up to date; a database
    written by a newer juston is refused.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._docs = _Documents()

    @classmethod
    def open(cls, url: str, *, upgrade_schema: bool = True) -> SqlStore:
        """Open (and with *upgrade_schema*, create or upgrade) the database at *url*."""
        engine = _engine(url)
        try:
            with _database_errors(url), engine.begin() as conn:
                upgrade(conn, apply=upgrade_schema)
        except BaseException:
            engine.dispose()
            raise
        return cls(engine)

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    def share(self) -> str:
        """The URL for opening this database in another process (password included)."""
        if self.engine.url.get_backend_name() == "sqlite" and self.engine.url.database in (
            None,
            "",
            ":memory:",
        ):
            raise StorageError("url: an in-memory SQLite database cannot be shared")
        return self.engine.url.render_as_string(hide_password=False)

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"SqlStore({self.url!r})"

    @contextmanager
    def _reads(self) -> Iterator[_Reads]:
        with _database_errors(self.url), self.engine.connect() as conn:
            yield _Reads(conn, self._docs)

    @contextmanager
    def transaction(self) -> Iterator[_SqlTransaction]:
        with _database_errors(self.url), self.engine.connect() as conn:
            conn.execution_options(juston_write=True)
            with conn.begin():
                yield _SqlTransaction(_Reads(conn, self._docs, lock=True))


class _SqlTransaction(_StoreReads):
    def __init__(self, reads: _Reads) -> None:
        self.conn = reads.conn
        self.r = reads
        self.dialect = reads.conn.dialect.name
        self.counters: set[str] = set()

    @contextmanager
    def _reads(self) -> Iterator[_Reads]:
        yield self.r

    def _upsert(self, table: str, rows: dict[str, Any] | list[dict[str, Any]]) -> None:
        self.conn.execute(sql.upsert(self.dialect, table), rows)

    def put_company(self, company: Company) -> None:
        body = codec.dumps(company, Company)
        self._upsert("company", {"slot": 1, "id": company.id, "body": body})

    def put_account(self, account: Account) -> None:
        row = {
            "id": account.id,
            "name": account.name,
            "country": account.country,
            "currency": account.currency.code,
            "body": codec.dumps(account, Account),
        }
        self._upsert("accounts", row)

    def _account_must_exist(self, account_id: str) -> None:
        if self.conn.scalar(sql.account_exists, {"id": account_id}) is None:
            raise NotFound(f"account: {account_id!r} does not exist")

    def put_subscription(self, subscription: Subscription) -> None:
        account_id = subscription.account_id
        self._account_must_exist(account_id)
        body = codec.dumps(subscription, Subscription)
        row = {"account_id": account_id, "number": subscription.number, "body": body}
        self._upsert("subscriptions", row)

    def add_document(self, document: Invoice) -> Invoice:
        return self.add_documents([document])[0]

    def add_documents(self, documents: Sequence[Invoice]) -> list[Invoice]:
        if not documents:
            return []
        rows = [self.r.docs.row(d) for d in documents]
        seqs = self.conn.scalars(sql.insert_documents, rows).all()
        return [attrs.evolve(d, id=_doc_id(s)) for d, s in zip(documents, seqs, strict=True)]

    def replace_document(self, document: Invoice) -> None:
        self.replace_documents([document])

    def replace_documents(self, documents: Sequence[Invoice]) -> None:
        headers: list[dict[str, Any]] = []
        rows: list[dict[str, Any]] = []
        loaded = self.r.loaded if self.r.loaded is not None else {}
        for document in documents:
            seq = _seq(document.id)
            if seq is None:
                raise NotFound(f"document: {document.id!r} does not exist")
            before = loaded.pop(seq, None)
            # A document read in this transaction and changed only in its header (as
            # finalizing and cancelling do) keeps its body: the rest is the same objects.
            if before is not None and all(
                getattr(document, name) is getattr(before, name) for name in _BODY
            ):
                headers.append({"_seq": seq, **self.r.docs.header(document)})
            else:
                rows.append({"_seq": seq, **self.r.docs.row(document)})
        changed = sum(
            self.conn.execute(sql.update_document, params).rowcount
            for params in (headers, rows)
            if params
        )
        if changed != len(documents):  # one statement for many: which one is unknown
            raise NotFound(f"document: {len(documents) - changed} of those to replace do not exist")

    def delete_document(self, document_id: str) -> None:
        self._change_row(sql.delete_document, "document", document_id)

    def _change_row(self, statement: Any, kind: str, object_id: str | None, **values: Any) -> None:
        """Run *statement* on the row of the *kind* (``document``, ``dunning``) *object_id*
        names, with the columns *values*; NotFound if there is no such row."""
        seq = _seq(object_id, _PREFIXES[kind])
        if seq is None or self.conn.execute(statement, {"_seq": seq, **values}).rowcount != 1:
            raise NotFound(f"{kind}: {object_id!r} does not exist")

    def next_number(self, sequence: str) -> int:
        return self.next_numbers(sequence, 1)[0]

    def next_numbers(self, sequence: str, count: int) -> range:
        if sequence not in self.counters:
            self.set_counter(sequence, 0)
        # The UPDATE locks the counter row until commit (PostgreSQL; SQLite locks the file).
        params = {"_sequence": sequence, "count": count}
        last = int(self.conn.execute(sql.advance_counter, params).scalar_one())
        return range(last - count + 1, last + 1)

    def set_counter(self, sequence: str, value: int) -> None:
        self.conn.execute(sql.insert_counter(self.dialect), {"sequence": sequence, "value": value})
        self.counters.add(sequence)  # it exists now, whoever created it

    def has_counter(self, sequence: str) -> bool:
        return self.conn.scalar(sql.select_counter, {"sequence": sequence}) is not None

    def add_usage(self, rows: Sequence[StoredUsage]) -> int:
        first: dict[str, StoredUsage] = {}
        for row in rows:
            first.setdefault(row.record.id, row)
        # In id order: concurrent transactions adding the same ids then wait for each other
        # in one order and never deadlock (PostgreSQL locks each id it inserts).
        fresh = [first[record_id] for record_id in sorted(first)]
        statement = sql.insert_usage(self.dialect)
        iso: dict[date, str] = {}
        added = 0
        for batch in _chunks(fresh, USAGE_BATCH):
            values = [_usage_row(row, iso) for row in batch]
            # Ids stored before (or by a concurrent transaction) are skipped by the insert,
            # so its row count is what was stored: SQLite sums it over executemany (and
            # has one writer at a time), PostgreSQL's one statement counts exactly.
            if self.dialect == "sqlite":
                result = self.conn.exec_driver_sql(statement, values)
            else:
                result = self.conn.exec_driver_sql(statement, (orjson.dumps(values).decode(),))
            added += result.rowcount
        return added

    def put_charge(self, charge: Billable) -> None:
        self._account_must_exist(charge.account_id)
        row = {
            "source": charge.source,
            "key": charge.key,
            "account_id": charge.account_id,
            "body": codec.dumps(charge, Billable),
        }
        self._upsert("charges", row)

    def delete_charge(self, source: str, key: str) -> None:
        params = {"_source": source, "_key": key}
        if self.conn.execute(sql.delete_charge, params).rowcount != 1:
            raise NotFound(f"charge: no charge {source}/{key}")

    def add_balances(self, balances: Sequence[Balance]) -> None:
        rows: dict[str, dict[str, Any]] = {}
        for balance in balances:
            if balance.id in rows:
                raise _stored_already(balance.id)
            rows[balance.id] = balance_row(balance)
        # Checked before writing, so a refused call adds nothing even if the caller goes on;
        # the same id added by a concurrent transaction meanwhile trips the unique index.
        known = self.r.known_balances(rows)
        if known:
            raise _stored_already(next(i for i in rows if i in known))
        if rows:
            self.conn.execute(sql.insert_balances, list(rows.values()))

    def put_payment_entries(self, entries: Sequence[PaymentEntry]) -> None:
        rows = {entry.id: _entry_row(entry) for entry in entries}  # the last of equal ids wins
        if rows:
            self._upsert("payment_entries", list(rows.values()))

    def add_imported_file(self, imported: ImportedFile) -> None:
        statement = sql.insert_imported_file(self.dialect)
        if self.conn.scalar(statement, attrs.asdict(imported)) is None:
            raise StateError(
                f"imported file {imported.name}: a file of this name or content "
                "was imported already"
            )

    def put_mandate(self, mandate: Mandate) -> None:
        self._account_must_exist(mandate.account_id)
        row = {
            "reference": mandate.reference,
            "account_id": mandate.account_id,
            "signed_on": mandate.signed_on,
            "body": codec.dumps(mandate, Mandate),
        }
        self._upsert("mandates", row)

    def put_installment_plan(self, plan: InstallmentPlan) -> None:
        seq = _seq(plan.document_id)
        if seq is None or self.conn.scalar(sql.document_exists, {"seq": seq}) is None:
            raise NotFound(f"document: {plan.document_id!r} does not exist")
        body = codec.dumps(plan, InstallmentPlan)
        self._upsert("installment_plans", {"document_id": plan.document_id, "body": body})

    def add_dunning(self, dunning: Dunning) -> Dunning:
        self._account_must_exist(dunning.account_id)
        seq = self.conn.execute(sql.insert_dunning, _dunning_row(dunning)).scalar_one()
        return attrs.evolve(dunning, id=_dunning_id(seq))

    def replace_dunning(self, dunning: Dunning) -> None:
        self._change_row(sql.update_dunning, "dunning", dunning.id, **_dunning_row(dunning))

    def delete_dunning(self, dunning_id: str) -> None:
        self._change_row(sql.delete_dunning, "dunning", dunning_id)

    def put_dunning_block(self, block: DunningBlock) -> None:
        self._upsert("dunning_blocks", {"key": block.key, "body": codec.dumps(block, DunningBlock)})

    def delete_dunning_block(self, key: str) -> None:
        if self.conn.execute(sql.delete_dunning_block, {"_key": key}).rowcount != 1:
            raise NotFound(f"dunning block: {key!r} does not exist")


@contextmanager
def _database_errors(url: str) -> Iterator[None]:
    """The database's own failures as :class:`StorageError`, the original as its cause."""
    try:
        yield
    except sa.exc.SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise StorageError(f"database {url}: {reason}") from exc


def _engine(url: str) -> Engine:
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError as exc:
        raise StorageError(f"url: {url!r} is not a database URL ({exc})") from None
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed)
    if parsed.get_backend_name() == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        try:
            return sa.create_engine(parsed, pool_pre_ping=True)
        except ModuleNotFoundError as exc:
            raise StorageError(
                f"url: {url!r} needs the PostgreSQL driver: pip install 'juston[postgres]' ({exc})"
            ) from None
    raise StorageError(f"url: {url!r} names a database juston does not support")


def _sqlite_engine(url: sa.URL) -> Engine:
    memory = url.database in (None, "", ":memory:")
    options: dict[str, Any] = {}
    if memory:
        # One connection, shared: each new connection would see its own empty database.
        options["poolclass"] = sa.pool.StaticPool
        options["connect_args"] = {"check_same_thread": False}
    engine = sa.create_engine(url, **options)

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _: Any) -> None:
        # Let SQLAlchemy's "begin" below decide how a transaction starts.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA busy_timeout = 60000")
        if not memory:
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        write = conn.get_execution_options().get("juston_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine
