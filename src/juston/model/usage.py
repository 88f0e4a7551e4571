"""Usage records and the metrics that aggregate them.

A :class:`UsageRecord` is one measured fact: "order ``S-1/api`` used 120 units at
09:14 UTC". Its ``id`` is its identity: a record whose id is already stored is a
duplicate and is never counted twice. Records reach the store through
:func:`juston.usage.ingest_usage`, which resolves the item they belong to and the local
billing day they count for, and become :class:`StoredUsage` rows.

A usage item (``Item(billing_type="usage", metric=Metric(...))``) bills, for each
period of its subscription, the aggregate of its records rated through its price model.

    >>> from datetime import datetime, timezone
    >>> record = UsageRecord(id="r-1", item="S-1/api", quantity="120",
    ...                      timestamp=datetime(2026, 3, 2, 9, 14, tzinfo=timezone.utc))
    >>> record.quantity
    Decimal('120')
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import attrs
from moneyed import Money

from .._enum import Enum
from .._fields import as_decimal, as_optional_money, check_optional_text, check_text
from ..errors import ValidationError
from ..rounding import canonical_quantity

__all__ = [
    "QUANTITY_PLACES",
    "Aggregation",
    "LatePolicy",
    "Metric",
    "StoredUsage",
    "UsageQuery",
    "UsageRecord",
    "UsageTotal",
    "canonical_quantity",
]

#: Usage quantities carry at most this many decimal places: stores sum them exactly as
#: integers of 10⁻⁶ units (SQLite has no exact decimal sum).
QUANTITY_PLACES = 6


class Aggregation(Enum):
    """How the records of one period make the quantity that is rated."""

    #: The sum of the quantities (API calls, gigabytes transferred).
    SUM = "sum"
    #: How many records there are (quantities ignored).
    COUNT = "count"
    #: The largest quantity (peak storage).
    MAX = "max"
    #: How many distinct values the record property :attr:`Metric.property` takes (active users).
    UNIQUE_COUNT = "unique_count"
    #: The quantity of the latest record (a meter reading).
    LATEST = "latest"
    #: A gauge (seats): each record sets the value from its day on; the period's quantity
    #: is the average over the period's days, a day counting with its last value.
    TIME_WEIGHTED = "time_weighted"


class LatePolicy(Enum):
    """What happens to a record for a period that was already invoiced."""

    #: Bill the difference on the next invoice, as a line for the original period.
    CORRECT = "correct"
    #: Reject the record at ingestion, with the reason.
    REJECT = "reject"


def _minimum(value: object) -> Money | None:
    return as_optional_money(value, "minimum")


def _optional_tier_quantity(value: object) -> Decimal | None:
    return None if value is None else as_decimal(value, "tier_quantity")


@attrs.frozen(kw_only=True, cache_hash=True)
class Metric:
    """How a usage item measures and bills its records.

    *minimum* is a commitment per period: when the period's usage charges stay below it,
    a true-up line bills the shortfall. *tier_quantity*, if given, selects the tier of a
    volume price (all units at the rate of the tier it reaches), whatever the usage.

        >>> Metric(aggregation="unique_count", property="user").aggregation
        <Aggregation.UNIQUE_COUNT: 'unique_count'>
    """

    aggregation: Aggregation = attrs.field(default=Aggregation.SUM, converter=Aggregation)
    property: str | None = attrs.field(default=None, validator=check_optional_text)
    late: LatePolicy = attrs.field(default=LatePolicy.CORRECT, converter=LatePolicy)
    minimum: Money | None = attrs.field(default=None, converter=_minimum)
    tier_quantity: Decimal | None = attrs.field(default=None, converter=_optional_tier_quantity)

    def __attrs_post_init__(self) -> None:
        if (self.aggregation is Aggregation.UNIQUE_COUNT) != (self.property is not None):
            raise ValidationError(
                "property",
                self.property,
                "is required by unique_count and used by no other aggregation",
            )
        if self.minimum is not None and self.minimum.amount <= 0:
            raise ValidationError("minimum", self.minimum, "must be above zero")


def _quantity(value: object) -> Decimal:
    # Whole numbers (most usage) need no conversion checks: one record in millions.
    quantity = Decimal(value) if type(value) is int else as_decimal(value, "quantity")
    if quantity < 0:
        raise ValidationError("quantity", quantity, "must not be negative")
    exponent = quantity.as_tuple().exponent
    if (
        isinstance(exponent, int)
        and exponent < -QUANTITY_PLACES
        and quantity != round(quantity, QUANTITY_PLACES)
    ):
        raise ValidationError(
            "quantity", quantity, f"has more than {QUANTITY_PLACES} decimal places"
        )
    return quantity


def _check_timestamp(instance: object, field: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, datetime):
        raise ValidationError(field.name, value, "is not a datetime")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError(
            field.name, value, "has no time zone; give an aware datetime (e.g. with +00:00)"
        )


def _unit_price(value: object) -> Money | None:
    return as_optional_money(value, "unit_price")


def _properties(value: object) -> tuple[tuple[str, str], ...]:
    pairs: Iterable[tuple[object, object]]
    if isinstance(value, Mapping):
        pairs = value.items()
    elif isinstance(value, tuple):
        pairs = value
    else:
        raise ValidationError("properties", value, "is not a mapping of names to text")
    result = []
    for name, text in pairs:
        if not isinstance(name, str) or not isinstance(text, str):
            raise ValidationError("properties", value, "must map text names to text values")
        result.append((name, text))
    return tuple(sorted(result))


@attrs.frozen(kw_only=True)
class UsageRecord:
    """One usage fact, as the host application reports it.

    *item* names the subscription item: its ``order_number`` or ``"SUBSCRIPTION/ITEM"``.
    *unit_price*, if given, prices this record instead of the item's price model (records
    with the same price are aggregated together). *criterion* splits the invoice lines of
    an item, *invoice_criterion* its invoices. *properties* are free text, used by
    :attr:`Aggregation.UNIQUE_COUNT`.
    """

    id: str = attrs.field(validator=check_text)
    item: str = attrs.field(validator=check_text)
    timestamp: datetime = attrs.field(validator=_check_timestamp)
    quantity: Decimal = attrs.field(default=Decimal(1), converter=_quantity)
    unit_price: Money | None = attrs.field(default=None, converter=_unit_price)
    criterion: str | None = attrs.field(default=None, validator=check_optional_text)
    invoice_criterion: str | None = attrs.field(default=None, validator=check_optional_text)
    properties: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=_properties)

    def property(self, name: str) -> str | None:
        """The value of property *name*, or ``None``."""
        for key, value in self.properties:
            if key == name:
                return value
        return None


@attrs.frozen(kw_only=True)
class StoredUsage:
    """A record as the store keeps it: resolved to its item, billing day and period.

    *day* is the record's local date in the account's billing time zone; *period_start*
    the start of the subscription's billing period that contains it.
    """

    record: UsageRecord
    account_id: str
    subscription: str
    item_id: str
    day: date
    period_start: date

    @property
    def id(self) -> str:
        return self.record.id


@attrs.frozen(kw_only=True)
class UsageTotal:
    """The aggregate of one group of records: what a store's :meth:`usage_totals` returns.

    A group is the records of one item and billing period with the same criterion,
    invoice criterion and record unit price. For :attr:`Aggregation.TIME_WEIGHTED` a
    total is one day's last value (*day* set); the core weighs the days.
    """

    account_id: str
    subscription: str
    item_id: str
    period_start: date
    criterion: str | None
    invoice_criterion: str | None
    unit_price: Decimal | None
    quantity: Decimal
    records: int
    day: date | None = None

    @property
    def group(self) -> tuple[str | None, str | None]:
        return (self.criterion, self.invoice_criterion)


@attrs.frozen
class UsageQuery:
    """Which totals a run asks a store for: one usage item and how it aggregates."""

    account_id: str
    subscription: str
    item_id: str
    aggregation: Aggregation
    property: str | None = None
