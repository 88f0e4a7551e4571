"""Subscriptions and their items, with changes over time as values.

An item's history is its start and end plus a tuple of :class:`ItemChange` values
(a new quantity or price from a date). Nothing is overwritten: replaying the history
reproduces what was billed, and a change after billing yields the prorated difference
on the next run.

    >>> from datetime import date
    >>> from decimal import Decimal
    >>> from juston import money
    >>> from juston.pricing import PerUnit
    >>> item = Item(id="seats", product=Product(code="SEAT", name="Seat"),
    ...             price=PerUnit(money(10, "EUR")), quantity=5)
    >>> later = item.change_quantity(date(2026, 3, 15), 8)
    >>> later.quantity_on(date(2026, 3, 14)), later.quantity_on(date(2026, 3, 15))
    (Decimal('5'), Decimal('8'))
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import attrs
from moneyed import Currency

from .._enum import Enum
from .._fields import (
    as_decimal,
    as_optional_decimal,
    as_tuple,
    check_date,
    check_ge_zero,
    check_instance,
    check_optional_date,
    check_optional_instance,
    check_optional_text,
    check_text,
)
from ..errors import ValidationError
from ..money import currency
from ..periods import Alignment, BillingPeriod, Grid, Period, Unit
from ..pricing.discounts import Discount
from ..pricing.models import PriceModel, PriceSchedule, Volume
from ..pricing.proration import BillingType, Practice, TaxDate
from .catalog import Product
from .terms import PaymentTerms, optional_payment_terms
from .usage import Metric

__all__ = ["Item", "ItemChange", "Subscription", "SubscriptionStatus"]

Pricing = PriceModel | PriceSchedule
_SUM = Metric()


def _decimal_quantity(value: object) -> Decimal:
    return as_decimal(value, "quantity")


def _optional_decimal_quantity(value: object) -> Decimal | None:
    return as_optional_decimal(value, "quantity")


def _tuple_changes(value: object) -> tuple[Any, ...]:
    return as_tuple(value, "changes")


def _tuple_items(value: object) -> tuple[Any, ...]:
    return as_tuple(value, "items")


def _billing_period(value: object) -> BillingPeriod:
    if isinstance(value, str):
        return BillingPeriod.parse(value)
    if not isinstance(value, BillingPeriod):
        raise ValidationError("billing_period", value, "is not a BillingPeriod or text like '1m'")
    return value


def _optional_currency(value: object) -> Currency | None:
    return None if value is None else currency(value)


@functools.cache
def _is_pricing(cls: type) -> bool:
    # Checking a runtime protocol costs tens of microseconds; answer once per class.
    return issubclass(cls, PriceSchedule) or all(
        hasattr(cls, name) for name in ("charges", "currency", "derived")
    )


def _check_price(instance: object, field: attrs.Attribute[Any], value: object) -> None:
    if value is not None and not _is_pricing(type(value)):  # type: ignore[arg-type]
        raise ValidationError(field.name, value, "is not a price model or PriceSchedule")


def _check_after_start(instance: Any, field: attrs.Attribute[Any], value: date | None) -> None:
    if value is not None and instance.start is not None and value <= instance.start:
        raise ValidationError(field.name, value, f"must be after start {instance.start}")


@attrs.frozen(kw_only=True, cache_hash=True)
class ItemChange:
    """From *effective* on, the item has a new *quantity* and/or *price*."""

    effective: date = attrs.field(validator=check_date)
    quantity: Decimal | None = attrs.field(default=None, converter=_optional_decimal_quantity)
    price: Pricing | None = attrs.field(default=None, validator=_check_price)

    def __attrs_post_init__(self) -> None:
        if self.quantity is None and self.price is None:
            raise ValidationError("change", self, "changes neither quantity nor price")
        if self.quantity is not None and self.quantity < 0:
            raise ValidationError("quantity", self.quantity, "must not be negative")


def _check_changes(instance: Item, field: attrs.Attribute[Any], value: tuple[Any, ...]) -> None:
    for change in value:
        if not isinstance(change, ItemChange):
            raise ValidationError(field.name, change, "is not an ItemChange")
    days = [c.effective for c in value]
    if days != sorted(days) or len(set(days)) != len(days):
        raise ValidationError(field.name, days, "must have strictly increasing effective dates")
    currencies = {instance.price.currency} | {
        c.price.currency for c in value if c.price is not None
    }
    if len(currencies) > 1:
        raise ValidationError(field.name, value, "changes the price to another currency")


@attrs.frozen(cache_hash=True)
class ItemShape:
    """Every field of an item but its id, hashed once: the key alike items are priced by.

    >>> from juston import Item, Product, Flat, money
    >>> a = Item(id="a", product=Product(code="P", name="P"), price=Flat(money(5, "EUR")))
    >>> a.shape == attrs.evolve(a, id="b").shape
    True
    """

    fields: tuple[object, ...]


#: The shapes of the items that exist, so that alike items share one: a run then finds
#: their key in its memo by identity instead of comparing every field.
_SHAPES: weakref.WeakValueDictionary[tuple[object, ...], ItemShape] = weakref.WeakValueDictionary()


_GRIDS: weakref.WeakValueDictionary[tuple[date, BillingPeriod], Grid] = (
    weakref.WeakValueDictionary()
)
#: The grid of a start, period and alignment: a plain dictionary lookup instead of
#: working the grid out and finding it in ``_GRIDS`` (which hashes in Python) for each
#: subscription. Bounded, cleared when full.
_GRID_OF: dict[tuple[date, int, Unit, Alignment], Grid] = {}
_GRID_CACHE = 4096


@attrs.frozen(kw_only=True)
class Item:
    """A subscription item: a product, its quantity and price, and how it is billed.

    *start*/*end* (half-open; ``end`` is the first day no longer served) default to the
    subscription's. *id* must be unique within the subscription; it keys what was billed.
    """

    id: str = attrs.field(validator=check_text)
    product: Product = attrs.field(validator=check_instance(Product))
    price: Pricing = attrs.field(validator=_check_price)
    quantity: Decimal = attrs.field(
        default=Decimal(1), converter=_decimal_quantity, validator=check_ge_zero
    )
    billing_type: BillingType = attrs.field(
        default=BillingType.RECURRING_PRORATED, converter=BillingType
    )
    practice: Practice = attrs.field(default=Practice.ADVANCE, converter=Practice)
    start: date | None = attrs.field(default=None, validator=check_optional_date)
    end: date | None = attrs.field(
        default=None, validator=[check_optional_date, _check_after_start]
    )
    discount: Discount | None = attrs.field(
        default=None, validator=check_optional_instance(Discount)
    )
    changes: tuple[ItemChange, ...] = attrs.field(
        default=(), converter=_tuple_changes, validator=_check_changes
    )
    description: str | None = None
    tax_date: TaxDate = attrs.field(default=TaxDate.SERVICE_PERIOD, converter=TaxDate)
    metric: Metric | None = attrs.field(default=None, validator=check_optional_instance(Metric))
    order_number: str | None = attrs.field(default=None, validator=check_optional_text)

    #: True for items priced from the other items (percentage, minimum fee).
    derived: bool = attrs.field(init=False, eq=False, repr=False)
    #: Every field but the id: items of equal shape are priced alike.
    shape: ItemShape = attrs.field(init=False, eq=False, repr=False)
    #: How a usage item aggregates its records (``None`` for other items).
    usage: Metric | None = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        self._derive()
        usage = self.billing_type is BillingType.USAGE
        if self.metric is not None and not usage:
            raise ValidationError("metric", self.metric, "needs billing_type 'usage'")
        if usage and self.derived:
            raise ValidationError("price", self.price, "cannot price usage (it is derived)")
        tier = None if self.metric is None else self.metric.tier_quantity
        if tier is not None and not all(isinstance(m, Volume) for m in self.models()):
            raise ValidationError("tier_quantity", tier, "selects the tier of a Volume price only")

    def _derive(self) -> None:
        # Read by every run for every item: computed once, kept in plain slots.
        if not self.changes and not isinstance(self.price, PriceSchedule):
            derived = self.price.derived
        else:
            derived = any(model.derived for model in self.models())
        object.__setattr__(self, "derived", derived)
        usage = None
        if self.billing_type is BillingType.USAGE:
            usage = self.metric or _SUM
        object.__setattr__(self, "usage", usage)
        fields = (
            self.product,
            self.price,
            self.quantity,
            self.billing_type,
            self.practice,
            self.start,
            self.end,
            self.discount,
            self.changes,
            self.description,
            self.tax_date,
            self.metric,
        )
        object.__setattr__(self, "shape", _SHAPES.setdefault(fields, ItemShape(fields)))

    def models(self) -> Iterator[PriceModel]:
        for pricing in (self.price, *(c.price for c in self.changes if c.price is not None)):
            if isinstance(pricing, PriceSchedule):
                yield from (model for _, model in pricing.entries)
            else:
                yield pricing

    def quantity_on(self, day: date) -> Decimal:
        """The quantity in force on *day*."""
        quantity = self.quantity
        for change in self.changes:
            if change.effective > day:
                break
            if change.quantity is not None:
                quantity = change.quantity
        return quantity

    def model_on(self, day: date) -> PriceModel:
        """The price model in force on *day*."""
        pricing = self.price
        for change in self.changes:
            if change.effective > day:
                break
            if change.price is not None:
                pricing = change.price
        return pricing.at(day) if isinstance(pricing, PriceSchedule) else pricing

    def change_dates(self) -> set[date]:
        """Every date on which something about this item's price may change."""
        days = {c.effective for c in self.changes}
        for pricing in (self.price, *(c.price for c in self.changes if c.price is not None)):
            if isinstance(pricing, PriceSchedule):
                days.update(pricing.change_dates())
        if self.discount is not None:
            days.update(self.discount.change_dates())
        return days

    def change_quantity(self, effective: date, quantity: object) -> Item:
        """A copy of this item whose quantity changes on *effective*."""
        return self._with_change(ItemChange(effective=effective, quantity=quantity))

    def change_price(self, effective: date, price: Pricing) -> Item:
        """A copy of this item whose price changes on *effective*."""
        return self._with_change(ItemChange(effective=effective, price=price))

    def cancel(self, end: date) -> Item:
        """A copy of this item that ends on *end* (the first day no longer served)."""
        return attrs.evolve(self, end=end)

    def _with_change(self, change: ItemChange) -> Item:
        kept = [c for c in self.changes if c.effective < change.effective]
        same_day = [c for c in self.changes if c.effective == change.effective]
        if same_day:
            old = same_day[0]
            change = ItemChange(
                effective=change.effective,
                quantity=change.quantity if change.quantity is not None else old.quantity,
                price=change.price if change.price is not None else old.price,
            )
        later = [c for c in self.changes if c.effective > change.effective]
        return attrs.evolve(self, changes=(*kept, change, *later))


class SubscriptionStatus(Enum):
    """Only ``ACTIVE`` subscriptions are billed; ``DRAFT`` ones are being prepared."""

    DRAFT = "draft"
    ACTIVE = "active"


def _check_items(
    instance: Subscription, field: attrs.Attribute[Any], value: tuple[Any, ...]
) -> None:
    seen: set[str] = set()
    for item in value:
        if not isinstance(item, Item):
            raise ValidationError(field.name, item, "is not an Item")
        if item.id in seen:
            raise ValidationError(
                field.name, item.id, "is used by two items; item ids must be unique"
            )
        seen.add(item.id)


@attrs.frozen(kw_only=True)
class Subscription:
    """A subscription of one account: a billing period, an alignment and items.

    *end* (half-open) is the first day no longer served; setting it cancels the
    subscription, and a period billed in advance is credited for the unused part on the
    next run. *currency* defaults to the account's.

        >>> from datetime import date
        >>> s = Subscription(number="S-1", account_id="C-1", start=date(2026, 1, 31))
        >>> s.billing_period
        BillingPeriod(count=1, unit=<Unit.MONTH: 'month'>)
    """

    number: str = attrs.field(validator=check_text)
    account_id: str = attrs.field(validator=check_text)
    start: date = attrs.field(validator=check_date)
    end: date | None = attrs.field(
        default=None, validator=[check_optional_date, _check_after_start]
    )
    billing_period: BillingPeriod = attrs.field(default=BillingPeriod(1), converter=_billing_period)
    alignment: Alignment = attrs.field(default=Alignment.ANNIVERSARY, converter=Alignment)
    status: SubscriptionStatus = attrs.field(
        default=SubscriptionStatus.ACTIVE, converter=SubscriptionStatus
    )
    items: tuple[Item, ...] = attrs.field(
        default=(), converter=_tuple_items, validator=_check_items
    )
    currency: Currency | None = attrs.field(default=None, converter=_optional_currency)
    payment_terms: PaymentTerms | None = attrs.field(default=None, converter=optional_payment_terms)

    #: The billing-period grid of this subscription (shared by subscriptions with equal
    #: grids, so that a run compares them by identity).
    grid: Grid = attrs.field(init=False, eq=False, repr=False)
    #: The currencies of the items' prices, each once.
    price_currencies: tuple[Currency, ...] = attrs.field(init=False, eq=False, repr=False)
    #: Whether an item is priced from the others (percentage, minimum fee).
    any_derived: bool = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        self._derive()

    def _derive(self) -> None:
        # Read by every run: computed once, kept in plain slots. Also how a store builds
        # the subscriptions it reads (model._trusted), a million in a run.
        period = self.billing_period
        key = (self.start, period.count, period.unit, self.alignment)
        grid = _GRID_OF.get(key)
        if grid is None:
            grid = Grid.for_subscription(self.start, period, self.alignment)
            grid = _GRIDS.setdefault((grid.anchor, grid.period), grid)
            if len(_GRID_OF) >= _GRID_CACHE:
                _GRID_OF.clear()
            _GRID_OF[key] = grid
        object.__setattr__(self, "grid", grid)
        items = self.items
        first = items[0].price.currency if items else None
        if all(item.price.currency is first for item in items):
            currencies: tuple[Currency, ...] = () if first is None else (first,)
        else:
            currencies = tuple(dict.fromkeys(item.price.currency for item in items))
        object.__setattr__(self, "price_currencies", currencies)
        object.__setattr__(self, "any_derived", any(item.derived for item in items))

    def item_span(self, item: Item) -> Period | None:
        """The item's service range inside the subscription, or ``None`` if empty."""
        start = max(self.start, item.start or self.start)
        ends = [d for d in (self.end, item.end) if d is not None]
        end = min(ends) if ends else date.max
        return Period(start, end) if start < end else None

    def cancel(self, end: date) -> Subscription:
        """A copy of this subscription that ends on *end* (the first day no longer served)."""
        return attrs.evolve(self, end=end)

    def with_item(self, item: Item) -> Subscription:
        """A copy with *item* added, or replacing the item with the same id."""
        items = [i for i in self.items if i.id != item.id]
        position = next((n for n, i in enumerate(self.items) if i.id == item.id), len(items))
        items.insert(position, item)
        return attrs.evolve(self, items=tuple(items))
