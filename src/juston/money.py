"""Money and decimal constructors that refuse floats.

Amounts are :class:`moneyed.Money`; quantities and rates are :class:`~decimal.Decimal`.
Every value that enters juston from outside passes through :func:`money` or :func:`decimal`,
which accept ``Decimal``, ``int`` and ``str`` and reject ``float`` with a clear error.

    >>> money("19.99", "EUR")
    Money('19.99', 'EUR')
    >>> decimal("2.5", field="quantity")
    Decimal('2.5')
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import TypeAlias

from moneyed import Currency, Money, get_currency

from .errors import CurrencyMismatch, FloatNotAllowed, ValidationError

__all__ = ["Currency", "Money", "NumberLike", "currency", "decimal", "money", "same_currency"]

NumberLike: TypeAlias = Decimal | int | str
ZERO = Decimal(0)
ONE = Decimal(1)
HUNDRED = Decimal(100)


def decimal(value: object, *, field: str = "value") -> Decimal:
    """Return *value* as a ``Decimal``; floats and junk raise an error naming *field*.

    >>> decimal(3)
    Decimal('3')
    """
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValidationError(field, value, "is not a finite number")
        return value
    if isinstance(value, bool):
        raise ValidationError(field, value, "is a bool, not a number")
    if isinstance(value, float):
        raise FloatNotAllowed(field, value)
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            raise ValidationError(field, value, "is not a number") from None
        if not result.is_finite():
            raise ValidationError(field, value, "is not a finite number")
        return result
    raise ValidationError(field, value, "is not a number (Decimal, int or str)")


def currency(code: object, *, field: str = "currency") -> Currency:
    """Return the :class:`moneyed.Currency` for an ISO 4217 code (or a Currency).

    >>> currency("eur").code
    'EUR'
    """
    if isinstance(code, Currency):
        return code
    if not isinstance(code, str) or len(code.strip()) != 3:
        raise ValidationError(field, code, "is not an ISO 4217 currency code")
    try:
        return get_currency(code.strip().upper())
    except Exception:  # moneyed raises its own CurrencyDoesNotExist
        raise ValidationError(field, code, "is not an ISO 4217 currency code") from None


def money(amount: object, currency_code: object | None = None, *, field: str = "amount") -> Money:
    """Build a ``Money`` from an amount and a currency code; a float is an error.

    A ``Money`` passed as *amount* is returned unchanged (its currency must match
    *currency_code* when that is given).

        >>> money(10, "EUR")
        Money('10', 'EUR')
    """
    if isinstance(amount, Money):
        if currency_code is not None and amount.currency != currency(currency_code):
            raise CurrencyMismatch(field, amount, f"is not in {currency(currency_code).code}")
        return amount
    if currency_code is None:
        raise ValidationError(field, amount, "needs a currency")
    return Money(decimal(amount, field=field), currency(currency_code))


def same_currency(values: tuple[Money, ...] | list[Money], *, field: str) -> Currency:
    """Return the one currency shared by *values*; mixing currencies is an error."""
    first = values[0].currency
    for value in values[1:]:
        if value.currency != first:
            raise CurrencyMismatch(field, value, f"mixes {value.currency.code} with {first.code}")
    return first
