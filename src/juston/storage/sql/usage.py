"""Usage records in the SQL store: written in bulk, deduplicated by id, totalled in SQL.

Four tables (:mod:`.schema`):

- ``usage_items`` numbers each usage item (account, subscription, item);
- ``usage_records`` holds every record, whole, keyed by its id: the id decides whether a
  record is new, and new records go where their id sorts, one place per record;
- ``usage_days`` holds, per item, period, group (criterion, invoice criterion, unit
  price) and billing day, how many records there are, their sum and maximum, and the
  latest of them (instant, id, quantity);
- ``usage_values`` holds the distinct values of each record property per item, period
  and group, for ``UNIQUE_COUNT``.

Every total is added up in SQL from ``usage_days`` (and ``usage_values``): a period's
sum is the sum of its days' sums, its latest record the latest of its days', a gauge's
value on a day that day's latest. A transaction adds up its new records per day in
memory and writes each day's row once, when it ends (or before it reads totals), in
key order: a batch of a million records of ten thousand items writes a few hundred
thousand day rows, not a million. So totals are as exact as the records and cost the
same however many records a day has.

A record is new when its id goes into ``usage_records``. On SQLite (one writer at a
time) a chunk of rows is inserted inside a savepoint; if some ids were stored before,
the savepoint is rolled back and the chunk is written again without them. On
PostgreSQL one statement inserts a chunk and returns the ids it inserted, so concurrent
writers each store a record at most once.
"""

from __future__ import annotations

import functools
import sqlite3
from collections import Counter
from collections.abc import Collection, Iterator, Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any, TypeVar

import attrs
import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection

from ...model.usage import Aggregation, StoredUsage, UsageQuery, UsageTotal
from ...rounding import canonical_quantity
from ...usage.aggregate import order
from ...usage.rows import PlainRow, UsageRow, day_key, quantity_text, usage_row
from .schema import usage_days, usage_items, usage_records, usage_values

__all__ = [
    "CHUNK",
    "Staged",
    "add_rows",
    "add_staged",
    "add_stored",
    "flush",
    "item_numbers",
    "known",
    "release",
    "stage",
    "staging",
    "totals",
]

#: Rows per insert statement (SQLite: per ``executemany``).
CHUNK = 20_000
#: Values per ``IN (...)`` list on SQLite (which allows 32,766 parameters per statement).
_IN = 500
#: Usage items per totals query: SQLite binds each value on its own, PostgreSQL one array.
ITEMS_PER_QUERY = {"sqlite": 500, "postgresql": 10_000}

_Item = tuple[str, str, str]
_T = TypeVar("_T")


