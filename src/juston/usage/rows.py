"""Usage rows: a stored usage record as plain values, the form stores write in bulk.

A :data:`UsageRow` holds everything a :class:`~juston.model.usage.StoredUsage` holds, as
a tuple of text and integers: no objects to build per record, and the values a SQL
store writes as they are. :func:`usage_row` and :func:`stored_usage` convert exactly
(exponents, offsets, the item reference as given: :func:`stored_usage` gives back an
equal record with the same decimal exponents).

=====  =====================  ==============================================================
 #      field                   value
=====  =====================  ==============================================================
 0      id                      the record's id
 1      item                    ``(account id, subscription number, item id)``
 2      period_start            the billing period's first day, as ``date.toordinal()``
 3      day                     the billing day (local date), as ``date.toordinal()``
 4      at                      the instant, in microseconds since 1970-01-01 00:00 UTC
 5      quantity                the quantity in millionths (``QUANTITY_PLACES``)
 6      unit_price              the record's unit price without trailing zeros, ``""`` if none
 7      criterion               ``""`` if none (a criterion is never empty)
 8      invoice_criterion       ``""`` if none
 9      properties              JSON object of the properties (the first value of a name), or
                                ``None`` if there are none
 10     rest                    JSON object of what the other fields do not give back (the
                                item reference unless it is ``SUBSCRIPTION/ITEM``, the UTC
                                offset, a quantity's or price's own exponent, the currency,
                                repeated property names), or ``None`` if nothing
=====  =====================  ==============================================================

    >>> from datetime import date, datetime, timezone
    >>> from juston.model.usage import StoredUsage, UsageRecord
    >>> record = UsageRecord(id="r1", item="S-1/api", quantity=120,
    ...                      timestamp=datetime(2026, 1, 5, 9, 30, tzinfo=timezone.utc))
    >>> stored = StoredUsage(record=record, account_id="C1", subscription="S-1",
    ...                      item_id="api", day=date(2026, 1, 5), period_start=date(2026, 1, 1))
    >>> row = usage_row(stored)
    >>> row[5], row[10]
    (120000000, None)
    >>> stored_usage(row) == stored
    True
"""

from __future__ import annotations

import decimal
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import orjson
from moneyed import Money

from ..errors import ValidationError
from ..model.usage import QUANTITY_PLACES, StoredUsage, UsageRecord
from ..money import currency
from ..rounding import canonical_quantity

__all__ = [
    "EPOCH_ORDINAL",
    "MAX_QUANTITY",
    "PlainRow",
    "UsageRow",
    "day_key",
    "price_text",
    "quantity_text",
    "stored_usage",
    "usage_row",
]

#: ``(id, (account id, subscription, item id), period start, day, at, quantity, unit price,
#: criterion, invoice criterion, properties, rest)``: see the module's table.
UsageRow = tuple[
    str, tuple[str, str, str], int, int, int, int, str, str, str, str | None, str | None
]

#: A usage row without unit price, criteria, properties or rest (the most common kind):
#: ``(day key, id, at, quantity)``, the day key (:func:`day_key`) giving its item (as a
#: number), period start and day. Bulk ingestion checks plain input rows into these and
#: adds them up and stores them without making a :data:`UsageRow` first.
PlainRow = tuple[int, str, int, int]

#: ``date(1970, 1, 1).toordinal()``: day numbers of instants count from it.
EPOCH_ORDINAL = 719163
#: The largest quantity a store holds, in millionths (a signed 64-bit integer).
MAX_QUANTITY = 2**63 - 1

_MILLION = 10**QUANTITY_PLACES
# Whatever context the caller set: quantities (at most 20 digits) stay exact.
_EXACT = decimal.Context(prec=60)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def day_key(item: int, period_start: int, day: int) -> int:
    """Item number, period start and day (ordinals, below 2**22) as one integer.

    >>> day_key(3, 739617, 739621) >> 44, day_key(3, 739617, 739621) & (2**22 - 1)
    (3, 739621)
    """
    return (item << 44) | (period_start << 22) | day


