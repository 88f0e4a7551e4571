"""UBL 2.1 ``Invoice`` and ``CreditNote`` from business terms.

A credit note (BT-3 ``381``) is its own document type in UBL: root ``CreditNote``, lines
``CreditNoteLine`` with ``CreditedQuantity``, no header ``DueDate``. Elements are appended
in the order of the OASIS UBL 2.1 schemas (``UBL-Invoice-2.1.xsd``,
``UBL-CreditNote-2.1.xsd``, ``UBL-CommonAggregateComponents-2.1.xsd``); every amount
carries ``currencyID``; one ``TaxTotal`` holds the subtotals (no BT-111: juston documents
have no separate VAT accounting currency).

As in :mod:`.cii`, :func:`_document` builds the tree element by element and :func:`build`
makes the same tree from a skeleton copied per shape, with notes, VAT rows and lines
stamped in.
"""

from __future__ import annotations

from lxml import etree

from .codes import ALLOWANCE_DISCOUNT
from .profiles import Profile
from .semantic import BusinessTerms, LineTerms, Party, VatRow
from .skeletons import skeleton
from .stamps import Anchors, Stamp, probe

__all__ = ["CAC", "CBC", "CREDIT_NOTE_NS", "INVOICE_NS", "build"]

INVOICE_NS = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
CREDIT_NOTE_NS = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"

SE = etree.SubElement


def _names(namespace: str, *local: str) -> dict[str, str]:
    return {name: f"{{{namespace}}}{name}" for name in local}


_B = _names(
    CBC,
    "AdditionalStreetName",
    "AllowanceChargeReason",
    "AllowanceChargeReasonCode",
    "Amount",
    "BaseQuantity",
    "BuyerReference",
    "ChargeIndicator",
    "CityName",
    "CompanyID",
    "CountrySubentity",
    "CreditNoteTypeCode",
    "CreditedQuantity",
    "CustomizationID",
    "DocumentCurrencyCode",
    "DueDate",
    "ElectronicMail",
    "EndDate",
    "EndpointID",
    "ActualDeliveryDate",
    "ID",
    "IdentificationCode",
    "InvoiceTypeCode",
    "InvoicedQuantity",
    "IssueDate",
    "LineExtensionAmount",
    "Name",
    "Note",
    "PayableAmount",
    "PaymentID",
    "PaymentMeansCode",
    "Percent",
    "PostalZone",
    "PriceAmount",
    "ProfileID",
    "RegistrationName",
    "StartDate",
    "StreetName",
    "TaxAmount",
    "TaxExclusiveAmount",
    "TaxExemptionReason",
    "TaxExemptionReasonCode",
    "TaxInclusiveAmount",
    "TaxableAmount",
    "Telephone",
)
_C = _names(
    CAC,
    "AccountingCustomerParty",
    "AccountingSupplierParty",
    "Address",
    "AllowanceCharge",
    "BillingReference",
    "ClassifiedTaxCategory",
    "Contact",
    "Country",
    "Delivery",
    "DeliveryLocation",
    "DeliveryParty",
    "FinancialInstitutionBranch",
    "InvoiceDocumentReference",
    "InvoicePeriod",
    "Item",
    "LegalMonetaryTotal",
    "Party",
    "PartyIdentification",
    "PartyLegalEntity",
    "PartyName",
    "PartyTaxScheme",
    "PayeeFinancialAccount",
    "PayerFinancialAccount",
    "PaymentMandate",
    "PaymentMeans",
    "PaymentTerms",
    "PostalAddress",
    "Price",
    "SellersItemIdentification",
    "TaxCategory",
    "TaxScheme",
    "TaxSubtotal",
    "TaxTotal",
)
_NSMAP = {"cac": CAC, "cbc": CBC}
_ROOTS = {
    False: (f"{{{INVOICE_NS}}}Invoice", {None: INVOICE_NS, "cac": CAC, "cbc": CBC}),
    True: (f"{{{CREDIT_NOTE_NS}}}CreditNote", {None: CREDIT_NOTE_NS, "cac": CAC, "cbc": CBC}),
}
_LINE = {False: f"{{{CAC}}}InvoiceLine", True: f"{{{CAC}}}CreditNoteLine"}
_QUANTITY = {False: _B["InvoicedQuantity"], True: _B["CreditedQuantity"]}
_TYPE_CODE = {False: _B["InvoiceTypeCode"], True: _B["CreditNoteTypeCode"]}
_ID = _B["ID"]
_DISCOUNT_CODE, _DISCOUNT_TEXT = ALLOWANCE_DISCOUNT