def _chunks(values: Sequence[_T], size: int) -> Iterator[Sequence[_T]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


# --- reading ---------------------------------------------------------------------------


def known(conn: Connection, ids: Collection[str]) -> set[str]:
    """Which of *ids* are stored."""
    found: set[str] = set()
    for chunk in _chunks(sorted(set(ids)), _IN):
        found.update(record_id for (record_id,) in conn.execute(_select_known, {"ids": chunk}))
    return found


_select_known = sa.select(usage_records.c.id).where(
    usage_records.c.id.in_(sa.bindparam("ids", expanding=True))
)


def _item_numbers(conn: Connection, items: Collection[_Item]) -> dict[_Item, int]:
    """The numbers of those of *items* that ``usage_items`` holds."""
    numbers: dict[_Item, int] = {}
    if conn.dialect.name == "postgresql":
        for chunk in _chunks(sorted(items), ITEMS_PER_QUERY["postgresql"]):
            params: dict[str, Any] = {
                "account_ids": [a for a, _, _ in chunk],
                "numbers": [s for _, s, _ in chunk],
                "item_ids": [i for _, _, i in chunk],
            }
            for seq, account_id, subscription, item_id in conn.execute(_select_items_pg, params):
                numbers[(account_id, subscription, item_id)] = seq
        return numbers
    for chunk in _chunks(sorted(items), _IN):
        params = {"items": chunk, "accounts": sorted({a for a, _, _ in chunk})}
        for seq, account_id, subscription, item_id in conn.execute(_select_items_sqlite, params):
            numbers[(account_id, subscription, item_id)] = seq
    return numbers


_i = usage_items.c
# The accounts alone as well: SQLite seeks the index for a list of values, but scans all
# of it for a list of tuples.
_select_items_sqlite = sa.select(_i.seq, _i.account_id, _i.subscription, _i.item_id).where(
    _i.account_id.in_(sa.bindparam("accounts", expanding=True)),
    sa.tuple_(_i.account_id, _i.subscription, _i.item_id).in_(
        sa.bindparam("items", expanding=True)
    ),
)
_asked_pg = (
    sa.func.unnest(
        *(
            sa.bindparam(name, type_=postgresql.ARRAY(sa.Text))
            for name in ("account_ids", "numbers", "item_ids")
        )
    )
    .table_valued("account_id", "subscription", "item_id")
    .render_derived(name="asked")
)
_select_items_pg = sa.select(_i.seq, _i.account_id, _i.subscription, _i.item_id).join(
    _asked_pg,
    sa.and_(
        _i.account_id == _asked_pg.c.account_id,
        _i.subscription == _asked_pg.c.subscription,
        _i.item_id == _asked_pg.c.item_id,
    ),
)


def totals(conn: Connection, queries: Collection[UsageQuery]) -> list[UsageTotal]:
    """The totals :meth:`juston.storage.Reader.usage_totals` returns, added up in SQL."""
    flush(conn)  # this transaction's records count too
    # One query per aggregation (and property), each over the items that ask for it; an
    # item asked for twice the same way gets its totals twice, as from the memory store.
    wanted: dict[tuple[Aggregation, str | None], Counter[_Item]] = {}
    for query in queries:
        unique = query.aggregation is Aggregation.UNIQUE_COUNT
        prop = (query.property or None) if unique else None
        items = wanted.setdefault((query.aggregation, prop), Counter())
        items[(query.account_id, query.subscription, query.item_id)] += 1
    if not wanted:
        return []
    numbers = _item_numbers(conn, {item for items in wanted.values() for item in items})
    names = {seq: item for item, seq in numbers.items()}
    dialect = conn.dialect.name
    found: list[UsageTotal] = []
    for (aggregation, prop), items in wanted.items():
        statement = _totals(dialect, aggregation)
        counted = aggregation in (Aggregation.COUNT, Aggregation.UNIQUE_COUNT)
        asked = sorted(numbers[item] for item in items if item in numbers)
        for chunk in _chunks(asked, ITEMS_PER_QUERY[dialect]):
            for row in conn.execute(statement, {"items": list(chunk), "prop": prop}):
                item = names[row[0]]
                total = _total(item, row, counted)
                found.extend([total] * items[item])
    found.sort(key=order)
    return found


def _total(item: _Item, row: Sequence[Any], counted: bool) -> UsageTotal:
    """A row of :func:`_totals` as a total; *counted*: its quantity is a count, not
    millionths."""
    _, period_start, criterion, invoice_criterion, unit_price, day, quantity, records = row
    account_id, subscription, item_id = item
    return UsageTotal(
        account_id=account_id,
        subscription=subscription,
        item_id=item_id,
        period_start=date.fromordinal(period_start),
        criterion=criterion or None,
        invoice_criterion=invoice_criterion or None,
        unit_price=Decimal(unit_price) if unit_price else None,
        quantity=canonical_quantity(Decimal(quantity)) if counted else quantity_text(int(quantity)),
        records=int(records),
        day=None if day is None else date.fromordinal(day),
    )


_d = usage_days.c
#: What a total is grouped by.
_GROUP = (_d.item, _d.period_start, _d.criterion, _d.invoice_criterion, _d.unit_price)


def _asked(dialect: str, column: Any) -> Any:
    """*column* is one of the item numbers of the parameter ``items``."""
    if dialect == "postgresql":
        return column == sa.func.any(sa.bindparam("items", type_=postgresql.ARRAY(sa.BigInteger)))
    return column.in_(sa.bindparam("items", expanding=True))


@functools.cache
def _totals(dialect: str, aggregation: Aggregation) -> Any:
    """The totals of the usage items numbered by the parameter ``items``, one row per
    group (and day, for gauges): the group's columns, ``day``, ``quantity`` (in
    millionths, except for COUNT and UNIQUE_COUNT) and ``records``. UNIQUE_COUNT counts
    the distinct values of the record property named by the parameter ``prop``."""
    asked = _asked(dialect, _d.item)
    if aggregation is Aggregation.TIME_WEIGHTED:
        # A gauge's value on a day is the day's latest record's.
        return sa.select(*_GROUP, _d.day, _d.latest_quantity, _d.records).where(asked)
    records = sa.func.sum(_d.records).label("records")
    if aggregation is Aggregation.LATEST:
        # The latest instant wins; records at the same instant are ordered by id, in code
        # point order as Python orders text (PostgreSQL's "C" collation; SQLite's default).
        latest_id: Any = _d.latest_id.collate("C") if dialect == "postgresql" else _d.latest_id
        ranked = (
            sa.select(
                *_GROUP,
                _d.latest_quantity,
                sa.func.row_number()
                .over(partition_by=_GROUP, order_by=(_d.latest_at.desc(), latest_id.desc()))
                .label("latest_first"),
                sa.func.sum(_d.records).over(partition_by=_GROUP).label("records"),
            )
            .where(asked)
            .subquery("ranked")
        )
        return sa.select(
            *(ranked.c[c.name] for c in _GROUP),
            sa.null().label("day"),
            ranked.c.latest_quantity,
            ranked.c.records,
        ).where(ranked.c.latest_first == 1)
    if aggregation is Aggregation.UNIQUE_COUNT:
        # The distinct values of the period's records, however many days they came on.
        v = usage_values.c
        groups = sa.select(*_GROUP, records).where(asked).group_by(*_GROUP).subquery("groups")
        g = groups.c
        counted = (
            sa.select(sa.func.count())
            .where(
                v.item == g.item,
                v.period_start == g.period_start,
                v.criterion == g.criterion,
                v.invoice_criterion == g.invoice_criterion,
                v.unit_price == g.unit_price,
                v.name == sa.bindparam("prop", type_=sa.Text),
            )
            .scalar_subquery()
        )
        return sa.select(
            g.item,
            g.period_start,
            g.criterion,
            g.invoice_criterion,
            g.unit_price,
            sa.null().label("day"),
            counted.label("quantity"),
            g.records,
        )
    if aggregation is Aggregation.SUM:
        quantity: Any = sa.func.sum(_d.quantity)
    elif aggregation is Aggregation.COUNT:
        quantity = sa.func.sum(_d.records)
    else:  # MAX
        quantity = sa.func.max(_d.peak)
    return (
        sa.select(*_GROUP, sa.null().label("day"), quantity.label("quantity"), records)
        .where(asked)
        .group_by(*_GROUP)
    )


# --- writing ---------------------------------------------------------------------------


def add_stored(conn: Connection, rows: Sequence[StoredUsage]) -> int:
    """Store the rows whose record id is not stored yet (the first of equal ids); return
    how many were stored."""
    return add_rows(conn, [usage_row(row) for row in rows])


def add_rows(conn: Connection, rows: Sequence[UsageRow]) -> int:
    """Store the :data:`~juston.usage.rows.UsageRow` values whose id is not stored yet
    (the first of equal ids in *rows*); return how many were stored. Their days are
    added up when the transaction ends (:func:`flush`)."""
    if not rows:
        return 0
    if len({row[0] for row in rows}) != len(rows):
        first: dict[str, UsageRow] = {}
        for row in rows:
            first.setdefault(row[0], row)
        rows = list(first.values())
    numbers = _numbers(conn)
    try:
        values = [
            (r[0], numbers[r[1]], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10])
            for r in rows
        ]
    except KeyError:  # items this transaction has not numbered yet
        _number(conn, numbers, {row[1] for row in rows})
        values = [
            (r[0], numbers[r[1]], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10])
            for r in rows
        ]
    pending = _pending(conn)
    if conn.dialect.name == "postgresql":
        # In id order: concurrent transactions adding the same ids then wait for each other
        # in one order and never deadlock (PostgreSQL locks each id it inserts).
        values.sort()
        added = 0
        for chunk in _chunks(values, CHUNK):
            result = conn.exec_driver_sql(_INSERT_PG, (orjson.dumps(chunk).decode(),))
            fresh = {record_id for (record_id,) in result}
            new = [value for value in chunk if value[0] in fresh]
            pending.add(new)
            added += len(new)
        return added
    added = 0
    for chunk in _chunks(values, CHUNK):
        stored = _add_sqlite(conn, chunk)
        pending.add(stored)
        added += len(stored)
    return added


