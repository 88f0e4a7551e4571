"""Invoices, credits and cancellations, their lines and tax breakdown.

Documents are values made by the core (``juston.billing``), never edited in place:
a finalized document is immutable, and a correction is a cancellation or a credit.
Totals are always derived from the lines by :func:`Invoice.create`, so a document
whose totals disagree with its lines cannot be built.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Any

import attrs
from moneyed import Currency, Money

from .._fields import check_text
from ..errors import CurrencyMismatch
from ..money import ZERO
from ..periods import Period
from ..pricing.models import Charge
from ..rounding import TaxRounding, allocate, round_tax
from ..tax.result import TaxResult
from .mandates import iban as compact_iban
from .mandates import optional_bic, sepa_id
from .parties import Account, Company
from .status import DocumentKind, DocumentStatus
from .terms import PaymentTerms

__all__ = [
    "DirectDebit",
    "DocumentKind",
    "DocumentReference",
    "DocumentStatus",
    "Invoice",
    "Line",
    "TaxSubtotal",
    "Term",
]


@attrs.frozen
class DocumentReference:
    """A finalized document another one refers to (EN 16931 BG-3): a cancellation names
    the invoice it cancels."""

    number: str
    issue_date: date


def _check_mandate_reference(instance: object, field: attrs.Attribute[Any], value: object) -> None:
    check_text(instance, field, value)
    sepa_id(value, field=field.name)


@attrs.frozen(kw_only=True)
class DirectDebit:
    """How an invoice is collected by SEPA direct debit: the pre-notification it carries
    (EN 16931 BG-19).

    Set by :func:`juston.finalize` on an invoice whose account pays by
    ``sepa_direct_debit`` under a mandate active on the due date, and kept with the
    document: a mandate changed or revoked later does not alter an issued invoice.

        >>> DirectDebit(mandate_reference="M-0001", creditor_id="DE98ZZZ09999999999",
        ...             iban="DE89 3704 0044 0532 0130 00").iban
        'DE89370400440532013000'
    """

    #: BT-89, the mandate reference.
    mandate_reference: str = attrs.field(validator=_check_mandate_reference)
    #: BT-90, the seller's SEPA creditor identifier.
    creditor_id: str = attrs.field(validator=check_text)
    #: BT-91, the IBAN debited (compact).
    iban: str = attrs.field(converter=compact_iban)
    #: The debtor's bank (not part of EN 16931).
    bic: str | None = attrs.field(default=None, converter=optional_bic)


@attrs.frozen
class Term:
    """What a line bills, in a form the next run can compare with.

    *count* copies of *charge* (per billing unit) for ``[start, end)`` of the period of
    item *item_id* of *subscription* that starts on *period_start*. A line that bills a
    period has ``count=+1``; a line that replaces an earlier charge carries that charge
    with ``count=-1``; a cancellation negates all. Usage terms also carry the criteria
    their records were grouped by. For a billable (:class:`juston.Billable`),
    *subscription* is its source prefixed with ``@`` and *item_id* its key.
    """

    subscription: str
    item_id: str
    period_start: date
    start: date
    end: date
    count: int
    charge: Charge
    criterion: str | None = None
    invoice_criterion: str | None = None

    @property
    def key(self) -> str:
        """The deterministic key of the billed fact: ``subscription/item/period start``."""
        return f"{self.subscription}/{self.item_id}/{self.period_start.isoformat()}"

    def negated(self) -> Term:
        return attrs.evolve(self, count=-self.count)


@attrs.frozen(kw_only=True)
class Line:
    """One invoice line.

    ``net = quantity × unit_price × billing_factor − discount`` up to the single rounding
    of the amount; ``explanation`` says how the figure came about.

    The amounts are stored as ``Decimal`` in *currency* (``net_amount`` …) and read as
    ``Money`` (``net`` …): a run makes millions of lines, and a Money object per amount
    would cost more than the rest of the line.

        >>> from juston import money
        >>> line = Line(description="Seats", period=None, quantity=Decimal(2), unit_code="C62",
        ...     currency=money(0, "EUR").currency, unit_price_amount=Decimal("12.50"),
        ...     billing_factor=Decimal(1), discount_amount=Decimal("0.00"),
        ...     net_amount=Decimal("25.00"), tax_class="standard",
        ...     vat=TaxResult(rate=Decimal(19), category="S", rule="domestic"),
        ...     tax_amount=Decimal("4.75"), explanation="PerUnit: 2 × 12.50")
        >>> line.net, line.gross
        (Money('25.00', 'EUR'), Money('29.75', 'EUR'))
    """

    description: str
    period: Period | None
    quantity: Decimal
    unit_code: str
    currency: Currency
    unit_price_amount: Decimal
    billing_factor: Decimal
    discount_amount: Decimal
    net_amount: Decimal
    tax_class: str
    vat: TaxResult
    tax_amount: Decimal
    explanation: str
    source_key: str | None = None
    subscription: str | None = None
    item_id: str | None = None
    product_code: str | None = None
    terms: tuple[Term, ...] = ()

    @property
    def tax_rate(self) -> Decimal:
        return self.vat.rate

    @property
    def tax_category(self) -> str:
        return self.vat.category

    @property
    def unit_price(self) -> Money:
        return Money(self.unit_price_amount, self.currency)

    @property
    def discount(self) -> Money:
        return Money(self.discount_amount, self.currency)

    @property
    def net(self) -> Money:
        return Money(self.net_amount, self.currency)

    @property
    def tax(self) -> Money:
        return Money(self.tax_amount, self.currency)

    @property
    def gross(self) -> Money:
        return Money(self.net_amount + self.tax_amount, self.currency)

    def negated(self) -> Line:
        """The mirror line of a cancellation: negated unit price and amounts (as JustOn)."""
        return attrs.evolve(
            self,
            unit_price_amount=-self.unit_price_amount,
            discount_amount=-self.discount_amount,
            net_amount=-self.net_amount,
            tax_amount=-self.tax_amount,
            terms=tuple(t.negated() for t in self.terms),
        )


@attrs.frozen(kw_only=True)
class TaxSubtotal:
    """The VAT breakdown of one category and rate (EN 16931 BG-23).

    ``tax`` is rounded from the basis (BR-CO-17); ``line_tax`` is the sum of the lines'
    own tax amounts, and ``delta`` the difference (non-zero only under
    :attr:`TaxRounding.LINE <juston.rounding.TaxRounding.LINE>`).
    """

    category: str
    rate: Decimal
    basis: Money
    tax: Money
    line_tax: Money
    exemption_code: str | None = None
    exemption_reason: str | None = None

    @property
    def delta(self) -> Money:
        return self.tax - self.line_tax


def _group(lines: tuple[Line, ...]) -> dict[tuple[str, Decimal], list[Line]]:
    groups: dict[tuple[str, Decimal], list[Line]] = {}
    for line in lines:
        groups.setdefault((line.vat.category, line.vat.rate), []).append(line)
    if len(groups) > 1:
        groups = dict(sorted(groups.items(), key=lambda kv: (kv[0][0], -kv[0][1])))
    return groups


def _shares(lines: tuple[Line, ...], code: str) -> tuple[Line, ...]:
    """Lines whose tax amounts are their share of their category's tax (no delta)."""
    shares: dict[int, Decimal] = {}
    for (_, rate), group in _group(lines).items():
        nets = [ln.net_amount for ln in group]
        parts = allocate(round_tax(sum(nets, ZERO), rate, code), nets, code)
        shares.update((id(ln), part) for ln, part in zip(group, parts, strict=True))
    return tuple(
        ln if ln.tax_amount == shares[id(ln)] else attrs.evolve(ln, tax_amount=shares[id(ln)])
        for ln in lines
    )


