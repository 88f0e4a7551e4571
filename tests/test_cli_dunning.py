"""``juston dunning``: a run and its summary, finalizing with notices, the list, cancelling,
and the errors.

Like tests/test_cli.py, the commands run against memory stores handed out per file path
(``FakeSqlite``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import attrs
import pytest
from click.testing import CliRunner, Result

import juston
from juston import cli as cli_module
from juston.cli import main
from juston.dunning import DunningConfig
from juston.model.dunning import DunningStatus
from juston.testing import issue
from test_cli import ENV, FakeSqlite, assert_one_line_error

A, B, C = "C0000001", "C0000002", "C0000003"


@pytest.fixture
def db(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[juston.MemoryStore]:
    """juston.db: A (German, 14 days) owes 119.00 due 15 January; B (English, 30 days)
    owes 238.00 due 31 January; C's invoice of 20 March is not due before April."""
    fake = FakeSqlite()
    monkeypatch.setattr(cli_module, "open_store", fake.open_store)
    monkeypatch.chdir(tmp_path)
    store = fake.database("juston.db", accounts=3)
    issue(store, A, "119.00", on=date(2026, 1, 1))
    issue(store, B, "238.00", on=date(2026, 1, 1))
    issue(store, C, "50.00", on=date(2026, 3, 20))
    yield store


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, ["dunning", *args], env=ENV)


def table(result: Result) -> list[list[str]]:
    """The rows of the summary table, split into cells (no cell has spaces)."""
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    start = next(n for n, line in enumerate(lines) if line.startswith("Id "))
    return [line.split() for line in lines[start + 2 :] if line.strip()]


def test_a_run_makes_drafts_and_says_so(db) -> None:
    result = invoke("run", "--date", "2026-02-14")
    assert result.output.splitlines()[:2] == [
        "Dunning run on 2026-02-14: 1 new, 0 refreshed, 0 unchanged, 0 removed.",
        "1 draft; --finalize closes them.",
    ]
    header = next(line for line in result.output.splitlines() if line.startswith("Id "))
    assert header.split() == [
        "Id", "Account", "Cur", "Level", "Invoices", "Overdue", "Fee", "Interest", "Total",
        "Number", "Status",
    ]  # fmt: skip
    # A is 30 days overdue (the reminder, no fee); B only 14 days.
    [row] = table(result)
    assert row[1:] == [A, "EUR", "1", "1", "119.00", "0.00", "0.00", "119.00", "draft"]
    # The same day again: nothing new; the draft keeps its id.
    again = invoke("run", "--date", "2026-02-14")
    assert "0 new, 0 refreshed, 1 unchanged, 0 removed" in again.output
    assert table(again)[0][0] == row[0]
    assert [d.status for d in db.dunnings()] == [DunningStatus.DRAFT]


def test_nobody_to_dun(db) -> None:
    result = invoke("run", "--date", "2026-01-20")
    assert result.exit_code == 0
    assert result.output.splitlines() == [
        "Dunning run on 2026-01-20: 0 new, 0 refreshed, 0 unchanged, 0 removed.",
        "Nothing new to dun.",
    ]


def test_a_minimum_amount(db) -> None:
    assert [r[1] for r in table(invoke("run", "--date", "2026-02-14", "--minimum", "119"))] == [A]
    # Above A's 119.00 its draft is removed again.
    result = invoke("run", "--date", "2026-02-14", "--minimum", "119.01")
    assert result.output.splitlines() == [
        "Dunning run on 2026-02-14: 0 new, 0 refreshed, 0 unchanged, 1 removed.",
        "Nothing new to dun.",
    ]


