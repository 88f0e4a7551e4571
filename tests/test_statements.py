"""Account statements: worked cases with figures computed by hand, the run over many
accounts, the reconciliation properties, and the rendered HTML and PDF."""

from __future__ import annotations

import contextlib
import html
import io
import re
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import juston
from juston import money
from juston.errors import NotFound, ValidationError
from juston.model.receivables import PaymentEntry
from juston.receivables import (
    balance_of,
    chargeback,
    payout,
    prepay,
    refund,
    register_payment,
    write_off,
)
from juston.receivables.statements import (
    Ageing,
    MovementKind,
    Statement,
    statement,
    statement_run,
)
from juston.render.statement import render_statement, statement_context
from juston.testing import issue, sample_store

A, B, C = "C0000001", "C0000002", "C0000003"
FEB1, FEB28 = date(2026, 2, 1), date(2026, 2, 28)


def eur(amount: str) -> juston.Money:
    return money(amount, "EUR")


def pay(store, entry_id: str, amount: str, day: date, reference: str) -> None:
    register_payment(
        store, PaymentEntry(id=entry_id, amount=eur(amount), booking_date=day, reference=reference)
    )


def rows(made: Statement) -> list[tuple[date, str, str | None, str | None, str, str]]:
    return [
        (m.date, m.kind.value, m.number, m.other, str(m.amount.amount), str(m.balance.amount))
        for m in made.movements
    ]


def buckets(made: Statement) -> dict[str, str]:
    return {name: str(value.amount) for name, value in made.ageing.buckets()}


@pytest.fixture
def store():
    """Account A (terms 14 days): January's invoice 119.00 partly paid; in February an
    invoice 238.00, a credit 23.80 settled against January's, a payment, a write-off of
    0.20 and an overpayment; in March an invoice the money on the account pays."""
    store = sample_store(accounts=3)
    january = issue(store, A, "119.00", on=date(2026, 1, 1))  # due 15 Jan
    pay(store, "E1", "50.00", date(2026, 1, 10), january.number)
    february = issue(store, A, "238.00", on=FEB1)  # due 15 Feb
    issue(store, A, "-23.80", on=date(2026, 2, 5))  # settles January's, the oldest
    pay(store, "E2", "100.00", date(2026, 2, 12), february.number)
    write_off(store, january, eur("0.20"), on=date(2026, 2, 20), reason="rounding")
    pay(store, "E3", "200.00", date(2026, 2, 26), february.number)  # 62.00 too much
    issue(store, A, "59.50", on=date(2026, 3, 1))
    return store


def test_february_statement_by_hand(store) -> None:
    made = statement(store, A, start=FEB1, end=FEB28, on=date(2026, 3, 2))
    assert (made.start, made.end, made.statement_date) == (FEB1, FEB28, date(2026, 3, 2))
    assert made.account.id == A and made.company.name == store.company().name
    # 119.00 − 50.00 paid in January.
    assert made.opening_balance == eur("69.00")
    assert rows(made) == [
        (FEB1, "invoice", "INV-2026-00002", None, "238.00", "307.00"),
        (date(2026, 2, 5), "credit", "CR-2026-00001", None, "-23.80", "283.20"),
        # The credit is set off against January's invoice: internal, no amount.
        (date(2026, 2, 5), "settlement", "INV-2026-00001", "CR-2026-00001", "0.00", "283.20"),
        (date(2026, 2, 12), "payment", "INV-2026-00002", None, "-100.00", "183.20"),
        (date(2026, 2, 20), "write_off", "INV-2026-00001", None, "-0.20", "183.00"),
        # 200.00 received: 138.00 pays February's invoice, 62.00 stays on the account.
        (date(2026, 2, 26), "payment", "INV-2026-00002", None, "-138.00", "45.00"),
        (date(2026, 2, 26), "payment", None, None, "-62.00", "-17.00"),
    ]
    assert made.closing_balance == eur("-17.00") == balance_of(store, A, FEB28)
    # Open on 28 Feb: January's 119.00 − 50.00 − 23.80 − 0.20, due 15 Jan: 44 days late.
    assert [(i.document.number, i.open, i.days_overdue) for i in made.open_items] == [
        ("INV-2026-00001", eur("45.00"), 44)
    ]
    assert made.on_account == eur("-62.00")
    assert made.open_total + made.on_account == made.closing_balance
    assert buckets(made) == {
        "current": "0.00", "1-30": "0.00", "31-60": "45.00", "61-90": "0.00", "over-90": "0.00"
    }  # fmt: skip


