"""Payment terms: due dates from JustOn-style patterns.

A pattern is a sequence of steps applied to the invoice date, left to right:

* ``14d`` — add 14 days;
* ``eom`` — move to the end of the month;
* ``10`` — move to the next 10th of a month (strictly after the current date; a day past
  the month's end means its last day).

So ``14d eom`` from 20 May gives 30 June, and ``eom 10`` from 12 February gives 10 March.

    >>> from datetime import date
    >>> PaymentTerms("14d eom").due_date(date(2026, 5, 20))
    datetime.date(2026, 6, 30)
    >>> PaymentTerms("eom 10").due_date(date(2026, 2, 12))
    datetime.date(2026, 3, 10)
"""

from __future__ import annotations

import calendar
import functools
from datetime import date, timedelta
from typing import Any

import attrs
from dateutil.relativedelta import relativedelta

from ..errors import PaymentTermsError

__all__ = ["PaymentTerms", "optional_payment_terms", "payment_terms"]


@functools.lru_cache(maxsize=256)
def _steps(pattern: str) -> tuple[tuple[str, int], ...]:
    steps: list[tuple[str, int]] = []
    for token in pattern.lower().split():
        if token == "eom":
            steps.append(("eom", 0))
        elif token.endswith("d") and token[:-1].isdigit():
            steps.append(("days", int(token[:-1])))
        elif token.isdigit() and 1 <= int(token) <= 31:
            steps.append(("day", int(token)))
        else:
            raise PaymentTermsError(
                "payment_terms",
                pattern,
                f"has an unknown step {token!r} (use '14d', 'eom' or a day 1-31)",
            )
    if not steps:
        raise PaymentTermsError("payment_terms", pattern, "is empty")
    return tuple(steps)


def _check(instance: PaymentTerms, field: attrs.Attribute[Any], value: str) -> None:
    if not isinstance(value, str):
        raise PaymentTermsError(field.name, value, "is not a string such as '14d eom'")
    _steps(value)


@attrs.frozen
class PaymentTerms:
    """When a document is due, as a JustOn due-date pattern (see the module docs)."""

    pattern: str = attrs.field(validator=_check)

    @classmethod
    def coerce(cls, value: object) -> PaymentTerms:
        """Accept a ``PaymentTerms``, a pattern string, or a number of days."""
        if isinstance(value, PaymentTerms):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            if value < 0:
                raise PaymentTermsError("payment_terms", value, "must not be negative")
            return cls(f"{value}d")
        return cls(value)  # type: ignore[arg-type]

    @classmethod
    def coerce_optional(cls, value: object) -> PaymentTerms | None:
        return None if value is None else cls.coerce(value)

    def due_date(self, invoice_date: date) -> date:
        """The due date for a document dated *invoice_date*."""
        day = invoice_date
        for kind, n in _steps(self.pattern):
            if kind == "days":
                day += timedelta(days=n)
            elif kind == "eom":
                day = day.replace(day=calendar.monthrange(day.year, day.month)[1])
            else:
                day = _next_day_of_month(day, n)
        return day


def payment_terms(value: object) -> PaymentTerms:
    """Converter: a ``PaymentTerms``, a pattern string, or a number of days."""
    return PaymentTerms.coerce(value)


def optional_payment_terms(value: object) -> PaymentTerms | None:
    return None if value is None else PaymentTerms.coerce(value)


def _next_day_of_month(day: date, n: int) -> date:
    for months in (0, 1):
        month = day + relativedelta(months=months, day=1)
        last = calendar.monthrange(month.year, month.month)[1]
        candidate = month.replace(day=min(n, last))
        if candidate > day:
            return candidate
    raise AssertionError("unreachable: the next month always has a later day")
