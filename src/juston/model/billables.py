"""Billables: charges from any record of the host application, billed once.

A :class:`Billable` is one line-to-be: a time entry, an expense, a setup fee. Its
*source* and *key* identify the record it came from; the invoice run bills each
(source, key) once, bills it again only after the document that billed it was
cancelled or its draft deleted, and bills the difference if the record's amount
changed after it was billed. Billables reach a run through the ``juston_billables``
hook (see :class:`juston.BillableMapping` for turning records into billables) or as
ad-hoc charges kept in the store (:func:`juston.add_charge`).

    >>> from datetime import date
    >>> from juston import money
    >>> fee = Billable(source="charge", key="setup-1", account_id="C-1",
    ...                description="Setup fee", unit_price=money(99, "EUR"),
    ...                service_date=date(2026, 3, 1))
    >>> fee.total
    Money('99.00', 'EUR')
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import attrs
from moneyed import Money

from .._fields import (
    as_decimal,
    as_money,
    check_date,
    check_optional_date,
    check_optional_text,
    check_text,
)
from ..errors import ValidationError
from ..periods import Period
from ..rounding import round_amount
from .catalog import Product

__all__ = ["Billable"]


def _quantity(value: object) -> Decimal:
    return as_decimal(value, "quantity")


def _unit_price(value: object) -> Money:
    return as_money(value, "unit_price")


def _check_end(instance: Billable, field: attrs.Attribute[Any], value: date | None) -> None:
    if value is not None and value <= instance.service_date:
        raise ValidationError(
            field.name, value, f"must be after service_date {instance.service_date}"
        )


def _check_source(instance: object, field: attrs.Attribute[Any], value: object) -> None:
    check_text(instance, field, value)
    if isinstance(value, str) and ("/" in value or value.startswith("@")):
        raise ValidationError(field.name, value, "must not contain '/' or start with '@'")


@attrs.frozen(kw_only=True)
class Billable:
    """One charge from a record of the host application.

    The line bills ``quantity × unit_price`` for ``[service_date, service_end)``
    (default: the service day alone), and is due once *service_date* is on or before the
    billing date. Billables with the same *invoice* key (a parent record) get a document
    of their own; the others join the account's document of the run. *unit_code* and
    *tax_class* work as a :class:`~juston.Product`'s.
    """

    source: str = attrs.field(validator=_check_source)
    key: str = attrs.field(validator=check_text)
    account_id: str = attrs.field(validator=check_text)
    description: str = attrs.field(validator=check_text)
    unit_price: Money = attrs.field(converter=_unit_price)
    service_date: date = attrs.field(validator=check_date)
    quantity: Decimal = attrs.field(default=Decimal(1), converter=_quantity)
    service_end: date | None = attrs.field(
        default=None, validator=[check_optional_date, _check_end]
    )
    unit_code: str = attrs.field(default="C62", validator=check_text)
    tax_class: str = attrs.field(default="standard", validator=check_text)
    product_code: str | None = attrs.field(default=None, validator=check_optional_text)
    invoice: str | None = attrs.field(default=None, validator=check_optional_text)

    @property
    def total(self) -> Money:
        """``quantity × unit_price``, rounded to the currency (as its line will be)."""
        code = self.unit_price.currency.code
        return Money(round_amount(self.quantity * self.unit_price.amount, code), code)

    @property
    def period(self) -> Period:
        return Period(self.service_date, self.service_end or self.service_date + timedelta(days=1))

    @property
    def product(self) -> Product:
        """The product its line is taxed and shown as."""
        return Product(
            code=self.product_code or self.source,
            name=self.description,
            unit_code=self.unit_code,
            tax_class=self.tax_class,
        )

    @property
    def term_source(self) -> str:
        """What its terms carry in place of a subscription number."""
        return f"@{self.source}"
