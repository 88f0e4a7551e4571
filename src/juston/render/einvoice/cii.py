"""UN/CEFACT Cross Industry Invoice (CII D16B) from business terms.

One ``rsm:CrossIndustryInvoice`` root for invoices and credit notes alike (BT-3 gives the
direction). Elements are appended in the order of the schema (the Factur-X EN 16931 XSD,
``Factur-X_1.09_EN16931_urn_un_unece_uncefact_data_standard_ReusableAggregateBusiness
InformationEntity_100.xsd``): the lines come before the header agreement, delivery and
settlement; only ``TaxTotalAmount`` carries a ``currencyID`` (CII-DT-031); dates are
``udt:DateTimeString format="102"`` (YYYYMMDD).

:func:`_document` builds the tree element by element (``etree.SubElement`` with qualified
names made once at import) and is the one description of the structure. :func:`build`
makes the same tree faster: the document's skeleton (everything but notes, lines and VAT
rows) is built once per shape and copied, and lines and rows are stamped in
(:mod:`.stamps`); the tests check that both give the same XML.
"""

from __future__ import annotations

from lxml import etree

from .codes import ALLOWANCE_DISCOUNT
from .profiles import Profile
from .semantic import BusinessTerms, LineTerms, Party, VatRow
from .skeletons import skeleton
from .stamps import Anchors, Stamp, probe

__all__ = ["NAMESPACES", "build"]

RSM = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
QDT = "urn:un:unece:uncefact:data:standard:QualifiedDataType:100"
UDT = "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"
NAMESPACES = {"rsm": RSM, "ram": RAM, "qdt": QDT, "udt": UDT}

SE = etree.SubElement


def _names(namespace: str, *local: str) -> dict[str, str]:
    return {name: f"{{{namespace}}}{name}" for name in local}


_R = _names(
    RSM,
    "CrossIndustryInvoice",
    "ExchangedDocumentContext",
    "ExchangedDocument",
    "SupplyChainTradeTransaction",
)
_U = _names(UDT, "DateTimeString", "Indicator")
_Q = _names(QDT, "DateTimeString")
_A = _names(
    RAM,
    "ActualAmount",
    "ActualDeliverySupplyChainEvent",
    "AllowanceTotalAmount",
    "ApplicableHeaderTradeAgreement",
    "ApplicableHeaderTradeDelivery",
    "ApplicableHeaderTradeSettlement",
    "ApplicableTradeTax",
    "AssociatedDocumentLineDocument",
    "BasisAmount",
    "BasisQuantity",
    "BICID",
    "BilledQuantity",
    "BillingSpecifiedPeriod",
    "BusinessProcessSpecifiedDocumentContextParameter",
    "BuyerReference",
    "BuyerTradeParty",
    "CalculatedAmount",
    "CategoryCode",
    "ChargeAmount",
    "ChargeIndicator",
    "CityName",
    "CompleteNumber",
    "Content",
    "CountryID",
    "CountrySubDivisionName",
    "CreditorReferenceID",
    "DefinedTradeContact",
    "Description",
    "DirectDebitMandateID",
    "DueDateDateTime",
    "DuePayableAmount",
    "EmailURIUniversalCommunication",
    "EndDateTime",
    "ExemptionReason",
    "ExemptionReasonCode",
    "FormattedIssueDateTime",
    "GrandTotalAmount",
    "GuidelineSpecifiedDocumentContextParameter",
    "IBANID",
    "ID",
    "IncludedNote",
    "IncludedSupplyChainTradeLineItem",
    "InvoiceCurrencyCode",
    "InvoiceReferencedDocument",
    "IssueDateTime",
    "IssuerAssignedID",
    "LineID",
    "LineOne",
    "LineTotalAmount",
    "LineTwo",
    "Name",
    "NetPriceProductTradePrice",
    "OccurrenceDateTime",
    "AccountName",
    "PayeePartyCreditorFinancialAccount",
    "PayeeSpecifiedCreditorFinancialInstitution",
    "PayerPartyDebtorFinancialAccount",
    "PaymentReference",
    "PersonName",
    "PostalTradeAddress",
    "PostcodeCode",
    "RateApplicablePercent",
    "Reason",
    "ReasonCode",
    "SellerAssignedID",
    "SellerTradeParty",
    "ShipToTradeParty",
    "SpecifiedLineTradeAgreement",
    "SpecifiedLineTradeDelivery",
    "SpecifiedLineTradeSettlement",
    "SpecifiedTaxRegistration",
    "SpecifiedTradeAllowanceCharge",
    "SpecifiedTradePaymentTerms",
    "SpecifiedTradeProduct",
    "SpecifiedTradeSettlementHeaderMonetarySummation",
    "SpecifiedTradeSettlementLineMonetarySummation",
    "SpecifiedTradeSettlementPaymentMeans",
    "StartDateTime",
    "TaxBasisTotalAmount",
    "TaxTotalAmount",
    "TelephoneUniversalCommunication",
    "TypeCode",
    "URIID",
    "URIUniversalCommunication",
)

