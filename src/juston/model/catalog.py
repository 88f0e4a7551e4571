"""Products: what is sold, with its unit and tax class."""

from __future__ import annotations

import attrs

from .._fields import check_text

__all__ = ["Product"]


@attrs.frozen(kw_only=True, cache_hash=True)
class Product:
    """A product.

    *unit_code* is a UN/ECE Recommendation 20 code (``C62`` one, ``HUR`` hour, ``MON``
    month, ``KWH``); *tax_class* selects the tax rate (``standard``, ``reduced``, …).

        >>> Product(code="PRO", name="Pro plan").unit_code
        'C62'
    """

    code: str = attrs.field(validator=check_text)
    name: str = attrs.field(validator=check_text)
    unit_code: str = attrs.field(default="C62", validator=check_text)
    tax_class: str = attrs.field(default="standard", validator=check_text)
