"""Tax determination: which VAT a line carries, and why.

The invoice run asks a :class:`TaxResolver` for every line; the resolver comes from the
``juston_tax_provider`` hook, and the built-in :class:`TaxEngine` (rules by seller, buyer
region, business status, product tax class and supply, dated rates from a data file) is
itself registered as a plugin. VAT ids are checked with python-stdnum at the boundary.

    >>> from datetime import date
    >>> from juston.testing import sample_company, sample_accounts
    >>> account, _ = next(sample_accounts(1))
    >>> from juston import Product
    >>> TaxEngine.default().resolve(company=sample_company(), account=account,
    ...     product=Product(code="P", name="Support"), day=date(2020, 8, 1)).rate
    Decimal('16')
"""

from __future__ import annotations

from ..vatid import optional_vat_id, vat_country, vat_id
from .engine import EU, Region, TaxContext, TaxEngine, TaxRule, default_rules
from .rates import Rate, RateTable
from .result import CATEGORIES, TaxResolver, TaxResult

__all__ = [
    "CATEGORIES",
    "EU",
    "Rate",
    "RateTable",
    "Region",
    "TaxContext",
    "TaxEngine",
    "TaxResolver",
    "TaxResult",
    "TaxRule",
    "default_rules",
    "optional_vat_id",
    "vat_country",
    "vat_id",
]
