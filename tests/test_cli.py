"""The ``juston`` command: what each command prints, its JSON, and its errors.

The commands open SQLite files. Until every test can rely on the SQL backend, they run
against memory stores handed out per file path (``fake_sqlite``); one test at the end
uses the real backend.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result

import juston
from juston import (
    Account,
    Address,
    Graduated,
    Item,
    MemoryStore,
    Product,
    Subscription,
    Tier,
    money,
)
from juston import cli as cli_module
from juston.cli import main
from juston.cli import render as cli_render
from juston.testing import populate, sample_accounts, sample_store

# No colours and a fixed width, whatever the environment of the test run says.
ENV: dict[str, str | None] = {
    "FORCE_COLOR": None,
    "TTY_COMPATIBLE": None,
    "NO_COLOR": "1",
    "COLUMNS": "120",
}


class FakeSqlite:
    """Memory stores standing in for SQLite files: one per path, new when the file is gone."""

    def __init__(self) -> None:
        self.stores: dict[Path, MemoryStore] = {}
        self.urls: list[str] = []

    def open_store(self, url: str) -> MemoryStore:
        self.urls.append(url)
        assert url.startswith("sqlite:///")
        path = Path(url.removeprefix("sqlite:///"))
        if not path.exists() or path not in self.stores:
            path.touch()  # as SQLite creates the file
            self.stores[path] = MemoryStore()
        return self.stores[path]

    def database(self, name: str, *, accounts: int = 3, realistic: bool = False) -> MemoryStore:
        store = self.open_store(f"sqlite:///{name}")
        populate(store, accounts=accounts, realistic=realistic)
        return store


@pytest.fixture
def sqlite(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeSqlite]:
    fake = FakeSqlite()
    monkeypatch.setattr(cli_module, "open_store", fake.open_store)
    monkeypatch.chdir(tmp_path)
    yield fake


def invoke(*args: str, env: dict[str, str | None] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env={**ENV, **(env or {})})


def as_json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def assert_one_line_error(result: Result, *, contains: str) -> None:
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert contains in lines[0]
    assert "Traceback" not in result.output


def test_main_is_a_click_command_named_juston() -> None:
    assert isinstance(main, click.Group)
    result = invoke("--help")
    assert result.exit_code == 0
    for command in ("demo", "run", "invoices", "accounts"):
        assert command in result.stdout


def test_store_url_is_an_sqlalchemy_sqlite_url() -> None:
    assert cli_module._store_url("juston.db") == "sqlite:///juston.db"
    assert cli_module._store_url(Path("/data/b.db")) == "sqlite:////data/b.db"


# --- demo --------------------------------------------------------------------------------------


def test_demo_creates_the_database_and_prints_the_summary(sqlite: FakeSqlite) -> None:
    result = invoke("demo", "--accounts", "8", "--months", "3")
    assert result.exit_code == 0, result.output
    assert Path("juston-demo.db").is_file()
    assert sqlite.urls[0] == "sqlite:///juston-demo.db"
    out = result.stdout
    assert "Created the database juston-demo.db" in out
    assert "Invoice runs 2026-01-01 to 2026-03-01, finalized" in out
    for heading in ("Billing date", "Invoices", "Credits", "Net", "Tax", "Gross", "All runs"):
        assert heading in out
    for month in ("2026-01-01", "2026-02-01", "2026-03-01"):
        assert month in out
    assert {"EUR", "CHF", "USD"} <= set(out.split())
    assert "Example documents" in out
    assert "INV-2026-00001" in out
    assert "Traceback" not in result.output


def test_demo_summary_figures_match_the_stored_documents(sqlite: FakeSqlite) -> None:
    summary = as_json(invoke("demo", "--accounts", "10", "--months", "4", "--json"))
    assert summary["replaced"] is False
    assert [run["billing_date"] for run in summary["runs"]] == [
        "2026-01-01",
        "2026-02-01",
        "2026-03-01",
        "2026-04-01",
    ]
    documents = as_json(invoke("invoices", "list", "--db", "juston-demo.db", "--json"))
    assert sum(len(run["documents"]) for run in summary["runs"]) == len(documents)
    # Finalized: open, or already paid or settled (credits settle against open invoices).
    assert all(d["status"] in ("open", "paid", "settled") and d["number"] for d in documents)
    gross: dict[str, Decimal] = {}
    for document in documents:
        code = document["currency"]
        gross[code] = gross.get(code, Decimal(0)) + Decimal(document["total"])
    reported: dict[str, Decimal] = {}
    for run in summary["runs"]:
        for code, totals in run["totals"].items():
            assert isinstance(totals["gross"], str)  # decimals as strings, never floats
            reported[code] = reported.get(code, Decimal(0)) + Decimal(totals["gross"])
            assert Decimal(totals["net"]) + Decimal(totals["tax"]) == Decimal(totals["gross"])
    assert reported == gross
    assert set(gross) == {"CHF", "EUR", "USD"}


def test_demo_makes_credits_after_the_customers_changes(sqlite: FakeSqlite) -> None:
    summary = as_json(invoke("demo", "--json"))
    assert summary["changes"]["effective"] == "2026-02-15"
    assert summary["changes"]["what"]
    assert sum(t["credits"] for run in summary["runs"] for t in run["totals"].values()) >= 1
    assert len(summary["runs"]) == 12
    assert summary["accounts"] == 25


def test_demo_replaces_an_existing_database_and_says_so(sqlite: FakeSqlite) -> None:
    invoke("demo", "--db", "d.db", "--accounts", "4", "--months", "2")
    first = as_json(invoke("invoices", "list", "--db", "d.db", "--json"))
    result = invoke("demo", "--db", "d.db", "--accounts", "4", "--months", "2")
    assert result.exit_code == 0, result.output
    assert "Replaced the existing database d.db" in result.stdout
    again = as_json(invoke("invoices", "list", "--db", "d.db", "--json"))
    assert [d["number"] for d in again] == [d["number"] for d in first]


def test_demo_does_not_replace_a_file_that_is_not_a_database(sqlite: FakeSqlite) -> None:
    Path("notes.db").write_text("my notes", encoding="utf-8")
    result = invoke("demo", "--db", "notes.db")
    assert_one_line_error(result, contains="not an SQLite database")
    assert Path("notes.db").read_text(encoding="utf-8") == "my notes"


def test_demo_in_a_missing_directory_is_one_line_error(sqlite: FakeSqlite) -> None:
    result = invoke("demo", "--db", "no-such-dir/demo.db")
    assert_one_line_error(result, contains="the directory no-such-dir does not exist")
    assert sqlite.urls == []


def test_demo_rejects_bad_arguments_with_a_usage_error(sqlite: FakeSqlite) -> None:
    for args in (["--accounts", "0"], ["--start", "2026-02-30"], ["--months", "x"]):
        result = invoke("demo", *args)
        assert result.exit_code == 2, args
        assert "Traceback" not in result.output
    assert "is not a date like 2026-01-01" in invoke("demo", "--start", "soon").stderr
    assert not Path("juston-demo.db").exists()


# --- run ---------------------------------------------------------------------------------------


def test_run_on_a_missing_database_is_one_line_error(sqlite: FakeSqlite) -> None:
    result = invoke("run", "--date", "2026-01-01")
    assert_one_line_error(result, contains="no database at juston.db")
    assert sqlite.urls == []


def test_run_needs_a_date(sqlite: FakeSqlite) -> None:
    sqlite.database("juston.db")
    assert invoke("run").exit_code == 2
    result = invoke("run", "--date", "2026-13-01")
    assert result.exit_code == 2
    assert "'2026-13-01' is not a date" in result.stderr


def test_run_stores_drafts_and_prints_totals_per_currency(sqlite: FakeSqlite) -> None:
    store = sqlite.database("juston.db", accounts=7, realistic=True)
    result = invoke("run", "--date", "2026-01-01")
    assert result.exit_code == 0, result.output
    drafts = list(store.documents())
    assert drafts and all(d.is_draft for d in drafts)
    out = result.stdout
    assert f"{len(drafts)} documents stored as drafts" in out
    eur = sum((d.total.amount for d in drafts if d.currency.code == "EUR"), Decimal(0))
    assert f"{eur:,}" in out
    assert "CHF" in out and "USD" in out


def test_run_finalize_numbers_the_documents(sqlite: FakeSqlite) -> None:
    sqlite.database("b.db", accounts=3)
    result = invoke("run", "--db", "b.db", "--date", "2026-01-01", "--finalize")
    assert result.exit_code == 0, result.output
    assert "finalized (INV-2026-00001 … INV-2026-00002)" in result.stdout
    listed = as_json(invoke("invoices", "list", "--db", "b.db", "--status", "open", "--json"))
    assert [d["number"] for d in listed] == ["INV-2026-00001", "INV-2026-00002"]
    again = invoke("run", "--db", "b.db", "--date", "2026-01-01", "--finalize")
    assert again.exit_code == 0 and "nothing was due" in again.stdout


def test_a_dry_run_stores_nothing(sqlite: FakeSqlite) -> None:
    store = sqlite.database("juston.db")
    result = invoke("run", "--date", "2026-01-01", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "nothing was stored" in result.stdout
    assert list(store.documents()) == []


def test_finalize_and_dry_run_exclude_each_other(sqlite: FakeSqlite) -> None:
    sqlite.database("juston.db")
    result = invoke("run", "--date", "2026-01-01", "--dry-run", "--finalize")
    assert result.exit_code == 2
    assert "--finalize cannot be combined with --dry-run" in result.stderr


def _failing_account(store: MemoryStore) -> None:
    account = Account(
        id="C9999999",
        name="Overflow GmbH",
        currency="EUR",
        billing_address=Address(street="Weg 1", postcode="10115", city="Berlin", country="DE"),
    )
    # The last tier is bounded, so 50 units cannot be priced: the run must report it.
    tiers = Graduated([Tier(10, money("2.00", "EUR"))])
    item = Item(id="storage", product=Product(code="S", name="Storage"), price=tiers, quantity=50)
    with store.transaction() as tx:
        tx.put_account(account)
        tx.put_subscription(
            Subscription(
                number="S9999999", account_id=account.id, start=date(2026, 1, 1), items=[item]
            )
        )


def test_run_lists_accounts_it_could_not_bill_and_exits_3(sqlite: FakeSqlite) -> None:
    store = sqlite.database("juston.db", accounts=2)
    _failing_account(store)
    result = invoke("run", "--date", "2026-01-01")
    assert result.exit_code == 3
    assert "Accounts not billed" in result.stdout
    assert "C9999999" in result.stdout
    assert "exceeds the last tier" in result.stdout
    assert "2 documents stored as drafts" in result.stdout
    assert "Traceback" not in result.output


def test_run_json_reports_documents_totals_and_failures(sqlite: FakeSqlite) -> None:
    store = sqlite.database("juston.db", accounts=3)
    _failing_account(store)
    result = invoke("run", "--date", "2026-01-01", "--json")
    assert result.exit_code == 3
    report = json.loads(result.stdout)
    assert report["billing_date"] == "2026-01-01"
    assert report["dry_run"] is False and report["finalized"] is False
    assert report["failures"][0]["account_id"] == "C9999999"
    assert "exceeds the last tier" in report["failures"][0]["error"]
    stored = list(store.documents())
    assert [d["id"] for d in report["documents"]] == [d.id for d in stored]
    eur = report["totals"]["EUR"]
    assert eur["documents"] == len(stored) == eur["invoices"]
    assert eur["gross"] == str(sum((d.total.amount for d in stored), Decimal(0)))


def test_a_library_error_is_one_line(sqlite: FakeSqlite) -> None:
    sqlite.open_store("sqlite:///empty.db")  # a database without a company
    result = invoke("run", "--db", "empty.db", "--date", "2026-01-01")
    assert_one_line_error(result, contains="company")


def test_progress_bar_goes_to_stderr_on_a_terminal_for_large_runs(
    sqlite: FakeSqlite, monkeypatch: pytest.MonkeyPatch
) -> None:
    sqlite.database("juston.db", accounts=3)
    monkeypatch.setattr(cli_render, "PROGRESS_MIN_ACCOUNTS", 3)
    result = invoke("run", "--date", "2026-01-01", "--json", env={"FORCE_COLOR": "1"})
    assert result.exit_code == 0, result.output
    assert "Billing" in result.stderr
    assert "3/3" in result.stderr
    json.loads(result.stdout)  # stdout stays machine-readable


def test_no_progress_bar_below_the_threshold_or_off_a_terminal(sqlite: FakeSqlite) -> None:
    sqlite.database("juston.db", accounts=3)
    small = invoke("run", "--date", "2026-01-01", "--dry-run", env={"FORCE_COLOR": "1"})
    assert small.stderr == ""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cli_render, "PROGRESS_MIN_ACCOUNTS", 1)
        piped = invoke("run", "--date", "2026-01-01", "--dry-run")
    assert piped.stderr == ""


# --- invoices ----------------------------------------------------------------------------------


@pytest.fixture
def billed(sqlite: FakeSqlite) -> MemoryStore:
    """A database with two finalized runs and one run of drafts."""
    invoke("demo", "--db", "juston.db", "--accounts", "7", "--months", "2")
    invoke("run", "--date", "2026-03-01")
    return sqlite.stores[Path("juston.db")]


def test_invoices_list_shows_every_document(billed: MemoryStore) -> None:
    result = invoke("invoices", "list")
    assert result.exit_code == 0, result.output
    documents = list(billed.documents())
    for document in documents:
        assert (document.number or f"draft {document.id}") in result.stdout
    assert f"{len(documents)} documents" in result.stdout


def test_invoices_list_filters(billed: MemoryStore) -> None:
    drafts = as_json(invoke("invoices", "list", "--status", "draft", "--json"))
    assert drafts and {d["status"] for d in drafts} == {"draft"}
    assert all(d["number"] is None for d in drafts)

    run_id = drafts[0]["run_id"]
    of_run = as_json(invoke("invoices", "list", "--run", run_id, "--json"))
    assert [d["id"] for d in of_run] == [d["id"] for d in drafts]

    mine = as_json(invoke("invoices", "list", "--account", "C0000001", "--json"))
    assert mine and {d["account_id"] for d in mine} == {"C0000001"}

    assert len(as_json(invoke("invoices", "list", "--limit", "2", "--json"))) == 2
    assert as_json(invoke("invoices", "list", "--run", "no-such-run", "--json")) == []
    assert "No documents match" in invoke("invoices", "list", "--run", "nope").stdout


def test_invoices_list_rejects_an_unknown_status_and_account(billed: MemoryStore) -> None:
    result = invoke("invoices", "list", "--status", "lost")
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert_one_line_error(
        invoke("invoices", "list", "--account", "C404"), contains="no account 'C404'"
    )


def test_invoices_show_displays_header_parties_lines_and_totals(billed: MemoryStore) -> None:
    document = next(d for d in billed.documents() if d.number and len(d.lines) > 1)
    assert document.number is not None
    result = invoke("invoices", "show", document.number)
    assert result.exit_code == 0, result.output
    out = result.stdout
    status = juston.document_state(billed, document).status.value  # paid by the demo's customers
    assert f"Invoice {document.number} · {status}" in out
    assert document.seller.name in out and document.buyer.name in out
    assert document.invoice_date.isoformat() in out and document.due_date.isoformat() in out
    for line in document.lines:
        assert line.description in out
        assert line.period is not None and str(line.period) in out
        assert f"{line.net_amount:,}" in out
    for subtotal in document.tax_breakdown:
        assert f"{subtotal.rate.normalize():f} %" in out
    assert f"Total {document.currency.code}" in out
    assert f"{document.total.amount:,}" in out


def test_invoices_show_finds_by_id_and_explains(billed: MemoryStore) -> None:
    document = next(d for d in billed.documents() if d.is_draft)
    assert document.id is not None
    result = invoke("invoices", "show", document.id, "--explain")
    assert result.exit_code == 0, result.output
    assert f"draft {document.id}" in result.stdout
    assert document.lines[0].explanation.split(";")[0] in result.stdout


def test_invoices_show_prints_notices(billed: MemoryStore) -> None:
    document = next(d for d in billed.documents() if d.notices and d.number)
    assert document.number is not None
    out = invoke("invoices", "show", document.number.lower(), env={"COLUMNS": "200"}).stdout
    for notice in document.notices:
        assert notice in out


def test_invoices_show_json_has_lines_breakdown_and_totals(billed: MemoryStore) -> None:
    document = next(d for d in billed.documents() if d.number)
    assert document.number is not None
    shown = as_json(invoke("invoices", "show", document.number, "--json"))
    assert shown["number"] == document.number
    assert shown["total"] == str(document.total.amount)
    assert sum(Decimal(line["net"]) for line in shown["lines"]) == Decimal(shown["net"])
    assert sum(Decimal(s["tax"]) for s in shown["tax_breakdown"]) == Decimal(shown["tax"])
    line = shown["lines"][0]
    assert line["period"]["start"] == document.lines[0].period.start.isoformat()  # type: ignore[union-attr]
    assert isinstance(line["quantity"], str) and isinstance(line["unit_price"], str)
    assert shown["seller"]["vat_id"] == "DE136695976"
    assert shown["buyer"]["id"] == document.account_id


def test_invoices_show_unknown_document_is_one_line_error(billed: MemoryStore) -> None:
    result = invoke("invoices", "show", "INV-1999-00001")
    assert_one_line_error(result, contains="no document with number or id 'INV-1999-00001'")


# --- accounts ----------------------------------------------------------------------------------


def test_accounts_list(billed: MemoryStore) -> None:
    result = invoke("accounts", "list")
    assert result.exit_code == 0, result.output
    for account in billed.accounts():
        assert account.id in result.stdout and account.name in result.stdout
    listed = as_json(invoke("accounts", "list", "--json"))
    assert [a["id"] for a in listed] == [a.id for a in billed.accounts()]
    assert {a["country"] for a in listed} >= {"DE", "AT", "FR", "NL", "CH", "US"}
    assert any(a["vat_id"] for a in listed) and any(a["vat_id"] is None for a in listed)


def test_accounts_show_prints_fields_subscriptions_items_and_documents(
    billed: MemoryStore,
) -> None:
    account = billed.account("C0000003")
    result = invoke("accounts", "show", account.id)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert account.name in out and str(account.vat_id) in out
    for subscription in billed.subscriptions(account.id):
        assert f"Subscription {subscription.number}" in out
        for item in subscription.items:
            assert item.id in out
    for document in billed.documents(account_id=account.id):
        assert (document.number or f"draft {document.id}") in out


def test_accounts_show_json(billed: MemoryStore) -> None:
    shown = as_json(invoke("accounts", "show", "C0000001", "--json"))
    assert shown["id"] == "C0000001"
    subscription = billed.subscriptions("C0000001")[0]
    assert shown["subscriptions"][0]["number"] == subscription.number
    items = shown["subscriptions"][0]["items"]
    assert [i["id"] for i in items] == [i.id for i in subscription.items]
    assert items[0]["price"]["model"] == "flat"
    assert items[0]["price"]["amount"] == "49.00"
    assert [d["id"] for d in shown["documents"]] == [
        d.id for d in billed.documents(account_id="C0000001")
    ]


def test_accounts_show_unknown_account_is_one_line_error(billed: MemoryStore) -> None:
    assert_one_line_error(invoke("accounts", "show", "C404"), contains="no account 'C404'")


# --- sample data -------------------------------------------------------------------------------


def test_realistic_sample_data_has_the_variety_a_demo_needs() -> None:
    store = sample_store(accounts=8, realistic=True)
    accounts = list(store.accounts())
    assert {"DE", "AT", "FR", "NL", "CH", "US"} <= {a.country for a in accounts}
    assert {a.currency.code for a in accounts} == {"EUR", "CHF", "USD"}
    assert any(a.vat_id for a in accounts) and any(a.vat_id is None for a in accounts)
    items = [i for a in accounts for s in store.subscriptions(a.id) for i in s.items]
    models = {type(m).__name__ for i in items for m in i.models()}
    assert {"Flat", "PerUnit", "Graduated", "Volume", "Package"} <= models
    assert any(i.discount for i in items)
    assert any(c.quantity is not None for i in items for c in i.changes)
    assert any(c.price is not None for i in items for c in i.changes)
    subscriptions = [s for a in accounts for s in store.subscriptions(a.id)]
    assert any(s.end for s in subscriptions) or any(i.end for i in items)


def test_populate_writes_the_same_data_as_sample_store() -> None:
    store = MemoryStore()
    populate(store, accounts=5, seed=3)
    expected = sample_store(accounts=5, seed=3)
    assert list(store.accounts()) == list(expected.accounts())
    for account in store.accounts():
        assert store.subscriptions(account.id) == expected.subscriptions(account.id)
    assert [s for _, s in sample_accounts(5, seed=3)] == [
        store.subscriptions(a.id)[0] for a in store.accounts()
    ]


# --- real SQLite -------------------------------------------------------------------------------


def test_the_commands_on_a_real_sqlite_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    demo = invoke("demo", "--accounts", "5", "--months", "2")
    assert demo.exit_code == 0, demo.output
    assert Path("juston-demo.db").read_bytes().startswith(b"SQLite format 3\x00")
    listed = as_json(invoke("invoices", "list", "--db", "juston-demo.db", "--json"))
    assert listed and all(d["number"] for d in listed)
    shown = invoke("invoices", "show", listed[0]["number"], "--db", "juston-demo.db")
    assert shown.exit_code == 0 and listed[0]["number"] in shown.stdout
    run = as_json(
        invoke("run", "--db", "juston-demo.db", "--date", "2026-03-01", "--finalize", "--json")
    )
    assert run["finalized"] is True
    again = invoke("demo", "--accounts", "2", "--months", "1")
    assert "Replaced the existing database" in again.stdout
    assert_one_line_error(
        invoke("accounts", "show", "C404", "--db", "juston-demo.db"), contains="C404"
    )


# --- usage import ------------------------------------------------------------------------------


def test_usage_import_counts_new_duplicate_and_rejected_rows(sqlite: FakeSqlite) -> None:
    from juston.testing import usage_store

    usage_store(2, store=sqlite.open_store("sqlite:///juston.db"))
    Path("usage.csv").write_text(
        "event;order;when;calls\n"
        "e1;S-1/api;2026-01-05T09:00:00+01:00;40\n"
        "e2;S-9/api;2026-01-05T09:00:00+01:00;1\n"
        "e3;ORD-00002-API;2026-01-06T09:00:00+01:00;2.5\n"
    )
    args = (
        "usage",
        "import",
        "usage.csv",
        "--delimiter",
        ";",
        "--column",
        "id=event",
        "--column",
        "item=order",
        "--column",
        "timestamp=when",
        "--column",
        "quantity=calls",
    )
    first = invoke(*args)
    assert first.exit_code == 3, first.output
    assert "usage.csv: 2 new, 0 duplicates, 1 rejected." in first.stdout
    assert "e2" in first.stdout and "names no usage item" in first.stdout
    again = invoke(*args, "--json")
    assert again.exit_code == 3
    assert json.loads(again.stdout) == {
        "new": 0,
        "duplicates": 2,
        "rejected": [
            {
                "row": 2,
                "id": "e2",
                "field": "item",
                "value": "S-9/api",
                "reason": "names no usage item",
            }
        ],
    }


def test_usage_import_refuses_a_bad_column_option(sqlite: FakeSqlite) -> None:
    sqlite.database("juston.db")
    Path("usage.csv").write_text("id,item,timestamp,quantity\n")
    result = invoke("usage", "import", "usage.csv", "--column", "event")
    assert result.exit_code == 2
    assert "FIELD=COLUMN" in result.output


def test_invoices_list_and_show_derive_paid_from_the_balances(billed: MemoryStore) -> None:
    from juston import PaymentEntry, register_payment

    document = next(
        d
        for d in billed.documents()
        if d.number and juston.document_state(billed, d).open == d.total and d.total.amount > 0
    )
    assert document.number is not None
    before = {
        d["number"] for d in as_json(invoke("invoices", "list", "--status", "paid", "--json"))
    }
    register_payment(
        billed,
        PaymentEntry(
            id="bank-1",
            amount=document.total,
            booking_date=date(2026, 3, 5),
            reference=document.number,
        ),
    )
    paid = as_json(invoke("invoices", "list", "--status", "paid", "--json"))
    assert [(d["number"], d["open"], d["paid_on"]) for d in paid if d["number"] not in before] == [
        (document.number, "0.00", "2026-03-05")
    ]
    still_open = as_json(invoke("invoices", "list", "--status", "open", "--json"))
    assert document.number not in {d["number"] for d in still_open}
    assert all(Decimal(d["open"]) != 0 for d in still_open)
    shown = invoke("invoices", "show", document.number).stdout
    assert f"{document.number} · paid" in shown
    assert "paid on 2026-03-05" in shown


def test_demo_customers_pay_and_the_summary_says_what_is_open(sqlite: FakeSqlite) -> None:
    summary = as_json(invoke("demo", "--accounts", "10", "--months", "4", "--json"))
    store = sqlite.stores[Path("juston-demo.db")]
    receivables = summary["receivables"]
    entries = list(store.payment_entries())
    assert receivables["payments"] == len(entries) > 0
    assert receivables["assigned"] + receivables["waiting"] == len(entries)
    waiting = [e for e in entries if e.status.value == "open"]
    assert receivables["waiting"] == len(waiting)
    opens = [o for o in store.open_documents() if o.amount.amount > 0]
    assert receivables["open_documents"] == len(opens)
    by_currency: dict[str, Decimal] = {}
    for item in opens:
        code = item.amount.currency.code
        by_currency[code] = by_currency.get(code, Decimal(0)) + item.amount.amount
    assert {c: Decimal(a) for c, a in receivables["open"].items()} == by_currency
    text = invoke("demo", "--accounts", "10", "--months", "4").stdout
    assert f"{receivables['payments']} payments" in text
    assert "juston statement" in text
