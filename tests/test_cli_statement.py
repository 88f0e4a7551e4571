"""``juston statement``: one account's statement, a run, the summary and the errors.

Like tests/test_cli.py, the commands run against memory stores handed out per file path
(``FakeSqlite``); one test at the end uses the real SQLite backend.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import juston
from juston import cli as cli_module
from juston.cli import main
from juston.model.receivables import PaymentEntry
from juston.receivables import register_payment
from juston.testing import issue
from test_cli import ENV, FakeSqlite

A, B = "C0000001", "C0000002"


@pytest.fixture
def db(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[juston.MemoryStore]:
    """juston.db: account A with an invoice of 119.00 in January, 50.00 paid, and one of
    238.00 in February; account B billed only in March."""
    fake = FakeSqlite()
    monkeypatch.setattr(cli_module, "open_store", fake.open_store)
    monkeypatch.chdir(tmp_path)
    store = fake.database("juston.db", accounts=3)
    january = issue(store, A, "119.00", on=date(2026, 1, 1))
    register_payment(
        store,
        PaymentEntry(
            id="E1",
            amount=juston.money("50.00", "EUR"),
            booking_date=date(2026, 1, 10),
            reference=january.number,
        ),
    )
    issue(store, A, "238.00", on=date(2026, 2, 1))
    issue(store, B, "12.00", on=date(2026, 3, 1))
    yield store


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, ["statement", *args], env=ENV)


FEBRUARY = ("--from", "2026-02-01", "--to", "2026-02-28")


def test_one_account_as_html(db) -> None:
    result = invoke("--account", A, *FEBRUARY, "--format", "html", "-o", "feb.html")
    assert result.exit_code == 0, result.output
    page = Path("feb.html").read_text(encoding="utf-8").replace("\xa0", " ")
    assert "Kontoauszug" in page and "69,00 €" in page and "307,00 €" in page
    lines = result.output.splitlines()
    assert lines[0].startswith(f"{A}: feb.html (") and lines[0].endswith(" bytes)")
    header = next(line for line in lines if "Opening" in line)
    assert header.split() == [
        "Account", "Cur", "Opening", "Movements", "Closing", "Open", "items", "Overdue", "File"
    ]  # fmt: skip
    row = lines[lines.index(header) + 2]
    # Opening 69.00, one movement, closing 307.00, two open items (due 15 Jan and 15 Feb),
    # both overdue on 28 Feb.
    assert row.split() == [A, "EUR", "69.00", "1", "307.00", "2", "307.00", "feb.html"]


def test_one_account_as_english_pdf_with_the_default_name(db) -> None:
    result = invoke("--account", A, *FEBRUARY, "--language", "en", "--date", "2026-03-02")
    assert result.exit_code == 0, result.output
    written = Path(f"statement-{A}-2026-02-01-2026-02-28.pdf")
    assert written.read_bytes().startswith(b"%PDF")


def test_to_stdout(db) -> None:
    result = invoke("--account", A, *FEBRUARY, "--format", "html", "--language", "en", "-o", "-")
    assert result.exit_code == 0
    assert result.output.startswith("<!DOCTYPE html>") and "€69.00" in result.output


def test_a_run_writes_one_file_per_account_with_balances_in_the_period(db, tmp_path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    result = invoke("--all", "--from", "2026-02-01", "--to", "2026-03-31", "-o", str(out),
                    "--format", "html")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [
        f"statement-{A}-2026-02-01-2026-03-31.html",
        f"statement-{B}-2026-02-01-2026-03-31.html",
    ]
    assert (
        result.output.splitlines()[0]
        == f"2 statements for 2026-02-01 to 2026-03-31 written to {out}."
    )
    result = invoke("--all", "--from", "2025-01-01", "--to", "2025-12-31", "-o", str(out))
    assert result.output.strip() == (
        "No account has balances dated from 2025-01-01 to 2025-12-31; nothing written."
    )


def test_json_summary(db) -> None:
    result = invoke("--all", *FEBRUARY, "--format", "html", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["from"] == "2026-02-01" and data["to"] == "2026-02-28"
    assert data["statements"] == [
        {
            "account": A,
            "currency": "EUR",
            "opening": "69.00",
            "movements": 1,
            "closing": "307.00",
            "open_items": 2,
            "overdue": "307.00",
            "file": f"statement-{A}-2026-02-01-2026-02-28.html",
        }
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--account", A, "--from", "2026-13-01", "--to", "2026-02-28"),
         "error: --from: '2026-13-01' is not a date like 2026-01-01"),
        (("--account", A, "--from", "2026-02-01", "--to", "28.02.2026"),
         "error: --to: '28.02.2026' is not a date like 2026-01-01"),
        (("--account", "C-nobody", *FEBRUARY), "error: no account 'C-nobody' in juston.db"),
        (("--account", A, "--from", "2026-03-01", "--to", "2026-02-28"),
         "error: start: '2026-03-01' is after the end 2026-02-28"),
        (("--all", *FEBRUARY, "-o", "missing-dir"),
         "error: missing-dir is not a directory; --all writes one file per account"),
        (("--account", A, *FEBRUARY, "--db", "other.db"),
         "error: no database at other.db; pass --db PATH, or create a demo database with "
         "'juston demo --db other.db'"),
    ],
)  # fmt: skip
def test_errors_are_one_line(db, args: tuple[str, ...], message: str) -> None:
    result = invoke(*args)
    assert result.exit_code == 1
    assert result.output.strip() == message
    assert "Traceback" not in result.output


def test_account_or_all(db) -> None:
    for args in ((), ("--account", A, "--all")):
        result = invoke(*args, *FEBRUARY)
        assert result.exit_code == 2
        assert "give either --account ID or --all" in result.output


def test_on_real_sqlite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = juston.open_store(f"sqlite:///{tmp_path / 'juston.db'}")
    juston.testing.populate(store, accounts=2)
    issue(store, A, "119.00", on=date(2026, 2, 3))
    result = invoke("--account", A, *FEBRUARY, "--format", "html", "-o", "feb.html")
    assert result.exit_code == 0, result.output
    assert "119,00 €" in Path("feb.html").read_text(encoding="utf-8").replace("\xa0", " ")
