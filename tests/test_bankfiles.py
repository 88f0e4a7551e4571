"""Bank files: CSV exports read as payment entries, and files imported once each, in one
transaction, matched and assigned. Figures are computed by hand in the comments.

The invoices: ``sample_store(accounts=4)`` billed on 1 January and 1 February 2026 and
finalized gives

    INV-2026-00001  D00000001  C0000001 Hafenkante SARL   79.60 EUR  (January)
    INV-2026-00002  D00000002  C0000002 Kranich GmbH     242.39 EUR  (January)
    INV-2026-00003  D00000003  C0000001 Hafenkante SARL   94.01 EUR  (February)
    INV-2026-00004  D00000004  C0000003 Alpenblick BV    635.27 EUR  (February)
    INV-2026-00005  D00000005  C0000004 Kranich KG       369.00 EUR  (February)
"""

from __future__ import annotations

import re
import shutil
from datetime import date
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest

import juston
from juston import MemoryStore, StorageError, ValidationError, money
from juston.model.receivables import EntryStatus
from juston.receivables import balance_of, document_state, match_payments
from juston.receivables.bankfiles import CsvColumns, CsvFormat, import_bank_file, read_payments_csv
from juston.storage import memory
from test_billables import (
    test_the_code_on_a_docs_page_prints_what_the_page_shows as run_docs_page,
)

ROOT = Path(__file__).parent.parent
BANK = Path(__file__).parent / "data" / "bank"
STATEMENT = BANK / "statement-2026-02.camt053.xml"
RETURNS = BANK / "returns-2026-02-25.camt054.xml"
IMPORTED_ON = date(2026, 2, 21)

GERMAN = CsvColumns(
    booking_date="Buchungstag",
    value_date="Valuta",
    payer_name="Auftraggeber",
    payer_iban="IBAN",
    reference="Verwendungszweck",
    credit="Haben",
    debit="Soll",
    currency="Währung",
)
GERMAN_CSV = """\
Buchungstag;Valuta;Auftraggeber;IBAN;Verwendungszweck;Haben;Soll;Währung
09.02.2026;10.02.2026;Kranich GmbH;DE02120300000000202051;Rechnung INV-2026-00002;1.234,56;;EUR
13.02.2026;13.02.2026;;;Kontoführung;;12,50;EUR
14.02.2026;14.02.2026;;;Rechnungsabschluss;;;EUR
"""


def billed() -> MemoryStore:
    store = juston.testing.sample_store(accounts=4)
    for day in (date(2026, 1, 1), date(2026, 2, 1)):
        juston.finalize(store, juston.invoice_run(store, day).documents)
    return store


def state(store: MemoryStore, document_id: str) -> tuple[str, D]:
    found = document_state(store, document_id)
    return found.status.value, found.open.amount


def snapshot(store: MemoryStore) -> tuple[list[Any], list[Any]]:
    return list(store.payment_entries()), list(store.balances())


# --- CSV ------------------------------------------------------------------------------------


def test_german_csv_with_credit_and_debit_columns() -> None:
    entries = read_payments_csv(GERMAN_CSV, columns=GERMAN, decimal_comma=True, name="konto.csv")
    # Row 3 has neither credit nor debit: 0 − 0 = 0, no payment.
    assert [e.amount for e in entries] == [money("1234.56", "EUR"), money("-12.50", "EUR")]
    first = entries[0]
    assert (first.booking_date, first.value_date) == (date(2026, 2, 9), date(2026, 2, 10))
    assert (first.payer_name, first.payer_iban) == ("Kranich GmbH", "DE02120300000000202051")
    assert first.reference == "Rechnung INV-2026-00002"
    assert first.source == "konto.csv" and first.method == "bank_transfer"
    assert entries[1].payer_name is None and entries[1].payer_iban is None


def test_a_signed_amount_column_in_every_spelling() -> None:
    text = (
        "Datum\tBetrag\tText\n"
        "2026-02-01\t1.234,56\ta\n"
        "2026-02-02\t-5,00\tb\n"
        "2026-02-03\t5,00-\tc\n"
        "2026-02-04\t1 000,5\td\n"
        "2026-02-05\t+7\te\n"
    )
    columns = CsvColumns(booking_date="Datum", amount="Betrag", reference="Text")
    entries = read_payments_csv(text, columns=columns, currency="EUR", decimal_comma=True)
    assert [e.amount.amount for e in entries] == [
        D("1234.56"),
        D("-5.00"),
        D("-5.00"),  # the sign written last
        D("1000.5"),  # a space groups thousands
        D("7"),
    ]


