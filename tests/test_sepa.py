"""SEPA direct debit end to end: mandates, pain.008 batches (installments, FRST/RCUR, pre-
notification), submitting, returned debits. A month of 100.00 net is an invoice of 119.00
dated 1 January 2026, due 15 January."""

from __future__ import annotations

import re
import runpy
from contextlib import redirect_stdout
from datetime import date, datetime
from io import StringIO
from pathlib import Path

import attrs
import pytest
from lxml import etree
from sepaxml.validation import try_valid_xml

from juston import Invoice, MemoryStore, ValidationError
from juston.model.mandates import Mandate, Scheme
from juston.model.receivables import BalanceType, PaymentEntry
from juston.payments import prenotification, return_debit, sepa_batch, submit_sepa_batch
from juston.payments.sepa import SepaBatch
from juston.receivables import document_state, register_payment
from test_providers import JAN_15, bill, eur, make_store, open_amount, two_installments

SEPA = "sepa_direct_debit"
NS = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.008.001.02"}
JAN_2 = date(2026, 1, 2)
JAN_16 = date(2026, 1, 16)  # 2 January + 14 days of pre-notification


def mandate(account_id: str, reference: str = "M-0001", **kw: object) -> Mandate:
    return Mandate(
        reference=reference,
        account_id=account_id,
        iban="DE89 3704 0044 0532 0130 00",
        signed_on=date(2025, 12, 1),
        **kw,  # type: ignore[arg-type]
    )


def sepa_store(
    *mandates: Mandate, accounts: tuple[str, ...] = ("C-1",)
) -> tuple[MemoryStore, list[Invoice]]:
    store = make_store()
    invoices = [bill(store, account_id, method=SEPA) for account_id in accounts]
    with store.transaction() as tx:
        for m in mandates or (mandate("C-1"),):
            tx.put_mandate(m)
    return store, invoices


def january(store: MemoryStore, **kw: object) -> SepaBatch:
    options: dict[str, object] = {
        "as_of": JAN_2,
        "collection_date": JAN_16,
        "message_id": "JUSTON-2026-01",
    }
    options.update(kw)
    return sepa_batch(store, **options)  # type: ignore[arg-type]


def xml_of(batch: SepaBatch) -> etree._Element:
    assert batch.xml is not None
    return etree.fromstring(batch.xml)


def texts(root: etree._Element, path: str) -> list[str]:
    return [node.text or "" for node in root.iterfind(path, NS)]


# --- the file ----------------------------------------------------------------------------


def test_the_file_is_valid_pain_008_by_sepaxml_own_check() -> None:
    # juston checks each file with lxml; sepaxml's check (xmlschema) is a second opinion.
    store, _ = sepa_store()
    batch = january(store)
    assert batch.xml is not None
    try_valid_xml(batch.xml, "pain.008.001.02")
    assert batch.xml.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')


def test_a_file_the_schema_rejects_is_an_error() -> None:
    store, _ = sepa_store()
    with store.transaction() as tx:  # a creditor id longer than the 35 characters allowed
        tx.put_company(attrs.evolve(tx.company(), creditor_id="DE98ZZZ09999999999" * 2))
    with pytest.raises(ValidationError, match=r"do not make a valid pain\.008\.001\.02 file"):
        january(store)


def test_the_file_collects_the_invoice_under_its_mandate() -> None:
    store, [invoice] = sepa_store()
    batch = january(store)
    root = xml_of(batch)
    tx = ".//p:PmtInf/p:DrctDbtTxInf"
    assert texts(root, "p:CstmrDrctDbtInitn/p:GrpHdr/p:MsgId") == ["JUSTON-2026-01"]
    assert texts(root, "p:CstmrDrctDbtInitn/p:GrpHdr/p:CreDtTm") == ["2026-01-02T00:00:00"]
    assert texts(root, ".//p:GrpHdr/p:CtrlSum") == ["119.00"]
    assert texts(root, ".//p:PmtInf/p:PmtInfId") == ["JUSTON-2026-01-1"]
    assert texts(root, ".//p:PmtTpInf/p:LclInstrm/p:Cd") == ["CORE"]
    assert texts(root, ".//p:PmtTpInf/p:SeqTp") == ["FRST"]
    assert texts(root, ".//p:PmtInf/p:ReqdColltnDt") == ["2026-01-16"]
    assert texts(root, ".//p:PmtInf/p:CdtrAcct/p:Id/p:IBAN") == ["DE02120300000000202051"]
    assert texts(root, ".//p:CdtrSchmeId//p:Othr/p:Id") == ["DE98ZZZ09999999999"]
    assert texts(root, f"{tx}/p:PmtId/p:EndToEndId") == [invoice.number]
    assert texts(root, f"{tx}/p:InstdAmt") == ["119.00"]
    assert texts(root, f"{tx}//p:MndtId") == ["M-0001"]
    assert texts(root, f"{tx}//p:DtOfSgntr") == ["2025-12-01"]
    assert texts(root, f"{tx}/p:DbtrAcct/p:Id/p:IBAN") == ["DE89370400440532013000"]
    assert texts(root, f"{tx}/p:DbtrAgt//p:BIC") == ["COBADEFFXXX"]  # from the IBAN's bank
    assert batch.total == eur("119.00") and batch.skipped == ()


