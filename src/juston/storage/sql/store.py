"""The SQL store: one implementation for SQLite (the embedded default) and PostgreSQL.

Built on SQLAlchemy Core. A transaction is a database transaction: it commits when the
block ends normally and rolls back when it raises. On SQLite a writing transaction
starts with ``BEGIN IMMEDIATE`` (the database's write lock), so concurrent writers
queue instead of failing half-way; on PostgreSQL, the rows of documents read inside a
transaction and the number counters it advances are locked until it ends, so two
processes finalizing at once draw gapless, unique numbers.

    >>> store = SqlStore.open("sqlite://")  # an in-memory database
    >>> with store.transaction() as tx:
    ...     tx.next_number("acme/invoice/2026"), tx.next_number("acme/invoice/2026")
    (1, 2)
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import attrs
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ...errors import NotFound, StorageError
from ...model.documents import Invoice, Term
from ...model.parties import Account, Company
from ...model.status import DocumentStatus
from ...model.subscriptions import Subscription
from .. import codec
from . import schema
from .migrate import upgrade

__all__ = ["SqlStore"]

#: Accounts read per query when iterating over all of them: memory stays flat.
PAGE = 1000

_TERMS = tuple[Term, ...]


def _doc_id(seq: int) -> str:
    return f"D{seq:08d}"


def _seq(document_id: str) -> int | None:
    if document_id[:1] == "D" and document_id[1:].isdigit():
        return int(document_id[1:])
    return None


def _load_document(seq: int, body: str) -> Invoice:
    data = json.loads(body)
    data["id"] = _doc_id(seq)
    return codec.structure(data, Invoice)


def _document_row(document: Invoice) -> dict[str, Any]:
    data = codec.unstructure(document, Invoice)
    data["id"] = None  # the id is the row's number
    return {
        "account_id": document.account_id,
        "kind": document.kind.value,
        "status": document.status.value,
        "number": document.number,
        "currency": document.currency.code,
        "invoice_date": document.invoice_date,
        "due_date": document.due_date,
        "billing_date": document.billing_date,
        "net_total": document.net_total.amount,
        "tax_total": document.tax_total.amount,
        "total": document.total.amount,
        "run_id": document.run_id,
        "cancels": document.cancels,
        "cancelled_by": document.cancelled_by,
        "body": json.dumps(data, separators=(",", ":"), ensure_ascii=False),
        "terms": codec.dumps(tuple(document.terms()), _TERMS),
    }


def _insert_ignoring_conflict(conn: Connection, table: sa.Table, row: dict[str, Any]) -> None:
    """Insert *row* unless its key exists (both dialects spell this differently)."""
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(dialect.insert(table).values(row).on_conflict_do_nothing())


class _Reads:
    """Reads over one connection (a store's short read, or a transaction's own)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def company(self) -> Company:
        body = self.conn.scalar(sa.select(schema.company.c.body))
        if body is None:
            raise NotFound("company: none stored yet; put_company() first")
        return codec.loads(body, Company)

    def account(self, account_id: str) -> Account:
        t = schema.accounts
        body = self.conn.scalar(sa.select(t.c.body).where(t.c.id == account_id))
        if body is None:
            raise NotFound(f"account: {account_id!r} does not exist")
        return codec.loads(body, Account)

    def accounts_page(self, after: str | None, limit: int) -> list[Account]:
        t = schema.accounts
        query = sa.select(t.c.body).order_by(t.c.id).limit(limit)
        if after is not None:
            query = query.where(t.c.id > after)
        return [codec.loads(body, Account) for body in self.conn.scalars(query)]

    def accounts_by_id(self, ids: Collection[str]) -> list[Account]:
        found = {}
        t = schema.accounts
        for chunk in _chunks(sorted(ids)):
            query = sa.select(t.c.id, t.c.body).where(t.c.id.in_(chunk))
            found.update({i: b for i, b in self.conn.execute(query)})
        missing = [i for i in sorted(ids) if i not in found]
        if missing:
            raise NotFound(f"account: {missing[0]!r} does not exist")
        return [codec.loads(found[i], Account) for i in sorted(ids)]

    def count_accounts(self) -> int:
        return self.conn.scalar(sa.select(sa.func.count()).select_from(schema.accounts)) or 0

    def subscriptions_of(self, account_ids: Collection[str]) -> dict[str, list[Subscription]]:
        t = schema.subscriptions
        result: dict[str, list[Subscription]] = {i: [] for i in account_ids}
        for chunk in _chunks(sorted(account_ids)):
            query = (
                sa.select(t.c.account_id, t.c.body)
                .where(t.c.account_id.in_(chunk))
                .order_by(t.c.account_id, t.c.number)
            )
            for account_id, body in self.conn.execute(query):
                result[account_id].append(codec.loads(body, Subscription))
        return result

    def billed_terms_of(self, account_ids: Collection[str]) -> dict[str, list[Term]]:
        t = schema.documents
        result: dict[str, list[Term]] = {i: [] for i in account_ids}
        for chunk in _chunks(sorted(account_ids)):
            query = (
                sa.select(t.c.account_id, t.c.terms)
                .where(t.c.account_id.in_(chunk))
                .order_by(t.c.seq)
            )
            for account_id, terms in self.conn.execute(query):
                result[account_id].extend(codec.loads(terms, _TERMS))
        return result

    def document(self, document_id: str, *, lock: bool = False) -> Invoice:
        t = schema.documents
        seq = _seq(document_id)
        query = sa.select(t.c.body).where(t.c.seq == seq)
        if lock:
            query = query.with_for_update()
        body = None if seq is None else self.conn.scalar(query)
        if body is None:
            raise NotFound(f"document: {document_id!r} does not exist")
        assert seq is not None
        return _load_document(seq, body)

    def documents_page(
        self,
        after: int,
        limit: int,
        account_id: str | None,
        status: DocumentStatus | None,
        run_id: str | None,
    ) -> list[Invoice]:
        t = schema.documents
        query = sa.select(t.c.seq, t.c.body).where(t.c.seq > after).order_by(t.c.seq).limit(limit)
        if account_id is not None:
            query = query.where(t.c.account_id == account_id)
        if status is not None:
            query = query.where(t.c.status == status.value)
        if run_id is not None:
            query = query.where(t.c.run_id == run_id)
        return [_load_document(seq, body) for seq, body in self.conn.execute(query)]


