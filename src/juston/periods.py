"""Service periods and the billing-period grid.

Periods are half-open, ``[start, end)``: ``end`` is the first day *not* served, so
consecutive periods meet without gaps or overlaps. Documents show ``last_day``
(``end - 1 day``), as JustOn does.

Month arithmetic is anchored on the original day: a monthly grid that starts on
31 January runs Jan 31 → Feb 28 → Mar 31 → Apr 30, never drifting to the 28th,
because every boundary is computed from the anchor, not from the previous boundary.

    >>> grid = Grid(anchor=date(2026, 1, 31), period=BillingPeriod(1, Unit.MONTH))
    >>> [str(p) for p in grid.periods(date(2026, 1, 31), date(2026, 4, 1))]
    ['2026-01-31..2026-02-27', '2026-02-28..2026-03-30', '2026-03-31..2026-04-29']
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

import attrs
from dateutil.relativedelta import relativedelta

from ._enum import Enum
from ._fields import check_date
from .errors import ValidationError

__all__ = ["Alignment", "BillingPeriod", "Grid", "Period", "Unit", "add_months"]

ONE_DAY = timedelta(days=1)


def _check_end(instance: Period, field: attrs.Attribute[Any], value: date) -> None:
    if value <= instance.start:
        raise ValidationError(field.name, value, f"must be after start {instance.start}")


@attrs.frozen(order=True)
class Period:
    """A half-open date range ``[start, end)``.

    >>> p = Period(date(2026, 1, 1), date(2026, 2, 1))
    >>> p.days, p.last_day
    (31, datetime.date(2026, 1, 31))
    """

    start: date = attrs.field(validator=check_date)
    end: date = attrs.field(validator=[check_date, _check_end])

    @property
    def last_day(self) -> date:
        """The last day served (``end`` minus one day)."""
        return self.end - ONE_DAY

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day < self.end

    def intersect(self, other: Period) -> Period | None:
        """The overlap of two periods, or ``None`` when they do not meet."""
        start, end = max(self.start, other.start), min(self.end, other.end)
        return Period(start, end) if start < end else None

    def __str__(self) -> str:
        return f"{self.start.isoformat()}..{self.last_day.isoformat()}"


class Unit(Enum):
    """The unit of a billing period; prices are quoted per one unit."""

    DAY = "day"
    MONTH = "month"
    YEAR = "year"


class Alignment(Enum):
    """Where the billing-period grid starts.

    ``ANNIVERSARY`` starts it on the subscription's start day; ``CALENDAR`` on calendar
    boundaries (1st of the month, quarter, year), with a prorated first period.
    """

    ANNIVERSARY = "anniversary"
    CALENDAR = "calendar"


def _check_count(instance: object, field: attrs.Attribute[Any], value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 99:
        raise ValidationError(field.name, value, "must be a whole number from 1 to 99")


@attrs.frozen(cache_hash=True)
class BillingPeriod:
    """A billing period of *count* units, e.g. ``BillingPeriod(3, Unit.MONTH)`` for quarterly.

    The count has at most two digits, as in JustOn.

        >>> BillingPeriod.parse("3m")
        BillingPeriod(count=3, unit=<Unit.MONTH: 'month'>)
    """

    count: int = attrs.field(validator=_check_count)
    unit: Unit = attrs.field(default=Unit.MONTH, converter=Unit)

    @classmethod
    def parse(cls, text: str) -> BillingPeriod:
        """Parse ``"1m"``, ``"3m"``, ``"1y"``, ``"14d"``."""
        units = {"d": Unit.DAY, "m": Unit.MONTH, "y": Unit.YEAR}
        text = text.strip().lower()
        if len(text) < 2 or text[-1] not in units or not text[:-1].isdigit():
            raise ValidationError("billing_period", text, "is not like '1m', '3m', '1y' or '14d'")
        return cls(int(text[:-1]), units[text[-1]])

    def step(self, n: int) -> relativedelta:
        """The offset of *n* billing periods."""
        if self.unit is Unit.DAY:
            return relativedelta(days=n * self.count)
        if self.unit is Unit.MONTH:
            return relativedelta(months=n * self.count)
        return relativedelta(years=n * self.count)

    @property
    def months(self) -> int:
        """Length in months (0 for day-based periods)."""
        if self.unit is Unit.MONTH:
            return self.count
        return 12 * self.count if self.unit is Unit.YEAR else 0

    def __str__(self) -> str:
        return f"{self.count} {self.unit.value}{'s' if self.count > 1 else ''}"


@lru_cache(maxsize=4096)
def _days_in_month(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1]


def add_months(day: date, months: int) -> date:
    """*day* plus *months*, clamped to the month's last day (as ``relativedelta(months=n)``).

    Always count from the original anchor, never from a clamped result:
    ``add_months(date(2026, 1, 31), 2)`` is 31 March.

        >>> add_months(date(2026, 1, 31), 1), add_months(date(2026, 1, 31), 2)
        (datetime.date(2026, 2, 28), datetime.date(2026, 3, 31))
    """
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, _days_in_month(year, month)))


def months_between(start: date, end: date) -> int:
    """Whole calendar-month offset from *start*'s month to *end*'s month."""
    return (end.year - start.year) * 12 + end.month - start.month


@attrs.frozen(cache_hash=True)
class Grid:
    """The endless sequence of billing periods that starts at *anchor*.

    Build it with :meth:`for_subscription`, which applies the alignment rule.
    """

    anchor: date = attrs.field(validator=check_date)
    period: BillingPeriod

    @classmethod
    def for_subscription(cls, start: date, period: BillingPeriod, alignment: Alignment) -> Grid:
        """The grid of a subscription: anchored on its start, or on calendar boundaries."""
        if alignment is Alignment.ANNIVERSARY or period.unit is Unit.DAY:
            return cls(start, period)
        if period.unit is Unit.YEAR or 12 % period.count == 0:
            # Quarters start in Jan/Apr/Jul/Oct, half-years in Jan/Jul, years on Jan 1.
            step = 12 if period.unit is Unit.YEAR else period.count
            month = (start.month - 1) // step * step + 1
            return cls(date(start.year, month, 1), period)
        return cls(start.replace(day=1), period)

    def boundary(self, n: int) -> date:
        """The start of period number *n* (0 is the anchor; negative counts back)."""
        if self.period.unit is Unit.DAY:
            return self.anchor + timedelta(days=n * self.period.count)
        return add_months(self.anchor, n * self.period.months)

    def index_of(self, day: date) -> int:
        """The number of the period that contains *day*."""
        if self.period.unit is Unit.DAY:
            n = (day - self.anchor).days // self.period.count
        else:
            n = months_between(self.anchor, day) // self.period.months
        while self.boundary(n) > day:
            n -= 1
        while self.boundary(n + 1) <= day:
            n += 1
        return n

    def period_at(self, n: int) -> Period:
        return Period(self.boundary(n), self.boundary(n + 1))

    def containing(self, day: date) -> Period:
        """The grid period that contains *day*."""
        return self.period_at(self.index_of(day))

    def periods(self, start: date, end: date) -> Iterator[Period]:
        """The grid periods that overlap ``[start, end)``, in order."""
        n = self.index_of(start)
        while (boundary := self.boundary(n)) < end:
            yield Period(boundary, self.boundary(n + 1))
            n += 1

    def month_boundary(self, day: date) -> tuple[date, date]:
        """The anchored month ``[a, b)`` that contains *day* (a month of this grid)."""
        n = months_between(self.anchor, day)
        start = add_months(self.anchor, n)
        if start > day:
            n -= 1
            start = add_months(self.anchor, n)
        return start, add_months(self.anchor, n + 1)
