"""Tax determination: the seam between a line and its tax rate.

For now a :class:`TaxTable` maps a product's tax class to a rate and an EN 16931 VAT
category. The invoice run only calls :meth:`TaxResolver.resolve`, so a full rule engine
(place of supply, reverse charge, dated rates) replaces the table without touching the run.

    >>> from decimal import Decimal
    >>> TaxTable.germany().rates["reduced"]
    TaxResult(rate=Decimal('7'), category='S', rule='reduced')
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Protocol

import attrs

from ..errors import ValidationError
from ..model.catalog import Product
from ..model.parties import Account, Company
from ..periods import Period

__all__ = ["TaxResolver", "TaxResult", "TaxTable"]


@attrs.frozen(cache_hash=True)
class TaxResult:
    """A tax decision: *rate* in percent, EN 16931 *category* code, and the *rule* that chose it."""

    rate: Decimal
    category: str
    rule: str


class TaxResolver(Protocol):
    """Anything that decides the tax of a line."""

    def resolve(
        self, *, company: Company, account: Account, product: Product, period: Period | None
    ) -> TaxResult:
        """The tax for *product* sold by *company* to *account* for *period*."""
        ...


@attrs.frozen
class TaxTable:
    """Rates by product tax class; an unknown class is an error naming it."""

    rates: Mapping[str, TaxResult]

    @classmethod
    def germany(cls) -> TaxTable:
        """German VAT today: standard 19 %, reduced 7 %, zero-rated and exempt 0 %."""
        return cls(
            {
                "standard": TaxResult(Decimal(19), "S", "standard"),
                "reduced": TaxResult(Decimal(7), "S", "reduced"),
                "zero": TaxResult(Decimal(0), "Z", "zero"),
                "exempt": TaxResult(Decimal(0), "E", "exempt"),
            }
        )

    def resolve(
        self, *, company: Company, account: Account, product: Product, period: Period | None
    ) -> TaxResult:
        try:
            return self.rates[product.tax_class]
        except KeyError:
            raise ValidationError(
                "tax_class", product.tax_class, "has no rate in the tax table"
            ) from None