def _chunks(values: Sequence[str], size: int = 500) -> Iterator[Sequence[str]]:
    # Bound the number of parameters per statement (SQLite allows 32,766).
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _documents(
    read: Any,
    account_id: str | None,
    status: DocumentStatus | None,
    run_id: str | None,
) -> Iterator[Invoice]:
    """Page through documents with *read(after, limit, …)*, so none is held for long."""
    after = 0
    while page := read(after, PAGE, account_id, status, run_id):
        yield from page
        after = _seq(page[-1].id) or 0


class _StoreReads:
    """The :class:`~juston.storage.Reader` methods, shared by the store and its transactions."""

    def _reads(self) -> Any:  # a context manager yielding _Reads
        raise NotImplementedError

    def company(self) -> Company:
        with self._reads() as r:
            return r.company()  # type: ignore[no-any-return]

    def account(self, account_id: str) -> Account:
        with self._reads() as r:
            return r.account(account_id)  # type: ignore[no-any-return]

    def accounts(self, ids: Collection[str] | None = None) -> Iterator[Account]:
        if ids is not None:
            with self._reads() as r:
                yield from r.accounts_by_id(ids)
            return
        after = None
        while True:
            with self._reads() as r:
                page = r.accounts_page(after, PAGE)
            if not page:
                return
            yield from page
            after = page[-1].id

    def count_accounts(self) -> int:
        with self._reads() as r:
            return r.count_accounts()  # type: ignore[no-any-return]

    def subscriptions(self, account_id: str) -> Sequence[Subscription]:
        return self.subscriptions_of([account_id])[account_id]

    def subscriptions_of(self, account_ids: Collection[str]) -> Mapping[str, Sequence[Subscription]]:
        with self._reads() as r:
            return r.subscriptions_of(account_ids)  # type: ignore[no-any-return]

    def billed_terms(self, account_id: str) -> Sequence[Term]:
        return self.billed_terms_of([account_id])[account_id]

    def billed_terms_of(self, account_ids: Collection[str]) -> Mapping[str, Sequence[Term]]:
        with self._reads() as r:
            return r.billed_terms_of(account_ids)  # type: ignore[no-any-return]

    def document(self, document_id: str) -> Invoice:
        with self._reads() as r:
            return r.document(document_id)  # type: ignore[no-any-return]

    def documents(
        self,
        *,
        account_id: str | None = None,
        status: DocumentStatus | None = None,
        run_id: str | None = None,
    ) -> Iterator[Invoice]:
        def read(*args: Any) -> list[Invoice]:
            with self._reads() as r:
                return r.documents_page(*args)  # type: ignore[no-any-return]

        yield from _documents(read, account_id, status, run_id)