def _add_sqlite(conn: Connection, values: Sequence[tuple[Any, ...]]) -> Sequence[tuple[Any, ...]]:
    """Insert the records of *values* whose id is new; return those."""
    savepoint = conn.begin_nested()
    if conn.exec_driver_sql(_INSERT_SQLITE, values).rowcount != len(values):
        # Some were stored before: write the chunk again without them.
        savepoint.rollback()
        stored = known(conn, [value[0] for value in values])
        values = [value for value in values if value[0] not in stored]
        if not values:
            return values
        savepoint = conn.begin_nested()
        conn.exec_driver_sql(_INSERT_SQLITE, values)
    savepoint.commit()
    return values


#: The columns of a record, in the order the insert statements take them.
_COLUMNS = (
    "id",
    "item",
    "period_start",
    "day",
    "at",
    "quantity",
    "unit_price",
    "criterion",
    "invoice_criterion",
    "properties",
    "rest",
)
_INSERT_SQLITE = (
    f"INSERT INTO usage_records ({', '.join(_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in _COLUMNS)}) ON CONFLICT (id) DO NOTHING"
)


def _pg_column(n: int, name: str) -> str:
    casts = {"item": "bigint", "period_start": "integer", "day": "integer"}
    casts |= {"at": "bigint", "quantity": "bigint", "properties": "json"}
    # ->> gives text (exact for numbers too).
    return f"(e->>{n})::{casts[name]}" if name in casts else f"e->>{n}"