def test_the_same_batch_gives_the_same_file_byte_for_byte() -> None:
    store, _ = sepa_store()
    assert january(store).xml == january(store).xml
    stamped = january(store, created_at=datetime(2026, 1, 2, 9, 30, 5))
    assert texts(xml_of(stamped), ".//p:GrpHdr/p:CreDtTm") == ["2026-01-02T09:30:05"]


def test_building_a_batch_books_nothing() -> None:
    store, [invoice] = sepa_store()
    january(store)
    assert open_amount(store, invoice) == eur("119.00") and not list(store.payment_entries())


# --- what goes in ------------------------------------------------------------------------


def test_the_collection_date_must_leave_the_pre_notification_period() -> None:
    store, _ = sepa_store()
    with pytest.raises(ValidationError, match="2026-01-16 at the soonest") as caught:
        january(store, collection_date=date(2026, 1, 15))
    assert caught.value.field == "collection_date"
    with pytest.raises(ValidationError) as caught:
        january(store, prenotification_days=0)
    assert caught.value.field == "prenotification_days"
    # Five days' notice (agreed with the debtor) allows 7 January.
    assert january(store, collection_date=date(2026, 1, 7), prenotification_days=5).debits == ()


def test_only_what_is_due_on_the_collection_date_is_collected() -> None:
    store, _ = sepa_store()
    early = january(store, collection_date=date(2026, 1, 14), as_of=date(2025, 12, 31))
    assert early.xml is None and early.debits == ()  # due 15 January
    assert january(store).debits[0].amount == eur("119.00")


def test_an_invoice_not_pre_notified_in_time_is_skipped() -> None:
    store = make_store()
    invoice = bill(store, "C-1", method=SEPA, terms="0d")  # due on its date, 1 January
    with store.transaction() as tx:
        tx.put_mandate(mandate("C-1"))
    batch = sepa_batch(
        store, as_of=date(2025, 12, 28), collection_date=date(2026, 1, 11), message_id="M1"
    )
    [skipped] = batch.skipped
    assert skipped.number == invoice.number
    assert "not pre-notified: invoice date 2026-01-01 is after 2025-12-28" in skipped.reason


def test_accounts_without_an_active_mandate_are_skipped_with_the_reason() -> None:
    revoked = mandate("C-2", "M-0002", revoked_on=date(2026, 1, 10))
    store, [first, second, third] = sepa_store(
        mandate("C-1"), revoked, accounts=("C-1", "C-2", "C-3")
    )
    batch = january(store)
    assert [r.document_id for r in batch.requests] == [first.id]
    assert {s.number: s.reason for s in batch.skipped} == {
        second.number: "account C-2 has no mandate active on 2026-01-16",
        third.number: "account C-3 has no mandate active on 2026-01-16",
    }


def test_core_and_b2b_debits_go_in_separate_files() -> None:
    store, [core, b2b] = sepa_store(
        mandate("C-1"), mandate("C-2", "M-B2B", scheme=Scheme.B2B), accounts=("C-1", "C-2")
    )
    core_file = january(store)
    assert [d.end_to_end_id for d in core_file.debits] == [core.number]
    assert "is B2B; this file is CORE" in core_file.skipped[0].reason
    b2b_file = january(store, scheme=Scheme.B2B, message_id="JUSTON-2026-01-B2B")
    assert [d.end_to_end_id for d in b2b_file.debits] == [b2b.number]
    assert texts(xml_of(b2b_file), ".//p:LclInstrm/p:Cd") == ["B2B"]


def test_documents_in_another_currency_are_skipped() -> None:
    store = make_store()
    invoice = bill(store, "C-1", method=SEPA, currency="CHF")
    with store.transaction() as tx:
        tx.put_mandate(mandate("C-1"))
    [skipped] = january(store).skipped
    assert skipped.number == invoice.number and "SEPA direct debits are in EUR" in skipped.reason


@pytest.mark.parametrize(
    ("change", "field"),
    [({"creditor_id": None}, "creditor_id"), ({"bank_account": None}, "bank_account")],
)
def test_the_creditor_must_have_an_id_and_an_account(change: dict[str, object], field: str) -> None:
    store, _ = sepa_store()
    with store.transaction() as tx:
        tx.put_company(attrs.evolve(tx.company(), **change))
    with pytest.raises(ValidationError) as caught:
        january(store)
    assert caught.value.field == field


# --- submitting, installments, FRST/RCUR ---------------------------------------------------


def test_submitting_books_the_debits_once() -> None:
    store, [invoice] = sepa_store()
    batch = january(store)
    assert len(submit_sepa_batch(store, batch).booked) == 1
    assert len(submit_sepa_batch(store, batch).duplicate) == 1
    [entry] = store.payment_entries()
    assert (entry.id, entry.method, entry.mandate_reference, entry.end_to_end_id, entry.booking_date) == (
        f"sepa_direct_debit:JUSTON-2026-01:{invoice.id}", SEPA, "M-0001", invoice.number, JAN_16,
    )  # fmt: skip
    assert document_state(store, invoice).paid_on == JAN_16
    # Nothing is due any more, so the next batch collects nothing.
    assert january(store, message_id="JUSTON-2026-01-B").xml is None


