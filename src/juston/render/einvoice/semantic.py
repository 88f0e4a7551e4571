"""A juston document as EN 16931 business terms, mapped once for every syntax.

:func:`business_terms` reads an :class:`~juston.Invoice` and decides everything the XML
builders (:mod:`.cii`, :mod:`.ubl`) and the checks (:mod:`.rules`) need: the type code
and direction, each amount with its sign and its text, the net price of each line, the
exemption reasons, which VAT ids may be shown. The builders then only copy texts into
elements.

Direction. A juston credit, or a cancellation of an invoice, has negative amounts; in
EN 16931 it is a credit note (BT-3 ``381``) with **positive** amounts and quantities, the
type code giving the direction. So every amount of a ``381`` is the juston amount with the
sign flipped. A line whose net price would then be negative (a credit that also charges
something) keeps a non-negative price (BR-27) and carries the sign on its quantity.

Net price. juston's line net is ``quantity × unit price × billing factor − discount``,
rounded once. EN 16931 has no billing factor, so the net price (BT-146) is the unit price
times the factor: exact when the factor is 1, else the line's amount before the discount
divided by the quantity (rounded to 5 decimals). Where 5 decimals cannot bring ``quantity ×
price`` within a cent of that amount (huge quantities), the price is given for the whole
quantity with the price base quantity BT-149.

    >>> from datetime import date
    >>> import juston
    >>> store = juston.testing.sample_store(accounts=1)
    >>> (doc,) = juston.finalize(store, juston.invoice_run(store, date(2026, 2, 1)).documents)
    >>> terms = business_terms(doc)
    >>> terms.type_code, terms.number, terms.totals.payable_text
    ('380', 'INV-2026-00001', '173.61')
    >>> [(row.category, row.rate_text, row.basis_text, row.tax_text) for row in terms.vat]
    [('S', '19', '128.00', '24.32'), ('S', '7', '19.90', '1.39')]
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import ClassVar

from ...model.documents import DocumentReference, Invoice, Line
from ...model.parties import Address, Contact, ElectronicAddress
from ...model.status import DocumentKind
from ...rounding import round_price
from .codes import (
    CREDIT_NOTE,
    EXEMPT_CATEGORIES,
    INVOICE,
    PAYMENT_CREDIT_TRANSFER,
    PAYMENT_SEPA_CREDIT_TRANSFER,
    PAYMENT_SEPA_DIRECT_DEBIT,
    default_exemption_code,
    exemption_text,
)

__all__ = [
    "BusinessTerms",
    "Day",
    "LineTerms",
    "Party",
    "Payment",
    "Totals",
    "VatRow",
    "amount_text",
    "business_terms",
    "decimal_text",
    "price_text",
]

ZERO = Decimal(0)
CENT = Decimal("0.01")


def amount_text(value: Decimal) -> str:
    """An amount with exactly two decimals, never ``-0.00``.

    >>> amount_text(Decimal("12.5")), amount_text(-Decimal("0.00")), amount_text(Decimal(3))
    ('12.50', '0.00', '3.00')
    """
    text = f"{value:.2f}"
    return "0.00" if text == "-0.00" else text


def decimal_text(value: Decimal) -> str:
    """A quantity or rate as plain digits, without exponent or trailing zeros.

    >>> decimal_text(Decimal("19.00")), decimal_text(Decimal("5.5")), decimal_text(Decimal("1E+1"))
    ('19', '5.5', '10')
    """
    text = f"{value:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def price_text(value: Decimal) -> str:
    """A price: two decimals at least, up to the five it may carry.

    >>> price_text(Decimal("12.5")), price_text(Decimal("0.00125")), price_text(Decimal("7"))
    ('12.50', '0.00125', '7.00')
    """
    if not value:
        return "0.00"  # also for -0, which BR-27 would read as negative
    text = f"{value:f}"
    if "." in text:
        text = text.rstrip("0")
        decimals = len(text) - text.index(".") - 1
        if decimals >= 2:
            return text
        return text + "0" * (2 - decimals)
    return text + ".00"


class Day:
    """A date as EN 16931 writes it: ``iso`` (UBL, YYYY-MM-DD) and ``compact`` (CII format
    102, YYYYMMDD)."""

    __slots__ = ("compact", "iso")

    def __init__(self, day: date) -> None:
        self.iso = day.isoformat()
        self.compact = self.iso.replace("-", "")


def _day(day: date | None) -> Day | None:
    return None if day is None else Day(day)


class Party:
    """A party as flat texts: seller (BG-4), buyer (BG-7) or deliver-to (BG-13, BG-15).

    Flat, so the builders can stamp it (:mod:`.stamps`); ``None`` marks what is absent.
    """

    __slots__ = (
        "city",
        "contact_email",
        "contact_name",
        "contact_phone",
        "country",
        "endpoint_scheme",
        "endpoint_value",
        "identifier",
        "line2",
        "name",
        "postcode",
        "region",
        "street",
        "tax_number",
        "vat_id",
    )

    def __init__(
        self,
        name: str,
        address: Address,
        vat_id: str | None = None,
        tax_number: str | None = None,
        identifier: str | None = None,
        endpoint: ElectronicAddress | None = None,
        contact: Contact | None = None,
    ) -> None:
        self.name = name  # BT-27 / BT-44 / BT-70
        self.street = address.street  # BT-35 / BT-50 / BT-75
        self.line2 = address.line2  # BT-36 / BT-51 / BT-76
        self.city = address.city  # BT-37 / BT-52 / BT-77
        self.postcode = address.postcode  # BT-38 / BT-53 / BT-78
        self.region = address.region  # BT-39 / BT-54 / BT-79
        self.country = address.country  # BT-40 / BT-55 / BT-80
        #: BT-31 / BT-48 (``None`` under category O, BR-O-02).
        self.vat_id = vat_id
        #: BT-32, the seller's tax registration (scheme ``FC``).
        self.tax_number = tax_number
        #: BT-29, the seller identifier (see :func:`business_terms`).
        self.identifier = identifier
        #: BT-34 / BT-49 and their EAS scheme.
        self.endpoint_scheme = None if endpoint is None else endpoint.scheme
        self.endpoint_value = None if endpoint is None else endpoint.value
        #: BG-6 (seller only): BT-41, BT-42, BT-43.
        self.contact_name = None if contact is None else contact.name
        self.contact_phone = None if contact is None else contact.phone
        self.contact_email = None if contact is None else contact.email


class LineTerms:
    """One invoice line (BG-25), amounts already in the document's direction."""

    __slots__ = (
        "allowance",
        "allowance_text",
        "base_quantity",
        "base_quantity_text",
        "category",
        "end",
        "end_102",
        "end_text",
        "id",
        "item_id",
        "name",
        "net",
        "net_text",
        "price",
        "price_text",
        "quantity",
        "quantity_text",
        "rate",
        "rate_text",
        "start",
        "start_102",
        "start_text",
        "unit",
    )

    def __init__(self) -> None:
        self.id = ""  # BT-126
        self.name = ""  # BT-153
        self.item_id: str | None = None  # BT-155
        self.quantity = ZERO  # BT-129
        self.quantity_text = "0"
        self.unit = "C62"  # BT-130
        self.net = ZERO  # BT-131
        self.net_text = "0.00"
        self.price = ZERO  # BT-146
        self.price_text = "0.00"
        self.base_quantity: Decimal | None = None  # BT-149
        self.base_quantity_text: str | None = None
        self.allowance = ZERO  # BT-136 (reason 95 Discount)
        self.allowance_text: str | None = None
        self.category = "S"  # BT-151
        self.rate: Decimal | None = None  # BT-152 (None for O)
        self.rate_text: str | None = None
        self.start: date | None = None  # BT-134
        self.end: date | None = None  # BT-135
        self.start_text: str | None = None  # BT-134 as YYYY-MM-DD (UBL)
        self.end_text: str | None = None
        self.start_102: str | None = None  # BT-134 as YYYYMMDD (CII format 102)
        self.end_102: str | None = None


