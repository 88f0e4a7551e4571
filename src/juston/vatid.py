"""VAT identification numbers, checked with python-stdnum.

An id is checked where it enters juston (an :class:`~juston.Account` or
:class:`~juston.Company` is built), so a run never meets a malformed one.

    >>> vat_id("de 136 695 976")
    'DE136695976'
    >>> vat_id("DE123456789")
    Traceback (most recent call last):
    ...
    juston.errors.InvalidVatId: vat_id: 'DE123456789' fails the check digits for DE
"""

from __future__ import annotations

from stdnum.eu import vat as eu_vat
from stdnum.exceptions import InvalidChecksum, InvalidComponent, InvalidFormat, InvalidLength
from stdnum.exceptions import ValidationError as StdnumError

from .errors import InvalidVatId

__all__ = ["optional_vat_id", "vat_country", "vat_id"]

_REASONS: dict[type[StdnumError], str] = {
    InvalidChecksum: "fails the check digits",
    InvalidFormat: "has the wrong format",
    InvalidLength: "has the wrong length",
    InvalidComponent: "has an unknown country prefix or part",
}


def vat_id(value: object, field: str = "vat_id") -> str:
    """*value* as a compact, valid EU VAT id (country prefix, no spaces); else :class:`InvalidVatId`."""
    if not isinstance(value, str):
        raise InvalidVatId(field, value, "is not a string")
    try:
        return str(eu_vat.validate(value))
    except StdnumError as exc:
        reason = next(
            (text for kind, text in _REASONS.items() if isinstance(exc, kind)), "is invalid"
        )
        raise InvalidVatId(field, value, f"{reason} for {value.strip()[:2].upper()}") from None


def optional_vat_id(value: object) -> str | None:
    """attrs converter: ``None`` or a valid VAT id."""
    return None if value is None else vat_id(value)


def vat_country(value: str) -> str:
    """The ISO country of a valid VAT id (Greece's ``EL`` prefix is ``GR``)."""
    prefix = value[:2].upper()
    return "GR" if prefix == "EL" else prefix
