"""Price models: what one billing unit of an item costs at a given quantity.

Each model turns a quantity into :class:`Charge` values: the components of the price,
each with a quantity, a unit price and a label a person can read. A graduated model
yields one charge per tier used (JustOn's *split quantity*); every other model yields
one charge. Charges are per **one billing unit** (one month of a monthly price, one
year of a yearly price); the billing factor and proration are applied later.

Models are usable on their own, e.g. in a notebook:

    >>> from juston import money
    >>> tiers = [Tier(10, money("2.50", "EUR")), Tier(20, money("2.40", "EUR")),
    ...          Tier(30, money("2.30", "EUR"))]
    >>> price(Volume(tiers), 25)
    Money('57.50', 'EUR')
    >>> price(Graduated(tiers), 25)
    Money('60.50', 'EUR')
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import ROUND_CEILING, Decimal
from typing import Any, ClassVar, Protocol, runtime_checkable

import attrs
from moneyed import Currency, Money

from .._fields import (
    as_decimal,
    as_money,
    as_optional_decimal,
    as_optional_money,
    as_tuple,
    check_date,
    check_ge_zero,
    check_gt_zero,
    check_instance,
)
from ..errors import CurrencyMismatch, PricingError, ValidationError
from ..money import HUNDRED, ONE, ZERO, decimal
from ..rounding import round_amount

__all__ = [
    "Charge",
    "Flat",
    "Graduated",
    "MinimumFee",
    "Package",
    "PerUnit",
    "Percentage",
    "PriceModel",
    "PriceSchedule",
    "Tier",
    "Volume",
    "price",
]


def _decimal_rate(value: object) -> Decimal:
    return as_decimal(value, "rate")


def _decimal_size(value: object) -> Decimal:
    return as_decimal(value, "size")


def _money_amount(value: object) -> Money:
    return as_money(value, "amount")


def _money_block_price(value: object) -> Money:
    return as_money(value, "block_price")


def _money_minimum(value: object) -> Money:
    return as_money(value, "minimum")


def _money_unit_price(value: object) -> Money:
    return as_money(value, "unit_price")


def _optional_decimal_up_to(value: object) -> Decimal | None:
    return as_optional_decimal(value, "up_to")


def _optional_money_flat(value: object) -> Money | None:
    return as_optional_money(value, "flat")


def _optional_money_unit_price(value: object) -> Money | None:
    return as_optional_money(value, "unit_price")


def _tuple_entries(value: object) -> tuple[Any, ...]:
    return as_tuple(value, "entries")


@attrs.frozen(cache_hash=True)
class Charge:
    """One component of a price for one billing unit: ``quantity × unit_price − discount``.

    ``component`` groups charges into invoice lines (``"unit"``, ``"tier 2"`` …);
    ``label`` explains the charge to a person. Amounts are plain ``Decimal`` in the
    model's currency and are not rounded.
    """

    component: str
    quantity: Decimal
    unit_price: Decimal
    label: str = attrs.field(eq=False)
    discount: Decimal = ZERO

    @property
    def gross(self) -> Decimal:
        return self.quantity * self.unit_price

    @property
    def total(self) -> Decimal:
        return self.quantity * self.unit_price - self.discount


@runtime_checkable
class PriceModel(Protocol):
    """What every price model offers: its currency and :meth:`charges`."""

    #: ``True`` for models priced from the other items' charges (percentage, minimum fee).
    derived: ClassVar[bool]

    @property
    def currency(self) -> Currency: ...

    def charges(self, quantity: Decimal, *, base: Decimal = ZERO) -> tuple[Charge, ...]:
        """The charges for *quantity* units; *base* is the other items' total (derived models)."""
        ...


def _fmt(value: Decimal) -> str:
    """A Decimal without trailing zeros (``2.50000`` → ``2.5``; ``10`` stays ``10``)."""
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


@attrs.frozen(cache_hash=True)
class Flat:
    """A fixed price per billing unit; the quantity is forced to 1 (JustOn's *Flat*)."""

    derived: ClassVar[bool] = False
    amount: Money = attrs.field(converter=_money_amount)

    @property
    def currency(self) -> Currency:
        return self.amount.currency

    def charges(self, quantity: Decimal, *, base: Decimal = ZERO) -> tuple[Charge, ...]:
        return (Charge("flat", ONE, self.amount.amount, f"flat {_fmt(self.amount.amount)}"),)


@attrs.frozen(cache_hash=True)
class PerUnit:
    """Unit price × quantity (JustOn's *Default* price type)."""

    derived: ClassVar[bool] = False
    unit_price: Money = attrs.field(converter=_money_unit_price)

    @property
    def currency(self) -> Currency:
        return self.unit_price.currency

    def charges(self, quantity: Decimal, *, base: Decimal = ZERO) -> tuple[Charge, ...]:
        p = self.unit_price.amount
        return (Charge("unit", quantity, p, f"{_fmt(quantity)} × {_fmt(p)}"),)


