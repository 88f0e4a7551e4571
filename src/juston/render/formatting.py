"""Locale formatting for documents: money, unit prices, quantities, rates, dates, units.

Plain functions over babel, each with a keyword *locale* (a babel ``Locale`` or a language
tag such as ``de``, ``de-AT`` or ``en_GB``; an unknown one formats as English). The templates
use them as filters (``{{ line.net | money }}``) with the locale of the document.

Rendering only presents: amounts arrive rounded by the core and are shown as they are.
Babel would round an amount with more decimals than its currency half-even, so
:func:`format_money` refuses one instead; unit prices keep every decimal they have (up to the
five the core allows) and are never rounded.

    >>> from decimal import Decimal
    >>> from moneyed import Money
    >>> format_money(Money("1234.50", "EUR"), locale="de").replace("\\xa0", " ")
    '1.234,50 €'
    >>> format_money(Money("1234.50", "EUR"), locale="en")
    '€1,234.50'
    >>> format_unit_price(Money("0.12345", "EUR"), locale="en")
    '€0.12345'
    >>> format_percent(Decimal("7.7"), locale="de").replace("\\xa0", " ")
    '7,7 %'
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import date
from decimal import Decimal

from babel import Locale, UnknownLocaleError
from babel.dates import format_date as babel_format_date
from babel.dates import format_interval
from babel.numbers import format_currency, format_decimal
from babel.numbers import format_percent as babel_format_percent
from moneyed import Money

from ..errors import RenderError
from ..model.parties import Address
from ..periods import Period
from ..rounding import canonical_quantity, minor_digits

__all__ = [
    "UNIT_NAMES",
    "address_lines",
    "format_country",
    "format_date",
    "format_decimal_plain",
    "format_iban",
    "format_money",
    "format_percent",
    "format_period",
    "format_quantity",
    "format_unit",
    "format_unit_price",
    "locale_for",
]

LocaleLike = Locale | str

#: Names of the UN/ECE Recommendation 20 unit codes documents use, per language:
#: ``(singular, plural)``. A code not listed is printed as it is.
UNIT_NAMES: Mapping[str, Mapping[str, tuple[str, str]]] = {
    "en": {
        "C62": ("unit", "units"),
        "H87": ("piece", "pieces"),
        "EA": ("each", "each"),
        "XPP": ("piece", "pieces"),
        "LS": ("lump sum", "lump sum"),
        "SEC": ("second", "seconds"),
        "MIN": ("minute", "minutes"),
        "HUR": ("hour", "hours"),
        "DAY": ("day", "days"),
        "WEE": ("week", "weeks"),
        "MON": ("month", "months"),
        "QAN": ("quarter", "quarters"),
        "ANN": ("year", "years"),
        "E34": ("GB", "GB"),
        "E35": ("TB", "TB"),
        "4L": ("MB", "MB"),
        "KWH": ("kWh", "kWh"),
        "MTR": ("m", "m"),
        "KMT": ("km", "km"),
        "KGM": ("kg", "kg"),
        "LTR": ("l", "l"),
        "P1": ("%", "%"),
    },
    "de": {
        "C62": ("Stk.", "Stk."),
        "H87": ("Stück", "Stück"),
        "EA": ("Stk.", "Stk."),
        "XPP": ("Stück", "Stück"),
        "LS": ("pauschal", "pauschal"),
        "SEC": ("Sek.", "Sek."),
        "MIN": ("Min.", "Min."),
        "HUR": ("Std.", "Std."),
        "DAY": ("Tag", "Tage"),
        "WEE": ("Woche", "Wochen"),
        "MON": ("Monat", "Monate"),
        "QAN": ("Quartal", "Quartale"),
        "ANN": ("Jahr", "Jahre"),
        "E34": ("GB", "GB"),
        "E35": ("TB", "TB"),
        "4L": ("MB", "MB"),
        "KWH": ("kWh", "kWh"),
        "MTR": ("m", "m"),
        "KMT": ("km", "km"),
        "KGM": ("kg", "kg"),
        "LTR": ("l", "l"),
        "P1": ("%", "%"),
    },
}

# Countries that write the postcode after the city (and the region before it).
_CITY_FIRST = frozenset({"US", "CA", "AU", "GB", "IE"})


@functools.lru_cache(maxsize=64)
def _parse(tag: str) -> Locale:
    try:
        return Locale.parse(tag.replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError):
        return Locale.parse("en")


def locale_for(locale: LocaleLike) -> Locale:
    """The babel ``Locale`` for a language tag (``de``, ``de-AT``, ``en_GB``); English for
    one babel does not know.

        >>> str(locale_for("de-AT")), str(locale_for("xx"))
        ('de_AT', 'en')
    """
    return locale if isinstance(locale, Locale) else _parse(str(locale))


def _places(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def format_money(value: Money, *, locale: LocaleLike) -> str:
    """An amount with its currency, as the locale writes it.

    The amount must already be rounded to its currency's minor unit (the core rounds every
    amount on a document); one with more decimals is a :class:`~juston.errors.RenderError`.

        >>> format_money(Money("-49", "CHF"), locale="de_CH")
        'CHF-49.00'
        >>> format_money(Money("2.345", "EUR"), locale="en")
        Traceback (most recent call last):
        ...
        juston.errors.RenderError: amount 2.345 EUR has more decimals than EUR has (2): documents only show amounts the core has rounded
    """
    amount, code = value.amount, value.currency.code
    digits = minor_digits(code)
    if _places(amount) > digits:
        raise RenderError(
            f"amount {amount} {code} has more decimals than {code} has ({digits}): "
            "documents only show amounts the core has rounded"
        )
    return format_currency(amount, code, locale=locale_for(locale), decimal_quantization=False)


def format_unit_price(value: Money, *, locale: LocaleLike) -> str:
    """A unit price: at least the currency's decimals, and every further decimal it has
    (unit prices carry up to five); never rounded.

        >>> format_unit_price(Money("84.240", "EUR"), locale="en")
        '€84.24'
        >>> format_unit_price(Money("2.5", "EUR"), locale="de").replace("\\xa0", " ")
        '2,50 €'
    """
    return format_currency(
        value.amount, value.currency.code, locale=locale_for(locale), decimal_quantization=False
    )


def format_quantity(value: Decimal, *, locale: LocaleLike) -> str:
    """A quantity without trailing zeros, with the locale's separators.

    >>> format_quantity(Decimal("1234.500000"), locale="de")
    '1.234,5'
    """
    return format_decimal(
        canonical_quantity(value), locale=locale_for(locale), decimal_quantization=False
    )


def format_decimal_plain(value: Decimal, *, locale: LocaleLike) -> str:
    """A factor or other plain number, all its decimals but no trailing zeros.

    >>> format_decimal_plain(Decimal("0.54839"), locale="de")
    '0,54839'
    """
    return format_quantity(value, locale=locale)


def format_percent(rate: Decimal, *, locale: LocaleLike) -> str:
    """A rate given in percent (``19`` for 19 %), as the locale writes percentages.

    >>> format_percent(Decimal(19), locale="en")
    '19%'
    """
    return babel_format_percent(
        canonical_quantity(rate) / 100, locale=locale_for(locale), decimal_quantization=False
    )


def format_date(value: date, *, locale: LocaleLike, format: str = "medium") -> str:
    """A date in the locale's *format* (``short``, ``medium``, ``long`` or a pattern).

    >>> format_date(date(2026, 2, 1), locale="de"), format_date(date(2026, 2, 1), locale="en")
    ('01.02.2026', 'Feb 1, 2026')
    """
    return babel_format_date(value, format=format, locale=locale_for(locale))


def format_period(value: Period, *, locale: LocaleLike) -> str:
    """A half-open period ``[start, end)`` as the days it covers, first to last.

    >>> format_period(Period(date(2026, 1, 1), date(2026, 2, 1)), locale="en")
    'Jan 1\u2009–\u200931, 2026'
    >>> format_period(Period(date(2026, 1, 10), date(2026, 1, 11)), locale="de")
    '10.01.2026'
    """
    first, last = value.start, value.last_day
    loc = locale_for(locale)
    if first == last:
        return babel_format_date(first, format="medium", locale=loc)
    return str(format_interval(first, last, "yMMMd", locale=loc))


def format_unit(code: str, *, locale: LocaleLike, quantity: Decimal | None = None) -> str:
    """The name of a UN/ECE Rec 20 unit code in the locale's language (singular for a
    quantity of one, plural otherwise); an unknown code as it is.

        >>> format_unit("HUR", locale="de"), format_unit("MON", locale="en", quantity=Decimal(3))
        ('Std.', 'months')
        >>> format_unit("XYZ", locale="en")
        'XYZ'
    """
    loc = locale_for(locale)
    names = UNIT_NAMES.get(loc.language) or UNIT_NAMES["en"]
    singular, plural = names.get(code, (code, code))
    return singular if quantity is None or abs(quantity) == 1 else plural


def format_iban(iban: str) -> str:
    """An IBAN in groups of four, as it is printed.

    >>> format_iban("DE02120300000000202051")
    'DE02 1203 0000 0000 2020 51'
    """
    compact = "".join(iban.split()).upper()
    return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))


def format_country(code: str, *, locale: LocaleLike) -> str:
    """The name of an ISO 3166 country in the locale's language.

    >>> format_country("CH", locale="de"), format_country("CH", locale="en")
    ('Schweiz', 'Switzerland')
    """
    return str(locale_for(locale).territories.get(code, code))


def address_lines(
    address: Address, *, locale: LocaleLike, home_country: str | None = None
) -> tuple[str, ...]:
    """The lines of a postal address as printed on a letter sent from *home_country*: the
    country's name (in capitals, as the postal services ask) only for mail abroad.

        >>> a = Address(street="1 Main St", postcode="10001", city="New York", country="US",
        ...             region="NY")
        >>> address_lines(a, locale="de", home_country="DE")
        ('1 Main St', 'New York, NY 10001', 'VEREINIGTE STAATEN')
    """
    if address.country in _CITY_FIRST:
        city = f"{address.city}, {address.region}" if address.region else address.city
        place = f"{city} {address.postcode}"
        lines = [address.street, address.line2, place]
    else:
        lines = [address.street, address.line2, f"{address.postcode} {address.city}"]
        if address.region:
            lines.append(address.region)
    if address.country != home_country:
        lines.append(format_country(address.country, locale=locale).upper())
    return tuple(line for line in lines if line)