def quantity_text(micros: int) -> Decimal:
    """The quantity of *micros* millionths, without trailing zeros (``1.5``, ``120``)."""
    if micros % _MILLION == 0:
        return Decimal(micros // _MILLION)
    return canonical_quantity(_EXACT.scaleb(Decimal(micros), -QUANTITY_PLACES))


def price_text(amount: Decimal) -> str:
    """A unit price as one text per value: ``0.10`` and ``0.1`` are the same price."""
    return str(canonical_quantity(amount) if amount else Decimal(0))


def micros_of(quantity: Decimal, record_id: str) -> int:
    """*quantity* (at most ``QUANTITY_PLACES`` places) in millionths, exactly."""
    micros = int(_EXACT.scaleb(quantity, QUANTITY_PLACES))
    if micros > MAX_QUANTITY:
        raise ValidationError(
            "quantity", quantity, f"is more than a store holds (record {record_id!r})"
        )
    return micros


def usage_row(stored: StoredUsage) -> UsageRow:
    """*stored* as a :data:`UsageRow`; ValidationError if its quantity is too large."""
    record = stored.record
    rest: dict[str, Any] = {}
    quantity = record.quantity
    micros = micros_of(quantity, record.id)
    if str(quantity) != str(quantity_text(micros)):
        rest["quantity"] = str(quantity)
    if record.item != f"{stored.subscription}/{stored.item_id}":
        rest["item"] = record.item
    timestamp = record.timestamp
    offset = timestamp.utcoffset()
    if offset:
        rest["offset"] = offset // _MICROSECOND
    price = record.unit_price
    unit_price = ""
    if price is not None:
        unit_price = price_text(price.amount)
        rest["currency"] = price.currency.code
        if str(price.amount) != unit_price:
            rest["unit_price"] = str(price.amount)
    properties = None
    if record.properties:
        names: dict[str, str] = {}
        for name, value in record.properties:
            names.setdefault(name, value)  # the first, as UsageRecord.property() finds it
        properties = orjson.dumps(names).decode()
        if len(names) != len(record.properties):
            rest["properties"] = record.properties
    return (
        record.id,
        (stored.account_id, stored.subscription, stored.item_id),
        stored.period_start.toordinal(),
        stored.day.toordinal(),
        (timestamp - _EPOCH) // _MICROSECOND,
        micros,
        unit_price,
        record.criterion or "",
        record.invoice_criterion or "",
        properties,
        orjson.dumps(rest).decode() if rest else None,
    )


def stored_usage(row: UsageRow | tuple[Any, ...]) -> StoredUsage:
    """The :class:`StoredUsage` a :data:`UsageRow` holds (the inverse of :func:`usage_row`)."""
    (
        record_id,
        (account_id, subscription, item_id),
        period_start,
        day,
        at,
        micros,
        unit_price,
        criterion,
        invoice_criterion,
        properties,
        rest_text,
    ) = row
    rest: dict[str, Any] = orjson.loads(rest_text) if rest_text else {}
    timestamp = _EPOCH + timedelta(microseconds=at)
    if "offset" in rest:
        timestamp = timestamp.astimezone(timezone(timedelta(microseconds=rest["offset"])))
    price = None
    if unit_price:
        code = currency(rest["currency"])
        price = Money(Decimal(rest.get("unit_price", unit_price)), code)
    pairs: Any = ()
    if "properties" in rest:
        pairs = tuple((name, value) for name, value in rest["properties"])
    elif properties:
        pairs = orjson.loads(properties)
    quantity = Decimal(rest["quantity"]) if "quantity" in rest else quantity_text(micros)
    record = UsageRecord(
        id=record_id,
        item=rest.get("item", f"{subscription}/{item_id}"),
        timestamp=timestamp,
        quantity=quantity,
        unit_price=price,
        criterion=criterion or None,
        invoice_criterion=invoice_criterion or None,
        properties=pairs,
    )
    return stored_at(record, (account_id, subscription, item_id), day, period_start)


def stored_at(
    record: UsageRecord, key: tuple[str, str, str], day: int, period_start: int
) -> StoredUsage:
    """*record* stored for the item *key* (account, subscription, item id) on *day* of the
    period from *period_start* (both ordinals)."""
    account_id, subscription, item_id = key
    return StoredUsage(
        record=record,
        account_id=account_id,
        subscription=subscription,
        item_id=item_id,
        day=date.fromordinal(day),
        period_start=date.fromordinal(period_start),
    )
