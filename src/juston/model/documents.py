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
from operator import attrgetter
from typing import Any, Generic, TypeVar, overload

import attrs
from moneyed import Currency, Money

from .._fields import check_text
from ..errors import CurrencyMismatch, ValidationError
from ..money import ZERO
from ..periods import Period
from ..pricing.models import Charge
from ..rounding import TaxRounding, allocate, round_tax
from ..tax.result import TaxResult
from ._trusted import trusted
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
    "LineContent",
    "SummaryCache",
    "TaxSubtotal",
    "Term",
    "TermPart",
]

_V = TypeVar("_V")


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


#: What a :class:`Term` holds besides its line's subscription and item: period start,
#: start, end, count, charge, criterion and invoice criterion, in that order.
TermPart = tuple[date, date, date, int, Charge, str | None, str | None]


@attrs.frozen(kw_only=True, cache_hash=True)
class LineContent:
    """What an invoice line says, apart from whose it is.

    A run makes the same line for every subscription that bills the same thing (most
    come from a small price book), so the content is one shared value and each
    :class:`Line` adds only its subscription and item. *term_parts* are the line's terms
    without those two (:data:`TermPart`); *period_start* is the start of the billing
    period the line belongs to, the last part of its source key.
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
    product_code: str | None = None
    period_start: date | None = None
    term_parts: tuple[TermPart, ...] = ()

    def negated(self) -> LineContent:
        """The content of a cancellation's mirror line: negated unit price, amounts and counts."""
        return attrs.evolve(
            self,
            unit_price_amount=-self.unit_price_amount,
            discount_amount=-self.discount_amount,
            net_amount=-self.net_amount,
            tax_amount=-self.tax_amount,
            term_parts=tuple((p[0], p[1], p[2], -p[3], *p[4:]) for p in self.term_parts),
        )


class _Shared(Generic[_V]):
    """A :class:`Line` attribute that is read from the line's shared content."""

    def __set_name__(self, owner: type, name: str) -> None:
        self._get = attrgetter(f"content.{name}")

    @overload
    def __get__(self, line: None, owner: type) -> _Shared[_V]: ...
    @overload
    def __get__(self, line: Line, owner: type) -> _V: ...
    def __get__(self, line: Line | None, owner: type) -> _V | _Shared[_V]:
        return self if line is None else self._get(line)


@attrs.frozen
class Line:
    """One invoice line: shared :class:`LineContent` and the subscription and item it bills.

    ``net = quantity × unit_price × billing_factor − discount`` up to the single rounding
    of the amount; ``explanation`` says how the figure came about. Every field of the
    content reads as an attribute of the line. The amounts are ``Decimal`` in *currency*
    (``net_amount`` …) and read as ``Money`` (``net`` …): a run makes millions of lines,
    and a Money object per amount would cost more than the rest of the line. Build one
    by hand with :meth:`build`.

        >>> from juston import money
        >>> line = Line.build(description="Seats", period=None, quantity=Decimal(2),
        ...     unit_code="C62", currency=money(0, "EUR").currency,
        ...     unit_price_amount=Decimal("12.50"), billing_factor=Decimal(1),
        ...     discount_amount=Decimal("0.00"), net_amount=Decimal("25.00"),
        ...     tax_class="standard",
        ...     vat=TaxResult(rate=Decimal(19), category="S", rule="domestic"),
        ...     tax_amount=Decimal("4.75"), explanation="PerUnit: 2 × 12.50")
        >>> line.net, line.gross
        (Money('25.00', 'EUR'), Money('29.75', 'EUR'))
    """

    content: LineContent
    #: The subscription number (or ``"@"`` + a billable's source) the line bills.
    subscription: str | None = None
    #: The item id (or a billable's key) the line bills.
    item_id: str | None = None

    description = _Shared[str]()
    period = _Shared[Period | None]()
    quantity = _Shared[Decimal]()
    unit_code = _Shared[str]()
    currency = _Shared[Currency]()
    unit_price_amount = _Shared[Decimal]()
    billing_factor = _Shared[Decimal]()
    discount_amount = _Shared[Decimal]()
    net_amount = _Shared[Decimal]()
    tax_class = _Shared[str]()
    vat = _Shared[TaxResult]()
    tax_amount = _Shared[Decimal]()
    explanation = _Shared[str]()
    product_code = _Shared[str | None]()

    @classmethod
    def build(
        cls,
        *,
        description: str,
        period: Period | None,
        quantity: Decimal,
        unit_code: str,
        currency: Currency,
        unit_price_amount: Decimal,
        billing_factor: Decimal,
        discount_amount: Decimal,
        net_amount: Decimal,
        tax_class: str,
        vat: TaxResult,
        tax_amount: Decimal,
        explanation: str,
        product_code: str | None = None,
        subscription: str | None = None,
        item_id: str | None = None,
        terms: Iterable[Term] = (),
    ) -> Line:
        """A line from all its fields; *terms* must name its *subscription* and *item_id*."""
        terms = tuple(terms)
        for term in terms:
            if (term.subscription, term.item_id) != (subscription, item_id):
                raise ValidationError(
                    "terms", term.key, f"is not a term of {subscription}/{item_id}"
                )
        content = LineContent(
            description=description,
            period=period,
            quantity=quantity,
            unit_code=unit_code,
            currency=currency,
            unit_price_amount=unit_price_amount,
            billing_factor=billing_factor,
            discount_amount=discount_amount,
            net_amount=net_amount,
            tax_class=tax_class,
            vat=vat,
            tax_amount=tax_amount,
            explanation=explanation,
            product_code=product_code,
            period_start=terms[0].period_start if terms else None,
            term_parts=tuple(
                (
                    t.period_start,
                    t.start,
                    t.end,
                    t.count,
                    t.charge,
                    t.criterion,
                    t.invoice_criterion,
                )
                for t in terms
            ),
        )
        return cls(content, subscription, item_id)

    @property
    def source_key(self) -> str | None:
        """The deterministic key of what the line bills: ``subscription/item/period start``."""
        start = self.content.period_start
        if start is None or self.subscription is None or self.item_id is None:
            return None
        return f"{self.subscription}/{self.item_id}/{start.isoformat()}"

    @property
    def terms(self) -> tuple[Term, ...]:
        """What the line bills, in the form the next run compares with."""
        subscription, item_id = self.subscription or "", self.item_id or ""
        return tuple(Term(subscription, item_id, *part) for part in self.content.term_parts)

    @property
    def tax_rate(self) -> Decimal:
        return self.content.vat.rate

    @property
    def tax_category(self) -> str:
        return self.content.vat.category

    @property
    def unit_price(self) -> Money:
        return Money(self.content.unit_price_amount, self.content.currency)

    @property
    def discount(self) -> Money:
        return Money(self.content.discount_amount, self.content.currency)

    @property
    def net(self) -> Money:
        return Money(self.content.net_amount, self.content.currency)

    @property
    def tax(self) -> Money:
        return Money(self.content.tax_amount, self.content.currency)

    @property
    def gross(self) -> Money:
        content = self.content
        return Money(content.net_amount + content.tax_amount, content.currency)

    def replace(self, **changes: Any) -> Line:
        """A copy whose content has *changes* (``line.replace(description="…")``)."""
        return Line(attrs.evolve(self.content, **changes), self.subscription, self.item_id)

    def negated(self) -> Line:
        """The mirror line of a cancellation: negated unit price and amounts (as JustOn)."""
        return Line(self.content.negated(), self.subscription, self.item_id)