def _tax_scheme(parent: etree._Element, scheme: str = "VAT") -> None:
    SE(SE(parent, _C["TaxScheme"]), _ID).text = scheme


def _address(parent: etree._Element, tag: str, party: Party) -> None:
    b = _B
    postal = SE(parent, tag)
    SE(postal, b["StreetName"]).text = party.street
    if party.line2:
        SE(postal, b["AdditionalStreetName"]).text = party.line2
    SE(postal, b["CityName"]).text = party.city
    SE(postal, b["PostalZone"]).text = party.postcode
    if party.region:
        SE(postal, b["CountrySubentity"]).text = party.region
    SE(SE(postal, _C["Country"]), b["IdentificationCode"]).text = party.country


def _party(parent: etree._Element, tag: str, party: Party, creditor_id: str | None = None) -> None:
    """An ``AccountingSupplierParty`` or ``AccountingCustomerParty`` with its ``Party``;
    the seller's SEPA *creditor_id* (BT-90) is a party identification of scheme ``SEPA``."""
    b, c = _B, _C
    element = SE(SE(parent, tag), c["Party"])
    if party.endpoint_value:
        SE(
            element, b["EndpointID"], schemeID=party.endpoint_scheme or ""
        ).text = party.endpoint_value
    if creditor_id:
        identification = SE(element, c["PartyIdentification"])
        SE(identification, _ID, schemeID="SEPA").text = creditor_id  # BT-90
    if party.identifier:
        SE(SE(element, c["PartyIdentification"]), _ID).text = party.identifier  # BT-29
    _address(element, c["PostalAddress"], party)
    if party.vat_id:
        scheme = SE(element, c["PartyTaxScheme"])
        SE(scheme, b["CompanyID"]).text = party.vat_id
        _tax_scheme(scheme)
    if party.tax_number:
        scheme = SE(element, c["PartyTaxScheme"])
        SE(scheme, b["CompanyID"]).text = party.tax_number
        _tax_scheme(scheme, "FC")
    SE(SE(element, c["PartyLegalEntity"]), b["RegistrationName"]).text = party.name
    if party.contact_name:
        person = SE(element, c["Contact"])
        SE(person, b["Name"]).text = party.contact_name
        if party.contact_phone:
            SE(person, b["Telephone"]).text = party.contact_phone
        if party.contact_email:
            SE(person, b["ElectronicMail"]).text = party.contact_email


def _delivery(parent: etree._Element, terms: BusinessTerms) -> None:
    """The ``Delivery``: BT-72 and the deliver-to party (BG-13: BT-70, address BG-15)."""
    c = _C
    delivery = SE(parent, c["Delivery"])
    if terms.delivery_day is not None:
        SE(delivery, _B["ActualDeliveryDate"]).text = terms.delivery_day.iso
    party = terms.ship_to
    if party is not None:
        _address(SE(delivery, c["DeliveryLocation"]), c["Address"], party)
        SE(SE(SE(delivery, c["DeliveryParty"]), c["PartyName"]), _B["Name"]).text = party.name


class _LineShape:
    """The parts of a line's shape that are not in the line: direction and currency."""

    __slots__ = ("credit", "currency")

    def __init__(self, credit: bool, currency: str) -> None:
        self.credit = credit
        self.currency = currency

    def __call__(self, parent: etree._Element, ln: LineTerms) -> None:
        _line(parent, ln, self.credit, self.currency)


def _line(parent: etree._Element, ln: LineTerms, credit: bool, currency: str) -> None:
    """One ``InvoiceLine`` or ``CreditNoteLine`` (BG-25); the stamps learn the shape here."""
    b, c = _B, _C
    line = SE(parent, _LINE[credit])
    SE(line, _ID).text = ln.id
    SE(line, _QUANTITY[credit], unitCode=ln.unit).text = ln.quantity_text
    SE(line, b["LineExtensionAmount"], currencyID=currency).text = ln.net_text
    if ln.start_text and ln.end_text:
        period = SE(line, c["InvoicePeriod"])
        SE(period, b["StartDate"]).text = ln.start_text
        SE(period, b["EndDate"]).text = ln.end_text
    if ln.allowance_text:
        allowance = SE(line, c["AllowanceCharge"])
        SE(allowance, b["ChargeIndicator"]).text = "false"
        SE(allowance, b["AllowanceChargeReasonCode"]).text = _DISCOUNT_CODE
        SE(allowance, b["AllowanceChargeReason"]).text = _DISCOUNT_TEXT
        SE(allowance, b["Amount"], currencyID=currency).text = ln.allowance_text
    item = SE(line, c["Item"])
    SE(item, b["Name"]).text = ln.name
    if ln.item_id:
        SE(SE(item, c["SellersItemIdentification"]), _ID).text = ln.item_id
    category = SE(item, c["ClassifiedTaxCategory"])
    SE(category, _ID).text = ln.category
    if ln.rate_text:
        SE(category, b["Percent"]).text = ln.rate_text
    _tax_scheme(category)
    price = SE(line, c["Price"])
    SE(price, b["PriceAmount"], currencyID=currency).text = ln.price_text
    if ln.base_quantity_text:
        SE(price, b["BaseQuantity"], unitCode=ln.unit).text = ln.base_quantity_text


