"""Documents with exact totals, for receivables tests, examples and notebooks.

>>> from datetime import date
>>> from juston.testing import sample_store
>>> store = sample_store(accounts=1)
>>> issue(store, "C0000001", "119.00", on=date(2026, 1, 1)).total
Money('119.00', 'EUR')
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from ..billing.run import finalize
from ..model.documents import Invoice, Line
from ..model.status import DocumentStatus
from ..money import decimal
from ..storage.base import Store
from ..tax.result import TaxResult

__all__ = ["issue"]

# Outside the scope of VAT: the line's net is the document's total, to the cent.
_NO_TAX = TaxResult(rate=Decimal(0), category="O", rule="testing", exemption_code="VATEX-EU-O")


def issue(
    store: Store, account_id: str, total: object, *, on: date, finalize_it: bool = True
) -> Invoice:
    """Store a document of *account_id* over exactly *total* (negative: a credit) dated
    *on*, and finalize it unless *finalize_it* is false."""
    amount = decimal(total, field="total")
    with store.transaction() as tx:
        account = tx.account(account_id)
        company = tx.company()
        line = Line.build(
            description="Services",
            period=None,
            quantity=Decimal(1),
            unit_code="C62",
            currency=account.currency,
            unit_price_amount=amount,
            billing_factor=Decimal(1),
            discount_amount=Decimal(0),
            net_amount=amount,
            tax_class="standard",
            vat=_NO_TAX,
            tax_amount=Decimal("0.00"),
            explanation="",
        )
        terms = account.payment_terms or company.payment_terms
        draft = tx.add_document(
            Invoice.create(
                lines=[line],
                currency=account.currency,
                id=None,
                status=DocumentStatus.DRAFT,
                number=None,
                invoice_date=on,
                due_date=terms.due_date(on),
                billing_date=on,
                seller=company,
                buyer=account,
                payment_terms=terms,
            )
        )
    if not finalize_it:
        return draft
    (final,) = finalize(store, [draft])
    return final