_set_content = Line.__dict__["content"].__set__
_set_subscription = Line.__dict__["subscription"].__set__
_set_item_id = Line.__dict__["item_id"].__set__


def bind_line(content: LineContent, subscription: str | None, item_id: str | None) -> Line:
    """``Line(content, subscription, item_id)`` in a third less time: a run makes one per
    line it bills, and the fields need neither conversion nor checks."""
    line = object.__new__(Line)
    _set_content(line, content)
    _set_subscription(line, subscription)
    _set_item_id(line, item_id)
    return line


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


def _group(contents: tuple[LineContent, ...]) -> list[tuple[int, ...]]:
    """The positions of the contents per VAT category and rate, in breakdown order."""
    groups: dict[tuple[str, Decimal], list[int]] = {}
    for index, content in enumerate(contents):
        vat = content.vat
        groups.setdefault((vat.category, vat.rate), []).append(index)
    return [tuple(positions) for _, positions in sorted(groups.items(), key=_breakdown_order)]


def _breakdown_order(group: tuple[tuple[str, Decimal], list[int]]) -> tuple[str, Decimal]:
    (category, rate), _ = group
    return category, -rate


@attrs.frozen
class _Subtotal:
    """What one VAT group of lines derives."""

    subtotal: TaxSubtotal
    #: Basis plus tax: the document's total when this is its only group.
    total: Money
    #: Under ``TaxRounding.CATEGORY``, the group's contents with their tax amounts
    #: replaced by their shares of the group's tax; else ``None`` (lines keep theirs).
    shares: tuple[LineContent, ...] | None = None


#: A cache of what groups of lines derive (see :meth:`Invoice.create`).
SummaryCache = dict[tuple[object, ...], _Subtotal]


def _subtotal(
    contents: tuple[LineContent, ...], currency: Currency, rounding: TaxRounding | None
) -> _Subtotal:
    """The VAT breakdown row of *contents*, which share one category and rate."""
    # Decimal sums and one Money per result: Money arithmetic costs ten times more.
    code = currency.code
    first = contents[0].vat
    nets = [c.net_amount for c in contents]
    basis = sum(nets, ZERO)
    tax = round_tax(basis, first.rate, code)
    shares = None
    if rounding is TaxRounding.CATEGORY:
        parts = allocate(tax, nets, code)
        shares = tuple(
            c if c.tax_amount == part else attrs.evolve(c, tax_amount=part)
            for c, part in zip(contents, parts, strict=True)
        )
    subtotal = TaxSubtotal(
        category=first.category,
        rate=first.rate,
        basis=Money(basis, currency),
        tax=Money(tax, currency),
        line_tax=Money(sum([c.tax_amount for c in shares or contents], ZERO), currency),
        exemption_code=first.exemption_code,
        exemption_reason=first.exemption_reason,
    )
    return _Subtotal(subtotal, Money(basis + tax, currency), shares)


