"""Pricing usage items and billables: pure functions from aggregates to priced lines.

A usage item bills, for every period of its subscription that has ended by the billing
date, the charges its records' aggregate comes to, minus what was billed for that
period before (:func:`~juston.billing.lines.reconcile`). So a record that arrives after
its period was invoiced yields a correction line for that period, a cancelled invoice's
usage is billed again, and a repeated run bills nothing. Records of one item are rated
per group (criterion, invoice criterion); records with their own unit price are billed
at it. A minimum commitment adds a true-up line for the period's shortfall.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

from ..model.billables import Billable
from ..model.documents import Term
from ..model.subscriptions import Item, Subscription
from ..model.usage import Aggregation, Metric, UsageTotal
from ..money import ZERO
from ..periods import BillingPeriod, Grid, Period
from ..pricing.models import Charge, _fmt
from ..pricing.proration import BillingType, Measure
from ..rounding import canonical_quantity, round_quantity
from .lines import Priced, priced_for_need, reconcile

__all__ = ["billable_priced", "gauge_average", "usage_priced"]

ONE_DAY = timedelta(days=1)
Group = tuple[str | None, str | None]


def usage_priced(
    subscription: Subscription,
    item: Item,
    metric: Metric,
    billed: Sequence[Term],
    totals: Sequence[UsageTotal],
    billing_date: date,
) -> list[Priced]:
    """The lines usage item *item* owes on *billing_date*, given its records' *totals*."""
    grid = subscription.grid
    span = subscription.item_span(item)
    code = item.price.currency.code
    gauge = metric.aggregation is Aggregation.TIME_WEIGHTED
    starts = {t.period_start for t in billed} | {t.period_start for t in totals}
    if span is not None and span.start <= billing_date:
        starts.update(p.start for p in grid.periods(span.start, min(span.end, billing_date)))
    priced: list[Priced] = []
    for start in sorted(starts):
        period = grid.containing(start)
        part = (span and period.intersect(span)) or period
        if part.end > billing_date:
            continue  # usage is billed in arrears, once the period is over
        rows = _period_totals(totals, period, part, gauge)
        expected = _expected(item, metric, period, rows, code)
        before: dict[Group, list[Term]] = {}
        for term in billed:
            if term.period_start == start:
                before.setdefault((term.criterion, term.invoice_criterion), []).append(term)
        measure = Measure(grid, period, part.start, BillingType.ONE_TIME)
        for group in sorted(expected.keys() | before.keys(), key=_group_order):
            charges, basis = expected.get(group, ((), "no usage"))
            late = any(t.count > 0 for t in before.get(group, ()))
            segments = [(part.start, part.end, charges)] if charges else []
            for s, e, need in reconcile(segments, before.get(group, [])):
                priced.extend(
                    priced_for_need(
                        item.description or item.product.name,
                        type(item.model_on(period.start)).__name__,
                        period,
                        measure,
                        s,
                        e,
                        need,
                        code=code,
                        discount=item.discount.describe() if item.discount else None,
                        basis=f"{basis}; {part}"
                        + ("; late usage for a period invoiced before" if late else ""),
                        criterion=group[0],
                        invoice_criterion=group[1],
                    )
                )
    return priced


def _group_order(group: Group) -> tuple[str, str]:
    return (group[0] or "", group[1] or "")


def _period_totals(
    totals: Sequence[UsageTotal], period: Period, served: Period, gauge: bool
) -> list[tuple[Group, Decimal | None, Decimal, int]]:
    """(group, unit price, quantity, records) of each group with records in *period*."""
    if not gauge:
        return [
            (t.group, t.unit_price, t.quantity, t.records)
            for t in totals
            if t.period_start == period.start
        ]
    series: dict[tuple[Group, Decimal | None], list[UsageTotal]] = {}
    for t in totals:
        series.setdefault((t.group, t.unit_price), []).append(t)
    rows = []
    for (group, price), points in series.items():
        inside = [p for p in points if p.day is not None and period.start <= p.day < period.end]
        earlier = [p for p in points if p.day is not None and p.day < period.start]
        if not inside and not earlier:
            continue
        values = [(p.day, p.quantity) for p in sorted(inside, key=_day)]
        carried = max(earlier, key=_day).quantity if earlier else ZERO
        average = gauge_average(period, carried, values, served)  # type: ignore[arg-type]
        rows.append((group, price, average, sum(p.records for p in inside)))
    return rows


def _day(total: UsageTotal) -> date:
    assert total.day is not None
    return total.day