# The names used in the hot paths, as module constants.
_DTS = _U["DateTimeString"]
_ID = _A["ID"]
_NAME = _A["Name"]
_TYPE = _A["TypeCode"]
_CATEGORY = _A["CategoryCode"]
_RATE = _A["RateApplicablePercent"]
_DISCOUNT_CODE, _DISCOUNT_TEXT = ALLOWANCE_DISCOUNT


def _date(parent: etree._Element, tag: str, text: str) -> None:
    """*tag* holding a ``udt:DateTimeString`` of *text* (YYYYMMDD, format 102)."""
    SE(SE(parent, tag), _DTS, format="102").text = text


def _address(parent: etree._Element, party: Party) -> None:
    postal = SE(parent, _A["PostalTradeAddress"])
    SE(postal, _A["PostcodeCode"]).text = party.postcode
    SE(postal, _A["LineOne"]).text = party.street
    if party.line2:
        SE(postal, _A["LineTwo"]).text = party.line2
    SE(postal, _A["CityName"]).text = party.city
    SE(postal, _A["CountryID"]).text = party.country
    if party.region:
        SE(postal, _A["CountrySubDivisionName"]).text = party.region


def _party(parent: etree._Element, tag: str, party: Party) -> None:
    """A ``SellerTradeParty``, ``BuyerTradeParty`` or ``ShipToTradeParty``."""
    element = SE(parent, tag)
    if party.identifier:
        SE(element, _ID).text = party.identifier  # BT-29
    SE(element, _NAME).text = party.name
    if party.contact_name:
        contact = SE(element, _A["DefinedTradeContact"])
        SE(contact, _A["PersonName"]).text = party.contact_name
        if party.contact_phone:
            phone = SE(contact, _A["TelephoneUniversalCommunication"])
            SE(phone, _A["CompleteNumber"]).text = party.contact_phone
        if party.contact_email:
            email = SE(contact, _A["EmailURIUniversalCommunication"])
            SE(email, _A["URIID"]).text = party.contact_email
    _address(element, party)
    if party.endpoint_value:
        uri = SE(element, _A["URIUniversalCommunication"])
        SE(uri, _A["URIID"], schemeID=party.endpoint_scheme or "").text = party.endpoint_value
    if party.vat_id:
        SE(SE(element, _A["SpecifiedTaxRegistration"]), _ID, schemeID="VA").text = party.vat_id
    if party.tax_number:
        registration = SE(element, _A["SpecifiedTaxRegistration"])
        SE(registration, _ID, schemeID="FC").text = party.tax_number


def _line(parent: etree._Element, ln: LineTerms) -> None:
    """One ``IncludedSupplyChainTradeLineItem`` (BG-25); the stamps learn the shape here."""
    a = _A
    item = SE(parent, a["IncludedSupplyChainTradeLineItem"])
    SE(SE(item, a["AssociatedDocumentLineDocument"]), a["LineID"]).text = ln.id
    product = SE(item, a["SpecifiedTradeProduct"])
    if ln.item_id:
        SE(product, a["SellerAssignedID"]).text = ln.item_id
    SE(product, _NAME).text = ln.name
    price = SE(SE(item, a["SpecifiedLineTradeAgreement"]), a["NetPriceProductTradePrice"])
    SE(price, a["ChargeAmount"]).text = ln.price_text
    if ln.base_quantity_text:
        SE(price, a["BasisQuantity"], unitCode=ln.unit).text = ln.base_quantity_text
    delivery = SE(item, a["SpecifiedLineTradeDelivery"])
    SE(delivery, a["BilledQuantity"], unitCode=ln.unit).text = ln.quantity_text
    settlement = SE(item, a["SpecifiedLineTradeSettlement"])
    tax = SE(settlement, a["ApplicableTradeTax"])
    SE(tax, _TYPE).text = "VAT"
    SE(tax, _CATEGORY).text = ln.category
    if ln.rate_text:
        SE(tax, _RATE).text = ln.rate_text
    if ln.start_102 and ln.end_102:
        period = SE(settlement, a["BillingSpecifiedPeriod"])
        _date(period, a["StartDateTime"], ln.start_102)
        _date(period, a["EndDateTime"], ln.end_102)
    if ln.allowance_text:
        allowance = SE(settlement, a["SpecifiedTradeAllowanceCharge"])
        SE(SE(allowance, a["ChargeIndicator"]), _U["Indicator"]).text = "false"
        SE(allowance, a["ActualAmount"]).text = ln.allowance_text
        SE(allowance, a["ReasonCode"]).text = _DISCOUNT_CODE
        SE(allowance, a["Reason"]).text = _DISCOUNT_TEXT
    summation = SE(settlement, a["SpecifiedTradeSettlementLineMonetarySummation"])
    SE(summation, a["LineTotalAmount"]).text = ln.net_text