#: All rows of a chunk as one JSON array of arrays: one text parameter costs the driver
#: far less than a parameter per value. Returns the ids it inserted.
_INSERT_PG = (
    f"INSERT INTO usage_records ({', '.join(_COLUMNS)}) SELECT "
    + ", ".join(_pg_column(n, name) for n, name in enumerate(_COLUMNS))
    + " FROM jsonb_array_elements(%s::jsonb) WITH ORDINALITY AS a(e, n) ORDER BY n "
    "ON CONFLICT (id) DO NOTHING RETURNING id"
)


def _numbers(conn: Connection) -> dict[_Item, int]:
    """The item numbers this transaction knows, by item.

    Kept for the rest of the transaction only (a rolled-back one may have numbered items
    that are gone): a transaction that adds many batches looks each item up once.
    """
    transaction = conn.get_transaction()
    cached = conn.info.get("juston_usage_items")
    if cached is None or cached[0] is not transaction:
        cached = conn.info["juston_usage_items"] = (transaction, {})
    numbers: dict[_Item, int] = cached[1]
    return numbers


def _number(conn: Connection, numbers: dict[_Item, int], items: Collection[_Item]) -> None:
    """Add the numbers of *items* to *numbers*, numbering those ``usage_items`` does not
    hold yet."""
    asked = [item for item in items if item not in numbers]
    if asked:
        numbers.update(_item_numbers(conn, asked))
        missing = sorted(item for item in asked if item not in numbers)
        if missing:
            mark = "%s" if conn.dialect.name == "postgresql" else "?"
            conn.exec_driver_sql(
                "INSERT INTO usage_items (account_id, subscription, item_id) "
                f"VALUES ({mark}, {mark}, {mark}) ON CONFLICT DO NOTHING",
                missing,
            )
            numbers.update(_item_numbers(conn, missing))


# --- the days of a transaction's new records -------------------------------------------


