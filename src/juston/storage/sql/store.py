"""The SQL store: one implementation for SQLite (the embedded default) and PostgreSQL.

Built on SQLAlchemy Core. A transaction is a database transaction: it commits when the
block ends normally and rolls back when it raises. On SQLite a writing transaction
starts with ``BEGIN IMMEDIATE`` (the database's write lock), so concurrent writers
queue instead of failing half-way; on PostgreSQL, the rows of documents and dunnings
read inside a transaction and the number counters it advances are locked until it ends,
so two processes finalizing at once draw gapless, unique numbers.

Usage records are stored by the million and totalled where they are
(:mod:`.usage`): ``usage_totals`` adds them up in the database from rows per item and
day that each transaction updates once for all the records it added (quantities are
integers of 10⁻⁶ units there, so sums are exact on SQLite too), and only the totals
come back. Open amounts of documents
are summed there too, from balances in minor units.

    >>> store = SqlStore.open("sqlite://")  # an in-memory database
    >>> with store.transaction() as tx:
    ...     tx.next_number("acme/invoice/2026"), tx.next_number("acme/invoice/2026")
    (1, 2)
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import date
from typing import Any, Concatenate, ParamSpec, TypeVar

import attrs
import orjson
import sqlalchemy as sa
from moneyed import Money
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from ...errors import NotFound, StateError, StorageError
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
from ...model.terms import PaymentTerms
from ...model.usage import StoredUsage, UsageQuery, UsageTotal
from ...money import currency
from ...usage.rows import UsageRow
from .. import codec
from ..base import DirectWrites
from . import statements as sql
from . import usage
from .bodies import COLUMNS, HEADER, Documents, DraftHeader, doc_id
from .finalizing import FinalizesInDatabase
from .migrate import upgrade
from .schema import Amount, balance_row, from_minor_units, metadata

__all__ = ["SqlStore"]

#: Accounts read per query when iterating over all of them: memory stays flat.
PAGE = 1000
#: Account ids read per query when listing them without the accounts.
ID_PAGE = 10_000

_T = TypeVar("_T")
_K = TypeVar("_K")
_P = ParamSpec("_P")


def _dunning_id(seq: int) -> str:
    return f"N{seq:08d}"


#: What the ids of the store's numbered rows start with.
_PREFIXES = {"document": "D", "dunning": "N"}


def _seq(object_id: str | None, prefix: str = "D") -> int | None:
    """The row number in an id the store gave out: ``D`` + a document's, ``N`` + a dunning's."""
    if object_id and object_id[:1] == prefix and object_id[1:].isdigit():
        return int(object_id[1:])
    return None


_BODY = tuple(f.name for f in attrs.fields(Invoice) if f.name not in (*HEADER, "id"))


class _Reads:
    """Reads over one connection (a store's short read, or a transaction's own).

    With *lock*, the documents read are locked until the transaction ends (PostgreSQL's
    ``FOR UPDATE``): a concurrent transaction that wants to change them waits, then sees
    the change. Finalizing relies on it: no draft is numbered twice.
    """

    def __init__(self, conn: Connection, docs: Documents, *, lock: bool = False) -> None:
        self.conn = conn
        self.docs = docs
        self.lock = lock and conn.dialect.name == "postgresql"
        # In a transaction: the documents read and not yet replaced, by row number.
        self.loaded: dict[int, Invoice] | None = {} if lock else None

    def _load(self, rows: Sequence[Sequence[Any]]) -> list[Invoice]:
        documents = self.docs.load(self.conn, rows)
        if self.loaded is not None:
            if len(self.loaded) > 10_000:  # read but never replaced: forget them
                self.loaded.clear()
            for row, document in zip(rows, documents, strict=True):
                self.loaded[row[0]] = document
        return documents

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

    def account_ids_page(self, after: str, limit: int) -> list[str]:
        return list(
            self.conn.scalars(sql.select_account_ids_after, {"after": after, "limit": limit})
        )

    def known_account_ids(self, ids: Collection[str]) -> list[str]:
        """The distinct *ids* in id order; NotFound for the first that does not exist."""
        known = {i for (i,) in self._rows_in(sql.select_known_accounts, ids)}
        wanted = sorted(set(ids))
        for account_id in wanted:
            if account_id not in known:
                raise NotFound(f"account: {account_id!r} does not exist")
        return wanted

    def accounts_by_id(self, ids: Collection[str]) -> list[Account]:
        wanted = sorted(set(ids))
        found: dict[str, str] = dict(self._texts_in(sql.select_accounts_by_id, wanted))
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

    def _texts_in(self, statement: Any, ids: Collection[str]) -> Iterator[Any]:
        """``_rows_in`` for a *statement* of text columns only, run at the driver's level:
        SQLAlchemy's expanding of the ids and its result processing cost more than the
        database's own work for the bodies of a run's batch. Text comes back from the
        driver as SQLAlchemy would give it."""
        dialect = self.conn.dialect.name
        for chunk in _chunks(sorted(set(ids))):
            query = _driver_in(statement, dialect, len(chunk))
            yield from self.conn.exec_driver_sql(query, tuple(chunk))

    def subscriptions_of(self, account_ids: Collection[str]) -> dict[str, list[Subscription]]:
        result: dict[str, list[Subscription]] = {i: [] for i in account_ids}
        loads = codec.loads
        for account_id, body in self._texts_in(sql.select_subscriptions, result):
            result[account_id].append(loads(body, Subscription))
        return result

    def billed_terms_of(self, account_ids: Collection[str]) -> dict[str, list[Term]]:
        result: dict[str, list[Term]] = {i: [] for i in account_ids}
        for chunk in _chunks(sorted(result)):
            rows = list(self._texts_in(sql.select_terms, chunk))
            for account_id, terms in self.docs.terms(self.conn, rows):
                result[account_id].extend(terms)
        return result

    def known_usage(self, ids: Collection[str]) -> set[str]:
        return usage.known(self.conn, ids)

    def usage_totals(self, queries: Collection[UsageQuery]) -> list[UsageTotal]:
        return usage.totals(self.conn, queries)

    def charges_of(self, account_ids: Collection[str]) -> dict[str, list[Billable]]:
        found: dict[str, list[tuple[str, str, str]]] = {i: [] for i in account_ids}
        for account_id, source, key, body in self._texts_in(sql.select_charges, found):
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
        return self._load([row])[0]

    def documents_page(self, after: int, limit: int, filters: dict[str, str]) -> list[Invoice]:
        """Up to *limit* documents after row *after* whose columns equal *filters*."""
        query = sql.select_documents(frozenset(filters), self.lock)
        params = {"after": after, "limit": limit, **filters}
        return self._load(self.conn.execute(query, params).all())

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


@functools.lru_cache(maxsize=256)
def _driver_in(statement: Any, dialect: str, count: int) -> str:
    """Driver-level SQL of *statement* (whose one parameter is the expanding ``ids``) for
    *count* ids, as positional parameters."""
    if dialect == "sqlite":
        target: sa.Dialect = sqlite.dialect()
    else:
        target = postgresql.psycopg.dialect(paramstyle="format")  # type: ignore[no-untyped-call]
    compiled = statement.params(ids=[None] * count).compile(
        dialect=target, compile_kwargs={"render_postcompile": True}
    )
    return str(compiled)


def _chunks(values: Sequence[_T], size: int = 500) -> Iterator[Sequence[_T]]:
    # Bound the number of parameters per statement (SQLite allows 32,766).
    for start in range(0, len(values), size):
        yield values[start : start + size]


#: The columns a new document is inserted with.
_DOCUMENT_COLUMNS = ("seq", *COLUMNS)

#: The header columns finalizing writes, in the order ``finalize_headers`` passes them.
_FINALIZED = ("status", "number", "invoice_date", "due_date")


@functools.cache
def _sqlite_text(table: str, columns: tuple[str, ...]) -> tuple[int, ...]:
    """The positions of *columns* of *table* whose values SQLite's driver takes as text
    where SQLAlchemy's column types would convert them: dates (ISO text) and amounts
    (``Amount``, decimal text on SQLite); ``str`` gives both."""
    types = metadata.tables[table].c
    return tuple(
        n for n, name in enumerate(columns) if isinstance(types[name].type, (sa.Date, Amount))
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

    def account_ids(self, ids: Collection[str] | None = None) -> Iterator[str]:
        """The ids :meth:`accounts` would give the accounts of, without reading the
        accounts: what a parallel run hands its workers, which read the accounts
        themselves. *ids* are checked to exist, as :meth:`accounts` checks them."""
        if ids is not None:
            yield from self._read(_Reads.known_account_ids, ids)
            return
        yield from self._paged(lambda r, after: r.account_ids_page(after, ID_PAGE), str, "")

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
        self._docs = Documents()

    @classmethod
    def open(cls, url: str, *, upgrade_schema: bool = True) -> SqlStore:
        """Open (and with *upgrade_schema*, create or upgrade) the database at *url*."""
        engine = _engine(url)
        # What a usage transaction keeps on its connection goes with it.
        sa.event.listen(engine, "checkin", lambda _, record: usage.release(record.info))
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

    def add_documents(self, documents: Sequence[Invoice], *, ids: bool = True) -> list[Invoice]:
        """Store new documents in a transaction of their own, as a transaction's
        ``add_documents`` does; return them with their ids (with *ids* false: as given,
        for a caller that only counts them).

        They are turned into rows before the transaction starts: on SQLite, whose one
        write lock the workers of a parallel run queue for, the lock is held only while
        the rows are written.
        """
        parts: dict[str, str] = {}
        textual = self.engine.dialect.name == "sqlite"
        rows = [self._docs.values(d, parts, textual=textual) for d in documents]
        with self.transaction() as tx:
            stored = tx._insert_documents(documents, rows, parts, ids=ids)
        return stored

    @contextmanager
    def transaction(self) -> Iterator[_SqlTransaction]:
        with _database_errors(self.url), self.engine.connect() as conn:
            conn.execution_options(juston_write=True)
            with conn.begin():
                tx = _SqlTransaction(_Reads(conn, self._docs, lock=True))
                yield tx
                usage.flush(conn)  # the days of the usage records it added
            self._docs.stored(tx.parts)  # committed: they need not be written again


class _SqlTransaction(FinalizesInDatabase, _StoreReads):
    def __init__(self, reads: _Reads) -> None:
        self.conn = reads.conn
        self.r = reads
        self.dialect = reads.conn.dialect.name
        self.counters: set[str] = set()
        # The document parts this transaction has stored.
        self.parts: set[str] = set()
        self._terms: dict[str, PaymentTerms] = {}

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
        parts: dict[str, str] = {}
        textual = self.dialect == "sqlite"
        rows = [self.r.docs.values(d, parts, textual=textual) for d in documents]
        return self._insert_documents(documents, rows, parts)

    def _insert_documents(
        self,
        documents: Sequence[Invoice],
        rows: list[list[Any]],
        parts: dict[str, str],
        *,
        ids: bool = True,
    ) -> list[Invoice]:
        """Store *documents* as their *rows* (``Documents.values``, as the driver takes
        them) with the *parts* they refer to; return them with their ids (unless *ids* is
        false: as given)."""
        if not documents:
            return []
        self._store_parts(parts)
        seqs = self._new_document_seqs(len(rows))
        self.conn.exec_driver_sql(
            sql.driver_insert(self.dialect, "documents", _DOCUMENT_COLUMNS),
            [(seq, *row) for seq, row in zip(seqs, rows, strict=True)],
        )
        if not ids:
            return list(documents)
        return [d.with_id(doc_id(s)) for d, s in zip(documents, seqs, strict=True)]

    def _new_document_seqs(self, count: int) -> Sequence[int]:
        """Row numbers for *count* new documents, ascending, never given out before."""
        if self.dialect == "sqlite":
            # The transaction holds SQLite's write lock (BEGIN IMMEDIATE): no other writer
            # can take the next numbers meanwhile.
            last = int(self.conn.exec_driver_sql(sql.last_document_seq).scalar_one())
            return range(last + 1, last + 1 + count)
        # PostgreSQL: drawn from the column's sequence, as a default would draw them.
        return sorted(self.conn.exec_driver_sql(sql.next_document_seqs, (count,)).scalars())

    def _driver_rows(
        self, statement: str, table: str, columns: tuple[str, ...], rows: list[list[Any]]
    ) -> int:
        """Run driver-level *statement* once per row of values of *table*'s *columns*
        (in that order; dates and amounts are turned into what SQLite's driver takes, in
        place); return the number of rows it changed."""
        if self.dialect == "sqlite":
            textual = _sqlite_text(table, columns)
            if textual:
                for row in rows:
                    for n in textual:
                        row[n] = str(row[n])
        return int(self.conn.exec_driver_sql(statement, list(map(tuple, rows))).rowcount)

    def _store_parts(self, parts: dict[str, str]) -> None:
        """Store the document parts (digest: text) this transaction has not stored yet,
        in digest order (concurrent transactions storing the same wait in one order)."""
        new = sorted(key for key in parts if key not in self.parts)
        if new:
            self._driver_rows(
                sql.insert_parts(self.dialect),
                "document_parts",
                ("digest", "body"),
                [[key, parts[key]] for key in new],
            )
            self.parts.update(new)

    def replace_document(self, document: Invoice) -> None:
        self.replace_documents([document])

    def replace_documents(self, documents: Sequence[Invoice]) -> None:
        headers: list[dict[str, Any]] = []
        rows: list[dict[str, Any]] = []
        parts: dict[str, str] = {}
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
                rows.append({"_seq": seq, **self.r.docs.row(document, parts)})
        self._store_parts(parts)
        changed = sum(
            self.conn.execute(sql.update_document, params).rowcount
            for params in (headers, rows)
            if params
        )
        if changed != len(documents):  # one statement for many: which one is unknown
            raise NotFound(f"document: {len(documents) - changed} of those to replace do not exist")

    def delete_document(self, document_id: str) -> None:
        self._change_row(sql.delete_document, "document", document_id)

    # --- finalizing by header: billing.run.finalize uses these where a transaction has them

    def draft_headers(self, ids: Sequence[str] | None = None) -> Iterator[DraftHeader]:
        """The headers of the documents *ids*, in that order (NotFound for one that does
        not exist), or of every draft in the order added; on PostgreSQL locked until the
        transaction ends. Read a page at a time."""
        if ids is not None:
            yield from self._headers_of(ids)
            return
        query = sql.select_draft_headers(self.dialect, self.r.lock)
        after = 0
        while rows := self.conn.exec_driver_sql(
            query, (DocumentStatus.DRAFT.value, after, PAGE)
        ).all():
            yield from self.r.docs.headers(self.conn, rows)
            after = rows[-1][0]

    def _headers_of(self, ids: Sequence[str]) -> Iterator[DraftHeader]:
        for chunk in _chunks(ids):
            seqs = [_seq(document_id) for document_id in chunk]
            wanted = tuple(sorted({seq for seq in seqs if seq is not None}))
            query = sql.select_headers(self.dialect, self.r.lock, len(wanted))
            rows = self.conn.exec_driver_sql(query, wanted).all() if wanted else []
            found = {int(h.id[1:]): h for h in self.r.docs.headers(self.conn, rows)}
            for document_id, seq in zip(chunk, seqs, strict=True):
                if seq is None or seq not in found:
                    raise NotFound(f"document: {document_id!r} does not exist")
                yield found[seq]

    def finalize_headers(self, headers: Sequence[DraftHeader]) -> None:
        """Write the header columns (status, number, dates) of finalized documents."""
        if not headers:
            return
        statement = sql.driver_update(self.dialect, "documents", _FINALIZED, "seq")
        rows = [[h.status.value, h.number, h.invoice_date, h.due_date, _seq(h.id)] for h in headers]
        if self._driver_rows(statement, "documents", (*_FINALIZED, "seq"), rows) != len(rows):
            raise NotFound("document: some of those to finalize do not exist")

    def documents_by_id(self, ids: Sequence[str]) -> list[Invoice]:
        """The documents *ids*, in that order (NotFound for one that does not exist)."""
        found: dict[int, Invoice] = {}
        seqs = [_seq(document_id) for document_id in ids]
        query = (
            sql.select_documents_in.with_for_update() if self.r.lock else sql.select_documents_in
        )
        for chunk in _chunks(sorted({seq for seq in seqs if seq is not None})):
            rows = self.conn.execute(query, {"ids": chunk}).all()
            found.update(zip((row[0] for row in rows), self.r._load(rows), strict=True))
        for document_id, seq in zip(ids, seqs, strict=True):
            if seq is None or seq not in found:
                raise NotFound(f"document: {document_id!r} does not exist")
        return [found[seq] for seq in seqs if seq is not None]

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
        return usage.add_stored(self.conn, rows)

    def add_usage_rows(self, rows: Sequence[UsageRow]) -> int:
        return usage.add_rows(self.conn, rows)

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
        if not rows:
            return
        columns = tuple(next(iter(rows.values())))
        statement = sql.driver_insert(self.dialect, "balances", columns)
        # The unique index refuses an id stored before; written under a savepoint, so a
        # refused call adds nothing even if the caller goes on (cheaper than asking first).
        try:
            with self.conn.begin_nested():
                self._driver_rows(
                    statement, "balances", columns, [list(row.values()) for row in rows.values()]
                )
        except sa.exc.IntegrityError:
            known = self.r.known_balances(rows)
            if known:
                raise _stored_already(next(i for i in rows if i in known)) from None
            raise

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
