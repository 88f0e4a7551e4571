"""``juston payments``: import bank files, match the queue, list entries; output, JSON, errors.

Like tests/test_cli.py, the commands run against memory stores standing in for SQLite
files (``fake_sqlite``); one test at the end uses the real backend. The invoices are the
ones tests/test_bankfiles.py lists (four sample accounts billed in January and February).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D
from pathlib import Path

import pytest
from click.testing import Result

import juston
from juston import cli as cli_module
from juston.model.receivables import EntryStatus
from juston.storage.memory import MemoryStore
from test_cli import FakeSqlite, as_json, assert_one_line_error, invoke

BANK = Path(__file__).parent / "data" / "bank"
STATEMENT = str(BANK / "statement-2026-02.camt053.xml")
RETURNS = str(BANK / "returns-2026-02-25.camt054.xml")
DB = "bank.db"


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> MemoryStore:
    fake = FakeSqlite()
    monkeypatch.setattr(cli_module, "open_store", fake.open_store)
    monkeypatch.chdir(tmp_path)
    billed = fake.database(DB, accounts=4)
    for day in (date(2026, 1, 1), date(2026, 2, 1)):
        juston.finalize(billed, juston.invoice_run(billed, day).documents)
    return billed


def test_import_prints_the_counts_and_the_entries(store: MemoryStore) -> None:
    result = invoke("payments", "import", STATEMENT, "--db", DB, "--date", "2026-02-21")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "statement-2026-02.camt053.xml: 6 new (4 assigned, 2 waiting), 0 duplicate."
    assigned = result.stdout[: result.stdout.index("Waiting")]
    # One transfer paid two invoices; the table names them by number (and may wrap them).
    assert "INV-2026-00001," in assigned and "INV-2026-00003" in assigned
    assert "173.61" in assigned and "Hafenkante SARL" in assigned
    waiting = result.stdout[result.stdout.index("Waiting") :]
    assert "2026021300005" in waiting and "-12.50" in waiting
    assert "2026021600007/3" in waiting and "Unbekannt GmbH" in waiting
    assert waiting.count("no document number,") == 2  # the reason, wrapped in its column
    assert len(list(store.payment_entries(status=EntryStatus.ASSIGNED))) == 4


def test_import_json(store: MemoryStore) -> None:
    data = as_json(
        invoke("payments", "import", STATEMENT, "--db", DB, "--date", "2026-02-21", "--json")
    )
    assert (data["file"], data["new"], data["duplicate"]) == (Path(STATEMENT).name, 6, 0)
    first = data["assigned"][0]
    assert first["amount"] == "173.61" and first["currency"] == "EUR"
    assert first["document_numbers"] == ["INV-2026-00001", "INV-2026-00003"]
    assert first["document_ids"] == ["D00000001", "D00000003"]
    assert first["booking_date"] == "2026-02-10" and first["status"] == "assigned"
    assert [w["id"] for w in data["waiting"]] == ["2026021300005", "2026021600007/3"]


def test_importing_a_file_again_is_one_line_error(store: MemoryStore) -> None:
    invoke("payments", "import", STATEMENT, "--db", DB, "--date", "2026-02-21")
    again = invoke("payments", "import", STATEMENT, "--db", DB, "--date", "2026-02-22")
    assert_one_line_error(again, contains="was imported on 2026-02-21")
    assert len(list(store.payment_entries())) == 6


def test_import_needs_an_import_date_and_an_existing_file(store: MemoryStore) -> None:
    assert invoke("payments", "import", STATEMENT, "--db", DB).exit_code == 2
    missing = invoke("payments", "import", "nope.xml", "--db", DB, "--date", "2026-02-21")
    assert missing.exit_code == 2 and "does not exist" in missing.output
    assert_one_line_error(
        invoke("payments", "import", STATEMENT, "--db", "other.db", "--date", "2026-02-21"),
        contains="no database at other.db",
    )


GERMAN_OPTIONS = (
    "--columns", "booking_date=Buchungstag", "--columns", "credit=Haben",
    "--columns", "debit=Soll", "--columns", "reference=Verwendungszweck",
    "--currency", "EUR", "--decimal-comma",
)  # fmt: skip


def import_konto(fee: str) -> Result:
    """Import a German CSV export: INV-2026-00002 paid, and a bank fee of *fee*."""
    Path("konto.csv").write_text(
        "Buchungstag;Verwendungszweck;Haben;Soll\n"
        "12.02.2026;INV-2026-00002;242,39;\n"
        f"13.02.2026;Kontoführung;;{fee}\n",
        encoding="utf-8",
    )
    return invoke(
        "payments", "import", "konto.csv", "--db", DB, "--date", "2026-02-21", *GERMAN_OPTIONS
    )


def test_import_a_german_csv(store: MemoryStore) -> None:
    result = import_konto("12,50")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("konto.csv: 2 new (1 assigned, 1 waiting), 0 duplicate.")
    assert juston.receivables.document_state(store, "D00000002").status.value == "paid"
    assert [e.amount.amount for e in store.payment_entries()] == [D("242.39"), D("-12.50")]


def test_a_bad_csv_row_is_one_line_error_and_stores_nothing(store: MemoryStore) -> None:
    assert_one_line_error(
        import_konto("zwölf"), contains="konto.csv row 2, column 'Soll': 'zwölf' is not an amount"
    )
    assert list(store.payment_entries()) == []


def test_bad_column_options(store: MemoryStore) -> None:
    args = ("payments", "import", STATEMENT, "--db", DB, "--date", "2026-02-21")
    assert_one_line_error(invoke(*args, "--columns", "betrag=Betrag"), contains="is not a field")
    assert invoke(*args, "--columns", "amount").exit_code == 2
    assert invoke(*args, "--format", "mt940").exit_code == 2


def test_no_assign_then_match(store: MemoryStore) -> None:
    imported = invoke(
        "payments", "import", STATEMENT, "--db", DB, "--date", "2026-02-21", "--no-assign"
    )
    assert "6 new (0 assigned, 6 waiting)" in imported.stdout
    matched = invoke("payments", "match", "--db", DB)
    assert matched.exit_code == 0, matched.output
    assert matched.stdout.splitlines()[0] == "4 assigned, 2 still waiting."
    again = as_json(invoke("payments", "match", "--db", DB, "--json"))
    assert (again["assigned"], len(again["waiting"])) == ([], 2)


def test_list_filters_and_json(store: MemoryStore) -> None:
    invoke("payments", "import", STATEMENT, "--db", DB, "--date", "2026-02-21")
    invoke("payments", "import", RETURNS, "--db", DB, "--date", "2026-02-25")
    listed = invoke("payments", "list", "--db", DB)
    assert listed.exit_code == 0, listed.output
    assert listed.stdout.rstrip().endswith("7 entries")
    for header in ("Id", "Date", "Amount", "Payer", "Reference", "Status", "Account", "Reason"):
        assert header in listed.stdout
    waiting = as_json(invoke("payments", "list", "--db", DB, "--status", "open", "--json"))
    assert [e["id"] for e in waiting] == ["2026021300005", "2026021600007/3"]
    kranich = as_json(invoke("payments", "list", "--db", DB, "--account", "C0000004", "--json"))
    assert [(e["amount"], e["return_reason"]) for e in kranich] == [
        ("369.00", None),
        ("-369.00", "MD06"),
    ]
    assert kranich[1]["document_numbers"] == ["INV-2026-00005"]
    none = invoke("payments", "list", "--db", DB, "--status", "ignored")
    assert none.stdout == "No payment entries match.\n"
    assert invoke("payments", "list", "--db", DB, "--status", "lost").exit_code == 2
    assert_one_line_error(
        invoke("payments", "list", "--db", DB, "--account", "C404"), contains="no account 'C404'"
    )


# --- real SQLite -------------------------------------------------------------------------------


def test_the_payments_commands_on_a_real_sqlite_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert invoke("demo", "--accounts", "4", "--months", "2").exit_code == 0
    db = "juston-demo.db"
    imported = as_json(
        invoke("payments", "import", STATEMENT, "--db", db, "--date", "2026-02-21", "--json")
    )
    assert imported["new"] == 6
    again = invoke("payments", "import", STATEMENT, "--db", db, "--date", "2026-02-22")
    assert_one_line_error(again, contains="was imported on 2026-02-21")
    listed = as_json(invoke("payments", "list", "--db", db, "--json"))
    # The demo's customers paid by bank transfer too; the file's six come on top.
    assert len([e for e in listed if not e["id"].startswith("bank/")]) == 6
