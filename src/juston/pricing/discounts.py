"""Item discounts: a percentage or an amount per billing unit, optionally for a date range.

A discount lowers each charge of the item (``Charge.discount``), so the invoice line
shows the undiscounted unit price, the discount and the net, and its explanation says so.
An amount discount is taken from the item's charges in order and never exceeds them.

    >>> from decimal import Decimal
    >>> d = Discount(percent=Decimal(10))
    >>> from juston.pricing.models import Charge
    >>> d.apply((Charge("unit", Decimal(3), Decimal(10), "3 × 10"),))[0].total
    Decimal('27.0')
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import attrs
from moneyed import Money

from .._fields import as_optional_decimal, as_optional_money, check_optional_date
from ..errors import ValidationError
from ..money import HUNDRED, ZERO
from .models import Charge, _fmt

__all__ = ["Discount"]


def _optional_decimal_percent(value: object) -> Decimal | None:
    return as_optional_decimal(value, "percent")


def _optional_money_amount(value: object) -> Money | None:
    return as_optional_money(value, "amount")


def _check_exactly_one(instance: Discount, field: attrs.Attribute[Any], value: object) -> None:
    if (instance.percent is None) == (instance.amount is None):
        raise ValidationError("discount", instance, "needs exactly one of percent or amount")
    if instance.percent is not None and not ZERO <= instance.percent <= HUNDRED:
        raise ValidationError("percent", instance.percent, "must be between 0 and 100")
    if instance.amount is not None and instance.amount.amount < 0:
        raise ValidationError("amount", instance.amount, "must not be negative")
    if instance.start and instance.end and instance.end <= instance.start:
        raise ValidationError("end", instance.end, f"must be after start {instance.start}")


@attrs.frozen(kw_only=True, cache_hash=True)
class Discount:
    """A discount of *percent* (0–100) or a fixed *amount* per billing unit.

    ``start``/``end`` (half-open) limit it to a date range; a period crossing a limit
    is split there, and only the part inside is discounted.
    """

    percent: Decimal | None = attrs.field(default=None, converter=_optional_decimal_percent)
    amount: Money | None = attrs.field(default=None, converter=_optional_money_amount)
    start: date | None = attrs.field(default=None, validator=check_optional_date)
    end: date | None = attrs.field(
        default=None, validator=[check_optional_date, _check_exactly_one]
    )

    def active_on(self, day: date) -> bool:
        return (self.start is None or self.start <= day) and (self.end is None or day < self.end)

    def change_dates(self) -> tuple[date, ...]:
        return tuple(d for d in (self.start, self.end) if d is not None)

    def describe(self) -> str:
        if self.percent is not None:
            return f"discount {_fmt(self.percent)} %"
        assert self.amount is not None
        return f"discount {_fmt(self.amount.amount)} {self.amount.currency.code}"

    def apply(self, charges: tuple[Charge, ...]) -> tuple[Charge, ...]:
        """The charges with this discount taken off."""
        if self.percent is not None:
            rate = self.percent / HUNDRED
            return tuple(attrs.evolve(c, discount=c.gross * rate) for c in charges)
        assert self.amount is not None
        left = self.amount.amount
        result = []
        for c in charges:
            take = min(left, max(c.gross, ZERO))
            left -= take
            result.append(attrs.evolve(c, discount=take) if take else c)
        return tuple(result)
