"""The SQL store's statements, built once.

Building a SQLAlchemy statement costs more than running a small one; these are built at
import with bound parameters and reused, so SQLAlchemy also reuses their compiled form.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from .schema import (
    accounts,
    balances,
    charges,
    company,
    counters,
    documents,
    dunning_blocks,
    dunnings,
    imported_files,
    installment_plans,
    mandates,
    payment_entries,
    subscriptions,
)

_ids: sa.BindParameter[Any] = sa.bindparam("ids", expanding=True)

select_company = sa.select(company.c.body)
select_account = sa.select(accounts.c.body).where(accounts.c.id == sa.bindparam("id"))
account_exists = sa.select(accounts.c.id).where(accounts.c.id == sa.bindparam("id"))
select_accounts_after = (
    sa.select(accounts.c.body)
    .where(accounts.c.id > sa.bindparam("after"))
    .order_by(accounts.c.id)
    .limit(sa.bindparam("limit"))
)
select_accounts_by_id = sa.select(accounts.c.id, accounts.c.body).where(accounts.c.id.in_(_ids))
select_account_ids_after = (
    sa.select(accounts.c.id)
    .where(accounts.c.id > sa.bindparam("after"))
    .order_by(accounts.c.id)
    .limit(sa.bindparam("limit"))
)
select_known_accounts = sa.select(accounts.c.id).where(accounts.c.id.in_(_ids))
count_accounts = sa.select(sa.func.count()).select_from(accounts)

select_subscriptions = (
    sa.select(subscriptions.c.account_id, subscriptions.c.body)
    .where(subscriptions.c.account_id.in_(_ids))
    .order_by(subscriptions.c.account_id, subscriptions.c.number)
)
select_terms = (
    sa.select(documents.c.account_id, documents.c.terms)
    .where(documents.c.account_id.in_(_ids))
    .order_by(documents.c.seq)
)

#: What a document is read back from (see ``bodies.Documents.load``).
_document_columns = (
    documents.c.seq,
    documents.c.body,
    documents.c.seller,
    documents.c.status,
    documents.c.number,
    documents.c.invoice_date,
    documents.c.due_date,
    documents.c.cancelled_by,
    documents.c.terms,
)
select_documents_in = sa.select(*_document_columns).where(documents.c.seq.in_(_ids))

#: What a document is finalized from (see ``bodies.Documents.headers``): its columns and,
#: picked out of the body by the database (every format has them there), the payment
#: terms as JSON text and the buyer's payment method.
_HEADERS = {
    "sqlite": "SELECT seq, status, account_id, number, invoice_date, due_date, kind, "
    "currency, total, seller, json_extract(body, '$.payment_terms'), "
    "json_extract(body, '$.buyer.payment_method') FROM documents",
    "postgresql": "SELECT seq, status, account_id, number, invoice_date, due_date, kind, "
    "currency, total, seller, body::json ->> 'payment_terms', "
    "body::json -> 'buyer' ->> 'payment_method' FROM documents",
}


@functools.cache
def select_draft_headers(dialect: str, lock: bool) -> str:
    """Driver-level SQL for the headers of up to a number of documents of a status after
    a row (parameters: status, row, number), in row order; with *lock*, locked until the
    transaction ends."""
    mark = _mark(dialect)
    query = f"{_HEADERS[dialect]} WHERE status = {mark} AND seq > {mark} ORDER BY seq LIMIT {mark}"
    return query + (" FOR UPDATE" if lock else "")


@functools.cache
def select_headers(dialect: str, lock: bool, count: int) -> str:
    """Driver-level SQL for the headers of the documents in *count* rows (one parameter
    each); with *lock*, locked until the transaction ends."""
    marks = ", ".join([_mark(dialect)] * count)
    query = f"{_HEADERS[dialect]} WHERE seq IN ({marks})"
    return query + (" FOR UPDATE" if lock else "")


select_document = sa.select(*_document_columns).where(documents.c.seq == sa.bindparam("seq"))
document_exists = sa.select(documents.c.seq).where(documents.c.seq == sa.bindparam("seq"))
update_document = sa.update(documents).where(documents.c.seq == sa.bindparam("_seq"))
delete_document = sa.delete(documents).where(documents.c.seq == sa.bindparam("_seq"))


@functools.cache
def insert_parts(dialect: str) -> str:
    """Driver-level SQL that stores a document part (digest, body) unless it is stored."""
    return driver_insert(dialect, "document_parts", ("digest", "body")) + (
        " ON CONFLICT (digest) DO NOTHING"
    )


select_counter = sa.select(counters.c.value).where(counters.c.sequence == sa.bindparam("sequence"))
advance_counter = (
    sa.update(counters)
    .where(counters.c.sequence == sa.bindparam("_sequence"))
    .values(value=counters.c.value + sa.bindparam("count"))
    .returning(counters.c.value)
)


@functools.cache
def select_documents(filters: frozenset[str], lock: bool) -> Any:
    """A page of documents after ``after`` whose *filters* columns equal their parameters."""
    return _page(documents, _document_columns, filters, lock)


def _page(table: sa.Table, columns: Sequence[Any], filters: frozenset[str], lock: bool) -> Any:
    """Up to ``limit`` rows of *table* after row ``seq`` ``after`` in ``seq`` order, whose
    *filters* columns equal their parameters; with *lock*, locked until the transaction ends."""
    query = (
        sa.select(*columns)
        .where(table.c.seq > sa.bindparam("after"), *_equal(table, filters))
        .order_by(table.c.seq)
        .limit(sa.bindparam("limit"))
    )
    return query.with_for_update() if lock else query


def _equal(table: sa.Table, columns: frozenset[str]) -> list[Any]:
    """Each of *columns* equal to the parameter of its name."""
    return [table.c[column] == sa.bindparam(column) for column in sorted(columns)]


select_charges = sa.select(
    charges.c.account_id, charges.c.source, charges.c.key, charges.c.body
).where(charges.c.account_id.in_(_ids))
delete_charge = sa.delete(charges).where(
    charges.c.source == sa.bindparam("_source"), charges.c.key == sa.bindparam("_key")
)

# --- driver-level statements: rows as tuples, no per-value processing in SQLAlchemy -------
#
# For the writes that come by the hundred thousand (documents, their headers, balances):
# SQLAlchemy's per-row parameter processing costs several times what SQLite needs to store
# the row. Values are passed as the driver takes them (see ``store._SqlTransaction._driver_rows``).


def _mark(dialect: str) -> str:
    """The driver's parameter mark."""
    return "?" if dialect == "sqlite" else "%s"