class SqlStore(_StoreReads):
    """A store in a SQL database named by a SQLAlchemy URL.

    ``sqlite:///billing.db`` is a file (created on first use), ``sqlite://`` an
    in-memory database, ``postgresql+psycopg://user@host/db`` a PostgreSQL database
    (install ``juston[postgres]``). Opening brings the schema up to date; a database
    written by a newer juston is refused.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, url: str, *, upgrade_schema: bool = True) -> SqlStore:
        """Open (and with *upgrade_schema*, create or upgrade) the database at *url*."""
        engine = _engine(url)
        try:
            with engine.begin() as conn:
                upgrade(conn, apply=upgrade_schema)
        except BaseException:
            engine.dispose()
            raise
        return cls(engine)

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"SqlStore({self.url!r})"

    @contextmanager
    def _reads(self) -> Iterator[_Reads]:
        with self.engine.connect() as conn:
            yield _Reads(conn)

    @contextmanager
    def transaction(self) -> Iterator[_SqlTransaction]:
        with self.engine.connect() as conn:
            conn.execution_options(juston_write=True)
            with conn.begin():
                yield _SqlTransaction(conn)

    # Convenience writes, each its own transaction.
    def put_company(self, company: Company) -> None:
        with self.transaction() as tx:
            tx.put_company(company)

    def put_account(self, account: Account) -> None:
        with self.transaction() as tx:
            tx.put_account(account)

    def put_subscription(self, subscription: Subscription) -> None:
        with self.transaction() as tx:
            tx.put_subscription(subscription)


class _SqlTransaction(_StoreReads):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.r = _Reads(conn)

    @contextmanager
    def _reads(self) -> Iterator[_Reads]:
        yield self.r

    def document(self, document_id: str) -> Invoice:
        # Locked until the transaction ends: whoever changes it next sees this change.
        return self.r.document(document_id, lock=True)

    def _upsert(self, table: sa.Table, key: dict[str, Any], values: dict[str, Any]) -> None:
        where = sa.and_(*(table.c[k] == v for k, v in key.items()))
        if self.conn.execute(sa.update(table).where(where).values(values)).rowcount == 0:
            self.conn.execute(sa.insert(table).values({**key, **values}))

    def put_company(self, company: Company) -> None:
        body = codec.dumps(company, Company)
        self._upsert(schema.company, {"slot": 1}, {"id": company.id, "body": body})

    def put_account(self, account: Account) -> None:
        self._upsert(
            schema.accounts,
            {"id": account.id},
            {
                "name": account.name,
                "country": account.country,
                "currency": account.currency.code,
                "body": codec.dumps(account, Account),
            },
        )

    def put_subscription(self, subscription: Subscription) -> None:
        self.r.account(subscription.account_id)  # must exist
        self._upsert(
            schema.subscriptions,
            {"account_id": subscription.account_id, "number": subscription.number},
            {"body": codec.dumps(subscription, Subscription)},
        )

    def add_document(self, document: Invoice) -> Invoice:
        return self.add_documents([document])[0]

    def add_documents(self, documents: Sequence[Invoice]) -> list[Invoice]:
        if not documents:
            return []
        query = sa.insert(schema.documents).returning(
            schema.documents.c.seq, sort_by_parameter_order=True
        )
        seqs = self.conn.scalars(query, [_document_row(d) for d in documents]).all()
        return [attrs.evolve(d, id=_doc_id(s)) for d, s in zip(documents, seqs, strict=True)]

    def replace_document(self, document: Invoice) -> None:
        seq = None if document.id is None else _seq(document.id)
        t = schema.documents
        row = _document_row(document)
        if seq is None or self.conn.execute(
            sa.update(t).where(t.c.seq == seq).values(row)
        ).rowcount != 1:
            raise NotFound(f"document: {document.id!r} does not exist")

    def delete_document(self, document_id: str) -> None:
        seq = _seq(document_id)
        t = schema.documents
        if seq is None or self.conn.execute(sa.delete(t).where(t.c.seq == seq)).rowcount != 1:
            raise NotFound(f"document: {document_id!r} does not exist")

    def next_number(self, sequence: str) -> int:
        t = schema.counters
        _insert_ignoring_conflict(self.conn, t, {"sequence": sequence, "value": 0})
        # The UPDATE locks the counter row until commit (PostgreSQL; SQLite locks the file).
        query = (
            sa.update(t)
            .where(t.c.sequence == sequence)
            .values(value=t.c.value + 1)
            .returning(t.c.value)
        )
        return int(self.conn.execute(query).scalar_one())

    def set_counter(self, sequence: str, value: int) -> None:
        _insert_ignoring_conflict(self.conn, schema.counters, {"sequence": sequence, "value": value})

    def has_counter(self, sequence: str) -> bool:
        t = schema.counters
        return self.conn.scalar(sa.select(t.c.value).where(t.c.sequence == sequence)) is not None


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
