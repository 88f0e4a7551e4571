"""The one place where juston rounds.

Rules (``design.md``):

* Amounts round **commercially half-up** to the currency's minor unit (2 for EUR, 0 for JPY,
  3 for KWD, read from CLDR through babel).
* Unit prices and billing factors may carry up to :data:`PRICE_PLACES` (5) decimals.
* A line total is rounded **once**, from the exact product of price, quantity and
  billing factor; nothing is rounded on the way there.

No other module calls ``Decimal.quantize``; a test enforces that.

    >>> round_amount(Decimal("2.345"), "EUR")
    Decimal('2.35')
    >>> round_amount(Decimal("2.5"), "JPY")
    Decimal('3')
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Context, Decimal, localcontext
from fractions import Fraction
from functools import cache

from babel.numbers import get_currency_precision
from moneyed import Money

from ._enum import Enum

__all__ = [
    "PRICE_PLACES",
    "TaxRounding",
    "allocate",
    "minor_digits",
    "round_amount",
    "round_exact",
    "round_money",
    "round_places",
    "round_price",
    "round_tax",
]

#: Decimals kept for unit prices and billing factors (JustOn keeps 5).
PRICE_PLACES = 5
_PRICE_QUANTUM = Decimal(1).scaleb(-PRICE_PLACES)
# Wide enough that no intermediate product of a billing calculation is ever rounded.
_EXACT = Context(prec=60, rounding=ROUND_HALF_UP)


@cache
def _quantum(currency_code: str) -> Decimal:
    return Decimal(1).scaleb(-minor_digits(currency_code))


@cache
def minor_digits(currency_code: str) -> int:
    """Digits of the currency's minor unit, from CLDR: ``EUR`` → 2, ``JPY`` → 0."""
    return int(get_currency_precision(currency_code))


def round_amount(value: Decimal, currency_code: str) -> Decimal:
    """Round *value* half-up to the minor unit of *currency_code*."""
    return value.quantize(_quantum(currency_code), rounding=ROUND_HALF_UP, context=_EXACT)


#: Usage quantities (and averages of them) keep six decimal places.
QUANTITY_QUANTUM = Decimal("0.000001")


def round_quantity(value: Fraction) -> Decimal:
    """Round an exact quantity (a time-weighted average) half-up to six decimal places."""
    with localcontext(_EXACT):
        exact = Decimal(value.numerator) / Decimal(value.denominator)
    return exact.quantize(QUANTITY_QUANTUM, rounding=ROUND_HALF_UP, context=_EXACT)


def canonical_quantity(value: Decimal) -> Decimal:
    """*value* without trailing zeros and without an exponent (``120``, ``1.5``): the one
    form every store returns a total in.

        >>> canonical_quantity(Decimal("120.000000")), canonical_quantity(Decimal("1.50"))
        (Decimal('120'), Decimal('1.5'))
    """
    value = value.normalize()
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value


def round_exact(value: Fraction, currency_code: str) -> Decimal:
    """Round an exact rational amount half-up to the minor unit of *currency_code*.

    Used for prorated amounts, whose billing factors (17/31, 12/365 …) are not
    finite decimals: the division happens with 60 significant digits first.
    """
    if value.denominator == 1:
        return round_amount(Decimal(value.numerator), currency_code)
    with localcontext(_EXACT):
        exact = Decimal(value.numerator) / Decimal(value.denominator)
    return round_amount(exact, currency_code)


def round_money(value: Money) -> Money:
    """Round a ``Money`` half-up to its currency's minor unit."""
    return Money(round_amount(value.amount, value.currency.code), value.currency)


def round_price(value: Decimal | Fraction) -> Decimal:
    """Round a unit price (or a billing factor) half-up to :data:`PRICE_PLACES` decimals."""
    return round_places(value, PRICE_PLACES)


def round_places(value: Decimal | Fraction, places: int) -> Decimal:
    """Round half-up to *places* decimals (for display values such as factors and rates)."""
    if isinstance(value, Fraction):
        with localcontext(_EXACT):
            value = Decimal(value.numerator) / Decimal(value.denominator)
    quantum = _PRICE_QUANTUM if places == PRICE_PLACES else Decimal(1).scaleb(-places)
    return value.quantize(quantum, rounding=ROUND_HALF_UP, context=_EXACT)


def round_tax(net: Decimal, rate: Decimal, currency_code: str) -> Decimal:
    """The tax of *net* at *rate* percent, rounded half-up to the currency.

    >>> round_tax(Decimal("6.03"), Decimal(19), "EUR")
    Decimal('1.15')
    """
    # Exact: a product of two decimals within 60 digits, then a shift of the exponent.
    exact = _EXACT.multiply(net, rate).scaleb(-2, _EXACT)
    return exact.quantize(_quantum(currency_code), rounding=ROUND_HALF_UP, context=_EXACT)


class TaxRounding(Enum):
    """How a document's VAT is rounded.

    ``LINE`` (JustOn's default): each line's tax is rounded, and the VAT breakdown per
    category is rounded as EN 16931 demands (BR-CO-17); the difference between the two is
    shown as the document's tax delta, so lines plus delta add up to the total.
    ``CATEGORY``: the breakdown decides, and each line shows its share of its category's
    tax, so there is no delta.
    """

    LINE = "line"
    CATEGORY = "category"


def allocate(total: Decimal, weights: Sequence[Decimal], currency_code: str) -> list[Decimal]:
    """Split the rounded *total* in proportion to *weights*; the parts add up exactly.

    Largest remainder: every part is rounded down (towards minus infinity) to the minor
    unit, and the units left over go to the parts that lost most (first ones on ties).

        >>> allocate(Decimal("1.15"), [Decimal("2.07"), Decimal("3.96")], "EUR")
        [Decimal('0.39'), Decimal('0.76')]
    """
    quantum = _quantum(currency_code)
    whole = sum(weights, Decimal(0))
    if not weights:
        return []
    if not whole:  # nothing to share by: the last part takes it all
        return [Decimal(0).quantize(quantum)] * (len(weights) - 1) + [total]
    exact = [_EXACT.divide(_EXACT.multiply(total, w), whole) for w in weights]
    parts = [e.quantize(quantum, rounding=ROUND_FLOOR, context=_EXACT) for e in exact]
    left = int(_EXACT.divide(total - sum(parts, Decimal(0)), quantum))
    by_rest = sorted(range(len(parts)), key=lambda i: parts[i] - exact[i])
    for i in by_rest[:left]:
        parts[i] += quantum
    return parts
