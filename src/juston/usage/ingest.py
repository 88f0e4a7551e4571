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
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime, tzinfo
from itertools import islice
from pathlib import Path
from typing import IO

import attrs

from ..errors import JustonError, ValidationError
from ..model.parties import Account, zone
from ..model.subscriptions import Item, Subscription
from ..model.usage import LatePolicy, Metric, StoredUsage, UsageRecord
from ..money import money
from ..periods import Grid, Period
from ..storage.base import Reader, Store

__all__ = ["IngestResult", "Rejection", "UsageItems", "ingest_usage", "read_usage_csv"]

_FIELDS = ("id", "item", "timestamp", "quantity", "criterion", "invoice_criterion")


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


@attrs.frozen
class _Target:
    account: Account
    subscription: Subscription
    item: Item
    metric: Metric
    zone: tzinfo
    zone_name: str
    span: Period | None


class UsageItems:
    """The usage items of a store by reference (``"SUBSCRIPTION/ITEM"`` or order number).

    Built once from every subscription of the store; keep one for many ingestions, and
    build a new one after subscriptions change.
    """

    def __init__(self, store: Reader, page: int = 1000) -> None:
        self.company = store.company()
        self._targets: dict[str, _Target | None] = {}
        self._ambiguous: dict[str, str] = {}
        # (grid, day) -> period start: subscriptions share grids, and walking one is costly.
        self._periods: dict[tuple[Grid, date], date] = {}
        accounts = store.accounts()
        while batch := list(islice(accounts, page)):
            by_id = {a.id: a for a in batch}
            for account_id, subscriptions in store.subscriptions_of(list(by_id)).items():
                for subscription in subscriptions:
                    for item in subscription.items:
                        if (metric := item.usage) is not None:
                            account = by_id[account_id]
                            name = account.time_zone or self.company.time_zone
                            target = _Target(
                                account,
                                subscription,
                                item,
                                metric,
                                zone(name),
                                name,
                                subscription.item_span(item),
                            )
                            self._add(f"{subscription.number}/{item.id}", target)
                            if item.order_number:
                                self._add(item.order_number, target)

    def _add(self, reference: str, target: _Target) -> None:
        # A reference that names two items is ambiguous: None marks it, with the reason.
        seen = self._targets.get(reference, target)
        if seen is None or seen != target:
            self._targets[reference] = None
            if seen is not None and seen.account.id != target.account.id:
                self._ambiguous[reference] = "names usage items of several accounts"
            else:
                self._ambiguous.setdefault(reference, "names more than one usage item")
        else:
            self._targets[reference] = target

    def resolve(self, record: UsageRecord) -> StoredUsage:
        """The stored form of *record*; ValidationError if it names no item or misses it."""
        if record.item not in self._targets:
            raise ValidationError("item", record.item, "names no usage item")
        target = self._targets[record.item]
        if target is None:
            raise ValidationError("item", record.item, self._ambiguous[record.item])
        item, subscription = target.item, target.subscription
        price = record.unit_price
        if price is not None and price.currency != item.price.currency:
            raise ValidationError(
                "unit_price", price, f"is not in the item's currency {item.price.currency.code}"
            )
        day = record.timestamp.astimezone(target.zone).date()
        span = target.span
        if span is None or not span.start <= day < span.end:
            raise ValidationError(
                "timestamp",
                record.timestamp.isoformat(),
                f"falls on {day} ({target.zone_name}), outside the service of item {record.item}",
            )
        grid = subscription.grid
        period_start = self._periods.get((grid, day))
        if period_start is None:
            period_start = self._periods[grid, day] = grid.containing(day).start
        return StoredUsage(
            record=record,
            account_id=target.account.id,
            subscription=subscription.number,
            item_id=item.id,
            day=day,
            period_start=period_start,
        )

    def late_policy(self, row: StoredUsage) -> LatePolicy:
        target = self._targets[row.record.item]
        assert target is not None
        return target.metric.late


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


def _invoiced(store: Reader, rows: Sequence[StoredUsage]) -> set[tuple[str, str, date]]:
    """The (subscription, item, period) of *rows* that a stored document bills."""
    counts: dict[tuple[str, str, date], int] = {}
    for terms in store.billed_terms_of({r.account_id for r in rows}).values():
        for term in terms:
            key = (term.subscription, term.item_id, term.period_start)
            counts[key] = counts.get(key, 0) + term.count
    return {key for key, count in counts.items() if count > 0}


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
    new = duplicates = 0
    rejected: list[Rejection] = []
    position = 0
    iterator = iter(records)
    while batch := list(islice(iterator, batch_size)):
        rows: list[tuple[int, StoredUsage]] = []
        for offset, data in enumerate(batch, start=position):
            try:
                record = _record(data)
                rows.append((offset, items.resolve(record)))
            except JustonError as exc:
                rejected.append(_rejection(offset, data, exc))
        position += len(batch)
        with store.transaction() as tx:
            fresh: dict[str, tuple[int, StoredUsage]] = {}
            known = tx.known_usage([row.id for _, row in rows])
            for offset, row in rows:
                if row.id in known or row.id in fresh:
                    duplicates += 1
                else:
                    fresh[row.id] = (offset, row)
            strict = [
                (offset, row)
                for offset, row in fresh.values()
                if items.late_policy(row) is LatePolicy.REJECT
            ]
            if strict:
                invoiced = _invoiced(tx, [row for _, row in strict])
                for offset, row in strict:
                    if (row.subscription, row.item_id, row.period_start) in invoiced:
                        del fresh[row.id]
                        rejected.append(
                            Rejection(
                                offset,
                                row.id,
                                "timestamp",
                                row.record.timestamp.isoformat(),
                                f"falls in the period from {row.period_start}, already invoiced "
                                "(the item rejects late usage)",
                            )
                        )
            new += tx.add_usage([row for _, row in fresh.values()])
    rejected.sort(key=lambda r: r.position)
    return IngestResult(new=new, duplicates=duplicates, rejected=tuple(rejected))


def _rejection(position: int, data: object, exc: JustonError) -> Rejection:
    record_id = data.id if isinstance(data, UsageRecord) else None
    if isinstance(data, Mapping) and isinstance(data.get("id"), str):
        record_id = data["id"] or None
    if isinstance(exc, ValidationError):
        return Rejection(position, record_id, exc.field, exc.value, exc.reason)
    return Rejection(position, record_id, "record", None, str(exc))


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
