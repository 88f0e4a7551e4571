"""From charges to priced lines: the arithmetic every billing source shares.

Subscriptions, usage and billables all end the same way: the charges a period *should*
carry are reconciled with the terms billed before (:func:`reconcile`), and each
difference becomes a :class:`Priced` line (:func:`priced_for_need`). Pure functions.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from itertools import pairwise

import attrs

from ..model.documents import Term
from ..money import ZERO
from ..periods import Period
from ..pricing.models import Charge
from ..pricing.proration import Measure
from ..rounding import round_price

__all__ = ["Need", "Priced", "Segment", "priced_for_need", "reconcile"]

#: Charges in force over ``[start, end)``.
Segment = tuple[date, date, tuple[Charge, ...]]
#: What ``[start, end)`` still needs: a count per charge (negative: taken back).
Need = tuple[date, date, dict[Charge, int]]


@attrs.frozen(cache_hash=True)
class Priced:
    """A priced line before tax; it does not say which subscription it belongs to.

    *charges* are the (charge, count) pairs the line bills for ``line_period`` of the
    grid period that starts on *period_start*; they become the line's terms, with
    *criterion* and *invoice_criterion* (usage dimensions).
    """

    period_start: date
    line_period: Period
    quantity: Decimal
    unit_price: Decimal
    factor: Decimal
    gross: Decimal
    net: Decimal
    description: str
    explanation: str
    charges: tuple[tuple[Charge, int], ...]
    criterion: str | None = None
    invoice_criterion: str | None = None


def reconcile(expected: Sequence[Segment], billed: Sequence[Term]) -> list[Need]:
    """What must be billed (positive counts) or taken back (negative) to reach *expected*."""
    if not billed:
        return [(s, e, dict(Counter(charges))) for s, e, charges in expected]
    points = sorted(
        {d for s, e, _ in expected for d in (s, e)} | {d for t in billed for d in (t.start, t.end)}
    )
    needs: list[Need] = []
    for start, end in pairwise(points):
        need: Counter[Charge] = Counter()
        for s, e, charges in expected:
            if s <= start and end <= e:
                need.update(charges)
        for term in billed:
            if term.start <= start and end <= term.end:
                need[term.charge] -= term.count
        wanted = {c: n for c, n in need.items() if n}
        if not wanted:
            continue
        if needs and needs[-1][1] == start and needs[-1][2] == wanted:
            needs[-1] = (needs[-1][0], end, wanted)
        else:
            needs.append((start, end, wanted))
    return needs


def priced_for_need(
    name: str,
    model: str,
    period: Period,
    measure: Measure,
    start: date,
    end: date,
    need: dict[Charge, int],
    *,
    code: str,
    discount: str | None = None,
    basis: str | None = None,
    criterion: str | None = None,
    invoice_criterion: str | None = None,
) -> list[Priced]:
    """One line per price component of *need* over ``[start, end)`` of grid *period*.

    *name* heads the description, *model* names the price model in the explanation,
    *discount* describes the discount when a charge carries one, and *basis* replaces
    the billing factor in the explanation (usage says what it aggregated).
    """
    by_component: dict[str, list[tuple[Charge, int]]] = {}
    for charge, count in need.items():
        by_component.setdefault(charge.component, []).append((charge, count))
    priced = []
    line_period = Period(start, end)
    factor = round_price(measure.factor(start, end))
    head = name if criterion is None else f"{name} – {criterion}"
    for component, pairs in by_component.items():
        net = sum((n * measure.amount(c.total, start, end, code) for c, n in pairs), ZERO)
        gross = sum((n * measure.amount(c.gross, start, end, code) for c, n in pairs), ZERO)
        if not net and not gross:
            continue  # e.g. a mid-period change on an item that is not prorated
        quantity = sum((n * c.quantity for c, n in pairs), ZERO)
        prices = {c.unit_price for c, _ in pairs}
        if quantity and len(prices) == 1:
            unit_price = prices.pop()
        else:
            if not quantity:
                quantity = max(
                    (c.quantity for c, n in pairs if n > 0), default=Decimal(1)
                ) or Decimal(1)
            unit_price = round_price(sum((n * c.gross for c, n in pairs), ZERO) / quantity)
        description = head if component in ("unit", "flat") else f"{head} ({component})"
        priced.append(
            Priced(
                period_start=period.start,
                line_period=line_period,
                quantity=quantity,
                unit_price=unit_price,
                factor=factor,
                gross=gross,
                net=net,
                description=description,
                explanation=_explain(model, pairs, measure, start, end, discount, basis),
                charges=tuple(pairs),
                criterion=criterion,
                invoice_criterion=invoice_criterion,
            )
        )
    return priced


def _explain(
    model: str,
    pairs: list[tuple[Charge, int]],
    measure: Measure,
    start: date,
    end: date,
    discount: str | None,
    basis: str | None,
) -> str:
    now = [c for c, n in pairs if n > 0]
    before = [c for c, n in pairs if n < 0]
    parts = [f"{model}: " + "; ".join(c.label for c in now)] if now else []
    if before:
        parts.append(
            ("replaces " if now else "credit for ")
            + "; ".join(c.label for c in before)
            + " billed before"
        )
    if discount is not None and any(c.discount for c, _ in pairs):
        parts.append(discount)
    parts.append(basis if basis is not None else measure.describe(start, end))
    return "; ".join(parts)