def test_march_statement_shows_the_money_on_the_account_paying_the_invoice(store) -> None:
    made = statement(store, A, start=date(2026, 3, 1), end=date(2026, 3, 31))
    assert made.opening_balance == eur("-17.00")
    assert made.statement_date == date(2026, 3, 31)
    assert rows(made) == [
        (date(2026, 3, 1), "invoice", "INV-2026-00003", None, "59.50", "42.50"),
        (date(2026, 3, 1), "applied", "INV-2026-00003", None, "0.00", "42.50"),
    ]
    assert made.closing_balance == eur("42.50")
    # January's invoice, 15 Jan to 31 Mar: 75 days overdue; 62.00 − 59.50 left on the account.
    assert [(i.document.number, i.days_overdue) for i in made.open_items] == [
        ("INV-2026-00001", 75)
    ]
    assert made.on_account == eur("-2.50")
    assert buckets(made)["61-90"] == "45.00" and made.ageing.total == eur("45.00")


def test_a_cancellation_prepayment_and_payout() -> None:
    store = sample_store(accounts=1)
    invoice = issue(store, A, "100.00", on=date(2026, 1, 5))
    pay(store, "E1", "60.00", date(2026, 1, 12), invoice.number)
    write_off(store, invoice, eur("1.00"), on=date(2026, 1, 20), reason="goodwill")
    juston.cancel(store, invoice, cancellation_date=date(2026, 1, 25))
    prepay(store, A, eur("30.00"), on=date(2026, 1, 26))
    payout(store, A, eur("20.00"), on=date(2026, 1, 27))
    issue(store, A, "40.00", on=date(2026, 1, 28))
    made = statement(store, A, start=date(2026, 1, 1), end=date(2026, 1, 31))
    day = date(2026, 1, 25)
    assert rows(made) == [
        (date(2026, 1, 5), "invoice", "INV-2026-00001", None, "100.00", "100.00"),
        (date(2026, 1, 12), "payment", "INV-2026-00001", None, "-60.00", "40.00"),
        (date(2026, 1, 20), "write_off", "INV-2026-00001", None, "-1.00", "39.00"),
        # The cancellation names the invoice; its clearing balances are not shown.
        (day, "cancellation", "CR-2026-00001", "INV-2026-00001", "-100.00", "-61.00"),
        (day, "transfer", "INV-2026-00001", None, "0.00", "-61.00"),
        (day, "write_off_reversed", "INV-2026-00001", None, "1.00", "-60.00"),
        (date(2026, 1, 26), "prepayment", None, None, "-30.00", "-90.00"),
        (date(2026, 1, 27), "payout", None, None, "20.00", "-70.00"),
        (date(2026, 1, 28), "invoice", "INV-2026-00002", None, "40.00", "-30.00"),
        # Paid from the prepayment and the moved payment: one line, not one per kind.
        (date(2026, 1, 28), "applied", "INV-2026-00002", None, "0.00", "-30.00"),
    ]
    assert made.closing_balance == eur("-30.00") == made.on_account == balance_of(store, A)
    assert made.open_items == () and made.ageing.total == eur("0.00")


def test_a_cancelled_invoice_moves_its_payment_and_chargeback_to_the_account() -> None:
    store = sample_store(accounts=1)
    invoice = issue(store, A, "50.00", on=date(2026, 5, 4))
    pay(store, "E1", "50.00", date(2026, 5, 6), invoice.number)
    chargeback(store, invoice, eur("50.00"), on=date(2026, 5, 8))
    juston.cancel(store, invoice, cancellation_date=date(2026, 5, 11))
    made = statement(store, A, start=date(2026, 5, 1), end=date(2026, 5, 31))
    # Both moves go from the invoice to the account, whatever their sign: one line.
    assert rows(made)[-2:] == [
        (date(2026, 5, 11), "cancellation", "CR-2026-00001", "INV-2026-00001", "-50.00", "0.00"),
        (date(2026, 5, 11), "transfer", "INV-2026-00001", None, "0.00", "0.00"),
    ]
    assert made.closing_balance == eur("0.00") == made.on_account


