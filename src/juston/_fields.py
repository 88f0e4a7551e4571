"""attrs field helpers whose conversions and checks name the field and the value."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import attrs

from .errors import ValidationError
from .money import Money, decimal, money


def as_decimal(value: object, name: str) -> Decimal:
    """Converter body: *value* as a Decimal, errors naming field *name*."""
    return decimal(value, field=name)


def as_optional_decimal(value: object, name: str) -> Decimal | None:
    return None if value is None else decimal(value, field=name)


def as_money(value: object, name: str) -> Money:
    """Converter body: *value* must already be Money (no currency can be guessed)."""
    if not isinstance(value, Money):
        raise ValidationError(name, value, "is not Money; use juston.money(amount, currency)")
    return money(value, field=name)


def as_optional_money(value: object, name: str) -> Money | None:
    return None if value is None else as_money(value, name)


def as_tuple(value: object, name: str) -> tuple[Any, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise ValidationError(name, value, "is not a sequence")
    return tuple(value)


def check_date(instance: object, field: attrs.Attribute[Any], value: object) -> None:
    """Validator: a ``datetime.date`` (not a datetime, not a string)."""
    if not isinstance(value, date) or isinstance(value, datetime):
        raise ValidationError(field.name, value, "is not a datetime.date")


def check_optional_date(instance: object, field: attrs.Attribute[Any], value: object) -> None:
    if value is not None:
        check_date(instance, field, value)


def check_text(instance: object, field: attrs.Attribute[Any], value: object) -> None:
    """Validator: a non-empty string."""
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(field.name, value, "must be a non-empty string")


def check_optional_text(instance: object, field: attrs.Attribute[Any], value: object) -> None:
    """Validator: ``None`` or a non-empty string."""
    if value is not None:
        check_text(instance, field, value)


def check_ge_zero(instance: object, field: attrs.Attribute[Any], value: Decimal) -> None:
    if value < 0:
        raise ValidationError(field.name, value, "must not be negative")


def check_gt_zero(instance: object, field: attrs.Attribute[Any], value: Decimal) -> None:
    if value <= 0:
        raise ValidationError(field.name, value, "must be greater than zero")


def check_instance(
    kind: type | tuple[type, ...],
) -> Callable[[object, attrs.Attribute[Any], object], None]:
    """Validator: an instance of *kind*, with a message that names the field."""
    names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)

    def check(instance: object, field: attrs.Attribute[Any], value: object) -> None:
        if not isinstance(value, kind):
            raise ValidationError(field.name, value, f"is not a {names}")

    return check


def check_optional_instance(
    kind: type | tuple[type, ...],
) -> Callable[[object, attrs.Attribute[Any], object], None]:
    check = check_instance(kind)

    def optional(instance: object, field: attrs.Attribute[Any], value: object) -> None:
        if value is not None:
            check(instance, field, value)

    return optional