def gauge_average(
    period: Period,
    carried: Decimal,
    values: Iterable[tuple[date, Decimal]],
    served: Period | None = None,
) -> Decimal:
    """The average over *period*'s days of a gauge that is *carried* at its start and
    takes each ``(day, value)`` from that day on, to six decimal places. Days outside
    *served* (an item that starts or ends inside the period) count as 0, so a partial
    period is prorated by its days.

        >>> from juston.periods import Period
        >>> january = Period(date(2026, 1, 1), date(2026, 2, 1))
        >>> gauge_average(january, Decimal(10), [(date(2026, 1, 17), Decimal(20))])
        Decimal('14.83871')
        >>> gauge_average(january, Decimal(10), [], Period(date(2026, 1, 1), date(2026, 1, 10)))
        Decimal('2.903226')
    """
    served = served or period
    weighted = Fraction(0)
    value, since = Fraction(carried), period.start
    for day, new in [*values, (period.end, Decimal(0))]:
        low, high = max(since, served.start), min(day, served.end)
        if high > low:
            weighted += value * (high - low).days
        value, since = Fraction(new), day
    return canonical_quantity(round_quantity(weighted / (period.end - period.start).days))


def _expected(
    item: Item,
    metric: Metric,
    period: Period,
    rows: list[tuple[Group, Decimal | None, Decimal, int]],
    code: str,
) -> dict[Group, tuple[tuple[Charge, ...], str]]:
    """The charges (and how they came about) each group of the period should carry."""
    model = item.model_on(period.start)
    discount = item.discount if item.discount and item.discount.active_on(period.start) else None
    expected: dict[Group, tuple[list[Charge], list[str]]] = {}
    for group, price, quantity, records in sorted(rows, key=_row_order):
        charges: tuple[Charge, ...]
        if price is None:
            if metric.tier_quantity is not None:
                charges = tuple(
                    Charge(
                        c.component,
                        quantity,
                        c.unit_price,
                        f"{_fmt(quantity)} × {c.unit_price} (tier of {_fmt(metric.tier_quantity)})",
                    )
                    for c in model.charges(metric.tier_quantity)
                )
            else:
                charges = model.charges(quantity)
        else:
            charges = (
                Charge(f"at {_fmt(price)}", quantity, price, f"{_fmt(quantity)} × {_fmt(price)}"),
            )
        if discount is not None:
            charges = discount.apply(charges)
        held = expected.setdefault(group, ([], []))
        held[0].extend(c for c in charges if c.quantity or c.total)
        held[1].append(_describe(metric, records, quantity))
    if metric.minimum is not None:
        used = sum((c.total for charges, _ in expected.values() for c in charges), ZERO)
        shortfall = metric.minimum.amount - used
        if shortfall > 0:
            held = expected.setdefault((None, None), ([], []))
            held[0].append(
                Charge(
                    "minimum commitment",
                    Decimal(1),
                    shortfall,
                    f"minimum {_fmt(metric.minimum.amount)} per period, usage {_fmt(used)}",
                )
            )
    return {g: (tuple(c), "; ".join(b) or "no usage") for g, (c, b) in expected.items()}


def _describe(metric: Metric, count: int, quantity: Decimal) -> str:
    shown = _fmt(quantity)
    records = f"{count} record{'' if count == 1 else 's'}"
    kind = metric.aggregation
    if kind is Aggregation.SUM:
        return f"sum of {records} = {shown}"
    if kind is Aggregation.COUNT:
        return f"{records}"
    if kind is Aggregation.MAX:
        return f"maximum of {records} = {shown}"
    if kind is Aggregation.UNIQUE_COUNT:
        return f"{shown} distinct {metric.property} in {records}"
    if kind is Aggregation.LATEST:
        return f"latest of {records} = {shown}"
    return f"daily average {shown} ({count} reading{'' if count == 1 else 's'} in the period)"


def _row_order(row: tuple[Group, Decimal | None, Decimal, int]) -> tuple[str, str, Decimal]:
    return (*_group_order(row[0]), row[1] if row[1] is not None else Decimal(-1))


def billable_priced(billable: Billable, billed: Sequence[Term], billing_date: date) -> list[Priced]:
    """The lines a billable owes: its charge once due, less what was billed for it before.

    A billable is one fact, not a service over time: its charge is compared with what
    was billed for it as a whole, whatever the dates. A changed amount bills the
    difference; a moved service date credits the old day and bills the new one.
    """
    period = billable.period
    due = billable.service_date <= billing_date
    by_start: dict[date, list[Term]] = {}
    for term in billed:
        by_start.setdefault(term.period_start, []).append(term)
    price = billable.unit_price.amount
    charge = Charge("unit", billable.quantity, price, f"{_fmt(billable.quantity)} × {_fmt(price)}")
    priced = []
    for start in sorted(set(by_start) | ({period.start} if due else set())):
        current = due and start == period.start
        need: dict[Charge, int] = {charge: 1} if current else {}
        for term in by_start.get(start, ()):
            need[term.charge] = need.get(term.charge, 0) - term.count
        need = {c: n for c, n in need.items() if n}
        if not need:
            continue
        served = period if current else Period(start, max(t.end for t in by_start[start]))
        measure = Measure(
            Grid(served.start, BillingPeriod(1)), served, served.start, BillingType.ONE_TIME
        )
        priced.extend(
            priced_for_need(
                billable.description,
                billable.source,
                served,
                measure,
                served.start,
                served.end,
                need,
                code=billable.unit_price.currency.code,
                basis=f"{billable.source} {billable.key}",
                invoice_criterion=billable.invoice,
            )
        )
    return priced