@functools.cache
def driver_insert(dialect: str, table: str, columns: tuple[str, ...]) -> str:
    """Driver-level SQL that inserts one row of *columns* per parameter tuple."""
    mark = _mark(dialect)
    names = ", ".join(f'"{name}"' for name in columns)
    return f'INSERT INTO "{table}" ({names}) VALUES ({", ".join(mark for _ in columns)})'


@functools.cache
def driver_update(dialect: str, table: str, columns: tuple[str, ...], key: str) -> str:
    """Driver-level SQL that sets *columns* of the row whose *key* is the last parameter."""
    mark = _mark(dialect)
    values = ", ".join(f'"{name}" = {mark}' for name in columns)
    return f'UPDATE "{table}" SET {values} WHERE "{key}" = {mark}'


#: The largest document row number ever given out on SQLite (``AUTOINCREMENT`` keeps it in
#: ``sqlite_sequence``): a transaction that holds the write lock numbers its new rows on.
last_document_seq = (
    "SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'documents'), 0), "
    "coalesce((SELECT max(seq) FROM documents), 0))"
)


#: Row numbers for new documents on PostgreSQL (parameter: how many), from the sequence
#: of the ``seq`` column.
next_document_seqs = (
    "SELECT nextval(pg_get_serial_sequence('documents', 'seq')) FROM generate_series(1, %s)"
)


def _insert(dialect: str, table: sa.Table) -> Any:
    return (postgresql if dialect == "postgresql" else sqlite).insert(table)


@functools.cache
def insert_counter(dialect: str) -> Any:
    """Create a counter unless it exists (both dialects spell this differently)."""
    return _insert(dialect, counters).on_conflict_do_nothing()