class VatRow:
    """One row of the VAT breakdown (BG-23)."""

    __slots__ = (
        "basis",
        "basis_text",
        "category",
        "rate",
        "rate_text",
        "reason",
        "reason_code",
        "tax",
        "tax_text",
    )

    def __init__(
        self,
        category: str,
        rate: Decimal,
        basis: Decimal,
        tax: Decimal,
        reason: str | None,
        reason_code: str | None,
    ) -> None:
        self.category = category  # BT-118
        self.rate = rate  # BT-119 (0 for every category but S, L, M)
        self.rate_text = decimal_text(rate)
        self.basis = basis  # BT-116
        self.basis_text = amount_text(basis)
        self.tax = tax  # BT-117
        self.tax_text = amount_text(tax)
        self.reason = reason  # BT-120
        self.reason_code = reason_code  # BT-121


class Totals:
    """The document totals (BG-22); juston has no document allowances or charges."""

    __slots__ = (
        "line_total",
        "line_total_text",
        "payable",
        "payable_text",
        "tax_exclusive",
        "tax_exclusive_text",
        "tax_inclusive",
        "tax_inclusive_text",
        "tax_total",
        "tax_total_text",
    )

    def __init__(
        self, line_total: Decimal, tax_exclusive: Decimal, tax_total: Decimal, total: Decimal
    ) -> None:
        self.line_total = line_total  # BT-106
        self.line_total_text = amount_text(line_total)
        self.tax_exclusive = tax_exclusive  # BT-109
        self.tax_exclusive_text = amount_text(tax_exclusive)
        self.tax_total = tax_total  # BT-110
        self.tax_total_text = amount_text(tax_total)
        self.tax_inclusive = total  # BT-112
        self.tax_inclusive_text = amount_text(total)
        self.payable = total  # BT-115 (nothing paid in advance, no rounding amount)
        self.payable_text = self.tax_inclusive_text