def test_point_decimals_iso_dates_and_the_default_column_names() -> None:
    text = 'id,booking_date,amount,currency,reference\nB-1,2026-02-01,"1,234.50",CHF,INV-9\n'
    [entry] = read_payments_csv(text)
    assert (entry.id, entry.amount, entry.reference) == ("B-1", money("1234.50", "CHF"), "INV-9")


def test_a_date_format_of_your_own() -> None:
    text = "booking_date,amount\n02/01/2026,10.00\n"
    [entry] = read_payments_csv(text, currency="USD", date_format="%m/%d/%Y")
    assert entry.booking_date == date(2026, 2, 1)


def test_ids_without_an_id_column_are_stable_and_count_identical_rows() -> None:
    row = "2026-02-01,10.00,Miete\n"
    once = read_payments_csv("booking_date,amount,reference\n" + row, currency="EUR")
    twice = read_payments_csv("booking_date,amount,reference\n" + row + row, currency="EUR")
    # Two identical rows in one file are two payments; the first is the one of the file
    # that had it once.
    assert len({e.id for e in twice}) == 2
    assert twice[0].id == once[0].id
    # A re-export with another row first and the columns in another order: the same id.
    later = read_payments_csv(
        "reference,amount,booking_date\nNeu,3.00,2026-02-02\nMiete,10.00,2026-02-01\n",
        currency="EUR",
    )
    assert later[1].id == once[0].id
    assert all(re.fullmatch(r"csv-[0-9a-f]{20}", e.id) for e in [*twice, *later])


def test_the_delimiter_is_the_one_the_header_uses_most() -> None:
    text = "booking_date;amount;reference\n2026-02-01;10.00;a,b,c\n"
    [entry] = read_payments_csv(text, currency="EUR")
    assert entry.reference == "a,b,c"


