"""Products: what is sold, with its unit and tax class."""

from __future__ import annotations

import attrs

from .._enum import Enum
from .._fields import check_text

__all__ = ["Product", "Supply"]


class Supply(Enum):
    """What kind of supply a product is; VAT place-of-supply rules differ by kind."""

    GOODS = "goods"
    SERVICE = "service"
    #: Electronically supplied, telecommunication and broadcasting services (OSS rules).
    DIGITAL = "digital"


@attrs.frozen(kw_only=True, cache_hash=True)
class Product:
    """A product.

    *unit_code* is a UN/ECE Recommendation 20 code (``C62`` one, ``HUR`` hour, ``MON``
    month, ``KWH``); *tax_class* selects the tax rate (``standard``, ``reduced``,
    ``zero``, ``exempt``, ``exempt-medical`` or a class of your own rules); *supply* says
    whether it is goods, a service, or a digital service.

        >>> Product(code="PRO", name="Pro plan").unit_code
        'C62'
    """

    code: str = attrs.field(validator=check_text)
    name: str = attrs.field(validator=check_text)
    unit_code: str = attrs.field(default="C62", validator=check_text)
    tax_class: str = attrs.field(default="standard", validator=check_text)
    supply: Supply = attrs.field(default=Supply.SERVICE, converter=Supply)