#: The tables whose rows are put whole: added, or replaced by their key.
_PUT = (
    company,
    accounts,
    subscriptions,
    charges,
    payment_entries,
    mandates,
    installment_plans,
    dunning_blocks,
)


@functools.cache
def upsert(dialect: str, table_name: str) -> Any:
    """Insert a row or, if its key exists, overwrite its other columns."""
    table = {t.name: t for t in _PUT}[table_name]
    statement = _insert(dialect, table)
    keys = [c.name for c in table.primary_key.columns]
    values = {c.name: statement.excluded[c.name] for c in table.columns if c.name not in keys}
    return statement.on_conflict_do_update(index_elements=keys, set_=values)


# --- receivables -------------------------------------------------------------------------


@functools.cache
def select_balances(filters: frozenset[str]) -> Any:
    """Balances whose *filters* columns equal their parameters, in the order added."""
    return sa.select(balances.c.body).where(*_equal(balances, filters)).order_by(balances.c.seq)


select_balances_of = (
    sa.select(balances.c.account_id, balances.c.body)
    .where(balances.c.account_id.in_(_ids))
    .order_by(balances.c.seq)
)
select_known_balances = sa.select(balances.c.id).where(balances.c.id.in_(_ids))
insert_balances = sa.insert(balances)


@functools.cache
def open_documents(of_accounts: bool) -> Any:
    """Per document (of the accounts ``ids`` if *of_accounts*) whose balances do not sum
    to zero: its id, the sum, and its first balance's account, currency, date, type and
    cause."""
    b = balances.c
    sums = (
        sa.select(
            b.document_id,
            sa.func.sum(b.amount).label("open"),
            sa.func.min(b.seq).label("first"),
        )
        .where(b.document_id.is_not(None), *([b.account_id.in_(_ids)] if of_accounts else []))
        .group_by(b.document_id)
        .having(sa.func.sum(b.amount) != 0)
        .subquery("sums")
    )
    return sa.select(
        sums.c.document_id, b.account_id, sums.c.open, b.currency, b.date, b.type, b.cause
    ).join_from(sums, balances, b.seq == sums.c.first)


select_entry = sa.select(payment_entries.c.body).where(payment_entries.c.id == sa.bindparam("id"))


@functools.cache
def select_entries(filters: frozenset[str], dialect: str) -> Any:
    """A page of payment entries after (``after_date``, ``after_id``) in (booking date,
    id) order whose *filters* columns equal their parameters."""
    e = payment_entries.c
    # Ids in code point order, as Python orders text (PostgreSQL's "C" collation).
    entry_id = e.id.collate("C") if dialect == "postgresql" else e.id
    after = sa.bindparam("after_date", type_=sa.Date)
    return (
        sa.select(e.body)
        .where(
            sa.or_(
                e.booking_date > after,
                sa.and_(e.booking_date == after, entry_id > sa.bindparam("after_id")),
            ),
            *_equal(payment_entries, filters),
        )
        .order_by(e.booking_date, entry_id)
        .limit(sa.bindparam("limit"))
    )


@functools.cache
def insert_imported_file(dialect: str) -> Any:
    """Record a file unless its name or digest is recorded already; returns its name if
    it recorded it."""
    statement = _insert(dialect, imported_files).on_conflict_do_nothing()
    return statement.returning(imported_files.c.name)


_file = imported_files.c
select_imported_file = (
    sa.select(_file.name, _file.digest, _file.imported_on, _file.entries)
    .where(sa.or_(_file.name == sa.bindparam("name"), _file.digest == sa.bindparam("digest")))
    .order_by(_file.seq)
    .limit(1)
)

select_mandates = sa.select(mandates.c.body).where(mandates.c.account_id == sa.bindparam("id"))
select_plans = sa.select(installment_plans.c.document_id, installment_plans.c.body).where(
    installment_plans.c.document_id.in_(_ids)
)


# --- dunning -----------------------------------------------------------------------------

#: What a dunning is read back from (see ``store._dunning``).
_dunning_columns = (dunnings.c.seq, dunnings.c.body)
select_dunning = sa.select(*_dunning_columns).where(dunnings.c.seq == sa.bindparam("seq"))
insert_dunning = sa.insert(dunnings).returning(dunnings.c.seq)
update_dunning = sa.update(dunnings).where(dunnings.c.seq == sa.bindparam("_seq"))
delete_dunning = sa.delete(dunnings).where(dunnings.c.seq == sa.bindparam("_seq"))