_LINE_TEXTS = (
    "id",
    "name",
    "item_id",
    "price_text",
    "base_quantity_text",
    "unit",
    "quantity_text",
    "category",
    "rate_text",
    "start_102",
    "end_102",
    "allowance_text",
    "net_text",
)
_LINE_STAMPS: dict[tuple[bool, ...], Stamp[LineTerms]] = {}


def _lines(transaction: etree._Element, terms: BusinessTerms, index: int | None = None) -> None:
    """The lines, appended to *transaction* or inserted from *index* on."""
    stamps = _LINE_STAMPS
    for offset, ln in enumerate(terms.lines):
        key = (
            bool(ln.item_id),
            bool(ln.base_quantity_text),
            bool(ln.rate_text),
            bool(ln.start_102 and ln.end_102),
            bool(ln.allowance_text),
        )
        stamp = stamps.get(key)
        if stamp is None:
            stamp = stamps[key] = Stamp(_line, probe(ln, _LINE_TEXTS), NAMESPACES)
        if index is None:
            stamp.add(transaction, ln)
        else:
            stamp.insert(transaction, index + offset, ln)


def _vat_row(parent: etree._Element, row: VatRow) -> None:
    """One header ``ApplicableTradeTax`` (BG-23)."""
    a = _A
    tax = SE(parent, a["ApplicableTradeTax"])
    SE(tax, a["CalculatedAmount"]).text = row.tax_text
    SE(tax, _TYPE).text = "VAT"
    if row.reason:
        SE(tax, a["ExemptionReason"]).text = row.reason
    SE(tax, a["BasisAmount"]).text = row.basis_text
    SE(tax, _CATEGORY).text = row.category
    if row.reason_code:
        SE(tax, a["ExemptionReasonCode"]).text = row.reason_code
    SE(tax, _RATE).text = row.rate_text


_ROW_TEXTS = ("tax_text", "reason", "basis_text", "category", "reason_code", "rate_text")
_ROW_STAMPS: dict[tuple[bool, bool], Stamp[VatRow]] = {}


def _rows(settlement: etree._Element, terms: BusinessTerms, index: int | None = None) -> None:
    """The VAT breakdown, appended to *settlement* or inserted from *index* on."""
    for offset, row in enumerate(terms.vat):
        key = (bool(row.reason), bool(row.reason_code))
        stamp = _ROW_STAMPS.get(key)
        if stamp is None:
            stamp = _ROW_STAMPS[key] = Stamp(_vat_row, probe(row, _ROW_TEXTS), NAMESPACES)
        if index is None:
            stamp.add(settlement, row)
        else:
            stamp.insert(settlement, index + offset, row)