class _Days:
    """New records added up per day row of ``usage_days`` (and the property values they
    bring): a transaction's until :func:`flush` writes them, or a staged batch's
    (:func:`stage`)."""

    __slots__ = ("days", "staged", "values")

    def __init__(self) -> None:
        #: Whether the transaction stored a staged batch (:func:`add_staged`).
        self.staged = False
        #: Day key -> [key, records, sum, maximum, latest instant, latest id, latest
        #: quantity]. The key of a record without criteria or price is its day key
        #: (:data:`~juston.usage.rows.PlainRow`: one integer, cheap to hash); else (day
        #: key, criterion, invoice criterion, unit price).
        self.days: dict[Any, list[Any]] = {}
        #: (item, period, criterion, invoice criterion, unit price, name, value)
        self.values: set[tuple[Any, ...]] = set()

    def add(self, new: Sequence[tuple[Any, ...]]) -> None:
        """Add records in the column order of ``usage_records``."""
        plain: list[PlainRow] = []
        keyed: list[tuple[Any, str, int, int]] = []
        for record_id, item, period, day, at, quantity, price, criterion, invoice, props, _ in new:
            key = day_key(item, period, day)
            if price or criterion or invoice:
                keyed.append(((key, criterion, invoice, price), record_id, at, quantity))
            else:
                plain.append((key, record_id, at, quantity))
            if props is not None:
                for name, value in orjson.loads(props).items():
                    self.values.add((item, period, criterion, invoice, price, name, value))
        self.add_plain(plain)
        self.add_plain(keyed)

    def add_plain(self, new: Sequence[tuple[Any, str, int, int]]) -> None:
        """Add :data:`~juston.usage.rows.PlainRow` values (or others with a key of
        :attr:`days` first)."""
        days = self.days
        get = days.get
        for key, record_id, at, quantity in new:
            found = get(key)
            if found is None:
                days[key] = [key, 1, quantity, quantity, at, record_id, quantity]
            else:
                found[1] += 1
                found[2] += quantity
                if quantity > found[3]:
                    found[3] = quantity
                if at > found[4] or (at == found[4] and record_id > found[5]):
                    found[4] = at
                    found[5] = record_id
                    found[6] = quantity

    def rows(self) -> list[tuple[Any, ...]]:
        """The day rows to write, in one order for every transaction (by key, those
        without criteria or price first), so concurrent writers lock rows in one order."""
        days = self.days
        plain = sorted(key for key in days if type(key) is int)
        grouped = sorted(key for key in days if type(key) is not int)
        rows = [(*_day_of(key), "", "", "", key & _DAY, *days[key][1:]) for key in plain]
        rows.extend((*_day_of(key[0]), *key[1:], key[0] & _DAY, *days[key][1:]) for key in grouped)
        return rows


_DAY = 0x3FFFFF


def _day_of(key: int) -> tuple[int, int]:
    """The item and period of a day key."""
    return key >> 44, (key >> 22) & _DAY


def _pending(conn: Connection) -> _Days:
    """The days of the records this transaction added and has not written yet."""
    transaction = conn.get_transaction()
    pending = conn.info.get("juston_usage_days")
    if pending is None or pending[0] is not transaction:
        pending = conn.info["juston_usage_days"] = (transaction, _Days())
    days: _Days = pending[1]
    return days


def flush(conn: Connection) -> None:
    """Write the days of the records this transaction added (before it commits, and
    before it reads totals)."""
    pending = conn.info.pop("juston_usage_days", None)
    if pending is None or pending[0] is not conn.get_transaction():
        return
    days: _Days = pending[1]
    dialect = conn.dialect.name
    if days.staged:
        # Free the last staged batch's memory (the database stays attached).
        _driver(conn).deserialize(_empty_image(), name=_STAGE)
    if days.days:
        rows = days.rows()
        if dialect == "postgresql":
            for chunk in _chunks(rows, CHUNK):
                conn.exec_driver_sql(_UPSERT_DAYS_PG, (orjson.dumps(chunk).decode(),))
        else:
            conn.exec_driver_sql(_UPSERT_DAYS_SQLITE, rows)
    if days.values:
        values = sorted(days.values)
        mark = "%s" if dialect == "postgresql" else "?"
        conn.exec_driver_sql(
            f"INSERT INTO usage_values ({', '.join(_VALUE_COLUMNS)}) "
            f"VALUES ({', '.join(mark for _ in _VALUE_COLUMNS)}) ON CONFLICT DO NOTHING",
            values,
        )