def test_finalize_numbers_books_and_writes_notices(db, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    invoke("run", "--date", "2026-02-14", "--finalize")  # A's reminder: DUN-2026-00001
    result = invoke("run", "--date", "2026-03-16", "--finalize", "-o", "out", "--format", "html")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[1] == (
        "2 dunnings closed (DUN-2026-00002 … DUN-2026-00003); 2 notices written to out."
    )
    rows = table(result)
    # A: 60 days, the 1st notice with a fee of 5.00; B: 44 days, its reminder.
    assert [r[1:] for r in rows] == [
        [A, "EUR", "2", "1", "119.00", "5.00", "0.00", "124.00", "DUN-2026-00002", "closed",
         "DUN-2026-00002.html"],
        [B, "EUR", "1", "1", "238.00", "0.00", "0.00", "238.00", "DUN-2026-00003", "closed",
         "DUN-2026-00003.html"],
    ]  # fmt: skip
    assert sorted(p.name for p in out.iterdir()) == ["DUN-2026-00002.html", "DUN-2026-00003.html"]
    german = (out / "DUN-2026-00002.html").read_text(encoding="utf-8").replace("\xa0", " ")
    assert "1. Mahnung" in german and "Mahngebühr" in german and "124,00 €" in german
    english = (out / "DUN-2026-00003.html").read_text(encoding="utf-8")
    assert "Payment reminder" in english and "€238.00" in english
    # The fee is booked on A's invoice: it is open with 124.00 now.
    assert (
        juston.balance_of(db, A, date(2026, 3, 16)).amount == juston.money("124.00", "EUR").amount
    )


def test_pdf_notices_by_default(db, tmp_path: Path) -> None:
    result = invoke("run", "--date", "2026-02-14", "--finalize", "-o", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "DUN-2026-00001.pdf").read_bytes().startswith(b"%PDF-")


def test_a_level_not_sent_writes_no_notice(db, tmp_path: Path, monkeypatch) -> None:
    default = DunningConfig.default()
    quiet = attrs.evolve(default.levels[0], do_not_send=True)
    config = attrs.evolve(default, levels=(quiet, *default.levels[1:]))
    monkeypatch.setattr(DunningConfig, "default", lambda code="EUR": config)
    (tmp_path / "out").mkdir()
    result = invoke("run", "--date", "2026-02-14", "--finalize", "-o", "out")
    assert result.output.splitlines()[1] == (
        "1 dunning closed (DUN-2026-00001); 0 notices written to out, 1 not sent."
    )
    assert table(result)[0][-2:] == ["not", "sent"]
    assert list((tmp_path / "out").iterdir()) == []


def test_json_of_a_run(db) -> None:
    result = invoke("run", "--date", "2026-03-16", "--finalize", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert (data["date"], data["created"], data["finalized"]) == ("2026-03-16", 2, True)
    first = data["dunnings"][0]
    assert {k: first[k] for k in ("account", "level", "invoices", "fee", "total", "number")} == {
        "account": A,
        "level": 2,  # 60 days: straight to the 1st notice
        "invoices": ["INV-2026-00001"],
        "fee": "5.00",
        "total": "124.00",
        "number": "DUN-2026-00001",
    }
    assert first["status"] == "closed" and first["notice"] is None


def test_list_and_cancel(db) -> None:
    invoke("run", "--date", "2026-03-16", "--finalize")
    invoke("run", "--date", "2026-03-20")  # no new level reached: no draft
    listed = invoke("list")
    assert listed.output.splitlines()[0] == "2 dunnings"
    assert [r[1:3] + r[-2:] for r in table(listed)] == [
        ["2026-03-16", A, "DUN-2026-00001", "closed"],
        ["2026-03-16", B, "DUN-2026-00002", "closed"],
    ]
    cancelled = invoke("cancel", "dun-2026-00001", "--date", "2026-03-16")
    assert cancelled.exit_code == 0, cancelled.output
    assert cancelled.output.strip() == (
        f"Dunning DUN-2026-00001 of {A} cancelled on 2026-03-16; "
        "5.00 EUR of fees and interest reversed."
    )
    assert (
        juston.balance_of(db, A, date(2026, 3, 16)).amount == juston.money("119.00", "EUR").amount
    )
    only = json.loads(invoke("list", "--status", "cancelled", "--json").output)
    assert [(d["number"], d["status"]) for d in only] == [("DUN-2026-00001", "cancelled")]
    assert invoke("list", "--status", "draft").output.strip() == "No dunnings match."


def test_cancelling_a_draft_deletes_it(db) -> None:
    draft_id = table(invoke("run", "--date", "2026-02-14"))[0][0]
    result = invoke("cancel", draft_id, "--date", "2026-02-14")
    assert result.output.strip() == f"Draft {draft_id} of {A} deleted."
    assert list(db.dunnings()) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("run", "--date", "2026-13-01"), "error: --date: '2026-13-01' is not a date like 2026-01-01"),
        (("run", "--date", "2026-02-14", "-o", "."),
         "error: -o needs --finalize: only closed dunnings have notices"),
        (("run", "--date", "2026-02-14", "--finalize", "-o", "missing"),
         "error: missing is not a directory; notices are written one file each"),
        (("run", "--date", "2026-02-14", "--db", "other.db"),
         "error: no database at other.db; pass --db PATH, or create a demo database with "
         "'juston demo --db other.db'"),
        (("run", "--date", "2026-02-14", "--minimum", "ten"), "error: minimum: 'ten'"),
        (("cancel", "DUN-2026-09999", "--date", "2026-02-14"),
         "error: no dunning with number or id 'DUN-2026-09999' in juston.db"),
        (("cancel", "N1", "--date", "14.02.2026"),
         "error: --date: '14.02.2026' is not a date like 2026-01-01"),
    ],
)  # fmt: skip
def test_errors_are_one_line(db, args: tuple[str, ...], message: str) -> None:
    assert_one_line_error(invoke(*args), contains=message)


def test_cancelling_twice_is_an_error(db) -> None:
    invoke("run", "--date", "2026-02-14", "--finalize")
    assert invoke("cancel", "DUN-2026-00001", "--date", "2026-02-20").exit_code == 0
    again = invoke("cancel", "DUN-2026-00001", "--date", "2026-02-21")
    assert_one_line_error(again, contains="error: dunning DUN-2026-00001: is cancelled already")


def test_the_command_is_registered() -> None:
    result = CliRunner().invoke(main, ["--help"], env=ENV)
    assert "dunning" in result.output
    help_text = invoke("run", "--help").output
    assert "--finalize" in help_text and "--date YYYY-MM-DD" in help_text


def test_on_real_sqlite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = juston.open_store(f"sqlite:///{tmp_path / 'juston.db'}")
    juston.testing.populate(store, accounts=2)
    issue(store, A, "119.00", on=date(2026, 1, 1))
    Path("out").mkdir()
    result = invoke("run", "--date", "2026-03-16", "--finalize", "-o", "out", "--format", "html")
    assert result.exit_code == 0, result.output
    assert [r[1:] for r in table(result)] == [
        [A, "EUR", "2", "1", "119.00", "5.00", "0.00", "124.00", "DUN-2026-00001", "closed",
         "DUN-2026-00001.html"],
    ]  # fmt: skip
    assert "124,00 €" in Path("out/DUN-2026-00001.html").read_text("utf-8").replace("\xa0", " ")
    assert invoke("cancel", "DUN-2026-00001", "--date", "2026-03-16").exit_code == 0
    [listed] = json.loads(invoke("list", "--json").output)
    assert (listed["number"], listed["status"]) == ("DUN-2026-00001", "cancelled")