class Payment:
    """Payment instructions (BG-16): a credit transfer (BG-17) to the seller's account, or
    a SEPA direct debit (BG-19) under the buyer's mandate; never both (XRechnung
    BR-DE-23, BR-DE-25). Build one with :meth:`transfer` or :meth:`direct_debit`."""

    __slots__ = (
        "account_name",
        "bic",
        "creditor_id",
        "debited_iban",
        "iban",
        "mandate_reference",
        "means_code",
        "reference",
    )

    def __init__(
        self,
        means_code: str,
        reference: str,
        *,
        iban: str | None = None,
        bic: str | None = None,
        account_name: str | None = None,
        mandate_reference: str | None = None,
        creditor_id: str | None = None,
        debited_iban: str | None = None,
    ) -> None:
        self.means_code = means_code  # BT-81: 58 SEPA transfer (EUR), 30 transfer, 59 debit
        self.reference = reference  # BT-83, the remittance information
        # BG-17, credit transfer:
        self.iban = iban  # BT-84
        self.bic = bic  # BT-86
        self.account_name = account_name  # BT-85
        # BG-19, direct debit:
        self.mandate_reference = mandate_reference  # BT-89
        self.creditor_id = creditor_id  # BT-90 (UBL: a seller PartyIdentification)
        self.debited_iban = debited_iban  # BT-91

    @classmethod
    def transfer(
        cls, means_code: str, iban: str, bic: str | None, account_name: str, reference: str
    ) -> Payment:
        """A credit transfer (BG-17) to *iban*."""
        return cls(means_code, reference, iban=iban, bic=bic, account_name=account_name)

    @classmethod
    def direct_debit(
        cls, mandate_reference: str, creditor_id: str, debited_iban: str, reference: str
    ) -> Payment:
        """A SEPA direct debit (BG-19, means code 59) from *debited_iban*."""
        return cls(
            PAYMENT_SEPA_DIRECT_DEBIT,
            reference,
            mandate_reference=mandate_reference,
            creditor_id=creditor_id,
            debited_iban=debited_iban,
        )