@functools.cache
def select_dunnings(filters: frozenset[str], lock: bool) -> Any:
    """A page of dunnings after ``after`` whose *filters* columns equal their parameters."""
    return _page(dunnings, _dunning_columns, filters, lock)


select_dunning_blocks = sa.select(dunning_blocks.c.key, dunning_blocks.c.body)
delete_dunning_block = sa.delete(dunning_blocks).where(dunning_blocks.c.key == sa.bindparam("_key"))


# --- finalizing in the database ----------------------------------------------------------
#
# For ``finalizing.FinalizesInDatabase`` (mixed into the SQL transaction): a chunk of
# drafts is numbered, dated and given its invoice balances by a few statements instead of
# a row each. A chunk is its row numbers in finalizing order, passed as one parameter
# (``_CHUNK``: ``c`` with the position ``pos`` from 0 and the row ``seq``).

_CHUNK = {
    "sqlite": "c(pos, seq) AS (SELECT key, value FROM json_each(?))",
    "postgresql": "c(pos, seq) AS (SELECT u.pos - 1, u.seq FROM unnest(CAST(%s AS BIGINT[])) "
    "WITH ORDINALITY AS u(seq, pos))",
}

#: A total as decimal text: how many decimals it has, and whether it is out of the plain
#: form ``-?digits[.digits]`` of at most 18 characters (then it is not finalized in SQL).
_DECIMALS = {
    "sqlite": "CASE WHEN instr(d.total, '.') > 0 THEN length(d.total) - instr(d.total, '.') "
    "ELSE 0 END",
    "postgresql": "scale(d.total)",
}
_ODD_TOTAL = {
    "sqlite": "d.total GLOB '*[^0-9.-]*' OR instr(substr(d.total, 2), '-') > 0 "
    "OR length(d.total) > 18",
    "postgresql": "abs(d.total) >= 100000000000000",
}


#: The rows of a query as one value: a JSON array on SQLite, an array on PostgreSQL.
_ARRAY = {"sqlite": "json_group_array(seq)", "postgresql": "array_agg(seq)"}


@functools.cache
def select_draft_seqs(dialect: str, lock: bool) -> str:
    """Driver-level SQL for the rows of up to a number of documents of a status after a
    row (parameters: status, row, number) as one value (``_ARRAY``, in no particular
    order); with *lock*, locked until the transaction ends."""
    mark = _mark(dialect)
    query = (
        f"SELECT seq FROM documents WHERE status = {mark} AND seq > {mark} "
        f"ORDER BY seq LIMIT {mark}"
    )
    return f"SELECT {_ARRAY[dialect]} FROM ({query}{' FOR UPDATE' if lock else ''}) AS s"


@functools.cache
def select_chunk_seqs(dialect: str, lock: bool) -> str:
    """Driver-level SQL for the rows of a chunk that exist (parameter: the chunk); with
    *lock*, locked until the transaction ends."""
    query = f"WITH {_CHUNK[dialect]} SELECT d.seq FROM c JOIN documents d ON d.seq = c.seq"
    return query + (" FOR UPDATE OF d" if lock else "")


@functools.cache
def select_draft_groups(dialect: str) -> str:
    """Driver-level SQL for the documents of a chunk (parameter) by seller, kind, invoice
    date, status and currency: how many, the position of the first, the fewest and most
    decimals of their totals and how many totals are odd (``_ODD_TOTAL``), in the order of
    their first documents."""
    return (
        f"WITH {_CHUNK[dialect]} "
        "SELECT d.seller, d.kind, d.invoice_date, d.status, d.currency, count(*), min(c.pos), "
        f"min({_DECIMALS[dialect]}), max({_DECIMALS[dialect]}), "
        f"sum(CASE WHEN {_ODD_TOTAL[dialect]} THEN 1 ELSE 0 END) "
        "FROM c JOIN documents d ON d.seq = c.seq "
        "GROUP BY d.seller, d.kind, d.invoice_date, d.status, d.currency ORDER BY min(c.pos)"
    )