_KEY = ("item", "period_start", "criterion", "invoice_criterion", "unit_price")
_DAY_COLUMNS = (
    *_KEY,
    "day",
    "records",
    "quantity",
    "peak",
    "latest_at",
    "latest_id",
    "latest_quantity",
)
_VALUE_COLUMNS = (*_KEY, "name", "value")


def _upsert_days(dialect: str, source: str | None = None) -> str:
    """Add a day row's figures to the stored row of its key, or store it; the rows come
    from parameters, or from the query *source* (SQLite)."""
    later = "(excluded.latest_at, excluded.latest_id) > (d.latest_at, d.latest_id)"
    greatest = "max"
    if dialect == "postgresql":
        later = (
            '(excluded.latest_at, excluded.latest_id COLLATE "C") > '
            '(d.latest_at, d.latest_id COLLATE "C")'
        )
        greatest = "greatest"
    columns = ", ".join(_DAY_COLUMNS)
    if dialect == "postgresql":
        casts = dict.fromkeys(
            ("item", "latest_at", "quantity", "peak", "latest_quantity"), "bigint"
        )
        casts |= dict.fromkeys(("period_start", "day", "records"), "integer")
        source = (
            "SELECT "
            + ", ".join(
                f"(e->>{n})::{casts[name]}" if name in casts else f"e->>{n}"
                for n, name in enumerate(_DAY_COLUMNS)
            )
            + " FROM jsonb_array_elements(%s::jsonb) WITH ORDINALITY AS a(e, n) ORDER BY n"
        )
    elif source is None:
        source = f"VALUES ({', '.join('?' for _ in _DAY_COLUMNS)})"
    return (
        f"INSERT INTO usage_days AS d ({columns}) {source} "
        f"ON CONFLICT ({', '.join((*_KEY, 'day'))}) DO UPDATE SET "
        "records = d.records + excluded.records, "
        "quantity = d.quantity + excluded.quantity, "
        f"peak = {greatest}(d.peak, excluded.peak), "
        f"latest_quantity = CASE WHEN {later} THEN excluded.latest_quantity "
        "ELSE d.latest_quantity END, "
        f"latest_id = CASE WHEN {later} THEN excluded.latest_id ELSE d.latest_id END, "
        f"latest_at = CASE WHEN {later} THEN excluded.latest_at ELSE d.latest_at END"
    )


_UPSERT_DAYS_SQLITE = _upsert_days("sqlite")
_UPSERT_DAYS_PG = _upsert_days("postgresql")


def release(info: dict[Any, Any]) -> None:
    """Forget what a transaction kept on its connection (when the connection goes back to
    the pool): a transaction that failed leaves its unwritten days behind."""
    info.pop("juston_usage_days", None)
    info.pop("juston_usage_items", None)


# --- staged batches (SQLite) -----------------------------------------------------------
#
# Binding the values of a record costs the sqlite3 module about as much as checking the
# record, and adding records up per day about as much again; both can happen in another
# process. :func:`stage` writes the records and their day rows into a small in-memory
# SQLite database and returns its image (sqlite3's serialize); :func:`add_staged`
# attaches the image to the writer's connection (deserialize, a copy of the bytes) and
# moves it over with one statement per table, without a Python value per record.
#
# The staged rows name their items by their ``usage_items`` numbers already
# (:func:`item_numbers`, before the pieces are staged): the writer then copies the rows
# as they are, with no lookup per row, and the day rows in the order of its key.


def item_numbers(conn: Connection, keys: Sequence[_Item]) -> list[int]:
    """The ``usage_items`` numbers of the items *keys*, in their order; those the table
    does not hold yet are numbered (in this transaction).

    Staged batches name items by these numbers, so they are numbered before the rows are
    staged, in a transaction of their own: numbers are never taken back, and a number is
    one item's for good.
    """
    numbers = _numbers(conn)
    # One pass over the table: the items of a store's subscriptions are most of it.
    for seq, account_id, subscription, item_id in conn.exec_driver_sql(
        "SELECT seq, account_id, subscription, item_id FROM usage_items"
    ):
        numbers[(account_id, subscription, item_id)] = seq
    _number(conn, numbers, set(keys))
    return [numbers[key] for key in keys]


