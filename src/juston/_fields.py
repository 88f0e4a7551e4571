"""attrs field helpers whose conversions and checks name the field and the value."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import attrs

from .errors import ValidationError
from .money import Money, decimal, money


def _to_decimal(value: object, self_: object, field: attrs.Attribute[Any]) -> Decimal:
    return decimal(value, field=field.name)


def _to_optional_decimal(value: object, self_: object, field: attrs.Attribute[Any]) -> Decimal | None:
    return None if value is None else decimal(value, field=field.name)


def _to_money(value: object, self_: object, field: attrs.Attribute[Any]) -> Money:
    if not isinstance(value, Money):
        raise ValidationError(field.name, value, "is not Money; use juston.money(amount, currency)")
    return money(value, field=field.name)


def _to_optional_money(value: object, self_: object, field: attrs.Attribute[Any]) -> Money | None:
    return None if value is None else _to_money(value, self_, field)


def _to_tuple(value: object, self_: object, field: attrs.Attribute[Any]) -> tuple[Any, ...]:
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise ValidationError(field.name, value, "is not a sequence")
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


def check_ge_zero(instance: object, field: attrs.Attribute[Any], value: Decimal) -> None:
    if value < 0:
        raise ValidationError(field.name, value, "must not be negative")


def check_gt_zero(instance: object, field: attrs.Attribute[Any], value: Decimal) -> None:
    if value <= 0:
        raise ValidationError(field.name, value, "must be greater than zero")


def check_instance(kind: type | tuple[type, ...]) -> Callable[[object, attrs.Attribute[Any], object], None]:
    """Validator: an instance of *kind*, with a message that names the field."""
    names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)

    def check(instance: object, field: attrs.Attribute[Any], value: object) -> None:
        if not isinstance(value, kind):
            raise ValidationError(field.name, value, f"is not a {names}")

    return check


def check_optional_instance(kind: type | tuple[type, ...]) -> Callable[[object, attrs.Attribute[Any], object], None]:
    check = check_instance(kind)

    def optional(instance: object, field: attrs.Attribute[Any], value: object) -> None:
        if value is not None:
            check(instance, field, value)

    return optional


to_decimal = attrs.Converter(_to_decimal, takes_self=True, takes_field=True)  # type: ignore[misc,call-overload]
to_optional_decimal = attrs.Converter(_to_optional_decimal, takes_self=True, takes_field=True)  # type: ignore[misc,call-overload]
to_money = attrs.Converter(_to_money, takes_self=True, takes_field=True)  # type: ignore[misc,call-overload]
to_optional_money = attrs.Converter(_to_optional_money, takes_self=True, takes_field=True)  # type: ignore[misc,call-overload]
to_tuple = attrs.Converter(_to_tuple, takes_self=True, takes_field=True)  # type: ignore[misc,call-overload]
