"""The rules checked before issue, and the calculation rules on the emitted XML.

The first part breaks one rule at a time and expects its finding (and no XML). The
hypothesis part generates documents (several categories and rates, discounts, billing
factors, prices with up to 5 decimals, large and fractional quantities, credits with mixed
signs), renders them as CII and UBL, parses the XML back and recomputes BR-CO-10 … BR-CO-17
and the line arithmetic from what is in the XML.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

import juston
from juston import BankAccount, Contact, ElectronicAddress, TaxResult
from juston.errors import EInvoiceError
from juston.render.einvoice import (
    PROFILES,
    EInvoiceRenderer,
    business_terms,
    check,
    cii_xml,
    ubl_xml,
)
from juston.render.einvoice import cii as cii_module
from juston.render.einvoice import ubl as ubl_module
from juston.render.einvoice.rules import check as check_terms
from test_einvoice_support import (
    MACHINE,
    SELLER,
    SUPPORT,
    account,
    assert_valid,
    c14n,
    document,
    draft_line,
    invoice,
    item,
    two_rates,
)

D = Decimal
CENT = Decimal("0.01")


def rules_of(findings: tuple[str, ...]) -> list[str]:
    return sorted(f.split(":")[0] for f in findings)


def tax(category: str, rate: str = "0", code: str | None = None, reason: str | None = None):
    return TaxResult(
        rate=D(rate), category=category, rule="test", exemption_code=code, exemption_reason=reason
    )


# --- one rule at a time ------------------------------------------------------------------------


def test_a_valid_document_has_no_findings() -> None:
    for profile in PROFILES:
        assert check(two_rates(), profile) == (), profile


def test_a_draft_is_refused() -> None:
    draft = document([draft_line("Seats", "2", "10.00")], number=None)
    assert rules_of(check(draft)) == ["BR-02"]
    with pytest.raises(EInvoiceError, match="draft D-1 cannot be issued as cii"):
        cii_xml(draft, "cii")


def test_no_lines() -> None:
    empty = document([])
    assert rules_of(check(empty)) == ["BR-16", "BR-CO-18"]


def test_calculation_rules_on_tampered_terms() -> None:
    terms = business_terms(two_rates())
    profile = PROFILES["cii"]
    terms.totals.line_total += CENT
    terms.totals.tax_total += CENT
    terms.vat[1].tax += CENT
    terms.lines[0].price = D("-1")
    found = rules_of(check_terms(terms, profile))
    assert found == ["BR-27", "BR-CO-10", "BR-CO-13", "BR-CO-15", "BR-CO-17"], found
    terms = business_terms(two_rates())
    terms.vat[0].basis += CENT
    terms.totals.payable += CENT
    terms.lines[1].net = D("39.805")
    found = rules_of(check_terms(terms, profile))
    # the 19 % basis and the 7 % line no longer add up (BR-S-08 twice)
    assert found == ["BR-CO-10", "BR-CO-16", "BR-DEC-23", "BR-S-08", "BR-S-08"], found


def test_exempt_needs_a_reason() -> None:
    doc = document([draft_line("Therapy", "1", "80.00", vat=tax("E"))])
    assert rules_of(check(doc)) == ["BR-E-10"]
    # the code alone is enough: its standard text is filled in
    doc = document([draft_line("Therapy", "1", "80.00", vat=tax("E", code="VATEX-EU-132-1B"))])
    assert check(doc) == ()
    (row,) = business_terms(doc).vat
    assert (
        row.reason == "Exempt based on article 132, section 1 (b) of Council Directive 2006/112/EC"
    )


def test_reverse_charge_gets_its_code_and_text_from_the_category() -> None:
    buyer = account("FR", business=True)
    doc = document([draft_line("Consulting", "1", "500.00", vat=tax("AE"))], buyer=buyer)
    assert check(doc) == ()
    (row,) = business_terms(doc).vat
    assert (row.reason_code, row.reason) == ("VATEX-EU-AE", "Reverse charge")


def test_standard_and_zero_rated_must_not_have_a_reason() -> None:
    doc = document(
        [
            draft_line("Seats", "1", "10.00", vat=tax("S", "19", code="VATEX-EU-132")),
            draft_line("Bread", "1", "3.00", vat=tax("Z", reason="zero")),
        ]
    )
    assert rules_of(check(doc)) == ["BR-S-10", "BR-Z-10"]


def test_category_and_vatex_code_must_agree() -> None:
    doc = document([draft_line("Therapy", "1", "80.00", vat=tax("E", code="VATEX-EU-AE"))])
    assert rules_of(check(doc)) == ["BR-CL-22"]
    doc = document([draft_line("Therapy", "1", "80.00", vat=tax("E", code="VATEX-XX-1"))])
    assert rules_of(check(doc)) == ["BR-CL-22"]


def test_rates_of_the_zero_categories() -> None:
    doc = document([draft_line("Bread", "1", "3.00", vat=tax("Z", "7"))])
    assert "BR-Z-05" in rules_of(check(doc))
    doc = document([draft_line("Seats", "1", "3.00", vat=tax("S", "0"))])
    assert "BR-S-05" in rules_of(check(doc))


def test_reverse_charge_and_intra_community_need_the_buyer_vat_id() -> None:
    consumer = account("FR")
    doc = document([draft_line("Consulting", "1", "500.00", vat=tax("AE"))], buyer=consumer)
    assert rules_of(check(doc)) == ["BR-AE-02"]
    doc = document([draft_line("Machine", "1", "500.00", vat=tax("K"))], buyer=consumer)
    assert rules_of(check(doc)) == ["BR-IC-02"]


def test_export_needs_the_seller_vat_id() -> None:
    seller = attrs.evolve(SELLER, vat_id=None)
    doc = document([draft_line("Machine", "1", "500.00", vat=tax("G"))], seller=seller)
    # without a VAT id the seller is not identified either (BR-CO-26)
    assert rules_of(check(doc)) == ["BR-CO-26", "BR-G-02"]


def test_outside_scope_must_be_alone() -> None:
    doc = document(
        [
            draft_line("Platform", "1", "99.00", vat=tax("O")),
            draft_line("Seats", "1", "10.00"),
        ],
        buyer=account("US"),
    )
    assert rules_of(check(doc)) == ["BR-O-11"]


def test_outside_scope_needs_a_seller_identifier() -> None:
    seller = attrs.evolve(SELLER, tax_number=None)
    doc = document([draft_line("Platform", "1", "99.00", vat=tax("O"))], seller=seller)
    assert rules_of(check(doc)) == ["BR-CO-26"]


def test_standard_rated_needs_a_seller_tax_id() -> None:
    seller = attrs.evolve(SELLER, vat_id=None, tax_number=None)
    doc = document([draft_line("Seats", "1", "10.00")], seller=seller)
    assert rules_of(check(doc)) == ["BR-CO-26", "BR-S-02"]
    assert rules_of(check(doc, "xrechnung-cii")) == ["BR-CO-26", "BR-DE-16", "BR-S-02"]


def test_electronic_address_scheme_must_be_in_the_eas_list() -> None:
    buyer = account("DE", electronic_address=ElectronicAddress("9958", "991-1"))
    doc = document([draft_line("Seats", "1", "10.00")], buyer=buyer)
    assert rules_of(check(doc)) == ["BR-CL-25"]


def test_xrechnung_requirements() -> None:
    seller = attrs.evolve(
        SELLER,
        contact=Contact(name="Billing", phone="12", email="billing.example"),
        bank_account=BankAccount(iban="DE00120300000000202051"),
        electronic_address=None,
    )
    buyer = account("DE", buyer_reference=None, electronic_address=None)
    doc = invoice(buyer, [item(SUPPORT, "10.00")], seller=seller)
    found = rules_of(check(doc, "xrechnung-ubl"))
    assert found == [
        "BR-DE-15",
        "BR-DE-19",
        "BR-DE-27",
        "BR-DE-28",
        "PEPPOL-EN16931-R010",
        "PEPPOL-EN16931-R020",
    ], found
    assert check(doc, "ubl") == ()
    bare = attrs.evolve(SELLER, contact=None, bank_account=None)
    doc = invoice(account("DE"), [item(SUPPORT, "10.00")], seller=bare)
    assert rules_of(check(doc, "xrechnung-cii")) == ["BR-DE-1", "BR-DE-2"]


def test_the_renderer_makes_no_xml_when_a_rule_fails() -> None:
    doc = invoice(account("DE", buyer_reference=None), [item(SUPPORT, "10.00")])
    renderer = EInvoiceRenderer("xrechnung-ubl")
    with pytest.raises(EInvoiceError) as caught:
        renderer.render(doc)
    assert caught.value.findings[0].startswith("BR-DE-15: the buyer reference BT-10")
    assert str(caught.value).startswith(f"{doc.number} cannot be issued as xrechnung-ubl: BR-DE-15")
    with pytest.raises(EInvoiceError):
        list(renderer.render_many([two_rates(), doc]))


def test_huge_quantities_use_a_price_base_quantity() -> None:
    # 123,457 units at 0.000123 after a prorating factor: 5 decimals cannot carry the price
    line = draft_line("SMS", "123457", "0.00037", factor="0.33333", net="15.23")
    doc = document([line])
    (terms,) = business_terms(doc).lines
    assert terms.base_quantity == D("123457")
    assert (terms.price_text, terms.base_quantity_text) == ("15.23", "123457")
    assert check(doc, "peppol") == ()
    assert_valid(cii_xml(doc, "cii"))
    assert_valid(ubl_xml(doc))


# --- BR-CO-10 … BR-CO-17 on the emitted XML (hypothesis) -----------------------------------------

RATES = {"S": ["19", "7", "20", "5.5", "16"], "Z": ["0"], "E": ["0"], "AE": ["0"]}
CODES = {"E": "VATEX-EU-132", "AE": "VATEX-EU-AE"}


@st.composite
def lines(draw):
    category = draw(st.sampled_from(sorted(RATES)))
    rate = draw(st.sampled_from(RATES[category]))
    quantity = draw(
        st.one_of(
            st.integers(1, 40).map(D),
            st.decimals(D("0.001"), D("500"), places=3),
            st.integers(1000, 2_000_000).map(D),
        )
    )
    price = draw(st.decimals(D("0.00001"), D("2500"), places=5))
    sign = draw(st.sampled_from([1, 1, 1, -1]))
    factor = draw(st.sampled_from([D(1), D(1), D("0.51613"), D("2.45161"), D("0.03333")]))
    gross = (quantity * price * factor).quantize(CENT, ROUND_HALF_UP)
    percent = draw(st.sampled_from([0, 0, 10, 50]))
    discount = (gross * percent / 100).quantize(CENT, ROUND_HALF_UP)
    return draft_line(
        f"{category} {rate}",
        str(quantity),
        str(sign * price),
        vat=tax(category, rate, code=CODES.get(category)),
        factor=factor,
        discount=str(sign * discount),
        net=str(sign * (gross - discount)),
    )


@st.composite
def documents(draw):
    return document(draw(st.lists(lines(), min_size=1, max_size=7)), buyer=account("DE", True))


def amounts(root: etree._Element, xpath: str) -> list[Decimal]:
    return [D(e.text) for e in root.xpath(xpath, namespaces=NAMESPACES)]


NAMESPACES = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
}


def rounded(value: Decimal) -> Decimal:
    return value.quantize(CENT, ROUND_HALF_UP)


def figures_of_cii(root):
    lines = []
    for ln in root.xpath("//ram:IncludedSupplyChainTradeLineItem", namespaces=NAMESPACES):
        (base,) = amounts(ln, ".//ram:BasisQuantity") or [D(1)]
        lines.append(
            (
                amounts(ln, ".//ram:BilledQuantity")[0],
                amounts(ln, ".//ram:ChargeAmount")[0] / base,
                sum(amounts(ln, ".//ram:SpecifiedTradeAllowanceCharge/ram:ActualAmount"), D(0)),
                amounts(ln, ".//ram:LineTotalAmount")[0],
                ln.xpath(".//ram:CategoryCode", namespaces=NAMESPACES)[0].text,
                (amounts(ln, ".//ram:RateApplicablePercent") or [D(0)])[0],
            )
        )
    rows = [
        (
            row.find("ram:CategoryCode", NAMESPACES).text,
            D(row.find("ram:RateApplicablePercent", NAMESPACES).text),
            D(row.find("ram:BasisAmount", NAMESPACES).text),
            D(row.find("ram:CalculatedAmount", NAMESPACES).text),
        )
        for row in root.xpath(
            "//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax", namespaces=NAMESPACES
        )
    ]
    total = "//ram:SpecifiedTradeSettlementHeaderMonetarySummation/ram:"
    totals = [
        amounts(root, total + name)[0]
        for name in (
            "LineTotalAmount",
            "TaxBasisTotalAmount",
            "TaxTotalAmount",
            "GrandTotalAmount",
            "DuePayableAmount",
        )
    ]
    return lines, rows, totals


def figures_of_ubl(root):
    lines = []
    for ln in root.xpath("cac:InvoiceLine | cac:CreditNoteLine", namespaces=NAMESPACES):
        (base,) = amounts(ln, "cac:Price/cbc:BaseQuantity") or [D(1)]
        lines.append(
            (
                amounts(ln, "cbc:InvoicedQuantity | cbc:CreditedQuantity")[0],
                amounts(ln, "cac:Price/cbc:PriceAmount")[0] / base,
                sum(amounts(ln, "cac:AllowanceCharge/cbc:Amount"), D(0)),
                amounts(ln, "cbc:LineExtensionAmount")[0],
                ln.xpath("cac:Item/cac:ClassifiedTaxCategory/cbc:ID", namespaces=NAMESPACES)[
                    0
                ].text,
                (amounts(ln, "cac:Item/cac:ClassifiedTaxCategory/cbc:Percent") or [D(0)])[0],
            )
        )
    rows = [
        (
            s.xpath("cac:TaxCategory/cbc:ID", namespaces=NAMESPACES)[0].text,
            amounts(s, "cac:TaxCategory/cbc:Percent")[0],
            amounts(s, "cbc:TaxableAmount")[0],
            amounts(s, "cbc:TaxAmount")[0],
        )
        for s in root.xpath("cac:TaxTotal/cac:TaxSubtotal", namespaces=NAMESPACES)
    ]
    total = "cac:LegalMonetaryTotal/cbc:"
    totals = [
        amounts(root, total + "LineExtensionAmount")[0],
        amounts(root, total + "TaxExclusiveAmount")[0],
        amounts(root, "cac:TaxTotal/cbc:TaxAmount")[0],
        amounts(root, total + "TaxInclusiveAmount")[0],
        amounts(root, total + "PayableAmount")[0],
    ]
    return lines, rows, totals


def check_figures(lines, rows, totals) -> None:
    line_total, tax_exclusive, tax_total, tax_inclusive, payable = totals
    assert line_total == sum(ln[3] for ln in lines)  # BR-CO-10
    assert tax_exclusive == line_total  # BR-CO-13 (no document allowances or charges)
    assert tax_total == sum(r[3] for r in rows)  # BR-CO-14
    assert tax_inclusive == tax_exclusive + tax_total  # BR-CO-15
    assert payable == tax_inclusive  # BR-CO-16
    assert payable >= 0  # credits are credit notes with positive amounts
    for category, rate, basis, row_tax in rows:
        assert row_tax == rounded(basis * rate / 100)  # BR-CO-17, exactly
        assert basis == sum(ln[3] for ln in lines if (ln[4], ln[5]) == (category, rate))
    for quantity, price, allowance, net, _, _ in lines:
        assert price >= 0  # BR-27
        assert abs(quantity * price - allowance - net) <= D("0.02")  # R120
        for value in (net, allowance):
            assert value == rounded(value)  # BR-DEC


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents())
def test_calculation_rules_hold_in_the_xml(doc) -> None:
    assert check(doc, "peppol") == ()
    cii = etree.fromstring(cii_xml(doc, "cii"))
    check_figures(*figures_of_cii(cii))
    ubl = etree.fromstring(ubl_xml(doc))
    check_figures(*figures_of_ubl(ubl))
    # the stamped trees are the trees the builders make element by element
    terms = business_terms(doc)
    for module, profile in ((cii_module, "cii"), (ubl_module, "ubl")):
        fast = module.build(terms, PROFILES[profile])
        assert c14n(fast) == c14n(module._document(terms, PROFILES[profile]))
    expected_type = "381" if doc.total.amount < 0 else "380"
    assert cii.xpath("//rsm:ExchangedDocument/ram:TypeCode", namespaces=NAMESPACES)[0].text == (
        expected_type
    )


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents())
def test_generated_documents_pass_xsd_and_schematron(doc) -> None:
    assert_valid(cii_xml(doc, "cii"))
    assert_valid(ubl_xml(doc))


def test_the_realistic_sample_passes_the_en16931_rules() -> None:
    store = juston.testing.sample_store(accounts=12, realistic=True)
    docs = juston.finalize(store, juston.invoice_run(store, date(2026, 2, 1)).documents)
    for doc in docs:
        assert check(doc, "cii") == ()
        assert check(doc, "ubl") == ()


def test_peppol_applies_the_german_rules_to_german_sellers() -> None:
    bare = attrs.evolve(SELLER, contact=None, bank_account=None)
    doc = invoice(account("DE"), [item(SUPPORT, "10.00")], seller=bare)
    assert rules_of(check(doc, "peppol")) == ["DE-R-001", "DE-R-002"]
    austrian = attrs.evolve(
        bare,
        address=juston.Address(street="Graben 1", postcode="1010", city="Wien", country="AT"),
        vat_id="ATU13585627",
    )
    doc = invoice(account("DE"), [item(SUPPORT, "10.00")], seller=austrian)
    assert check(doc, "peppol") == ()


def test_peppol_checks_gln_endpoints() -> None:
    buyer = account("DE", electronic_address=ElectronicAddress("0088", "4000001000006"))
    doc = invoice(buyer, [item(SUPPORT, "10.00")])
    assert rules_of(check(doc, "peppol")) == ["PEPPOL-COMMON-R040"]
    buyer = account("DE", electronic_address=ElectronicAddress("0088", "4000001000005"))
    assert check(invoice(buyer, [item(SUPPORT, "10.00")]), "peppol") == ()


def test_several_notices_make_one_note() -> None:
    buyer = account("FR", business=True)
    doc = invoice(buyer, [item(SUPPORT, "100.00"), item(MACHINE, "900.00")])
    assert len(doc.notices) == 2  # reverse charge and intra-community supply
    (note,) = business_terms(doc).notes
    assert note.split("\n") == list(doc.notices)
    assert_valid(ubl_xml(doc, "peppol"))
    assert_valid(cii_xml(doc, "cii"))