def _cached_subtotal(
    members: tuple[LineContent, ...],
    currency: Currency,
    rounding: TaxRounding | None,
    cache: SummaryCache | None,
) -> _Subtotal:
    net = tax = ZERO
    for content in members:
        if content.currency is not currency and content.currency != currency:
            raise CurrencyMismatch(
                "lines",
                Money(content.net_amount, content.currency),
                f"is not in the document currency {currency.code}",
            )
        net += content.net_amount
        tax += content.tax_amount
    if cache is None:
        return _subtotal(members, currency, rounding)
    key: tuple[object, ...]
    if rounding is TaxRounding.CATEGORY:
        # Each line's share of the tax depends on every line's net.
        key = (members, currency.code, rounding)
    else:
        # Otherwise the row depends on the lines only through the decision the row
        # takes its category, rate and exemption from and the two sums: far fewer keys
        # than groups of lines (9,000 against 83,000 in a run over 100,000 sample
        # accounts). Sums from ZERO are never a negative zero, and amounts rounded to
        # the currency have its exponent, so equal sums print alike.
        key = (members[0].vat, net, tax, currency.code, rounding)
    found = cache.get(key)
    if found is None:
        found = cache[key] = _subtotal(members, currency, rounding)
    return found


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

    def with_id(self, document_id: str) -> Invoice:
        """A copy with the id a store gave it (``attrs.evolve(self, id=…)``, faster).

        Stores call it for every document a run adds.

            >>> from juston.testing import sample_store
            >>> from juston import invoice_run
            >>> from datetime import date
            >>> draft = invoice_run(sample_store(accounts=1), date(2026, 1, 1)).documents[0]
            >>> draft.with_id("X-1") == attrs.evolve(draft, id="X-1")
            True
        """
        # Its fields were checked when it was made; a store copies every document a run adds.
        return _new_invoice(document_id, *_invoice_rest(self))

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
        cache: SummaryCache | None = None,
        **fields: object,
    ) -> Invoice:
        """Build a document with totals derived from *lines*.

        *kind* defaults to ``INVOICE`` for a total ≥ 0 and ``CREDIT`` below. The VAT
        breakdown rounds each category's tax from its basis (EN 16931 BR-CO-17), and the
        totals follow from it; under the seller's ``TaxRounding.CATEGORY`` the lines' tax
        amounts are replaced by their shares of it, otherwise the difference to the lines'
        own taxes is the :attr:`tax_delta`. A breakdown row depends only on the tax
        decision, the sum of the nets and the sum of the line taxes of its lines (under
        ``CATEGORY`` on every line's net): with a *cache* (a dict the caller keeps, as an
        invoice run does), groups of lines that agree in those derive it once.
        """
        lines = tuple(lines)
        contents = tuple([ln.content for ln in lines])
        seller = fields.get("seller")
        rounding = seller.tax_rounding if isinstance(seller, Company) else None
        vat = contents[0].vat if contents else None
        for content in contents:
            if content.vat is not vat:
                groups = _group(contents)
                break
        else:
            # One tax decision for every line, the common case: one group, nothing to sort.
            groups = [()] if contents else []
        found = []
        for positions in groups:
            members = tuple([contents[i] for i in positions]) if positions else contents
            subtotal = _cached_subtotal(members, currency, rounding, cache)
            found.append(subtotal)
            if subtotal.shares is not None:
                # Under TaxRounding.CATEGORY: the lines carry their shares of the group's tax.
                shares = dict(zip(positions or range(len(lines)), subtotal.shares, strict=True))
                lines = tuple(
                    Line(shares[i], ln.subscription, ln.item_id)
                    if i in shares and ln.content is not shares[i]
                    else ln
                    for i, ln in enumerate(lines)
                )
        if len(found) == 1:
            # The group's own Money values: documents that say the same share them.
            only = found[0]
            net_total, tax_total, total = only.subtotal.basis, only.subtotal.tax, only.total
        else:
            net = sum([f.subtotal.basis.amount for f in found], ZERO)
            tax = sum([f.subtotal.tax.amount for f in found], ZERO)
            net_total, tax_total = Money(net, currency), Money(tax, currency)
            total = Money(net + tax, currency)
        if kind is None:
            kind = DocumentKind.CREDIT if total.amount < 0 else DocumentKind.INVOICE
        return cls(
            lines=lines,
            currency=currency,
            kind=kind,
            tax_breakdown=tuple([f.subtotal for f in found]),
            net_total=net_total,
            tax_total=tax_total,
            total=total,
            **fields,  # type: ignore[arg-type]
        )


_INVOICE_FIELDS = tuple(f.name for f in attrs.fields(Invoice))
assert _INVOICE_FIELDS[0] == "id"
_new_invoice = trusted(Invoice)
_invoice_rest = attrgetter(*_INVOICE_FIELDS[1:])