@attrs.frozen(eq=False)
class Staged:
    """Usage records and their day rows as an SQLite database image, from :func:`stage`.

    *records* counts the records in it. Its items are named by their ``usage_items``
    numbers (:func:`item_numbers`); the image also holds the items themselves, which
    :func:`add_staged` checks against ``usage_items``.

        >>> from juston.usage.rows import day_key
        >>> plain = (day_key(7, 739617, 739621), "r1", 1767605400000000, 5000000)
        >>> stage([plain], [], {7: ("C1", "S-1", "api")}).records
        1
    """

    image: bytes
    records: int


#: The name of the staged batch's database on the writer's connection.
_STAGE = "juston_stage"
_STAGE_TABLES = (
    "CREATE TABLE plain (key, id, at, quantity)",  # PlainRow values
    f"CREATE TABLE records ({', '.join(_COLUMNS)})",  # the others
    # In the order of usage_days' key (the rows without criteria or price first).
    "CREATE TABLE days (key, criterion, invoice_criterion, unit_price, records, quantity, "
    "peak, latest_at, latest_id, latest_quantity)",
    f"CREATE TABLE vals ({', '.join(_VALUE_COLUMNS)})",
    "CREATE TABLE items (seq INTEGER PRIMARY KEY, account_id, subscription, item_id)",
)


def stage(
    plain: Sequence[PlainRow], rows: Sequence[UsageRow], items: Mapping[int, _Item]
) -> Staged:
    """*plain* and *rows* as one :class:`Staged` batch, added up per day. *items* maps
    the ``usage_items`` numbers that the day keys of *plain* name to their items, and
    holds the items of *rows*. Equal ids are allowed (:func:`add_staged` then stores the
    first, *plain* before *rows*), but cost it more."""
    general: list[tuple[Any, ...]] = []
    if rows:
        number = {item: seq for seq, item in items.items()}
        general = [(row[0], number[row[1]], *row[2:]) for row in rows]
    days = _Days()
    days.add_plain(plain)
    days.add(general)
    found = days.days
    plain_days = sorted(key for key in found if type(key) is int)
    grouped = sorted(key for key in found if type(key) is not int)
    used = {key >> 44 for key in plain_days}
    used.update(key[0] >> 44 for key in grouped)
    db = sqlite3.connect(":memory:")
    try:
        for statement in _STAGE_TABLES:
            db.execute(statement)
        db.executemany("INSERT INTO plain VALUES (?, ?, ?, ?)", plain)
        db.executemany(f"INSERT INTO records VALUES ({_marks(len(_COLUMNS))})", general)
        db.executemany(
            f"INSERT INTO days VALUES (?, '', '', '', {_marks(6)})",
            [found[key] for key in plain_days],
        )
        db.executemany(
            f"INSERT INTO days VALUES ({_marks(10)})",
            [(*key, *found[key][1:]) for key in grouped],
        )
        db.executemany(f"INSERT INTO vals VALUES ({_marks(len(_VALUE_COLUMNS))})", days.values)
        db.executemany("INSERT INTO items VALUES (?, ?, ?, ?)", [(n, *items[n]) for n in used])
        db.commit()
        return Staged(db.serialize(), len(plain) + len(general))
    finally:
        db.close()


def _driver(conn: Connection) -> sqlite3.Connection:
    driver = conn.connection.driver_connection
    assert isinstance(driver, sqlite3.Connection), "staged batches are for SQLite"
    return driver


def _marks(count: int) -> str:
    return ", ".join("?" * count)


def staging(tx: object) -> Connection | None:
    """The connection of *tx* if it is a SQL store's transaction that can take
    :class:`Staged` batches (SQLite), else None."""
    conn = getattr(tx, "conn", None)
    if isinstance(conn, Connection) and conn.dialect.name == "sqlite":
        return conn
    return None