def test_installments_are_collected_as_they_fall_due_first_then_recurring() -> None:
    store, [invoice] = sepa_store()
    two_installments(store, invoice)
    assert january(store).debits == ()  # nothing due by 16 January
    feb = sepa_batch(
        store, as_of=date(2026, 2, 2), collection_date=date(2026, 2, 16), message_id="FEB"
    )
    assert [(d.amount, d.sequence) for d in feb.debits] == [(eur("60.00"), "FRST")]
    submit_sepa_batch(store, feb)
    assert open_amount(store, invoice) == eur("59.00")
    mar = sepa_batch(
        store, as_of=date(2026, 3, 2), collection_date=date(2026, 3, 16), message_id="MAR"
    )
    assert [(d.amount, d.sequence) for d in mar.debits] == [(eur("59.00"), "RCUR")]
    assert texts(xml_of(mar), ".//p:SeqTp") == ["RCUR"]
    submit_sepa_batch(store, mar)
    assert document_state(store, invoice).is_paid


# --- returned debits ---------------------------------------------------------------------


def test_a_returned_debit_reopens_the_invoice_with_the_bank_fee() -> None:
    store, [invoice] = sepa_store()
    submit_sepa_batch(store, january(store))
    returned = date(2026, 1, 20)
    applied = return_debit(
        store, invoice.number or "", eur("119.00"), on=returned, reason_code="AM04", fee=eur("3.00")
    )
    assert len(applied.booked) == 1
    state = document_state(store, invoice)
    assert state.open == eur("122.00") and not state.is_paid
    back = [b for b in store.balances(document_id=invoice.id) if b.date == returned]
    assert [(b.type, b.amount, b.cause) for b in back] == [
        (BalanceType.CHARGEBACK, eur("119.00"), "AM04"),
        (BalanceType.CHARGEBACK_FEE, eur("3.00"), "AM04"),
    ]
    # Reported twice (a statement imported again): booked once.
    again = return_debit(
        store, invoice, eur("119.00"), on=returned, reason_code="AM04", fee=eur("3.00")
    )
    assert len(again.duplicate) == 1 and document_state(store, invoice).open == eur("122.00")
    # Collected again under the same mandate: recurring, fee included.
    later = sepa_batch(
        store, as_of=date(2026, 1, 21), collection_date=date(2026, 2, 4), message_id="RETRY"
    )
    assert [(d.amount, d.sequence) for d in later.debits] == [(eur("122.00"), "RCUR")]


def test_a_return_of_more_than_was_collected_is_refused() -> None:
    store, [invoice] = sepa_store()
    with pytest.raises(ValidationError, match="exceeds what was paid"):
        return_debit(store, invoice.number or "", eur("119.00"), on=JAN_15, reason_code="AM04")
    assert open_amount(store, invoice) == eur("119.00")


# --- the pre-notification on the invoice ---------------------------------------------------


def test_the_pre_notification_names_amount_dates_iban_mandate_and_creditor() -> None:
    store, [invoice] = sepa_store()
    two_installments(store, invoice)
    notice = prenotification(store, invoice)
    assert notice is not None
    assert (notice.amount, notice.iban, notice.mandate_reference, notice.creditor_id) == (
        eur("119.00"), "DE89370400440532013000", "M-0001", "DE98ZZZ09999999999",
    )  # fmt: skip
    assert [(i.due_date, i.amount) for i in notice.collections] == [
        (date(2026, 2, 1), eur("60.00")),
        (date(2026, 3, 1), eur("59.00")),
    ]
    transfer = bill(store, "C-9", method=None)
    assert prenotification(store, transfer) is None


def test_a_return_on_the_bank_statement_reopens_the_invoice_too() -> None:
    store, [invoice] = sepa_store()
    submit_sepa_batch(store, january(store))
    entry = PaymentEntry(
        id="camt-2026-01-20-1", amount=eur("-119.00"), booking_date=date(2026, 1, 20),
        reference="RETURN", end_to_end_id=invoice.number, return_reason="AM04",
    )  # fmt: skip
    assert register_payment(store, entry).document_ids == (invoice.id,)
    assert open_amount(store, invoice) == eur("119.00")


def test_the_docs_example_prints_what_the_page_shows() -> None:
    root = Path(__file__).parent.parent
    page = (root / "docs" / "providers.md").read_text(encoding="utf-8")
    assert '--8<-- "docs/examples/sepa.py"' in page
    match = re.search(r"prints\n\n```text\n(.*?)```", page, re.S)
    assert match is not None
    out = StringIO()
    with redirect_stdout(out):
        runpy.run_path(str(root / "docs" / "examples" / "sepa.py"))
    # py-moneyed puts a no-break space between sign and amount; the page has a plain one.
    assert out.getvalue().replace("\xa0", " ") == match.group(1)
