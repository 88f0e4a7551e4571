"""Late-fee interest: JustOn's monthly rate, or German statutory default interest.

Pure functions; amounts are computed exactly and rounded once, half-up, to the minor
unit (:func:`juston.rounding.round_exact`).

JustOn: open amount × monthly rate × whole months since the due date. 1,000.00 overdue
since 15 January at 1 % a month is 20.00 on 20 March (two whole months):

    >>> from datetime import date
    >>> from decimal import Decimal
    >>> from juston import money
    >>> monthly_interest(money("1000.00", "EUR"), Decimal(1), date(2026, 1, 15), date(2026, 3, 20))
    Money('20.00', 'EUR')

German law (§ 288 BGB): base rate + 9 points a year between businesses, per day.
10,000.00 from 1 January to 31 January 2026 (base rate 1.27 %): 10,000 × 10.27 % × 30/365:

    >>> from juston.model.dunning import BASE_RATES
    >>> statutory_interest(money("10000.00", "EUR"), date(2026, 1, 1), date(2026, 1, 31),
    ...                    business=True, base_rates=BASE_RATES)
    Money('84.41', 'EUR')
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

from dateutil.relativedelta import relativedelta
from moneyed import Money

from ..errors import ValidationError
from ..model.dunning import BaseRate
from ..rounding import round_exact

__all__ = ["monthly_interest", "months_between", "statutory_interest"]

#: Points above the base rate (§ 288 (1) and (2) BGB).
CONSUMER_POINTS = Decimal(5)
BUSINESS_POINTS = Decimal(9)


def months_between(since: date, until: date) -> int:
    """Whole months from *since* to *until* (0 if *until* is not later)."""
    if until <= since:
        return 0
    delta = relativedelta(until, since)
    return delta.years * 12 + delta.months


def monthly_interest(open_amount: Money, monthly_rate: Decimal, since: date, until: date) -> Money:
    """JustOn's late fee: *open_amount* × *monthly_rate* % × whole months since *since*."""
    months = months_between(since, until)
    exact = Fraction(open_amount.amount) * Fraction(monthly_rate) / 100 * months
    return Money(round_exact(exact, open_amount.currency.code), open_amount.currency)


def _half_year_end(day: date) -> date:
    """The last day a base rate published for *day*'s half year holds."""
    return date(day.year, 6, 30) if day.month <= 6 else date(day.year, 12, 31)


def statutory_interest(
    open_amount: Money,
    since: date,
    until: date,
    *,
    business: bool,
    base_rates: Sequence[BaseRate],
) -> Money:
    """Default interest on *open_amount* for the days after *since* up to *until*.

    Each day counts at the base rate in force that day plus 5 points (consumers) or 9
    points (no consumer involved), divided by 365; the days are split where the base
    rate changes. A day after the half year of the newest known rate raises a
    ValidationError naming ``base_rates``.
    """
    if until <= since:
        return Money(round_exact(Fraction(0), open_amount.currency.code), open_amount.currency)
    if not base_rates or base_rates[0].since > since + timedelta(days=1):
        raise ValidationError("base_rates", since, "has no base rate for this day")
    known_until = _half_year_end(base_rates[-1].since)
    if until > known_until:
        raise ValidationError(
            "base_rates", until, f"is after {known_until}, the last day a known base rate holds"
        )
    points = BUSINESS_POINTS if business else CONSUMER_POINTS
    total = Fraction(0)
    # Interest runs from the day after *since* to *until*, both included.
    for n, rate in enumerate(base_rates):
        start = max(rate.since, since + timedelta(days=1))
        end = base_rates[n + 1].since - timedelta(days=1) if n + 1 < len(base_rates) else until
        end = min(end, until)
        days = (end - start).days + 1
        if days > 0:
            total += (
                Fraction(open_amount.amount) * Fraction(rate.percent + points) / 100 * days / 365
            )
    return Money(round_exact(total, open_amount.currency.code), open_amount.currency)