def add_staged(conn: Connection, staged: Staged) -> int:
    """Store the records of *staged* whose id is not stored yet (the first of equal ids)
    and add them to their days; return how many were stored. SQLite only.

    All records are usually new: then three statements copy the records, the day rows
    and the property values over. If some are not (stored before, or repeated), or the
    image's item numbers are not those of ``usage_items``, the records are taken back and
    stored the exact way of :func:`add_rows`.
    """
    if not staged.records:
        return 0
    if not any(name == _STAGE for _, name, _ in conn.exec_driver_sql("PRAGMA database_list")):
        conn.exec_driver_sql(f"ATTACH DATABASE ':memory:' AS {_STAGE}")
    _driver(conn).deserialize(staged.image, name=_STAGE)
    _pending(conn).staged = True
    if conn.exec_driver_sql(_UNKNOWN_ITEMS).scalar() == 0:
        savepoint = conn.begin_nested()
        added = sum(conn.exec_driver_sql(statement).rowcount for statement in _STAGED_RECORDS)
        if added == staged.records:
            conn.exec_driver_sql(_STAGED_DAYS)
            conn.exec_driver_sql(_STAGED_VALUES)
            savepoint.commit()
            return added
        savepoint.rollback()
    items = {
        seq: (account_id, subscription, item_id)
        for seq, account_id, subscription, item_id in conn.exec_driver_sql(
            f"SELECT seq, account_id, subscription, item_id FROM {_STAGE}.items"
        )
    }
    taken = [
        (r[0], items[r[1]], *r[2:])
        for table in ("plain", "records")
        for r in conn.exec_driver_sql(f"{_staged(table, _COLUMNS)} ORDER BY s.rowid")
    ]
    return add_rows(conn, taken)


#: How many of the staged batch's items are not ``usage_items``' items of their numbers.
_UNKNOWN_ITEMS = (
    f"SELECT count(*) FROM {_STAGE}.items AS s WHERE NOT EXISTS (SELECT 1 FROM usage_items "
    "AS u WHERE u.seq = s.seq AND u.account_id = s.account_id "
    "AND u.subscription = s.subscription AND u.item_id = s.item_id)"
)


def _staged(table: str, columns: Sequence[str]) -> str:
    """The rows of a staged table as *columns* (items by their numbers)."""
    derived: dict[str, str] = {}
    if table in ("plain", "days"):  # by day key
        derived |= {
            "item": "s.key >> 44",
            "period_start": f"(s.key >> 22) & {_DAY}",
            "day": f"s.key & {_DAY}",
        }
    if table == "plain":
        derived |= dict.fromkeys(("unit_price", "criterion", "invoice_criterion"), "''")
        derived |= dict.fromkeys(("properties", "rest"), "NULL")
    chosen = ", ".join(derived.get(name, f"s.{name}") for name in columns)
    # "WHERE true": an INSERT's SELECT must not end in a name before ON CONFLICT.
    return f"SELECT {chosen} FROM {_STAGE}.{table} AS s WHERE true"


#: Staged records into usage_records, in the order they were staged.
_STAGED_RECORDS = [
    f"INSERT INTO usage_records ({', '.join(_COLUMNS)}) {_staged(table, _COLUMNS)} "
    "ORDER BY s.rowid ON CONFLICT (id) DO NOTHING"
    for table in ("plain", "records")
]
# The day rows in the order they were staged, their key's: no sorting here.
_STAGED_DAYS = _upsert_days("sqlite", f"{_staged('days', _DAY_COLUMNS)} ORDER BY s.rowid")
_STAGED_VALUES = (
    f"INSERT INTO usage_values ({', '.join(_VALUE_COLUMNS)}) {_staged('vals', _VALUE_COLUMNS)} "
    "ON CONFLICT DO NOTHING"
)


@functools.cache
def _empty_image() -> bytes:
    db = sqlite3.connect(":memory:")
    try:
        db.execute("PRAGMA user_version = 1")  # an image needs a page
        return db.serialize()
    finally:
        db.close()