class BusinessTerms:
    """The EN 16931 business terms of one document; see :func:`business_terms`."""

    #: The parts whose own shape matters to the builders (see :func:`.stamps.shape`).
    __shape__: ClassVar[tuple[str, ...]] = ("seller", "buyer", "ship_to", "payment")

    __slots__ = (
        "buyer",
        "buyer_reference",
        "credit_note",
        "currency",
        "delivery_date",
        "delivery_day",
        "due_date",
        "due_day",
        "issue_date",
        "issue_day",
        "lines",
        "notes",
        "number",
        "payment",
        "payment_terms",
        "period_end",
        "period_end_day",
        "period_start",
        "period_start_day",
        "preceding",
        "preceding_day",
        "preceding_number",
        "seller",
        "ship_to",
        "totals",
        "type_code",
        "vat",
    )

    def __init__(
        self,
        *,
        number: str,
        issue_date: date,
        type_code: str,
        credit_note: bool,
        currency: str,
        seller: Party,
        buyer: Party,
        lines: list[LineTerms],
        vat: list[VatRow],
        totals: Totals,
        notes: tuple[str, ...] = (),
        due_date: date | None = None,
        buyer_reference: str | None = None,
        payment_terms: str | None = None,
        payment: Payment | None = None,
        preceding: DocumentReference | None = None,
        period_start: date | None = None,
        period_end: date | None = None,
        delivery_date: date | None = None,
        ship_to: Party | None = None,
    ) -> None:
        self.number = number  # BT-1 ("" for a draft: BR-02 refuses it)
        self.issue_date = issue_date  # BT-2
        self.type_code = type_code  # BT-3
        self.credit_note = credit_note
        self.currency = currency  # BT-5
        self.seller = seller  # BG-4
        self.buyer = buyer  # BG-7
        self.lines = lines  # BG-25
        self.vat = vat  # BG-23
        self.totals = totals  # BG-22
        self.notes = notes  # BT-22
        self.due_date = due_date  # BT-9
        self.buyer_reference = buyer_reference  # BT-10
        self.payment_terms = payment_terms  # BT-20
        self.payment = payment  # BG-16
        self.preceding = preceding  # BG-3
        self.period_start = period_start  # BT-73
        self.period_end = period_end  # BT-74
        self.delivery_date = delivery_date  # BT-72
        self.ship_to = ship_to  # BG-15 (BT-80 its country)
        # The dates as texts, for the builders.
        self.issue_day = Day(issue_date)
        self.due_day = _day(due_date)
        self.period_start_day = _day(period_start)
        self.period_end_day = _day(period_end)
        self.delivery_day = _day(delivery_date)
        self.preceding_number = None if preceding is None else preceding.number  # BT-25
        self.preceding_day = None if preceding is None else Day(preceding.issue_date)  # BT-26

    @property
    def categories(self) -> frozenset[str]:
        """The VAT categories of the lines and the breakdown."""
        return frozenset([ln.category for ln in self.lines] + [row.category for row in self.vat])


def _line(position: int, ln: Line, sign: int) -> LineTerms:
    out = LineTerms()
    out.id = str(position)
    out.name = ln.description
    out.item_id = ln.product_code
    out.unit = ln.unit_code
    net = ln.net_amount if sign > 0 else -ln.net_amount
    discount = ln.discount_amount if sign > 0 else -ln.discount_amount
    unit_price = ln.unit_price_amount if sign > 0 else -ln.unit_price_amount
    quantity = ln.quantity
    gross = net + discount
    base: Decimal | None = None
    if not quantity:
        price = round_price(abs(unit_price * ln.billing_factor))
    elif ln.billing_factor == 1 and abs(quantity * unit_price - gross) <= CENT:
        price = unit_price
    else:
        price = round_price(gross / quantity)
        if abs(quantity * price - gross) > CENT:
            price, base = gross, abs(quantity)
            if quantity < 0:
                price = -price
    if price < 0:  # BR-27: the sign goes on the quantity
        price, quantity = -price, -quantity
    out.quantity = quantity
    out.quantity_text = decimal_text(quantity)
    out.price = price
    out.price_text = price_text(price)
    if base is not None:
        out.base_quantity = base
        out.base_quantity_text = decimal_text(base)
    out.net = net
    out.net_text = amount_text(net)
    if discount:
        out.allowance = discount
        out.allowance_text = amount_text(discount)
    vat = ln.vat
    out.category = vat.category
    if vat.category != "O":  # BR-O-05: no rate on an O line
        out.rate = vat.rate
        out.rate_text = decimal_text(vat.rate)
    period = ln.period
    if period is not None:
        out.start = start = period.start
        out.end = end = period.last_day
        out.start_text = text = start.isoformat()
        out.start_102 = text.replace("-", "")
        out.end_text = text = end.isoformat()
        out.end_102 = text.replace("-", "")
    return out


def _reason(category: str, code: str | None, text: str | None) -> tuple[str | None, str | None]:
    """BT-120 and BT-121 of a breakdown row: the document's, completed from the code lists."""
    if category not in EXEMPT_CATEGORIES:
        return text, code  # S, Z, L, M: none expected (BR-S-10 …); the rules say so if any
    code = code or default_exemption_code(category)
    if not text and code:
        text = exemption_text(code)
    return text, code