def test_chargeback_fee_and_refund() -> None:
    store = sample_store(accounts=1)
    invoice = issue(store, A, "80.00", on=date(2026, 4, 1))
    pay(store, "E1", "80.00", date(2026, 4, 3), invoice.number)
    chargeback(store, invoice, eur("80.00"), on=date(2026, 4, 8), fee=eur("3.50"))
    pay(store, "E2", "83.50", date(2026, 4, 10), invoice.number)
    refund(store, invoice, eur("5.00"), on=date(2026, 4, 12))
    made = statement(store, A, start=date(2026, 4, 1), end=date(2026, 4, 30))
    assert [(m.kind, str(m.amount.amount)) for m in made.movements] == [
        (MovementKind.INVOICE, "80.00"),
        (MovementKind.PAYMENT, "-80.00"),
        (MovementKind.CHARGEBACK, "80.00"),
        (MovementKind.FEE, "3.50"),
        (MovementKind.PAYMENT, "-83.50"),
        (MovementKind.REFUND, "5.00"),
    ]
    # The refund reopens what it refunds: 5.00 open, due 15 Apr, 15 days late on 30 Apr.
    assert made.closing_balance == eur("5.00") == balance_of(store, A, date(2026, 4, 30))
    assert buckets(made)["1-30"] == "5.00"
    assert [m.text for m in made.movements][-3:] == ["Chargeback fee", "Payment received", "Refund"]


def test_an_empty_period_and_errors() -> None:
    store = sample_store(accounts=1)
    issue(store, A, "10.00", on=date(2026, 1, 1))
    made = statement(store, A, start=FEB1, end=FEB28)
    assert made.movements == () and made.opening_balance == made.closing_balance == eur("10.00")
    with pytest.raises(ValidationError, match="start: '2026-03-01' is after the end 2026-02-28"):
        statement(store, A, start=date(2026, 3, 1), end=FEB28)
    with pytest.raises(NotFound):
        statement(store, "C-missing", start=FEB1, end=FEB28)


def test_hand_made_statements_must_add_up(store) -> None:
    made = statement(store, A, start=FEB1, end=FEB28)
    with pytest.raises(ValidationError, match="closing_balance"):
        attrs.evolve(made, closing_balance=eur("1.00"))
    zero = eur("0.00")
    ageing = Ageing(current=zero, days_1_30=zero, days_31_60=zero, days_61_90=zero, over_90=zero)
    with pytest.raises(ValidationError, match="ageing"):
        attrs.evolve(made, ageing=ageing)


def test_statement_run_covers_the_accounts_with_balances_in_the_period(store) -> None:
    issue(store, C, "10.00", on=date(2026, 1, 20))  # before the period only
    issue(store, C, "-10.00", on=date(2026, 3, 5))  # after it
    seen: list[int] = []
    made = list(statement_run(store, start=FEB1, end=FEB28, batch_size=1, progress=seen.append))
    assert [s.account.id for s in made] == [A]
    assert seen == [1, 1, 1]  # one call per batch of one account
    assert made[0] == statement(store, A, start=FEB1, end=FEB28)
    issue(store, B, "12.00", on=FEB28)
    assert [s.account.id for s in statement_run(store, start=FEB1, end=FEB28)] == [A, B]
    with pytest.raises(ValidationError, match="batch_size"):
        list(statement_run(store, start=FEB1, end=FEB28, batch_size=0))


# --- the sums hold for any history and any split of a period --------------------------------

START = date(2026, 1, 1)
DAYS = 120

operations = st.lists(
    st.tuples(
        st.sampled_from(["invoice", "credit", "payment", "write_off", "prepay"]),
        st.integers(0, DAYS - 1),
        st.integers(1, 50_000),
    ),
    min_size=1,
    max_size=12,
)


def _apply(store, kind: str, day: date, cents: int, n: int) -> None:
    amount = Decimal(cents) / 100
    if kind == "invoice":
        issue(store, A, amount, on=day)
    elif kind == "credit":
        issue(store, A, -amount, on=day)
    elif kind == "payment":
        pay(store, f"E{n}", str(amount), day, f"customer {A}")
    elif kind == "prepay":
        prepay(store, A, eur(str(amount)), on=day)
    else:
        opens = [o for o in store.open_documents([A]) if o.amount.amount > 0]
        if opens:
            write_off(store, opens[0].document_id, on=day, reason="test")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations, st.integers(0, DAYS - 1), st.integers(0, DAYS - 1), st.integers(0, DAYS))