def _settlement(
    transaction: etree._Element, terms: BusinessTerms, anchors: Anchors | None = None
) -> None:
    a = _A
    settlement = SE(transaction, a["ApplicableHeaderTradeSettlement"])
    payment = terms.payment
    if payment is not None and payment.creditor_id:
        SE(settlement, a["CreditorReferenceID"]).text = payment.creditor_id  # BT-90
    if payment is not None and payment.reference:
        SE(settlement, a["PaymentReference"]).text = payment.reference
    SE(settlement, a["InvoiceCurrencyCode"]).text = terms.currency
    if payment is not None:
        means = SE(settlement, a["SpecifiedTradeSettlementPaymentMeans"])
        SE(means, _TYPE).text = payment.means_code
        if payment.debited_iban:  # BT-91
            debtor = SE(means, a["PayerPartyDebtorFinancialAccount"])
            SE(debtor, a["IBANID"]).text = payment.debited_iban
        if payment.iban:  # BG-17
            account = SE(means, a["PayeePartyCreditorFinancialAccount"])
            SE(account, a["IBANID"]).text = payment.iban
            if payment.account_name:
                SE(account, a["AccountName"]).text = payment.account_name
        if payment.bic:
            institution = SE(means, a["PayeeSpecifiedCreditorFinancialInstitution"])
            SE(institution, a["BICID"]).text = payment.bic
    if anchors is None:
        _rows(settlement, terms)
    else:
        anchors.mark("rows", settlement)
    start, end = terms.period_start_day, terms.period_end_day
    if start is not None and end is not None:
        period = SE(settlement, a["BillingSpecifiedPeriod"])
        _date(period, a["StartDateTime"], start.compact)
        _date(period, a["EndDateTime"], end.compact)
    mandate = None if payment is None else payment.mandate_reference
    if terms.payment_terms or terms.due_day is not None or mandate:
        payment_terms = SE(settlement, a["SpecifiedTradePaymentTerms"])
        if terms.payment_terms:
            SE(payment_terms, a["Description"]).text = terms.payment_terms
        if terms.due_day is not None:
            _date(payment_terms, a["DueDateDateTime"], terms.due_day.compact)
        if mandate:
            SE(payment_terms, a["DirectDebitMandateID"]).text = mandate  # BT-89
    t = terms.totals
    summation = SE(settlement, a["SpecifiedTradeSettlementHeaderMonetarySummation"])
    SE(summation, a["LineTotalAmount"]).text = t.line_total_text
    SE(summation, a["TaxBasisTotalAmount"]).text = t.tax_exclusive_text
    SE(summation, a["TaxTotalAmount"], currencyID=terms.currency).text = t.tax_total_text
    SE(summation, a["GrandTotalAmount"]).text = t.tax_inclusive_text
    SE(summation, a["DuePayableAmount"]).text = t.payable_text
    if terms.preceding_number and terms.preceding_day is not None:
        reference = SE(settlement, a["InvoiceReferencedDocument"])
        SE(reference, a["IssuerAssignedID"]).text = terms.preceding_number
        issued = SE(reference, a["FormattedIssueDateTime"])
        SE(issued, _Q["DateTimeString"], format="102").text = terms.preceding_day.compact


def _notes(document: etree._Element, terms: BusinessTerms) -> None:
    for note in terms.notes:
        SE(SE(document, _A["IncludedNote"]), _A["Content"]).text = note


def _document(
    terms: BusinessTerms, profile: Profile, anchors: Anchors | None = None
) -> etree._Element:
    """The whole tree, built element by element.

    With *anchors* it is a skeleton: the notes, lines and VAT rows are left out and their
    places noted (see :class:`.stamps.Skeleton`).
    """
    a = _A
    root = etree.Element(_R["CrossIndustryInvoice"], nsmap=NAMESPACES)
    context = SE(root, _R["ExchangedDocumentContext"])
    if profile.business_process:
        process = SE(context, a["BusinessProcessSpecifiedDocumentContextParameter"])
        SE(process, _ID).text = profile.business_process
    guideline = SE(context, a["GuidelineSpecifiedDocumentContextParameter"])
    SE(guideline, _ID).text = profile.specification
    document = SE(root, _R["ExchangedDocument"])
    SE(document, _ID).text = terms.number
    SE(document, _TYPE).text = terms.type_code
    _date(document, a["IssueDateTime"], terms.issue_day.compact)
    if anchors is None:
        _notes(document, terms)
    else:
        anchors.mark("notes", document)
    transaction = SE(root, _R["SupplyChainTradeTransaction"])
    if anchors is None:
        _lines(transaction, terms)
    else:
        anchors.mark("lines", transaction)
    agreement = SE(transaction, a["ApplicableHeaderTradeAgreement"])
    if terms.buyer_reference:
        SE(agreement, a["BuyerReference"]).text = terms.buyer_reference
    _party(agreement, a["SellerTradeParty"], terms.seller)
    _party(agreement, a["BuyerTradeParty"], terms.buyer)
    delivery = SE(transaction, a["ApplicableHeaderTradeDelivery"])
    if terms.ship_to is not None:
        _party(delivery, a["ShipToTradeParty"], terms.ship_to)
    if terms.delivery_day is not None:
        event = SE(delivery, a["ActualDeliverySupplyChainEvent"])
        _date(event, a["OccurrenceDateTime"], terms.delivery_day.compact)
    _settlement(transaction, terms, anchors)
    return root


def build(terms: BusinessTerms, profile: Profile) -> etree._Element:
    """The ``rsm:CrossIndustryInvoice`` tree of *terms* under *profile*.

    A copy of the skeleton of the document's shape, its notes, lines and VAT rows stamped
    into their places: the same tree :func:`_document` builds, made mostly in C.
    """
    root, places = skeleton("cii", _document, terms, profile).make(terms)
    for name, parent, index in places:
        if name == "lines":
            _lines(parent, terms, index)
        elif name == "rows":
            _rows(parent, terms, index)
        else:
            for offset, note in enumerate(terms.notes):
                element = parent.makeelement(_A["IncludedNote"])
                SE(element, _A["Content"]).text = note
                parent.insert(index + offset, element)
    return root
