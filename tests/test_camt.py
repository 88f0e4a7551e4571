"""camt.053 and camt.054 files read as payment entries: every field, every version, and the
files the parser must refuse (an XXE payload among them).

The statement and the notification in tests/data/bank were written by hand after the
ISO 20022 message structure; the figures in them are the tests' figures.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D
from pathlib import Path

import pytest
from lxml import etree

from juston import ValidationError, money
from juston.receivables.camt import hardened_parser, read_camt

BANK = Path(__file__).parent / "data" / "bank"
STATEMENT = BANK / "statement-2026-02.camt053.xml"
RETURNS = BANK / "returns-2026-02-25.camt054.xml"
OWN_IBAN = "DE89370400440532013000"


def camt(entries: str, *, version: str = "camt.053.001.08") -> bytes:
    """A statement of one account with these <Ntry> elements."""
    message, report = (
        ("BkToCstmrStmt", "Stmt") if "053" in version else ("BkToCstmrDbtCdtNtfctn", "Ntfctn")
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>'
        f'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:{version}"><{message}>'
        f"<GrpHdr><MsgId>M1</MsgId><CreDtTm>2026-03-01T10:00:00</CreDtTm></GrpHdr>"
        f"<{report}><Id>S1</Id><Acct><Id><IBAN>{OWN_IBAN}</IBAN></Id></Acct>{entries}</{report}>"
        f"</{message}></Document>"
    ).encode()


def ntry(details: str = "", *, amount: str = "10.00", sign: str = "CRDT", ref: str | None = "R1",
         status: str = "<Sts><Cd>BOOK</Cd></Sts>") -> str:  # fmt: skip
    own = f"<AcctSvcrRef>{ref}</AcctSvcrRef>" if ref else ""
    dtls = f"<NtryDtls>{details}</NtryDtls>" if details else ""
    return (
        f'<Ntry><Amt Ccy="EUR">{amount}</Amt><CdtDbtInd>{sign}</CdtDbtInd>{status}'
        f"<BookgDt><Dt>2026-03-02</Dt></BookgDt>{own}{dtls}</Ntry>"
    )


# --- the hand-written statement (camt.053.001.08) -----------------------------------------------


def test_the_statement_has_one_entry_per_booked_transaction() -> None:
    entries = read_camt(STATEMENT)
    # 5 entries: a transfer, a transfer, a fee (no details), a batch of 3, a pending one.
    # The pending one is skipped: 1 + 1 + 1 + 3 = 6.
    assert [e.id for e in entries] == [
        "2026021000001",
        "2026021100002",
        "2026021300005",
        "2026021600007/1",
        "2026021600007/2",
        "2026021600007/3",
    ]
    # The statement's closing balance 11515.38 = opening 10000.00 + what was booked.
    assert sum((e.amount.amount for e in entries), D(0)) == D("11515.38") - D("10000.00")
    assert {e.source for e in entries} == {STATEMENT.name}


def test_a_transfer_paying_two_invoices() -> None:
    first = read_camt(STATEMENT)[0]
    assert first.amount == money("173.61", "EUR")
    assert first.booking_date == first.value_date == date(2026, 2, 10)
    # Two Ustrd lines, joined; a line break must not hide the second number.
    assert first.reference == "Factures INV-2026-00001 et INV-2026-00003 merci"
    assert (first.payer_name, first.payer_iban) == (
        "Hafenkante SARL",
        "FR1420041010050500013M02606",
    )
    assert first.end_to_end_id is None  # NOTPROVIDED is no id
    assert first.method == "bank_transfer"
    assert first.mandate_reference is None and first.return_reason is None


def test_a_structured_creditor_reference_is_the_reference() -> None:
    second = read_camt(STATEMENT)[1]
    assert second.reference == "INV-2026-00002"
    assert second.end_to_end_id == "KRANICH-2026-0042"
    assert second.payer_name == "Kranich GmbH"


def test_an_entry_without_details_is_one_payment_of_its_amount() -> None:
    fee = read_camt(STATEMENT)[2]
    assert fee.amount == money("-12.50", "EUR")  # DBIT: money out
    assert fee.reference == "Kontoführung Januar 2026"  # AddtlNtryInf: no remittance info
    assert fee.payer_name is None and fee.payer_iban is None


def test_a_direct_debit_batch_is_three_payments() -> None:
    batch = read_camt(STATEMENT)[3:]
    assert [e.amount.amount for e in batch] == [D("635.27"), D("369.00"), D("50.00")]
    assert sum(e.amount.amount for e in batch) == D("1054.27")  # the entry's total
    assert {e.method for e in batch} == {"sepa_direct_debit"}  # BkTxCd PMNT/IDDT/ESDD
    assert [e.mandate_reference for e in batch] == [
        "MNDT-C0000003-1",
        "MNDT-C0000004-1",
        "MNDT-X-7",
    ]
    assert [e.payer_name for e in batch] == ["Alpenblick BV", "Kranich KG", "Unbekannt GmbH"]
    assert batch[1].end_to_end_id == "DD-INV-2026-00005"


# --- the hand-written notification (camt.054.001.02) --------------------------------------------


def test_a_returned_direct_debit_in_the_old_version() -> None:
    [back] = read_camt(RETURNS)  # the INFO entry is skipped
    assert back.id == "2026022500003"
    assert back.amount == money("-369.00", "EUR")  # .001.02: AmtDtls/TxAmt/Amt, sign of Ntry
    assert back.booking_date == date(2026, 2, 25)  # BookgDt/DtTm
    assert back.value_date == date(2026, 2, 24)
    assert back.return_reason == "MD06"
    assert back.method == "sepa_direct_debit"
    assert back.mandate_reference == "MNDT-C0000004-1"
    # Money out, but the creditor is this account itself (its IBAN written with spaces in
    # Acct): the payer is the debtor, whose direct debit came back.
    assert (back.payer_name, back.payer_iban) == ("Kranich KG", "DE75512108001245126199")
    assert back.reference == "INV-2026-00005"


def test_a_debit_names_the_creditor_as_the_other_party() -> None:
    parties = (
        "<RltdPties><Dbtr><Pty><Nm>Us</Nm></Pty></Dbtr>"
        f"<DbtrAcct><Id><IBAN>{OWN_IBAN}</IBAN></Id></DbtrAcct>"
        "<Cdtr><Pty><Nm>Refunded Customer</Nm></Pty></Cdtr>"
        "<CdtrAcct><Id><IBAN>NL91ABNA0417164300</IBAN></Id></CdtrAcct></RltdPties>"
    )
    [out] = read_camt(camt(ntry(f"<TxDtls>{parties}</TxDtls>", sign="DBIT")))
    assert (out.payer_name, out.payer_iban) == ("Refunded Customer", "NL91ABNA0417164300")
    assert out.amount == money("-10.00", "EUR")


@pytest.mark.parametrize("version", [f"camt.053.001.0{n}" for n in range(2, 9)] + [
    f"camt.054.001.0{n}" for n in range(2, 9)
])  # fmt: skip
def test_every_version_reads_the_same(version: str) -> None:
    n = int(version[-1])
    # How the versions differ where the reader looks: the status became a code choice
    # (.07), the transaction got its own amount (.04) and the parties a Pty level (.08).
    status = "<Sts><Cd>BOOK</Cd></Sts>" if n >= 7 else "<Sts>BOOK</Sts>"
    amount = '<Amt Ccy="EUR">10.00</Amt>'
    if n < 4:
        amount = f"<AmtDtls><TxAmt>{amount}</TxAmt></AmtDtls>"
    debtor = "<Pty><Nm>Payer AG</Nm></Pty>" if n >= 8 else "<Nm>Payer AG</Nm>"
    details = (
        f"<TxDtls>{amount}<RltdPties><Dbtr>{debtor}</Dbtr></RltdPties>"
        "<RmtInf><Ustrd>INV-7</Ustrd></RmtInf></TxDtls>"
    )
    [entry] = read_camt(camt(ntry(details, status=status), version=version))
    assert (entry.id, entry.amount, entry.payer_name, entry.reference) == (
        "R1",
        money("10.00", "EUR"),
        "Payer AG",
        "INV-7",
    )


def test_a_file_without_namespace_reads_too() -> None:
    plain = camt(ntry()).replace(b' xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"', b"")
    assert [e.id for e in read_camt(plain)] == ["R1"]


@pytest.mark.parametrize(
    "status", ["<Sts><Cd>PDNG</Cd></Sts>", "<Sts>INFO</Sts>", "<Sts><Prtry>Pending</Prtry></Sts>"]
)
def test_only_booked_entries_are_read(status: str) -> None:
    assert read_camt(camt(ntry(status=status))) == []
    assert len(read_camt(camt(ntry(status="<Sts><Prtry>Booked</Prtry></Sts>")))) == 1


def test_a_details_own_sign_and_foreign_amount() -> None:
    details = (
        '<TxDtls><Amt Ccy="EUR">92.50</Amt><CdtDbtInd>CRDT</CdtDbtInd>'
        '<AmtDtls><InstdAmt><Amt Ccy="CHF">90.00</Amt></InstdAmt></AmtDtls></TxDtls>'
    )
    [entry] = read_camt(camt(ntry(details, amount="92.50")))
    assert entry.amount == money("92.50", "EUR")
    assert entry.foreign_amount == money("90.00", "CHF")


def test_a_transactions_own_bank_reference_is_its_id() -> None:
    details = "<TxDtls><Refs><AcctSvcrRef>TX-9</AcctSvcrRef></Refs></TxDtls>"
    assert [e.id for e in read_camt(camt(ntry(details)))] == ["TX-9"]


def test_without_bank_reference_the_id_is_a_stable_digest() -> None:
    twice = camt(ntry(ref=None) + ntry(ref=None) + ntry(ref=None, amount="11.00"))
    ids = [e.id for e in read_camt(twice)]
    # Two identical entries are two payments; the same file read again gives the same ids.
    assert len(set(ids)) == 3 and all(i.startswith("camt-") for i in ids)
    assert [e.id for e in read_camt(twice)] == ids
    # The first of the two identical ones is the same payment in a file of its own.
    assert [e.id for e in read_camt(camt(ntry(ref=None)))] == ids[:1]


def test_a_zero_entry_is_no_payment() -> None:
    assert read_camt(camt(ntry(amount="0.00"))) == []


# --- refused files ----------------------------------------------------------------------------


def test_an_external_entity_is_never_expanded(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-4711")
    payload = camt(ntry("<TxDtls><RmtInf><Ustrd>&xxe;</Ustrd></RmtInf></TxDtls>")).replace(
        b"<Document",
        f'<!DOCTYPE Document [<!ENTITY xxe SYSTEM "file://{secret}">]><Document'.encode(),
        1,
    )
    with pytest.raises(ValidationError, match="declares a DTD") as caught:
        read_camt(payload, name="evil.xml")
    assert "TOP-SECRET" not in str(caught.value)
    assert caught.value.field == "file" and caught.value.value == "evil.xml"


def test_the_parser_itself_does_not_resolve_entities(tmp_path: Path) -> None:
    """Behind the DTD check, the parser is hardened too: the entity stays a reference."""
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-4711")
    payload = f'<!DOCTYPE D [<!ENTITY x SYSTEM "file://{secret}">]><D>&x;</D>'.encode()
    root = etree.fromstring(payload, hardened_parser())
    assert "TOP-SECRET" not in "".join(root.itertext())
    assert "TOP-SECRET" not in etree.tostring(root, encoding="unicode")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"<Document><BkToCstmrStmt>", "is not well-formed XML"),
        (b"<Document><Other/></Document>", "is not a camt.053 statement or camt.054"),
        (b"<Invoice/>", "is not a camt.053 statement or camt.054"),
    ],
)
def test_what_is_not_a_camt_file(content: bytes, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        read_camt(content, name="x.xml")


@pytest.mark.parametrize(
    ("entry", "field", "value"),
    [
        (ntry(amount="12,50"), "x.xml: Ntry 1 (R1), Amt", "12,50"),
        (ntry(sign="CRED"), "x.xml: Ntry 1 (R1), CdtDbtInd", "CRED"),
        (ntry(amount="1.005"), "x.xml: Ntry 1 (R1), amount", None),
        (ntry(ref=None).replace("2026-03-02", "02.03.2026"), "x.xml: Ntry 1, BookgDt", "02.03.2026"),
        (ntry('<TxDtls/><TxDtls/>', amount="20.00"), "x.xml: Ntry 1 (R1), TxDtls 1, Amt", None),
    ],
)  # fmt: skip
def test_a_bad_entry_names_where_and_what(entry: str, field: str, value: object) -> None:
    with pytest.raises(ValidationError) as caught:
        read_camt(camt(entry), name="x.xml")
    assert caught.value.field == field
    if value is not None:
        assert caught.value.value == value


def test_a_missing_file_is_a_validation_error(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="cannot be read"):
        read_camt(tmp_path / "nope.xml")
