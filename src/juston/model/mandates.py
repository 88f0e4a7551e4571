"""SEPA direct-debit mandates: the customer's permission to collect from an IBAN.

IBAN and BIC are checked with schwifty (country format, check digits, BIC structure)
and kept in their compact form.

    >>> from datetime import date
    >>> m = Mandate(reference="M-0001", account_id="C-1", iban="DE89 3704 0044 0532 0130 00",
    ...             signed_on=date(2026, 1, 5))
    >>> m.iban, m.bic
    ('DE89370400440532013000', 'COBADEFFXXX')
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import attrs
from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException

from .._enum import Enum
from .._fields import check_date, check_optional_date, check_text
from ..errors import ValidationError

__all__ = ["Mandate", "Scheme", "iban", "optional_bic", "sepa_id"]

# The SEPA character set of identifiers (EPC rulebook): Latin letters, digits and + ? / - : ( ) . , '
_SEPA_ID = re.compile(r"[A-Za-z0-9+?/\-:().,' ]{1,35}")


class Scheme(Enum):
    """SEPA direct-debit scheme: CORE (anyone) or B2B (businesses, no refund right)."""

    CORE = "CORE"
    B2B = "B2B"


def iban(value: object, *, field: str = "iban") -> str:
    """*value* as a compact, valid IBAN; ValidationError naming *field* otherwise."""
    if not isinstance(value, str):
        raise ValidationError(field, value, "is not an IBAN")
    try:
        return str(IBAN(value).compact)
    except SchwiftyException as exc:
        raise ValidationError(field, value, f"is not a valid IBAN ({exc})") from None


def optional_bic(value: object, *, field: str = "bic") -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError(field, value, "is not a BIC")
    try:
        return str(BIC(value).compact)
    except SchwiftyException as exc:
        raise ValidationError(field, value, f"is not a valid BIC ({exc})") from None


def sepa_id(value: object, *, field: str) -> str:
    """*value* if it can be a SEPA identifier (mandate reference, message id, end-to-end
    id); ValidationError naming *field* otherwise."""
    if not isinstance(value, str) or not _SEPA_ID.fullmatch(value):
        raise ValidationError(
            field, value, "must be 1-35 characters of the SEPA set (letters, digits, +?/-:().,')"
        )
    return value


def _check_reference(instance: object, field: attrs.Attribute[Any], value: object) -> None:
    check_text(instance, field, value)
    sepa_id(value, field=field.name)


def _bic_from_iban(mandate: Mandate) -> str | None:
    bic = IBAN(mandate.iban).bic
    return None if bic is None else str(bic.compact)


@attrs.frozen(kw_only=True)
class Mandate:
    """A signed SEPA direct-debit mandate of an account.

    *bic* is optional (SEPA needs none since 2016); when omitted, the bank registry
    schwifty ships fills it in where it knows the IBAN's bank.
    """

    reference: str = attrs.field(validator=_check_reference)
    account_id: str = attrs.field(validator=check_text)
    iban: str = attrs.field(converter=iban)
    signed_on: date = attrs.field(validator=check_date)
    bic: str | None = attrs.field(
        default=attrs.Factory(_bic_from_iban, takes_self=True), converter=optional_bic
    )
    scheme: Scheme = attrs.field(default=Scheme.CORE, converter=Scheme)
    debtor_name: str | None = None
    revoked_on: date | None = attrs.field(default=None, validator=check_optional_date)

    def active_on(self, day: date) -> bool:
        """Whether debits may be collected under it on *day*."""
        return self.signed_on <= day and (self.revoked_on is None or day < self.revoked_on)