def test_consecutive_statements_chain_and_match_the_balance(ops, first, second, length) -> None:
    store = sample_store(accounts=1)
    for n, (kind, offset, cents) in enumerate(sorted(ops, key=lambda o: o[1])):
        _apply(store, kind, START + timedelta(days=offset), cents, n)
    start = START + timedelta(days=min(first, second))
    split = START + timedelta(days=max(first, second))
    end = split + timedelta(days=1 + length)
    one = statement(store, A, start=start, end=split)
    two = statement(store, A, start=split + timedelta(days=1), end=end)
    assert one.closing_balance == two.opening_balance
    for made, last in ((one, split), (two, end)):
        moved = sum((m.amount.amount for m in made.movements), Decimal(0))
        assert made.opening_balance.amount + moved == made.closing_balance.amount
        assert made.closing_balance == balance_of(store, A, last)
        assert made.open_total + made.on_account == made.closing_balance
        assert made.ageing.total == made.open_total
        assert all(made.start <= m.date <= made.end for m in made.movements)
        assert [m.date for m in made.movements] == sorted(m.date for m in made.movements)


# --- rendering ---------------------------------------------------------------------------------


def text(page: bytes) -> str:
    """The page with entities resolved and no-break spaces as spaces."""
    return html.unescape(page.decode()).replace("\xa0", " ").replace("\u202f", " ")


def test_german_html_statement(store) -> None:
    made = statement(store, A, start=FEB1, end=FEB28, on=date(2026, 3, 2))
    assert made.account.language == "de"
    page = text(render_statement(made))
    for expected in [
        "<h1>Kontoauszug</h1>",
        "Anfangssaldo",
        "69,00 €",
        "238,00 €",
        "Verrechnet mit Gutschrift CR-2026-00001",
        "Ausgebucht",
        "Auf Ihrem Kundenkonto, keinem Beleg zugeordnet",
        "-62,00 €",
        "Endsaldo",
        "-17,00 €",
        "Tage überfällig",
        "31–60 Tage",
        "Ihr Konto weist ein Guthaben von 17,00 € zu Ihren Gunsten aus",
    ]:
        assert expected in page, expected


def test_english_html_statement_escapes_the_account_name(store) -> None:
    made = statement(store, A, start=FEB1, end=FEB28)
    evil = attrs.evolve(made, account=attrs.evolve(made.account, name="<script>alert(1)</script>"))
    raw = render_statement(evil, language="en").decode()
    assert "<script>" not in raw and "&lt;script&gt;alert(1)&lt;/script&gt;" in raw
    page = text(render_statement(evil, language="en"))
    for expected in [
        "<h1>Account statement</h1>",
        "€69.00",
        "Set off against credit note CR-2026-00001",
        "Payment received",
        "€324.00",  # the credits of the period: 23.80 + 100.00 + 0.20 + 138.00 + 62.00
        "Closing balance",
        "Over 90 days",
    ]:
        assert expected in page, expected


def test_the_context_lists_debits_and_credits_apart(store) -> None:
    context = statement_context(statement(store, A, start=FEB1, end=FEB28))
    assert context["total_debit"] == eur("238.00") and context["total_credit"] == eur("324.00")
    settlement = context["entries"][2]
    assert (settlement["debit"], settlement["credit"], settlement["kind"]) == (
        None,
        None,
        "settlement",
    )
    assert context["entries"][1]["credit"] == eur("23.80")


def test_pdf_statement_and_a_bad_format(store) -> None:
    made = statement(store, A, start=FEB1, end=FEB28)
    assert render_statement(made, "pdf", language="en").startswith(b"%PDF")
    with pytest.raises(ValidationError, match="format"):
        render_statement(made, "docx")


# --- the docs page -----------------------------------------------------------------------------


def test_the_docs_example_prints_what_the_page_shows(tmp_path, monkeypatch) -> None:
    """The page's first Python block, run as a script, prints the ```text block after it."""
    monkeypatch.chdir(tmp_path)
    page = (Path(__file__).parent.parent / "docs" / "statements.md").read_text(encoding="utf-8")
    match = re.search(r"```python\n(.*?)```\n\nprints\n\n```text\n(.*?)```", page, re.S)
    assert match is not None
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(match.group(1), "statements.md", "exec"), {"__name__": "docs_statements"})
    assert out.getvalue() == match.group(2)
    assert (tmp_path / "statement.pdf").read_bytes().startswith(b"%PDF")
    assert "](img/statement-en.png)" in page
    assert (Path(__file__).parent.parent / "docs" / "img" / "statement-en.png").is_file()
