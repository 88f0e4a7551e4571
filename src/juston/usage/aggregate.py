"""Aggregating stored usage records: the reference every store's ``usage_totals`` matches.

The memory store calls :func:`aggregate` directly; the SQL store computes the same
totals with ``GROUP BY`` in the database, and the storage conformance kit checks that
both agree. A group is the records of one item and billing period with the same
criterion, invoice criterion and unit price.

    >>> from datetime import date, datetime, timezone
    >>> from juston.model.usage import UsageRecord
    >>> def row(n, quantity):
    ...     record = UsageRecord(id=f"r{n}", item="S-1/api", quantity=quantity,
    ...                          timestamp=datetime(2026, 1, n, tzinfo=timezone.utc))
    ...     return StoredUsage(record=record, account_id="C-1", subscription="S-1",
    ...                        item_id="api", day=date(2026, 1, n), period_start=date(2026, 1, 1))
    >>> [t.quantity for t in aggregate([row(1, 5), row(2, 7)], Aggregation.SUM)]
    [Decimal('12')]
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date
from decimal import Decimal

from ..model.usage import Aggregation, StoredUsage, UsageTotal, canonical_quantity

__all__ = ["aggregate"]

_Key = tuple[str, str, str, date, str | None, str | None, Decimal | None]


def _key(row: StoredUsage) -> _Key:
    record = row.record
    price = None if record.unit_price is None else canonical_quantity(record.unit_price.amount)
    return (
        row.account_id,
        row.subscription,
        row.item_id,
        row.period_start,
        record.criterion,
        record.invoice_criterion,
        price,
    )


def _latest(rows: list[StoredUsage]) -> StoredUsage:
    # The latest instant wins; records at the same instant are ordered by id. Comparing
    # in UTC: Python compares two times of one zone by clock time, ignoring the fold of
    # the hour that repeats when daylight saving time ends.
    return max(rows, key=lambda r: (r.record.timestamp.astimezone(UTC), r.record.id))


def aggregate(
    rows: Iterable[StoredUsage], aggregation: Aggregation, prop: str | None = None
) -> list[UsageTotal]:
    """The totals of *rows* under *aggregation*, ordered by group (and day for gauges)."""
    groups: dict[tuple[_Key, date | None], list[StoredUsage]] = {}
    gauge = aggregation is Aggregation.TIME_WEIGHTED
    for row in rows:
        groups.setdefault((_key(row), row.day if gauge else None), []).append(row)
    totals = []
    for (key, day), members in groups.items():
        if aggregation is Aggregation.SUM:
            quantity = sum((r.record.quantity for r in members), Decimal(0))
        elif aggregation is Aggregation.COUNT:
            quantity = Decimal(len(members))
        elif aggregation is Aggregation.MAX:
            quantity = max(r.record.quantity for r in members)
        elif aggregation is Aggregation.UNIQUE_COUNT:
            values = {r.record.property(prop) for r in members} - {None} if prop else set()
            quantity = Decimal(len(values))
        else:  # LATEST, and a gauge's value on one day
            quantity = _latest(members).record.quantity
        account_id, subscription, item_id, period_start, criterion, invoice_criterion, price = key
        totals.append(
            UsageTotal(
                account_id=account_id,
                subscription=subscription,
                item_id=item_id,
                period_start=period_start,
                criterion=criterion,
                invoice_criterion=invoice_criterion,
                unit_price=price,
                quantity=canonical_quantity(quantity),
                records=len(members),
                day=day,
            )
        )
    totals.sort(key=order)
    return totals


def order(total: UsageTotal) -> tuple[object, ...]:
    """The order totals are returned in, by every store."""
    return (
        total.account_id,
        total.subscription,
        total.item_id,
        total.period_start,
        total.criterion or "",
        total.invoice_criterion or "",
        Decimal(-1) if total.unit_price is None else total.unit_price,
        total.day or total.period_start,
    )