def _tax_breakdown(lines: tuple[Line, ...], currency: Currency) -> tuple[TaxSubtotal, ...]:
    # Decimal sums and one Money per result: Money arithmetic costs ten times more.
    code = currency.code
    subtotals = []
    for (category, rate), group in _group(lines).items():
        basis = sum([ln.net_amount for ln in group], ZERO)
        first = group[0].vat
        subtotals.append(
            TaxSubtotal(
                category=category,
                rate=rate,
                basis=Money(basis, currency),
                tax=Money(round_tax(basis, rate, code), currency),
                line_tax=Money(sum([ln.tax_amount for ln in group], ZERO), currency),
                exemption_code=first.exemption_code,
                exemption_reason=first.exemption_reason,
            )
        )
    return tuple(subtotals)


@attrs.frozen(kw_only=True)
class Invoice:
    """An invoice, credit or cancellation.

    ``buyer`` and ``seller`` are snapshots taken when the document was made. ``number``
    is ``None`` until finalization. Build one with :meth:`create`, which derives the
    totals and the tax breakdown from the lines.
    """

    id: str | None
    kind: DocumentKind
    status: DocumentStatus
    number: str | None
    currency: Currency
    invoice_date: date
    due_date: date
    billing_date: date
    seller: Company
    buyer: Account
    lines: tuple[Line, ...]
    tax_breakdown: tuple[TaxSubtotal, ...]
    net_total: Money
    tax_total: Money
    total: Money
    payment_terms: PaymentTerms
    subscriptions: tuple[str, ...] = ()
    run_id: str | None = None
    cancels: str | None = None
    cancelled_by: str | None = None
    #: The number and date of the document this one corrects (a cancellation's original).
    preceding: DocumentReference | None = None
    #: How the invoice is collected by SEPA direct debit, as printed on it (set when it is
    #: finalized); ``None``: paid by transfer.
    direct_debit: DirectDebit | None = None

    @property
    def account_id(self) -> str:
        return self.buyer.id

    @property
    def service_period(self) -> Period | None:
        """From the earliest line start to the latest line end; lines without periods are ignored."""
        periods = [ln.period for ln in self.lines if ln.period is not None]
        if not periods:
            return None
        return Period(min(p.start for p in periods), max(p.end for p in periods))

    @property
    def tax_delta(self) -> Money:
        """Category taxes minus line taxes: shown on the document when not zero."""
        return Money(sum([s.delta.amount for s in self.tax_breakdown], ZERO), self.currency)

    @property
    def notices(self) -> tuple[str, ...]:
        """The legal notices the lines' tax decisions require (reverse charge, export …)."""
        return tuple(dict.fromkeys(ln.vat.notice for ln in self.lines if ln.vat.notice))

    @property
    def is_draft(self) -> bool:
        return self.status is DocumentStatus.DRAFT

    def terms(self) -> Iterable[Term]:
        for line in self.lines:
            yield from line.terms

    def _repr_html_(self) -> str:
        """The document as HTML, for notebooks (Jupyter shows it inline)."""
        from ..render.html import notebook_html

        return notebook_html(self)

    @classmethod
    def create(
        cls,
        *,
        lines: Iterable[Line],
        currency: Currency,
        kind: DocumentKind | None = None,
        **fields: object,
    ) -> Invoice:
        """Build a document with totals derived from *lines*.

        *kind* defaults to ``INVOICE`` for a total ≥ 0 and ``CREDIT`` below. The VAT
        breakdown rounds each category's tax from its basis (EN 16931 BR-CO-17), and the
        totals follow from it; under the seller's ``TaxRounding.CATEGORY`` the lines' tax
        amounts are replaced by their shares of it, otherwise the difference to the lines'
        own taxes is the :attr:`tax_delta`.
        """
        lines = tuple(lines)
        for line in lines:
            if line.currency is not currency and line.currency != currency:
                raise CurrencyMismatch(
                    "lines", line.net, f"is not in the document currency {currency.code}"
                )
        seller = fields.get("seller")
        if isinstance(seller, Company) and seller.tax_rounding is TaxRounding.CATEGORY:
            lines = _shares(lines, currency.code)
        breakdown = _tax_breakdown(lines, currency)
        net = sum([ln.net_amount for ln in lines], ZERO)
        tax = sum([s.tax.amount for s in breakdown], ZERO)
        if kind is None:
            kind = DocumentKind.CREDIT if net + tax < 0 else DocumentKind.INVOICE
        return cls(
            lines=lines,
            currency=currency,
            kind=kind,
            tax_breakdown=breakdown,
            net_total=Money(net, currency),
            tax_total=Money(tax, currency),
            total=Money(net + tax, currency),
            **fields,  # type: ignore[arg-type]
        )
