"""Billing types, billing factors and proration.

The **billing factor** of a line is the length of its service period in billing units;
the price per unit times the quantity times the factor is the line amount.

* ``RECURRING`` — the whole billing period counts, however short the service
  (Month×3 gives 3; Year×1 gives 1). Changes inside a period take effect next period.
* ``RECURRING_PRORATED`` — calendar days: each whole month counts 1, a partial month
  counts days ÷ days of that month (JustOn's *Prorated*; CPQ "Calendar Monthly + Daily").
* ``RECURRING_PRORATED_AVERAGE`` — whole months count 1, the remaining days count
  days ÷ (365/12) = days ÷ 30.4167 (JustOn's *Prorated AVG*; CPQ "Monthly + Daily").
* ``ONE_TIME`` — billed once, factor 1.
* ``USAGE`` — each period bills its usage records' aggregate, in arrears, factor 1.

Parts of one period always add up to the whole: a part ``[a, b)`` costs
``round(T × c(b)) − round(T × c(a))``, where ``c(x)`` is the cumulative factor from the
start of the service in that period. The first part is plainly ``round(T × factor)``; a
later part is the whole minus what came before, so no cent is lost or made by a split.

    >>> from datetime import date
    >>> from juston.periods import BillingPeriod, Grid, Period, Unit
    >>> grid = Grid(date(2026, 1, 1), BillingPeriod(1, Unit.MONTH))
    >>> m = Measure(grid, grid.containing(date(2026, 1, 15)), date(2026, 1, 15),
    ...             BillingType.RECURRING_PRORATED)
    >>> m.factor(date(2026, 1, 15), date(2026, 2, 1))
    Fraction(17, 31)
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction

import attrs

from .._enum import Enum
from ..periods import Grid, Period, Unit, add_months, months_between
from ..rounding import round_amount, round_exact, round_price

__all__ = ["BillingType", "Measure", "Practice", "TaxDate"]

_AVERAGE_MONTH_DAYS = Fraction(365, 12)


class BillingType(Enum):
    """How an item is billed over time (JustOn's item billing types)."""

    ONE_TIME = "one_time"
    RECURRING = "recurring"
    RECURRING_PRORATED = "recurring_prorated"
    RECURRING_PRORATED_AVERAGE = "recurring_prorated_average"
    #: Usage (JustOn's *Transactional*): each period bills the aggregate of the item's
    #: usage records, after the period ends; see :class:`juston.Metric`.
    USAGE = "usage"


class TaxDate(Enum):
    """Which day's tax applies to a line whose service period crosses a tax change.

    ``SERVICE_PERIOD`` (default): a prorated line is split where the tax changes, each
    part taxed for its days; lines that are not prorated take the rate of their last day
    served (a continuous service is taxed when it ends). ``END_OF_SERVICE_PERIOD``: the
    rate of the last day served. ``BOOKING_DATE``: the rate on the invoice date.
    """

    SERVICE_PERIOD = "service_period"
    END_OF_SERVICE_PERIOD = "end_of_service_period"
    BOOKING_DATE = "booking_date"


class Practice(Enum):
    """Bill a period at its start (``ADVANCE``, the default) or after its end (``ARREARS``)."""

    ADVANCE = "advance"
    ARREARS = "arrears"


@attrs.frozen
class Measure:
    """Billing factors inside one grid period, for one item.

    *origin* is where the item's service starts in that period (the period start, or a
    later item or subscription start). Factors are exact fractions of billing units.
    """

    grid: Grid
    period: Period
    origin: date
    billing_type: BillingType
    _cache: dict[date, Fraction] = attrs.field(factory=dict, init=False, eq=False, repr=False)

    def cumulative(self, day: date) -> Fraction:
        """The billing factor of ``[origin, day)``."""
        cached = self._cache.get(day)
        if cached is None:
            cached = self._cache[day] = self._cumulative(day)
        return cached

    def _cumulative(self, day: date) -> Fraction:
        if day <= self.origin:
            return Fraction(0)
        bp = self.grid.period
        if day == self.period.end and self.origin == self.period.start:
            # A whole grid period is exactly its length, in every billing type.
            return Fraction(1 if self.billing_type is BillingType.ONE_TIME else bp.count)
        kind = self.billing_type
        if kind is BillingType.ONE_TIME:
            return Fraction(1)
        if kind is BillingType.RECURRING:
            return Fraction(bp.count)
        if bp.unit is Unit.DAY:
            return Fraction((day - self.origin).days)
        per_unit = 1 if bp.unit is Unit.MONTH else 12
        if kind is BillingType.RECURRING_PRORATED:
            months = self._calendar_months(day) - self._calendar_months(self.origin)
        else:
            months = self._average_months(day)
        return months / per_unit

    def factor(self, start: date, end: date) -> Fraction:
        """The billing factor of ``[start, end)``."""
        return self.cumulative(end) - self.cumulative(start)

    def amount(self, per_unit: Decimal, start: date, end: date, currency_code: str) -> Decimal:
        """The rounded amount of ``[start, end)`` at *per_unit* per billing unit."""
        low, high = self.cumulative(start), self.cumulative(end)
        if low.denominator == 1 and high.denominator == 1:
            # Whole factors (the common case) need no fractions.
            return round_amount(per_unit * high.numerator, currency_code) - round_amount(
                per_unit * low.numerator, currency_code
            )
        exact = Fraction(per_unit)
        return round_exact(exact * high, currency_code) - round_exact(exact * low, currency_code)

    def describe(self, start: date, end: date) -> str:
        """A short, readable account of the factor of ``[start, end)``."""
        value = self.factor(start, end)
        shown = f"{value.numerator}" if value.denominator == 1 else f"{round_price(value)}"
        bp = self.grid.period
        kind = self.billing_type
        if kind is BillingType.ONE_TIME:
            return "one-time"
        if kind is BillingType.RECURRING:
            return f"billing factor {shown} ({bp}, not prorated)"
        days = (end - start).days
        if bp.unit is Unit.DAY:
            return f"billing factor {shown} ({days} days)"
        if value.denominator == 1 or value * (1 if bp.unit is Unit.MONTH else 12) == int(value):
            return f"billing factor {shown} ({bp})"
        how = "calendar days" if kind is BillingType.RECURRING_PRORATED else "days ÷ 30.4167"
        return f"billing factor {shown} (prorated by {how}, {days} days)"

    def _calendar_months(self, day: date) -> Fraction:
        month_start, month_end = self.grid.month_boundary(day)
        whole = months_between(self.grid.anchor, month_start)
        return whole + Fraction((day - month_start).days, (month_end - month_start).days)

    def _average_months(self, day: date) -> Fraction:
        # Whole months step on the grid's anchored day when the service starts on a grid
        # month boundary (Feb 28 -> Mar 31 on a grid anchored on Jan 31), else on the
        # service start's own day.
        month_start, _ = self.grid.month_boundary(self.origin)
        anchor = self.grid.anchor if month_start == self.origin else self.origin
        first = months_between(anchor, self.origin)
        whole = months_between(self.origin, day)
        while whole and add_months(anchor, first + whole) > day:
            whole -= 1
        rest = (day - add_months(anchor, first + whole)).days
        return whole + rest / _AVERAGE_MONTH_DAYS
