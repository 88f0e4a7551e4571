"""Ingesting usage records: validate, resolve, deduplicate, store.

:func:`ingest_usage` takes records (or mappings and CSV rows that become records) from
any iterable, in batches, each stored in one transaction. A record whose id is already
stored, or repeated in the input, is a duplicate: counted, never stored twice. A record
that cannot be billed (bad quantity, naive timestamp, unknown item, a day outside the
item's service, a period already invoiced under :attr:`LatePolicy.REJECT`) is rejected
with its reason; the rest of its batch is kept.

    >>> from datetime import date, datetime, timezone
    >>> from juston.testing import usage_store
    >>> store = usage_store()
    >>> result = ingest_usage(store, [
    ...     {"id": "r1", "item": "S-1/api", "quantity": "120",
    ...      "timestamp": "2026-01-05T10:00:00+01:00"},
    ...     {"id": "r1", "item": "S-1/api", "quantity": "120",
    ...      "timestamp": "2026-01-05T10:00:00+01:00"},
    ...     {"id": "r2", "item": "S-1/nope", "quantity": "1",
    ...      "timestamp": "2026-01-05T10:00:00+01:00"},
    ... ])
    >>> result.new, result.duplicates, [str(r) for r in result.rejected]
    (1, 1, ["record 'r2' (#2): item: 'S-1/nope' names no usage item"])

:func:`ingest_usage_rows` does the same for plain rows (``(id, item, timestamp,
quantity)``), the fast way for millions of records: no object is made per record, and a
store whose transactions take rows (:class:`~juston.storage.base.UsageRows`, as the SQL
store's do) writes them as they are.
"""

from __future__ import annotations

import csv
import gc
import marshal
import multiprocessing
import pickle
from collections import deque
from collections.abc import Generator, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import closing, contextmanager
from datetime import UTC, date, datetime, timedelta, tzinfo
from itertools import chain, islice
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import attrs
import orjson

from ..errors import JustonError, ValidationError
from ..model.parties import Account, zone
from ..model.subscriptions import Item, Subscription
from ..model.usage import LatePolicy, Metric, StoredUsage, UsageRecord
from ..money import money
from ..periods import Grid
from ..storage.base import Reader, Store, Transaction, UsageRows
from .rows import (
    EPOCH_ORDINAL,
    MAX_QUANTITY,
    PlainRow,
    UsageRow,
    micros_of,
    stored_at,
    stored_usage,
    usage_row,
)

if TYPE_CHECKING:
    from ..storage.sql.usage import Staged

__all__ = [
    "IngestResult",
    "Rejection",
    "UsageItems",
    "ingest_usage",
    "ingest_usage_rows",
    "read_usage_csv",
]