_LINE_TEXTS = (
    "id",
    "unit",
    "quantity_text",
    "net_text",
    "start_text",
    "end_text",
    "allowance_text",
    "name",
    "item_id",
    "category",
    "rate_text",
    "price_text",
    "base_quantity_text",
)
_LINE_STAMPS: dict[tuple[object, ...], Stamp[LineTerms]] = {}


def _lines(root: etree._Element, terms: BusinessTerms) -> None:
    stamps = _LINE_STAMPS
    credit, currency = terms.credit_note, terms.currency
    for ln in terms.lines:
        key = (
            credit,
            currency,
            bool(ln.start_text and ln.end_text),
            bool(ln.allowance_text),
            bool(ln.item_id),
            bool(ln.rate_text),
            bool(ln.base_quantity_text),
        )
        stamp = stamps.get(key)
        if stamp is None:
            if len(stamps) > 256:  # a bounded cache: one shape per currency and variant
                stamps.clear()
            build = _LineShape(credit, currency)
            stamp = stamps[key] = Stamp(build, probe(ln, _LINE_TEXTS), _NSMAP)
        stamp.add(root, ln)


class _RowShape:
    __slots__ = ("currency",)

    def __init__(self, currency: str) -> None:
        self.currency = currency

    def __call__(self, parent: etree._Element, row: VatRow) -> None:
        _vat_row(parent, row, self.currency)


def _vat_row(parent: etree._Element, row: VatRow, currency: str) -> None:
    """One ``TaxSubtotal`` (BG-23)."""
    b, c = _B, _C
    subtotal = SE(parent, c["TaxSubtotal"])
    SE(subtotal, b["TaxableAmount"], currencyID=currency).text = row.basis_text
    SE(subtotal, b["TaxAmount"], currencyID=currency).text = row.tax_text
    category = SE(subtotal, c["TaxCategory"])
    SE(category, _ID).text = row.category
    SE(category, b["Percent"]).text = row.rate_text
    if row.reason_code:
        SE(category, b["TaxExemptionReasonCode"]).text = row.reason_code
    if row.reason:
        SE(category, b["TaxExemptionReason"]).text = row.reason
    _tax_scheme(category)


_ROW_TEXTS = ("basis_text", "tax_text", "category", "rate_text", "reason_code", "reason")
_ROW_STAMPS: dict[tuple[object, ...], Stamp[VatRow]] = {}


def _rows(tax_total: etree._Element, terms: BusinessTerms, index: int | None = None) -> None:
    """The ``TaxSubtotal`` rows, appended to *tax_total* or inserted from *index* on."""
    currency = terms.currency
    for offset, row in enumerate(terms.vat):
        key = (currency, bool(row.reason), bool(row.reason_code))
        stamp = _ROW_STAMPS.get(key)
        if stamp is None:
            if len(_ROW_STAMPS) > 64:
                _ROW_STAMPS.clear()
            stamp = _ROW_STAMPS[key] = Stamp(_RowShape(currency), probe(row, _ROW_TEXTS), _NSMAP)
        if index is None:
            stamp.add(tax_total, row)
        else:
            stamp.insert(tax_total, index + offset, row)