#: A counter's value as the digits of its number, zero-padded to ``width``.
_PADDED = {
    "sqlite": "printf('%0' || g.width || 'd', g.first + x.rank)",
    "postgresql": "lpad((g.first + x.rank)::text, greatest(g.width, length((g.first + x.rank)::text)), '0')",
}
#: The rows of the groups of a chunk (``g``).
_GROUP_ROW = {
    "sqlite": "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    "postgresql": "(%s::text, %s::text, %s::text, %s::date, %s::int, %s::bigint, %s::text, "
    "%s::int, %s::text, %s::text, %s::date)",
}
#: What a due date is known by: the payment terms picked from the body, a space, and the
#: invoice date before finalizing (ISO).
_TERMS_KEY = {
    "sqlite": "json_extract(documents.body, '$.payment_terms') || ' ' || documents.invoice_date",
    "postgresql": "(documents.body::json ->> 'payment_terms') || ' ' "
    "|| to_char(documents.invoice_date, 'YYYY-MM-DD')",
}
_METHOD = {
    "sqlite": "json_extract(documents.body, '$.buyer.payment_method') IS NOT",
    "postgresql": "documents.body::json -> 'buyer' ->> 'payment_method' IS DISTINCT FROM",
}


@functools.cache
def finalize_drafts(dialect: str, groups: int, terms: int, parts: int) -> str:
    """Driver-level SQL that numbers and dates the documents of a chunk.

    Parameters: the chunk; per group (*groups* rows: seller, kind, currency, invoice date,
    its counter's index in the chunk, the counter's first value, the number's prefix,
    width and suffix, the text in them that stands for the account id, the invoice date
    to give); the known due dates as (key (``_TERMS_KEY``), due date) pairs (*terms* of
    them) twice; the buyer's payment method of documents to leave for the caller; the
    finalized status.

    Each document gets its number (its counter's values go to the documents that use it
    in chunk order) and invoice date; those whose due date is known and whose buyer does
    not pay by that method also get their due date and the finalized status. The others
    stay drafts, for the caller to finish. With one counter (*parts*), a document's
    position in the chunk is its place in the counter's order, without ranking them.

    The due dates are a ``CASE`` on the row itself and the row is read once: joining a
    table of them cost about a sixth of the statement. ``CROSS JOIN`` keeps SQLite going
    through the chunk once, not once per group.
    """
    mark = _mark(dialect)
    groups_rows = ", ".join([_GROUP_ROW[dialect]] * groups)
    due = (
        f"CASE {_TERMS_KEY[dialect]} {f'WHEN {mark} THEN {mark} ' * terms}END" if terms else "NULL"
    )
    if dialect == "postgresql":
        due = f"CAST({due} AS DATE)"
    if parts == 1:
        ranked = "x(seq, rank) AS (SELECT c.seq, c.pos FROM c)"
    else:
        ranked = (
            "x(seq, rank) AS (SELECT c.seq, row_number() OVER (PARTITION BY g.part ORDER BY c.pos) - 1 "
            "FROM c CROSS JOIN documents d CROSS JOIN g WHERE d.seq = c.seq "
            "AND g.seller = d.seller AND g.kind = d.kind AND g.currency = d.currency "
            "AND g.doc_day = d.invoice_date)"
        )
    return (
        f"WITH {_CHUNK[dialect]}, "
        "g(seller, kind, currency, doc_day, part, first, prefix, width, suffix, mark, day) "
        f"AS (VALUES {groups_rows}), {ranked} "
        "UPDATE documents SET "
        f"number = replace(g.prefix, g.mark, documents.account_id) || {_PADDED[dialect]} "
        "|| replace(g.suffix, g.mark, documents.account_id), "
        f"invoice_date = g.day, due_date = coalesce({due}, documents.due_date), "
        f"status = CASE WHEN {due} IS NOT NULL AND {_METHOD[dialect]} {mark} "
        f"THEN {mark} ELSE documents.status END "
        "FROM x CROSS JOIN g WHERE documents.seq = x.seq AND g.seller = documents.seller "
        "AND g.kind = documents.kind AND g.currency = documents.currency "
        "AND g.doc_day = documents.invoice_date"
    )


@functools.cache
def select_left_drafts(dialect: str) -> str:
    """Driver-level SQL for the headers (``_HEADERS``) of the documents of a chunk
    (parameter) that have a status (parameter), in row order."""
    return (
        f"WITH {_CHUNK[dialect]} {_HEADERS[dialect]} "
        f"WHERE status = {_mark(dialect)} AND seq IN (SELECT c.seq FROM c) ORDER BY seq"
    )


@functools.cache
def select_settling(dialect: str) -> str:
    """Driver-level SQL for the rows of the documents of a chunk (parameter) whose account
    has balances or more than one document in the chunk, in chunk order."""
    return (
        f"WITH {_CHUNK[dialect]}, "
        "k AS (SELECT c.pos AS pos, d.seq AS seq, d.account_id AS account_id "
        "FROM c JOIN documents d ON d.seq = c.seq) "
        "SELECT k.seq FROM k "
        "WHERE k.account_id IN (SELECT account_id FROM k GROUP BY account_id HAVING count(*) > 1) "
        "OR EXISTS (SELECT 1 FROM balances b WHERE b.account_id = k.account_id) "
        "ORDER BY k.pos"
    )


#: A document's id (``bodies.doc_id``), its total in minor units (the total has exactly
#: the currency's decimals: see ``select_draft_groups``), and text as JSON (the same
#: escapes as orjson, which ``codec.dumps_balance`` uses; a test keeps them the same).
_DOC_ID = {
    "sqlite": "printf('D%08d', d.seq)",
    "postgresql": "'D' || lpad(d.seq::text, greatest(8, length(d.seq::text)), '0')",
}
_MINOR_UNITS = {
    "sqlite": "CAST(replace(x.total, '.', '') AS INTEGER)",
    "postgresql": "CAST(replace(x.total, '.', '') AS BIGINT)",
}
_TOTAL_TEXT = {"sqlite": "d.total", "postgresql": "d.total::text"}
_DATE_TEXT = {"sqlite": "d.invoice_date", "postgresql": "to_char(d.invoice_date, 'YYYY-MM-DD')"}
_JSON = {"sqlite": "json_quote({})", "postgresql": "to_json(CAST({} AS TEXT))::text"}


@functools.cache
def insert_invoice_balances(dialect: str) -> str:
    """Driver-level SQL that adds the invoice balance of each document of a chunk (the
    first parameter) in chunk order, as ``booking`` makes it and ``schema.balance_row``
    stores it: id ``invoice:<document>``, type (the second and third parameters), the
    total, the invoice date, the number as its cause; the body as ``codec.dumps_balance``
    writes it."""
    quoted = _JSON[dialect].format
    mark = _mark(dialect)
    body = (
        "'{\"id\":' || " + quoted("'invoice:' || x.id") + " || "
        "',\"account_id\":' || " + quoted("x.account_id") + " || "
        "',\"document_id\":' || " + quoted("x.id") + " || "
        "',\"type\":' || " + quoted(mark) + " || "
        "',\"amount\":' || " + quoted("x.total || ' ' || x.currency") + " || "
        "',\"date\":' || " + quoted("x.day") + " || "
        "',\"cause\":' || " + quoted("x.number") + " || "
        '\',"pair":null,"note":null}\''
    )
    return (
        f"WITH {_CHUNK[dialect]} "
        "INSERT INTO balances (id, account_id, document_id, type, amount, currency, date, "
        "cause, body) "
        f"SELECT 'invoice:' || x.id, x.account_id, x.id, {mark}, {_MINOR_UNITS[dialect]}, "
        f"x.currency, x.invoice_date, x.number, {body} "
        f"FROM (SELECT c.pos AS pos, {_DOC_ID[dialect]} AS id, d.account_id AS account_id, "
        f"{_TOTAL_TEXT[dialect]} AS total, d.currency AS currency, "
        f"d.invoice_date AS invoice_date, {_DATE_TEXT[dialect]} AS day, d.number AS number "
        "FROM c JOIN documents d ON d.seq = c.seq) AS x ORDER BY x.pos"
    )