@attrs.frozen(cache_hash=True)
class Tier:
    """A price tier: quantities up to *up_to* (inclusive; ``None`` = unbounded) cost *unit_price*.

    A tier without a price is skipped, as in JustOn. *flat* is an optional fixed fee
    charged once when the tier is reached.
    """

    up_to: Decimal | None = attrs.field(converter=_optional_decimal_up_to)
    unit_price: Money | None = attrs.field(converter=_optional_money_unit_price)
    flat: Money | None = attrs.field(default=None, converter=_optional_money_flat)


def _sorted_tiers(value: object) -> tuple[Tier, ...]:
    tiers: tuple[object, ...] = as_tuple(value, "tiers")
    if not tiers:
        raise ValidationError("tiers", value, "must not be empty")
    for tier in tiers:
        if not isinstance(tier, Tier):
            raise ValidationError("tiers", tier, "is not a Tier")
    priced = [t for t in tiers if isinstance(t, Tier) and t.unit_price is not None]
    if not priced:
        raise ValidationError("tiers", value, "has no tier with a price")
    # Quantity is an upper bound; an empty bound means unbounded and sorts last.
    priced.sort(key=lambda t: (t.up_to is None, t.up_to or ZERO))
    bounds = [t.up_to for t in priced if t.up_to is not None]
    if len(set(bounds)) != len(bounds):
        raise ValidationError("tiers", value, "has two tiers with the same upper bound")
    currencies = {t.unit_price.currency for t in priced if t.unit_price is not None}
    currencies |= {t.flat.currency for t in priced if t.flat is not None}
    if len(currencies) > 1:
        raise CurrencyMismatch("tiers", value, "mixes currencies")
    return tuple(priced)


def _tier_range(lower: Decimal, tier: Tier) -> str:
    first = _fmt(lower + 1) if lower == lower.to_integral_value() else f"> {_fmt(lower)}"
    return f"{first}–{_fmt(tier.up_to)}" if tier.up_to is not None else f"{first}+"


def _beyond_last(tiers: tuple[Tier, ...], quantity: Decimal) -> PricingError:
    return PricingError("quantity", quantity, f"exceeds the last tier's bound {tiers[-1].up_to}")


@attrs.frozen(cache_hash=True)
class Graduated:
    """Graduated tiers: each tier prices the units that fall into it (one line per tier).

    With tiers ≤10 at 2.50, ≤20 at 2.40, ≤30 at 2.30, 25 units cost
    10 × 2.50 + 10 × 2.40 + 5 × 2.30 = 60.50.
    """

    derived: ClassVar[bool] = False
    tiers: tuple[Tier, ...] = attrs.field(converter=_sorted_tiers)

    @property
    def currency(self) -> Currency:
        return _tier_currency(self.tiers)

    def charges(self, quantity: Decimal, *, base: Decimal = ZERO) -> tuple[Charge, ...]:
        result: list[Charge] = []
        lower = ZERO
        for number, tier in enumerate(self.tiers, start=1):
            if quantity <= lower and result:
                break
            upper = quantity if tier.up_to is None else min(quantity, tier.up_to)
            used = max(upper - lower, ZERO)
            assert tier.unit_price is not None
            p = tier.unit_price.amount
            span = _tier_range(lower, tier)
            result.append(
                Charge(
                    f"tier {number}", used, p, f"tier {number} ({span}): {_fmt(used)} × {_fmt(p)}"
                )
            )
            if tier.flat is not None:
                result.append(
                    Charge(f"tier {number} fee", ONE, tier.flat.amount, f"tier {number} flat fee")
                )
            if tier.up_to is not None:
                lower = tier.up_to
        if self.tiers[-1].up_to is not None and quantity > self.tiers[-1].up_to:
            raise _beyond_last(self.tiers, quantity)
        return tuple(c for c in result if c.quantity or c.component.endswith("fee"))


@attrs.frozen(cache_hash=True)
class Volume:
    """Volume tiers: all units at the price of the tier the quantity reaches.

    JustOn's example: tiers ≤10/≤20/≤30 at 2.50/2.40/2.30; 25 units = 25 × 2.30 = 57.50.
    """

    derived: ClassVar[bool] = False
    tiers: tuple[Tier, ...] = attrs.field(converter=_sorted_tiers)

    @property
    def currency(self) -> Currency:
        return _tier_currency(self.tiers)

    def charges(self, quantity: Decimal, *, base: Decimal = ZERO) -> tuple[Charge, ...]:
        lower = ZERO
        for number, tier in enumerate(self.tiers, start=1):
            if tier.up_to is None or quantity <= tier.up_to:
                assert tier.unit_price is not None
                p = tier.unit_price.amount
                label = f"volume tier {number} ({_tier_range(lower, tier)}): {_fmt(quantity)} × {_fmt(p)}"
                charges = [Charge(f"volume tier {number}", quantity, p, label)]
                if tier.flat is not None:
                    charges.append(
                        Charge(f"volume tier {number} fee", ONE, tier.flat.amount, "tier flat fee")
                    )
                return tuple(charges)
            lower = tier.up_to
        raise _beyond_last(self.tiers, quantity)