def test_a_path_bytes_and_an_encoding(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes("booking_date,amount,reference\n2026-02-01,10.00,Gebühr\n".encode("cp1252"))
    with pytest.raises(ValidationError, match=r"cannot decode export\.csv"):
        read_payments_csv(path, currency="EUR")
    [entry] = read_payments_csv(str(path), currency="EUR", encoding="cp1252")
    assert (entry.reference, entry.source) == ("Gebühr", "export.csv")
    bom = "\ufeffbooking_date,amount\n2026-02-01,1.00\n".encode()
    assert read_payments_csv(bom, currency="EUR")[0].amount == money("1.00", "EUR")
    assert read_payments_csv(bom, currency="EUR", encoding="utf-8")[0].amount == money(
        "1.00", "EUR"
    )


@pytest.mark.parametrize(
    ("row", "field", "value", "reason"),
    [
        ("09.02.2026;;;;x;12,3x;;EUR", "konto.csv row 2, column 'Haben'", "12,3x",
         "is not an amount like 1.234,56"),
        ("31.02.2026;;;;x;1,00;;EUR", "konto.csv row 2, column 'Buchungstag'", "31.02.2026",
         "is not a date (YYYY-MM-DD or DD.MM.YYYY)"),
        (";;;;x;1,00;;EUR", "konto.csv row 2, column 'Buchungstag'", None, "is empty"),
        ("09.02.2026;;;;x;1,00;;XYZ", "konto.csv row 2, column 'Währung'", "XYZ",
         "is not an ISO 4217 currency code"),
        ("09.02.2026;;;;x;1,005;;EUR", "konto.csv row 2, column 'Haben/Soll'",
         money("1.005", "EUR"), "has more decimals than EUR has minor units"),
        ("09.02.2026;x;1,00;EUR", "konto.csv row 2", "09.02.2026;x;1,00;EUR",
         "has 4 cells, the header 8"),
    ],
)  # fmt: skip
def test_a_bad_row_names_row_column_and_value(
    row: str, field: str, value: object, reason: str
) -> None:
    text = GERMAN_CSV.splitlines()[0] + "\n09.02.2026;;;;ok;1,00;;EUR\n" + row + "\n"
    with pytest.raises(ValidationError) as caught:
        read_payments_csv(text, columns=GERMAN, decimal_comma=True, name="konto.csv")
    assert (caught.value.field, caught.value.value, caught.value.reason) == (field, value, reason)


@pytest.mark.parametrize(
    ("header", "columns", "message"),
    [
        ("Datum,amount", CsvColumns(booking_date="Buchungstag"),
         r"columns.booking_date: 'Buchungstag' is not in the header"),
        ("amount,reference", CsvColumns(), "has no booking date column"),
        ("booking_date,reference", CsvColumns(), "has no amount column"),
        ("booking_date,amount,credit", CsvColumns(), "has an amount and credit/debit columns"),
        ("booking_date,amount,amount", CsvColumns(), "names a column twice"),
    ],
)  # fmt: skip
def test_a_header_that_does_not_fit_the_columns(
    header: str, columns: CsvColumns, message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        read_payments_csv(header + "\n", columns=columns, currency="EUR")


def test_no_currency_anywhere_is_an_error_before_any_row() -> None:
    with pytest.raises(ValidationError, match="currency: None CSV text has no currency column"):
        read_payments_csv("booking_date,amount\n2026-02-01,1.00\n")


def test_a_column_left_out_with_none_is_not_read() -> None:
    text = "booking_date,amount,credit\n2026-02-01,5.00,7.00\n"
    [entry] = read_payments_csv(text, columns=CsvColumns(credit=None), currency="EUR")
    assert entry.amount == money("5.00", "EUR")


def test_columns_from_a_mapping() -> None:
    assert CsvColumns.of({"amount": "Betrag"}).amount == "Betrag"
    with pytest.raises(ValidationError, match="columns: 'betrag' is not a field"):
        CsvColumns.of({"betrag": "Betrag"})
    with pytest.raises(ValidationError, match=r"columns\.amount"):
        CsvColumns(amount="  ")
    with pytest.raises(ValidationError, match="delimiter"):
        CsvFormat(delimiter=";;")


# --- importing files ----------------------------------------------------------------------------


def test_importing_the_statement_pays_invoices_and_queues_the_rest() -> None:
    store = billed()
    result = import_bank_file(store, STATEMENT, on=IMPORTED_ON)
    assert (result.new, result.duplicate, len(result.assigned), len(result.queued)) == (6, 0, 4, 2)
    # 173.61 = 79.60 + 94.01: one transfer naming both invoices of Hafenkante pays both.
    assert state(store, "D00000001") == ("paid", D("0.00"))
    assert state(store, "D00000003") == ("paid", D("0.00"))
    assert document_state(store, "D00000001").paid_on == date(2026, 2, 10)
    # 300.00 for INV-2026-00002 (242.39): paid, and 300.00 − 242.39 = 57.61 stays on the
    # account as credit (negative).
    assert state(store, "D00000002") == ("paid", D("0.00"))
    assert balance_of(store, "C0000002") == money("-57.61", "EUR")
    # The direct debit batch pays INV-2026-00004 and INV-2026-00005 exactly.
    assert state(store, "D00000004") == ("paid", D("0.00"))
    assert state(store, "D00000005") == ("paid", D("0.00"))
    assert [balance_of(store, a) for a in ("C0000001", "C0000003", "C0000004")] == [
        money("0.00", "EUR")
    ] * 3
    # The bank fee and the unknown payer's 50.00 wait, each with the reason.
    waiting = list(store.payment_entries(status=EntryStatus.OPEN))
    assert [(e.id, e.amount.amount) for e in waiting] == [
        ("2026021300005", D("-12.50")),
        ("2026021600007/3", D("50.00")),
    ]
    assert all(
        e.reason == "no document number, rule, amount or payer name matched" for e in waiting
    )
    paid = store.payment_entry("2026021000001")
    assert paid.document_ids == ("D00000001", "D00000003") and paid.account_id == "C0000001"
    imported = store.imported_file(STATEMENT.name, "")
    assert imported is not None
    assert (imported.imported_on, imported.entries) == (IMPORTED_ON, 6)


def test_the_same_file_is_never_imported_twice(tmp_path: Path) -> None:
    store = billed()
    import_bank_file(store, STATEMENT, on=IMPORTED_ON)
    before = snapshot(store)
    with pytest.raises(ValidationError) as caught:
        import_bank_file(store, STATEMENT, on=date(2026, 2, 22))
    assert caught.value.field == "file"
    assert str(caught.value) == f"file: {STATEMENT.name!r} was imported on 2026-02-21"
    # The same content under another name is the same file.
    copy = tmp_path / "download (1).xml"
    shutil.copy(STATEMENT, copy)
    with pytest.raises(
        ValidationError, match=r"as 'statement-2026-02.camt053.xml' \(the same content\)"
    ):
        import_bank_file(store, copy, on=date(2026, 2, 22))
    # Another file under the name of one imported before: refused too.
    renamed = tmp_path / STATEMENT.name
    shutil.copy(RETURNS, renamed)
    with pytest.raises(ValidationError, match="was imported on 2026-02-21"):
        import_bank_file(store, renamed, on=date(2026, 2, 22))
    assert snapshot(store) == before


def test_a_returned_direct_debit_reopens_the_invoice() -> None:
    store = billed()
    import_bank_file(store, STATEMENT, on=IMPORTED_ON)
    result = import_bank_file(store, RETURNS, on=date(2026, 2, 25))
    [back] = result.assigned
    assert back.document_ids == ("D00000005",) and back.return_reason == "MD06"
    # 369.00 paid on 16 February came back on 25 February: open again, owed again.
    assert state(store, "D00000005") == ("open", D("369.00"))
    assert balance_of(store, "C0000004") == money("369.00", "EUR")


def test_a_bad_row_stores_nothing_and_the_fixed_file_imports(tmp_path: Path) -> None:
    store = billed()
    path = tmp_path / "konto.csv"
    path.write_text(GERMAN_CSV + "15.02.2026;;;;x;zwölf;;EUR\n", encoding="utf-8")
    german = CsvFormat(columns=GERMAN, decimal_comma=True)
    before = snapshot(store)
    with pytest.raises(ValidationError, match=r"konto\.csv row 4, column 'Haben': 'zwölf'"):
        import_bank_file(store, path, on=IMPORTED_ON, csv_format=german)
    assert snapshot(store) == before
    path.write_text(GERMAN_CSV, encoding="utf-8")
    result = import_bank_file(store, path, on=IMPORTED_ON, csv_format=german)
    # 1234.56 for INV-2026-00002 (242.39): paid, 1234.56 − 242.39 = 992.17 on the account.
    assert (result.new, len(result.assigned), len(result.queued)) == (2, 1, 1)
    assert balance_of(store, "C0000002") == money("-992.17", "EUR")


def test_a_failure_inside_the_transaction_stores_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    store = billed()
    before = snapshot(store)

    def broken(self: object, imported: object) -> None:
        raise StorageError("disk full")

    monkeypatch.setattr(memory._MemoryTransaction, "add_imported_file", broken)
    with pytest.raises(StorageError):
        import_bank_file(store, STATEMENT, on=IMPORTED_ON)
    assert snapshot(store) == before
    assert store.imported_file(STATEMENT.name, "") is None


def test_no_assign_queues_everything_for_match_payments() -> None:
    store = billed()
    result = import_bank_file(store, STATEMENT, on=IMPORTED_ON, assign=False)
    assert (result.new, len(result.assigned), len(result.queued)) == (6, 0, 6)
    assert all(e.reason is None for e in result.queued)
    matched = match_payments(store)
    assert (len(matched.assigned), len(matched.queued)) == (4, 2)
    assert state(store, "D00000002") == ("paid", D("0.00"))


def test_the_format_is_told_by_the_content(tmp_path: Path) -> None:
    store = billed()
    odd_name = tmp_path / "statement.txt"
    shutil.copy(STATEMENT, odd_name)
    assert import_bank_file(store, odd_name, on=IMPORTED_ON).new == 6
    with pytest.raises(ValidationError, match="has no booking date column"):
        import_bank_file(store, RETURNS, on=IMPORTED_ON, format="csv")
    with pytest.raises(ValidationError, match="format: 'mt940' is not auto, csv or camt"):
        import_bank_file(store, RETURNS, on=IMPORTED_ON, format="mt940")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="cannot be read"):
        import_bank_file(store, tmp_path / "missing.csv", on=IMPORTED_ON)


# --- the docs page ------------------------------------------------------------------------------


def test_the_code_on_the_payments_page_prints_what_the_page_shows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page's Python blocks run in order as one script, each printing the ```text
    block after it (the billables tests' check); the files it writes go to a temporary
    directory."""
    monkeypatch.chdir(tmp_path)
    run_docs_page("payments.md")