def _payment_terms_text(document: Invoice, credit_note: bool, debit: bool) -> str:
    if credit_note:
        return "Credit note: the amount is offset against open items or refunded."
    if debit:
        return (
            "Collected by SEPA direct debit on or after "
            f"{document.due_date.isoformat()}, without deduction."
        )
    return f"Payable without deduction by {document.due_date.isoformat()}."


def business_terms(document: Invoice) -> BusinessTerms:
    """Map *document* to its EN 16931 business terms (see the module docs).

    Pure and cheap: no checks happen here (:func:`.rules.check` does them), so a document
    that breaks a rule still maps, and the findings can name what is wrong.
    """
    total = document.total.amount
    credit_note = total < 0 or (total == 0 and document.kind is not DocumentKind.INVOICE)
    sign = -1 if credit_note else 1
    code = document.currency.code
    lines = [_line(n, ln, sign) for n, ln in enumerate(document.lines, 1)]
    categories = {ln.vat.category for ln in document.lines}
    # BR-O-02: no VAT ids on a document with category O. The seller is then identified by
    # its tax number as seller identifier BT-29 (BR-CO-26).
    outside_scope = "O" in categories
    company, account = document.seller, document.buyer
    seller_vat = None if outside_scope else company.vat_id
    identifier = company.tax_number if outside_scope and company.tax_number else None
    seller = Party(
        company.name,
        company.address,
        seller_vat,
        company.tax_number,
        identifier,
        company.electronic_address,
        company.contact,
    )
    buyer = Party(
        account.name,
        account.recipient_address,
        None if outside_scope else account.vat_id,
        endpoint=account.electronic_address,
    )
    vat = []
    for sub in document.tax_breakdown:
        reason, reason_code = _reason(sub.category, sub.exemption_code, sub.exemption_reason)
        basis, tax = sub.basis.amount, sub.tax.amount
        vat.append(
            VatRow(
                sub.category,
                sub.rate,
                -basis if credit_note else basis,
                -tax if credit_note else tax,
                reason,
                reason_code,
            )
        )
    net, tax_total = document.net_total.amount, document.tax_total.amount
    if credit_note:
        net, tax_total, total = -net, -tax_total, -total
    period = document.service_period
    # Deliver-to (BG-13, BG-15): where goods go, else the buyer. Always given, so that an
    # intra-community supply names its country (BR-IC-12) and CII's mandatory delivery
    # element is never empty (PEPPOL-EN16931-R008).
    ship_to = Party(account.name, account.shipping_address or account.recipient_address)
    delivery_date = None
    if "K" in categories and period is None:
        delivery_date = document.invoice_date  # BR-IC-11: a date when there is no period
    bank = company.bank_account
    number = document.number or ""
    payment = None
    debit = None if credit_note else document.direct_debit
    if debit is not None:
        # The buyer's mandate (BG-19): no transfer instructions beside it (BR-DE-25).
        payment = Payment.direct_debit(
            debit.mandate_reference, debit.creditor_id, debit.iban, number
        )
    elif bank is not None:
        means = PAYMENT_SEPA_CREDIT_TRANSFER if code == "EUR" else PAYMENT_CREDIT_TRANSFER
        payment = Payment.transfer(
            means, bank.iban.replace(" ", ""), bank.bic, company.name, number
        )
    return BusinessTerms(
        number=number,
        issue_date=document.invoice_date,
        type_code=CREDIT_NOTE if credit_note else INVOICE,
        credit_note=credit_note,
        currency=code,
        seller=seller,
        buyer=buyer,
        lines=lines,
        vat=vat,
        totals=Totals(net, net, tax_total, total),
        # One BT-22 with every legal notice: Peppol allows one note only (R002).
        notes=("\n".join(document.notices),) if document.notices else (),
        due_date=None if credit_note else document.due_date,
        buyer_reference=account.buyer_reference,
        payment_terms=_payment_terms_text(document, credit_note, debit is not None),
        payment=payment,
        preceding=document.preceding,
        period_start=None if period is None else period.start,
        period_end=None if period is None else period.last_day,
        delivery_date=delivery_date,
        ship_to=ship_to,
    )