def _tier_currency(tiers: tuple[Tier, ...]) -> Currency:
    assert tiers[0].unit_price is not None
    return tiers[0].unit_price.currency


@attrs.frozen(cache_hash=True)
class Package:
    """A price per started block of *size* units: 25 units in blocks of 10 cost 3 blocks."""

    derived: ClassVar[bool] = False
    block_price: Money = attrs.field(converter=_money_block_price)
    size: Decimal = attrs.field(converter=_decimal_size, validator=check_gt_zero)

    @property
    def currency(self) -> Currency:
        return self.block_price.currency

    def charges(self, quantity: Decimal, *, base: Decimal = ZERO) -> tuple[Charge, ...]:
        blocks = (quantity / self.size).to_integral_value(rounding=ROUND_CEILING)
        p = self.block_price.amount
        label = (
            f"{_fmt(blocks)} block(s) of {_fmt(self.size)} for {_fmt(quantity)} units × {_fmt(p)}"
        )
        return (Charge("package", blocks, p, label),)


@attrs.frozen(cache_hash=True)
class Percentage:
    """A percentage of the subscription's other charges in the same period.

    ``Percentage(Decimal(10), currency)`` on a support item bills 10 % of the other
    items' charges (after their discounts), times the item's quantity.
    """

    derived: ClassVar[bool] = True
    rate: Decimal = attrs.field(converter=_decimal_rate, validator=check_ge_zero)
    currency_code: str = attrs.field(validator=check_instance(str))

    @property
    def currency(self) -> Currency:
        from ..money import currency

        return currency(self.currency_code)

    def charges(self, quantity: Decimal, *, base: Decimal = ZERO) -> tuple[Charge, ...]:
        p = base * self.rate / HUNDRED
        label = f"{_fmt(self.rate)} % of {_fmt(base)}"
        return (Charge("percentage", quantity, p, label),)


@attrs.frozen(cache_hash=True)
class MinimumFee:
    """A minimum charge per period: a true-up line for the shortfall of the other charges.

    With a minimum of 100 and other charges of 70, the true-up is 30; at 100 or more, nothing.
    """

    derived: ClassVar[bool] = True
    minimum: Money = attrs.field(converter=_money_minimum)

    @property
    def currency(self) -> Currency:
        return self.minimum.currency

    def charges(self, quantity: Decimal, *, base: Decimal = ZERO) -> tuple[Charge, ...]:
        shortfall = self.minimum.amount - base
        if shortfall <= 0:
            return ()
        label = f"minimum {_fmt(self.minimum.amount)} − charges {_fmt(base)}"
        return (Charge("minimum true-up", ONE, shortfall, label),)


def _check_entries(
    instance: PriceSchedule, field: attrs.Attribute[Any], value: tuple[Any, ...]
) -> None:
    if not value:
        raise ValidationError(field.name, value, "must not be empty")
    days: list[date] = []
    for entry in value:
        if not (isinstance(entry, tuple) and len(entry) == 2):
            raise ValidationError(field.name, entry, "is not a (date, price model) pair")
        check_date(instance, field, entry[0])
        if not isinstance(entry[1], PriceModel):
            raise ValidationError(field.name, entry[1], "is not a price model")
        days.append(entry[0])
    if days != sorted(set(days)):
        raise ValidationError(field.name, days, "must be in strictly increasing date order")
    if len({entry[1].currency for entry in value}) > 1:
        raise CurrencyMismatch(field.name, value, "mixes currencies")


@attrs.frozen(cache_hash=True)
class PriceSchedule:
    """Time-bound prices: a sequence of ``(from_date, model)``; each applies until the next.

    Before the first date the first model applies. A period that crosses a date is split
    there, each part priced by its own model.
    """

    entries: tuple[tuple[date, PriceModel], ...] = attrs.field(
        converter=_tuple_entries, validator=_check_entries
    )

    @property
    def currency(self) -> Currency:
        return self.entries[0][1].currency

    def at(self, day: date) -> PriceModel:
        """The model in force on *day*."""
        current = self.entries[0][1]
        for start, model in self.entries:
            if start > day:
                break
            current = model
        return current

    def change_dates(self) -> tuple[date, ...]:
        return tuple(start for start, _ in self.entries[1:])


def price(model: PriceModel, quantity: object, *, base: object = 0) -> Money:
    """The total price of *quantity* units for one billing unit, rounded to the currency.

    Handy for tabulating or plotting price against quantity.

        >>> from juston import money
        >>> price(Package(money(30, "EUR"), 10), 25)
        Money('90.00', 'EUR')
    """
    q = decimal(quantity, field="quantity")
    charges = model.charges(q, base=decimal(base, field="base"))
    total = sum((c.total for c in charges), ZERO)
    return Money(round_amount(total, model.currency.code), model.currency)


def tiers(*pairs: tuple[object, object], currency_code: str) -> Sequence[Tier]:
    """Shorthand: ``tiers((10, "2.50"), (20, "2.40"), (None, "2.30"), currency_code="EUR")``."""
    from ..money import money

    return [Tier(up, None if p is None else money(p, currency_code)) for up, p in pairs]