def _settlement(root: etree._Element, terms: BusinessTerms, anchors: Anchors | None) -> None:
    b, c = _B, _C
    currency = terms.currency
    payment = terms.payment
    if payment is not None:
        means = SE(root, c["PaymentMeans"])
        SE(means, b["PaymentMeansCode"]).text = payment.means_code
        if payment.reference:
            SE(means, b["PaymentID"]).text = payment.reference
        if payment.iban:  # BG-17
            account = SE(means, c["PayeeFinancialAccount"])
            SE(account, _ID).text = payment.iban
            if payment.account_name:
                SE(account, b["Name"]).text = payment.account_name
            if payment.bic:
                SE(SE(account, c["FinancialInstitutionBranch"]), _ID).text = payment.bic
        if payment.mandate_reference or payment.debited_iban:  # BG-19
            mandate = SE(means, c["PaymentMandate"])
            if payment.mandate_reference:
                SE(mandate, _ID).text = payment.mandate_reference  # BT-89
            if payment.debited_iban:
                debtor = SE(mandate, c["PayerFinancialAccount"])
                SE(debtor, _ID).text = payment.debited_iban  # BT-91
    if terms.payment_terms:
        SE(SE(root, c["PaymentTerms"]), b["Note"]).text = terms.payment_terms
    t = terms.totals
    tax_total = SE(root, c["TaxTotal"])
    SE(tax_total, b["TaxAmount"], currencyID=currency).text = t.tax_total_text
    if anchors is None:
        _rows(tax_total, terms)
    else:
        anchors.mark("rows", tax_total)
    total = SE(root, c["LegalMonetaryTotal"])
    SE(total, b["LineExtensionAmount"], currencyID=currency).text = t.line_total_text
    SE(total, b["TaxExclusiveAmount"], currencyID=currency).text = t.tax_exclusive_text
    SE(total, b["TaxInclusiveAmount"], currencyID=currency).text = t.tax_inclusive_text
    SE(total, b["PayableAmount"], currencyID=currency).text = t.payable_text


def _document(
    terms: BusinessTerms, profile: Profile, anchors: Anchors | None = None
) -> etree._Element:
    """The whole tree, built element by element.

    With *anchors* it is a skeleton: the notes, VAT rows and lines are left out and their
    places noted (see :class:`.stamps.Skeleton`).
    """
    b, c = _B, _C
    credit = terms.credit_note
    tag, nsmap = _ROOTS[credit]
    root = etree.Element(tag, nsmap=nsmap)  # type: ignore[arg-type]
    SE(root, b["CustomizationID"]).text = profile.specification
    if profile.business_process:
        SE(root, b["ProfileID"]).text = profile.business_process
    SE(root, _ID).text = terms.number
    SE(root, b["IssueDate"]).text = terms.issue_day.iso
    if terms.due_day is not None and not credit:
        SE(root, b["DueDate"]).text = terms.due_day.iso
    SE(root, _TYPE_CODE[credit]).text = terms.type_code
    if anchors is None:
        for note in terms.notes:
            SE(root, b["Note"]).text = note
    else:
        anchors.mark("notes", root)
    SE(root, b["DocumentCurrencyCode"]).text = terms.currency
    if terms.buyer_reference:
        SE(root, b["BuyerReference"]).text = terms.buyer_reference
    start, end = terms.period_start_day, terms.period_end_day
    if start is not None and end is not None:
        period = SE(root, c["InvoicePeriod"])
        SE(period, b["StartDate"]).text = start.iso
        SE(period, b["EndDate"]).text = end.iso
    if terms.preceding_number and terms.preceding_day is not None:
        reference = SE(SE(root, c["BillingReference"]), c["InvoiceDocumentReference"])
        SE(reference, _ID).text = terms.preceding_number
        SE(reference, b["IssueDate"]).text = terms.preceding_day.iso
    creditor_id = None if terms.payment is None else terms.payment.creditor_id
    _party(root, c["AccountingSupplierParty"], terms.seller, creditor_id)
    _party(root, c["AccountingCustomerParty"], terms.buyer)
    if terms.ship_to is not None or terms.delivery_day is not None:
        _delivery(root, terms)
    _settlement(root, terms, anchors)
    if anchors is None:
        _lines(root, terms)
    else:
        anchors.mark("lines", root)
    return root


def build(terms: BusinessTerms, profile: Profile) -> etree._Element:
    """The UBL ``Invoice`` (``380``) or ``CreditNote`` (``381``) tree of *terms*.

    A copy of the skeleton of the document's shape, its notes, VAT rows and lines stamped
    into their places: the same tree :func:`_document` builds, made mostly in C.
    """
    root, places = skeleton("ubl", _document, terms, profile).make(terms)
    for name, parent, index in places:
        if name == "lines":
            _lines(parent, terms)  # the last children: appended
        elif name == "rows":
            _rows(parent, terms, index)
        else:
            for offset, note in enumerate(terms.notes):
                element = parent.makeelement(_B["Note"])
                element.text = note
                parent.insert(index + offset, element)
    return root