_FIELDS = ("id", "item", "timestamp", "quantity", "criterion", "invoice_criterion")
#: The fields of a row of :func:`ingest_usage_rows`, in order; the first four are required.
ROW_FIELDS = (
    "id",
    "item",
    "timestamp",
    "quantity",
    "unit_price",
    "criterion",
    "invoice_criterion",
    "properties",
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
#: Whole quantities up to this many units fit a store (in millionths, a signed 64-bit int).
_MAX_WHOLE = MAX_QUANTITY // 10**6
#: Epoch seconds the fast path takes (1970 up to the year 3000).
_MAX_EPOCH = 32503680000
#: The period and day fields of a day key (:func:`~juston.usage.rows.day_key`).
_DAY_MASK = (1 << 22) - 1
#: A UTC day on which a time zone changes its offset: its records' days are worked out
#: one by one.
_MIXED = 1 << 40


@attrs.frozen
class Rejection:
    """A record that was not stored, and why. *position* counts from 0 in the input."""

    position: int
    record_id: str | None
    field: str
    value: object
    reason: str

    def __str__(self) -> str:
        who = f"record {self.record_id!r}" if self.record_id else "record"
        return f"{who} (#{self.position}): {self.field}: {self.value!r} {self.reason}"


@attrs.frozen
class IngestResult:
    """How many records were new, how many were duplicates, and which were rejected."""

    new: int
    duplicates: int
    rejected: tuple[Rejection, ...]

    @property
    def seen(self) -> int:
        return self.new + self.duplicates + len(self.rejected)

    def __str__(self) -> str:
        return f"{self.new} new, {self.duplicates} duplicates, {len(self.rejected)} rejected"


class _LocalDays:
    """The local day of UTC instants in one time zone, by the zone's offset per UTC day.

    A zone keeps its offset all day on all but a few days a year; for those the offset is
    looked up once per UTC day and a record's day is one addition and one division. On
    the days the offset changes, each record's day is worked out on its own.
    """

    __slots__ = ("offsets", "zone")

    def __init__(self, zone: tzinfo) -> None:
        self.zone = zone
        #: UTC day number (days since 1970-01-01) -> the offset in seconds, or _MIXED.
        self.offsets: dict[int, int] = {}

    def offset(self, utc_day: int) -> int:
        """The zone's offset in seconds all through *utc_day*, or ``_MIXED``."""
        found = self.offsets.get(utc_day)
        if found is None:
            start = utc_day * 86400
            # Every quarter of an hour and the last second: offsets change at most a few
            # times a year, never twice within minutes.
            seen = {self._offset_at(start + second) for second in (*range(0, 86400, 900), 86399)}
            found = self.offsets[utc_day] = seen.pop() if len(seen) == 1 else _MIXED
        return found

    def _offset_at(self, seconds: int) -> int:
        offset = datetime.fromtimestamp(seconds, self.zone).utcoffset()
        assert offset is not None
        return offset // timedelta(seconds=1)

    def day(self, seconds: int) -> int:
        """The local day (a date ordinal) of the instant *seconds* after 1970-01-01 UTC."""
        offset = self.offset(seconds // 86400)
        if offset == _MIXED:
            return datetime.fromtimestamp(seconds, self.zone).toordinal()
        return (seconds + offset) // 86400 + EPOCH_ORDINAL


class _Target:
    """A usage item with what resolving a record to it needs, worked out once."""

    __slots__ = (
        "account",
        "days",
        "end",
        "first",
        "index",
        "item",
        "key",
        "metric",
        "periods",
        "reference",
        "span",
        "strict",
        "subscription",
        "zone_name",
    )

    def __init__(
        self,
        account: Account,
        subscription: Subscription,
        item: Item,
        metric: Metric,
        zone_name: str,
        days: _LocalDays,
        periods: dict[int, int],
        index: int,
    ) -> None:
        self.account = account
        self.subscription = subscription
        self.item = item
        self.metric = metric
        self.zone_name = zone_name
        self.days = days
        #: Day ordinal -> the ordinal of the first day of its billing period.
        self.periods = periods
        self.span = subscription.item_span(item)
        self.first = self.span.start.toordinal() if self.span else 0
        self.end = self.span.end.toordinal() if self.span else 0
        self.key = (account.id, subscription.number, item.id)
        self.reference = f"{subscription.number}/{item.id}"
        self.strict = metric.late is LatePolicy.REJECT
        #: The item's number in its UsageItems (plain rows name their item by it).
        self.index = index

    def _same(self) -> tuple[object, ...]:
        return (self.key, self.subscription, self.item, self.metric, self.zone_name)

    def period(self, day: int) -> int:
        """The first day of the billing period that contains *day* (ordinals)."""
        start = self.periods.get(day)
        if start is None:
            containing = self.subscription.grid.containing(date.fromordinal(day))
            start = self.periods[day] = containing.start.toordinal()
        return start


class _Fast:
    """What checking a plain row needs of the usage items, for one way of numbering them
    in day keys (*numbers* by target index, or their index): by reference, the target,
    the "rest" of a row for it (the reference unless it is the target's own
    "SUBSCRIPTION/ITEM"), the item part of its day keys, its zone's offsets by UTC day,
    and whether it takes late usage (else its rows go through the writer); and the day
    keys of the days inside the items' service, by item part and day.

    Flat on purpose: a row touches a random one of many items, and each object it
    reaches costs a memory access of its own.
    """

    __slots__ = ("keys", "numbers", "references")

    def __init__(self, items: UsageItems, numbers: Sequence[int] | None) -> None:
        self.numbers = numbers
        self.references: dict[str, tuple[_Target, str | None, int, dict[int, int], bool]] = {}
        for reference, target in items._targets.items():
            if target is not None:
                rest = None
                if reference != target.reference:
                    rest = orjson.dumps({"item": reference}).decode()
                number = target.index if numbers is None else numbers[target.index]
                found = (target, rest, number << 44, target.days.offsets, not target.strict)
                self.references[reference] = found
        #: Item part | day -> day key (item part | period << 22 | day).
        self.keys: dict[int, int] = {}


class UsageItems:
    """The usage items of a store by reference (``"SUBSCRIPTION/ITEM"`` or order number).

    Built once from every subscription of the store; keep one for many ingestions, and
    build a new one after subscriptions change.
    """

    def __init__(self, store: Reader, page: int = 1000) -> None:
        self.company = store.company()
        self._targets: dict[str, _Target | None] = {}
        #: The item keys (account id, subscription, item id) by target index.
        self._keys: list[tuple[str, str, str]] = []
        self._ambiguous: dict[str, str] = {}
        # Subscriptions share zones and grids, and working either out is costly.
        days: dict[str, _LocalDays] = {}
        periods: dict[Grid, dict[int, int]] = {}
        accounts = store.accounts()
        while batch := list(islice(accounts, page)):
            by_id = {a.id: a for a in batch}
            for account_id, subscriptions in store.subscriptions_of(list(by_id)).items():
                for subscription in subscriptions:
                    for item in subscription.items:
                        if (metric := item.usage) is not None:
                            account = by_id[account_id]
                            name = account.time_zone or self.company.time_zone
                            if name not in days:
                                days[name] = _LocalDays(zone(name))
                            target = _Target(
                                account,
                                subscription,
                                item,
                                metric,
                                name,
                                days[name],
                                periods.setdefault(subscription.grid, {}),
                                len(self._keys),
                            )
                            self._keys.append(target.key)
                            self._add(target.reference, target)
                            if item.order_number:
                                self._add(item.order_number, target)
        self._fast = _Fast(self, None)
        #: The last numbered view (:meth:`_fast_for`).
        self._numbered = self._fast

    def _fast_for(self, numbers: Sequence[int] | None) -> _Fast:
        """The items by reference for checking plain rows, their day keys naming items by
        *numbers* (by target index), else by their index."""
        if numbers is None:
            return self._fast
        if self._numbered.numbers is not numbers:
            self._numbered = _Fast(self, numbers)
        return self._numbered

    def __getstate__(self) -> dict[str, Any]:
        # A numbered view belongs to one store and one ingestion: not sent to workers.
        return self.__dict__ | {"_numbered": self._fast}

    def _add(self, reference: str, target: _Target) -> None:
        # A reference that names two items is ambiguous: None marks it, with the reason.
        seen = self._targets.get(reference, target)
        if seen is None or seen._same() != target._same():
            self._targets[reference] = None
            if seen is not None and seen.account.id != target.account.id:
                self._ambiguous[reference] = "names usage items of several accounts"
            else:
                self._ambiguous.setdefault(reference, "names more than one usage item")
        else:
            self._targets[reference] = target

    def _target(self, reference: str) -> _Target:
        if reference not in self._targets:
            raise ValidationError("item", reference, "names no usage item")
        target = self._targets[reference]
        if target is None:
            raise ValidationError("item", reference, self._ambiguous[reference])
        return target

    def _resolved(self, record: UsageRecord) -> tuple[_Target, int, int, int]:
        """The item, the instant (microseconds), the local day and the period (ordinals)
        of *record*; ValidationError if it names no item or misses it."""
        target = self._target(record.item)
        price = record.unit_price
        currency = target.item.price.currency
        if price is not None and price.currency != currency:
            raise ValidationError(
                "unit_price", price, f"is not in the item's currency {currency.code}"
            )
        at = (record.timestamp - _EPOCH) // _MICROSECOND
        try:
            day = target.days.day(at // 1_000_000)
        except (OverflowError, ValueError, OSError):  # beyond the years a date can have
            raise ValidationError(
                "timestamp", record.timestamp.isoformat(), "is out of range"
            ) from None
        if not target.first <= day < target.end:
            raise ValidationError(
                "timestamp",
                record.timestamp.isoformat(),
                f"falls on {date.fromordinal(day)} ({target.zone_name}), outside the "
                f"service of item {record.item}",
            )
        return target, at, day, target.period(day)

    def resolve(self, record: UsageRecord) -> StoredUsage:
        """The stored form of *record*; ValidationError if it names no item or misses it."""
        target, _, day, period = self._resolved(record)
        return stored_at(record, target.key, day, period)

    def late_policy(self, row: StoredUsage) -> LatePolicy:
        return self._target(row.record.item).metric.late

    def _row(self, record: UsageRecord) -> tuple[UsageRow, bool]:
        """*record* as a stored row, and whether its item rejects late usage."""
        target, at, day, period = self._resolved(record)
        micros = micros_of(record.quantity, record.id)
        if (
            record.item == target.reference
            and not record.timestamp.utcoffset()
            and record.unit_price is None
            and not record.properties
            and micros % 1_000_000 == 0
            and str(record.quantity) == str(micros // 1_000_000)
        ):
            # Nothing the columns do not give back: the row directly.
            row: UsageRow = (
                record.id,
                target.key,
                period,
                day,
                at,
                micros,
                "",
                record.criterion or "",
                record.invoice_criterion or "",
                None,
                None,
            )
        else:
            row = usage_row(stored_at(record, target.key, day, period))
        return row, target.strict

    def _plain_rows(
        self, batch: Sequence[object], position: int, numbers: Sequence[int] | None = None
    ) -> _Batch:
        """Validate and resolve the plain rows of *batch*, the first at *position*.

        Rows of four common values (a text id and reference, an aware ``datetime`` or
        whole epoch seconds, a whole quantity) are checked here without making objects;
        any other row becomes a :class:`UsageRecord`, which checks it exactly as
        :func:`ingest_usage` does and says what is wrong. The day keys of the plain rows
        name their items by *numbers* (by target index), else by their index.
        """
        out = _Batch()
        view = self._fast_for(numbers)
        fast = view.references
        keys = view.keys
        day_key_of = keys.get
        seen = out.seen
        add_seen = seen.add
        add_row = out.rows.append
        add_plain = out.plain.append
        most, latest, mixed, epoch_day = _MAX_WHOLE, _MAX_EPOCH, _MIXED, EPOCH_ORDINAL
        for offset, values in enumerate(batch, start=position):
            if type(values) is tuple and len(values) == 4:
                record_id, reference, stamp, quantity = values
                found = fast.get(reference) if type(reference) is str else None
                if (
                    found is not None
                    and type(record_id) is str
                    and record_id
                    and not record_id.isspace()
                    and type(quantity) is int
                    and 0 <= quantity <= most
                ):
                    target, rest, base, offsets, lenient = found
                    seconds = -1
                    if type(stamp) is int:
                        if 0 <= stamp < latest:
                            seconds = stamp
                            at = stamp * 1_000_000
                    elif type(stamp) is datetime and stamp.tzinfo is not None:
                        utc_offset = stamp.utcoffset()
                        if utc_offset is not None:
                            at = (stamp - _EPOCH) // _MICROSECOND
                            seconds = at // 1_000_000
                            if utc_offset:
                                extra = orjson.loads(rest) if rest else {}
                                extra["offset"] = utc_offset // _MICROSECOND
                                rest = orjson.dumps(extra).decode()
                    if seconds >= 0:
                        shift = offsets.get(seconds // 86400)
                        if shift is None or shift == mixed:
                            day = target.days.day(seconds)
                        else:
                            day = (seconds + shift) // 86400 + epoch_day
                        # Days outside the item's service have no key (rejected).
                        key = day_key_of(base | day)
                        if key is None and target.first <= day < target.end:
                            key = keys[base | day] = base | (target.period(day) << 22) | day
                        if key is not None:
                            if record_id in seen:
                                out.repeated += 1
                                continue
                            add_seen(record_id)
                            if rest is None and lenient:
                                add_plain((key, record_id, at, quantity * 1_000_000))
                                continue
                            period = (key >> 22) & _DAY_MASK
                            row: UsageRow = (
                                record_id,
                                target.key,
                                period,
                                day,
                                at,
                                quantity * 1_000_000,
                                "",
                                "",
                                "",
                                None,
                                rest,
                            )
                            if target.strict:
                                out.strict.append((offset, row))
                            else:
                                add_row(row)
                            continue
            # Anything else: as a record, checked and resolved the exact way.
            try:
                out.add(offset, *self._row(_row_record(values)))
            except JustonError as exc:
                out.rejected.append(_rejection(offset, values, exc))
        return out

    def _records(
        self, batch: Sequence[UsageRecord | Mapping[str, object]], position: int
    ) -> _Batch:
        """Validate and resolve the records (or mappings) of *batch*, the first at
        *position*."""
        out = _Batch()
        for offset, data in enumerate(batch, start=position):
            try:
                out.add(offset, *self._row(_record(data)))
            except JustonError as exc:
                out.rejected.append(_rejection(offset, data, exc))
        return out


class _Batch:
    """One batch's rows, sorted out: new to the batch (*plain*, *rows*, and *strict* with
    their position for items that reject late usage), repeated within it, or rejected.
    *staged*: *plain* and *rows* staged for a SQLite store (by a worker process)."""

    __slots__ = ("plain", "rejected", "repeated", "rows", "seen", "staged", "strict")

    def __init__(self) -> None:
        #: Plain rows, their items numbered by their target's index.
        self.plain: list[PlainRow] = []
        self.staged: Staged | None = None
        self.rows: list[UsageRow] = []
        self.strict: list[tuple[int, UsageRow]] = []
        self.rejected: list[Rejection] = []
        self.seen: set[str] = set()
        self.repeated = 0

    def add(self, position: int, row: UsageRow, strict: bool) -> None:
        if row[0] in self.seen:
            self.repeated += 1
            return
        self.seen.add(row[0])
        if strict:
            self.strict.append((position, row))
        else:
            self.rows.append(row)


def _row_record(values: object) -> UsageRecord:
    """The record a row of :func:`ingest_usage_rows` gives (ValidationError naming the
    field if it cannot be one)."""
    if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, Sequence):
        raise ValidationError("record", values, "is not a row (id, item, timestamp, quantity)")
    if not 4 <= len(values) <= len(ROW_FIELDS):
        raise ValidationError(
            "record",
            values,
            f"has {len(values)} values; a row has 4 to {len(ROW_FIELDS)}: " + ", ".join(ROW_FIELDS),
        )
    fields: dict[str, Any] = dict(zip(ROW_FIELDS, values, strict=False))
    stamp = fields["timestamp"]
    if type(stamp) is int:
        try:
            fields["timestamp"] = datetime.fromtimestamp(stamp, UTC)
        except (OverflowError, OSError, ValueError):
            raise ValidationError("timestamp", stamp, "is out of range") from None
    elif isinstance(stamp, str):
        try:
            fields["timestamp"] = datetime.fromisoformat(stamp)
        except ValueError:
            raise ValidationError("timestamp", stamp, "is not an ISO 8601 date and time") from None
    for name in ("unit_price", "criterion", "invoice_criterion", "properties"):
        if fields.get(name, 0) is None:
            del fields[name]
    return UsageRecord(**fields)


def _record(data: UsageRecord | Mapping[str, object]) -> UsageRecord:
    if isinstance(data, UsageRecord):
        return data
    if not isinstance(data, Mapping):
        raise ValidationError("record", data, "is neither a UsageRecord nor a mapping")
    fields = {name: data[name] for name in _FIELDS if data.get(name) not in (None, "")}
    stamp = fields.get("timestamp")
    if isinstance(stamp, str):
        try:
            fields["timestamp"] = datetime.fromisoformat(stamp)
        except ValueError:
            raise ValidationError("timestamp", stamp, "is not an ISO 8601 date and time") from None
    price = data.get("unit_price")
    if price not in (None, ""):
        fields["unit_price"] = money(price, data.get("currency"), field="unit_price")
    properties = data.get("properties")
    if properties:
        fields["properties"] = properties
    if "id" not in fields or "item" not in fields or "timestamp" not in fields:
        missing = next(n for n in ("id", "item", "timestamp") if n not in fields)
        raise ValidationError(missing, None, "is missing")
    return UsageRecord(**fields)  # type: ignore[arg-type]


def _rejection(position: int, data: object, exc: JustonError) -> Rejection:
    record_id = data.id if isinstance(data, UsageRecord) else None
    if isinstance(data, Mapping) and isinstance(data.get("id"), str):
        record_id = data["id"] or None
    elif isinstance(data, Sequence) and not isinstance(data, (str, bytes)) and data:
        first = data[0]
        record_id = first if isinstance(first, str) and first else None
    if isinstance(exc, ValidationError):
        return Rejection(position, record_id, exc.field, exc.value, exc.reason)
    return Rejection(position, record_id, "record", None, str(exc))


def _invoiced(store: Reader, rows: Sequence[UsageRow]) -> set[tuple[str, str, int]]:
    """The (subscription, item, period ordinal) of *rows* that a stored document bills."""
    counts: dict[tuple[str, str, int], int] = {}
    for terms in store.billed_terms_of({row[1][0] for row in rows}).values():
        for term in terms:
            key = (term.subscription, term.item_id, term.period_start.toordinal())
            counts[key] = counts.get(key, 0) + term.count
    return {key for key, count in counts.items() if count > 0}


def _store(
    tx: Transaction, batch: _Batch, counts: list[int], keys: Sequence[tuple[str, str, str]]
) -> None:
    """Store the new rows of *batch* in *tx*: *counts* (new, duplicates) goes up, and
    rows for periods already invoiced of items that reject late usage are rejected.
    *keys* are the item keys that plain rows number."""
    rows = batch.rows
    duplicates = batch.repeated
    added = 0
    if batch.staged is not None:
        from ..storage.sql.usage import add_staged, staging

        conn = staging(tx)
        if conn is None:
            raise TypeError("a staged batch needs a transaction that takes one")
        added += add_staged(conn, batch.staged)
        duplicates += batch.staged.records
    if batch.strict:
        # Duplicates first: a record stored before is a duplicate, wherever it falls.
        known = tx.known_usage([row[0] for _, row in batch.strict])
        fresh = [(position, row) for position, row in batch.strict if row[0] not in known]
        duplicates += len(batch.strict) - len(fresh)
        invoiced = _invoiced(tx, [row for _, row in fresh]) if fresh else set()
        for position, row in fresh:
            if (row[1][1], row[1][2], row[2]) in invoiced:
                batch.rejected.append(
                    Rejection(
                        position,
                        row[0],
                        "timestamp",
                        stored_usage(row).record.timestamp.isoformat(),
                        f"falls in the period from {date.fromordinal(row[2])}, already "
                        "invoiced (the item rejects late usage)",
                    )
                )
            else:
                rows.append(row)
    mask = _DAY_MASK
    rows.extend(
        (
            r[1],
            keys[r[0] >> 44],
            (r[0] >> 22) & mask,
            r[0] & mask,
            r[2],
            r[3],
            "",
            "",
            "",
            None,
            None,
        )
        for r in batch.plain
    )
    duplicates += len(rows)
    if isinstance(tx, UsageRows):
        added += tx.add_usage_rows(rows)
    else:
        added += tx.add_usage([stored_usage(row) for row in rows])
    counts[0] += added
    counts[1] += duplicates - added


def ingest_usage(
    store: Store,
    records: Iterable[UsageRecord | Mapping[str, object]],
    *,
    items: UsageItems | None = None,
    batch_size: int = 10_000,
) -> IngestResult:
    """Store new usage records; count duplicates; reject, with reasons, what cannot be billed.

    *records* are :class:`~juston.UsageRecord` values or mappings with the same field
    names (text allowed: ``timestamp`` as ISO 8601 with an offset, ``unit_price`` with a
    ``currency``), such as the rows of :func:`read_usage_csv`. Each batch of
    *batch_size* is stored in one transaction. *items* resolves item references; pass
    one to reuse it over many calls.
    """
    items = items or UsageItems(store)
    return _ingest(store, records, items, False, batch_size)


def ingest_usage_rows(
    store: Store,
    rows: Iterable[Sequence[object]],
    *,
    items: UsageItems | None = None,
    batch_size: int = 1_000_000,
    workers: int = 1,
) -> IngestResult:
    """:func:`ingest_usage` for plain rows: the fast way for millions of records.

    A row is a tuple ``(id, item, timestamp, quantity)``, optionally followed by
    ``unit_price``, ``criterion``, ``invoice_criterion`` and ``properties`` (as for
    :class:`~juston.UsageRecord`). *timestamp* is an aware ``datetime``, whole seconds
    since 1970-01-01 UTC (an ``int``), or ISO 8601 text with an offset; *quantity* an
    ``int``, ``Decimal`` or decimal text, never a float. Rows are checked exactly as
    records are, and the result is the same: new, duplicates (by id: stored before, or
    earlier in the input) and rejections with their reasons. Each batch of *batch_size*
    rows is stored in one transaction; larger batches write faster.

    With *workers* above 1, that many worker processes check the rows, a piece of up to
    :data:`PIECE` rows at a time, while this process stores them (still one transaction
    per batch, in input order). For a SQL store on SQLite the workers also add the
    records up per day and hand over each piece as a small SQLite database that the
    store takes in a few statements (:func:`juston.storage.sql.usage.stage`): the writer
    then does almost nothing per record. The result is the same as without workers
    (rows repeated within a piece are duplicates, as within a piece of
    :data:`STAGED_PIECE` rows, or a chunk of :data:`CHUNK` for other stores, in one
    process). Workers are spawned, so a script that asks for them needs the
    ``if __name__ == "__main__":`` guard; the default, 1, checks rows in this process,
    and stages them there for SQLite (input of more than one piece), which is also faster
    than binding each record.
    Workers pay off from a few hundred thousand rows on: starting them takes a second or
    two.

        >>> from juston.testing import usage_store
        >>> store = usage_store()
        >>> result = ingest_usage_rows(store, [
        ...     ("r1", "S-1/api", 1767607200, 120),   # 2026-01-05 10:00 UTC
        ...     ("r2", "S-1/api", 1767610800, 30),
        ...     ("r1", "S-1/api", 1767610800, 99),    # r1 again: a duplicate
        ...     ("r3", "S-1/api", 1767610800, -1),
        ... ])
        >>> str(result), str(result.rejected[0])
        ('2 new, 1 duplicates, 1 rejected', "record 'r3' (#3): quantity: Decimal('-1') must not be negative")

    Millions of rows, two workers (in a script's ``__main__`` block)::

        ingest_usage_rows(store, read_rows(), workers=2)
    """
    items = items or UsageItems(store)
    return _ingest(store, rows, items, True, batch_size, workers)


@contextmanager
def _no_collections() -> Iterator[None]:
    """Pause the cyclic garbage collector while records are ingested.

    Ingestion allocates millions of short-lived tuples and makes no reference cycles;
    with the collector on, its passes over the growing totals of the transaction cost a
    sixth of the time. Reference counting still frees everything as before; the
    collector's previous state is restored afterwards.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


#: Rows checked and written at a time, inside a batch's transaction: memory stays flat
#: however large the batches.
CHUNK = 20_000


def _ingest(
    store: Store,
    data: Iterable[Any],
    items: UsageItems,
    plain: bool,
    batch_size: int,
    workers: int = 1,
) -> IngestResult:
    if batch_size < 1:
        raise ValidationError("batch_size", batch_size, "must be at least 1")
    if workers < 1:
        raise ValidationError("workers", workers, "must be at least 1")
    counts = [0, 0]  # new, duplicates
    rejected: list[Rejection] = []
    batches = _prepared(store, data, items, plain, batch_size, workers)
    with _no_collections(), closing(batches):
        for batch, last in batches:
            with store.transaction() as tx:
                while True:
                    _store(tx, batch, counts, items._keys)
                    rejected.extend(batch.rejected)
                    if last or (following := next(batches, None)) is None:
                        break
                    batch, last = following
    rejected.sort(key=lambda r: r.position)
    return IngestResult(new=counts[0], duplicates=counts[1], rejected=tuple(rejected))


def _prepared(
    store: Store,
    data: Iterable[Any],
    items: UsageItems,
    plain: bool,
    batch_size: int,
    workers: int,
) -> Generator[tuple[_Batch, bool], None, None]:
    """The pieces of *data* checked, in order, each with whether it ends a batch of
    *batch_size* (a transaction). With *workers* above 1, worker processes check them
    (and stage them, for a store that takes staged batches) while this one stores."""
    iterator = iter(data)
    position = done = 0
    # Staging plain rows costs less in this process too than binding each record's
    # values for the store (9.7 s against 12.9 s for a million rows on SQLite).
    stages = (plain or workers > 1) and _stages(store)
    numbers: list[int] | None = None
    if workers == 1:
        size = min(STAGED_PIECE if stages else CHUNK, batch_size)
        while piece := list(islice(iterator, min(size, batch_size - done))):
            if stages and numbers is None:
                # Staging pays off from the second piece on; before it, the items are
                # numbered (a pass over usage_items). One piece is stored as it is.
                ahead = list(islice(iterator, 1))
                if not ahead:
                    stages = False
                else:
                    iterator = chain(ahead, iterator)
                    numbers = _numbering(store, items._keys)
            done = (done + len(piece)) % batch_size
            if plain:
                batch = items._plain_rows(piece, position, numbers)
            else:
                batch = items._records(piece, position)
            position += len(piece)
            del piece
            if stages and numbers is not None:
                _stage(batch, _named(numbers, items._keys))
            yield batch, done == 0
        return
    if stages:
        numbers = _numbering(store, items._keys)
    context = multiprocessing.get_context("spawn")
    state = pickle.dumps(items, pickle.HIGHEST_PROTOCOL)
    pool = ProcessPoolExecutor(
        workers, mp_context=context, initializer=_start, initargs=(state, numbers)
    )
    try:
        pending: deque[tuple[Future[_Batch], bool]] = deque()
        size = min(PIECE, batch_size)
        while piece := list(islice(iterator, min(size, batch_size - done))):
            done = (done + len(piece)) % batch_size
            pending.append(
                (pool.submit(_check, _packed(piece), position, plain, stages), done == 0)
            )
            position += len(piece)
            del piece
            if len(pending) > workers:
                future, last = pending.popleft()
                yield future.result(), last
        while pending:
            future, last = pending.popleft()
            yield future.result(), last
    finally:
        pool.shutdown(cancel_futures=True)


#: Rows checked and staged at a time in the calling process (when it stages): about as
#: fast as a million, at a quarter of the memory.
STAGED_PIECE = 250_000

#: Rows a worker process checks (and stages) at a time: the larger, the fewer day rows
#: the writer adds up (a piece's records are added up per day in the worker; random
#: usage of 10,000 items over a month gives about 300,000 day rows per million records).
PIECE = 1_000_000


def _packed(rows: list[Any]) -> bytes | list[Any]:
    """*rows* for a worker process: marshalled if they are of the types marshal takes
    (text, numbers, tuples, None: seven times cheaper than pickling them, and the
    writer's time is the ingestion's), else as they are (pickled)."""
    try:
        return marshal.dumps(rows)
    except ValueError:  # a datetime, a Decimal, ...
        return rows


# The state of a worker process, set by _start: the usage items, and the numbers of
# their items in the store and by number (None unless the store takes staged batches).
_items: UsageItems | None = None
_numbers: list[int] | None = None
_by_number: dict[int, tuple[str, str, str]] = {}


def _start(state: bytes, numbers: list[int] | None) -> None:
    global _items, _numbers, _by_number
    _items = pickle.loads(state)
    _numbers = numbers
    _by_number = _named(numbers, _items._keys) if numbers is not None else {}


def _check(sent: bytes | list[Any], position: int, plain: bool, stages: bool) -> _Batch:
    """Check the rows *sent* (:func:`_packed` plain rows, or records), the first at
    *position*; with *stages*, stage them for a SQLite store. In a worker process."""
    assert _items is not None, "the worker was not started"
    with _no_collections():
        rows = marshal.loads(sent) if isinstance(sent, bytes) else sent
        del sent
        if plain:
            batch = _items._plain_rows(rows, position, _numbers if stages else None)
        else:
            batch = _items._records(rows, position)
        del rows
        batch.seen.clear()  # not needed any more: nothing to send back
        if stages:
            _stage(batch, _by_number)
    return batch


def _named(
    numbers: Sequence[int], keys: Sequence[tuple[str, str, str]]
) -> dict[int, tuple[str, str, str]]:
    """The items *keys* by their *numbers* in a store."""
    return dict(zip(numbers, keys, strict=True))


def _stage(batch: _Batch, items: Mapping[int, tuple[str, str, str]]) -> None:
    """Turn the new rows of *batch* into one staged batch for a SQLite store; *items*:
    the items by their numbers in the store, which the day keys of its plain rows name."""
    from ..storage.sql.usage import stage

    batch.seen.clear()
    batch.staged = stage(batch.plain, batch.rows, items)
    batch.plain = []
    batch.rows = []


def _stages(store: Store) -> bool:
    """Whether the transactions of *store* take staged batches."""
    # The SQL backend is imported where it is used, as everywhere in this module:
    # importing juston must not import SQLAlchemy.
    from ..storage.sql.usage import staging

    with store.transaction() as tx:
        return staging(tx) is not None


def _numbering(store: Store, keys: Sequence[tuple[str, str, str]]) -> list[int]:
    """The numbers of the items *keys* in *store* (which takes staged batches), numbering
    them in a transaction of their own first where needed."""
    from ..storage.sql.usage import item_numbers, staging

    with store.transaction() as tx:
        conn = staging(tx)
        assert conn is not None, "the store takes staged batches"
        return item_numbers(conn, keys)


def read_usage_csv(
    source: str | Path | IO[str],
    *,
    columns: Mapping[str, str] | None = None,
    properties: Sequence[str] = (),
    currency: str | None = None,
    delimiter: str = ",",
) -> Iterator[dict[str, object]]:
    """The rows of a CSV file as mappings for :func:`ingest_usage`.

    *columns* maps record fields (``id``, ``item``, ``timestamp``, ``quantity``,
    ``unit_price``, ``currency``, ``criterion``, ``invoice_criterion``) to the file's
    column names where they differ; columns named in *properties* become record
    properties; *currency* applies to unit prices of a file without a currency column.
    """
    if isinstance(source, (str, Path)):
        with open(source, newline="", encoding="utf-8") as handle:
            yield from read_usage_csv(
                handle,
                columns=columns,
                properties=properties,
                currency=currency,
                delimiter=delimiter,
            )
        return
    names = {name: name for name in (*_FIELDS, "unit_price", "currency")} | dict(columns or {})
    for row in csv.DictReader(source, delimiter=delimiter):
        data: dict[str, object] = {field: row.get(column) for field, column in names.items()}
        if currency and not data.get("currency"):
            data["currency"] = currency
        data["properties"] = {p: row[p] for p in properties if row.get(p)}
        yield data
