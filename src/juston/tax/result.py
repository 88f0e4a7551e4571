"""What a tax decision is, and the protocol every tax provider implements."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol

import attrs

if TYPE_CHECKING:  # the document model imports this module
    from ..model.catalog import Product
    from ..model.parties import Account, Company

__all__ = ["CATEGORIES", "TaxResolver", "TaxResult"]

#: EN 16931 VAT category codes (UNCL 5305 subset) juston knows.
CATEGORIES = frozenset({"S", "Z", "E", "AE", "K", "G", "O", "L", "M"})


@attrs.frozen(kw_only=True, cache_hash=True)
class TaxResult:
    """A tax decision for a line.

    *rate* in percent; EN 16931 VAT *category*; the stable name of the *rule* that
    decided; for categories that need one, the *exemption_code* (VATEX) and
    *exemption_reason*; a legal *notice* to print (reverse charge, export …); and an
    *explanation* of why the rule matched.
    """

    rate: Decimal
    category: str
    rule: str
    exemption_code: str | None = None
    exemption_reason: str | None = None
    notice: str | None = None
    explanation: str = ""


class TaxResolver(Protocol):
    """Anything that decides the tax of a line: the built-in engine or an external service.

    A resolver may also offer ``account_key(*, company, account)``: a hashable value such
    that accounts with equal keys always get equal decisions (as
    :meth:`TaxEngine.account_key <juston.tax.TaxEngine.account_key>` does). An invoice run
    then taxes the lines of alike items once instead of once per account.
    """

    def resolve(
        self, *, company: Company, account: Account, product: Product, day: date
    ) -> TaxResult:
        """The tax of *product* sold by *company* to *account* for a service on *day*."""
        ...

    def changes(self, *, company: Company, account: Account, product: Product) -> tuple[date, ...]:
        """The dates on which :meth:`resolve` may decide differently (sorted).

        The invoice run splits a prorated line at these dates.
        """
        ...
