"""Dunning notices: the context, the wording per level and language, the figures per
locale, fees never taxed, credits and flat fees, direct-debit accounts, escaping, PDF;
and account statements showing the fee and interest a dunning booked."""

from __future__ import annotations

import html
from datetime import date
from decimal import Decimal

import attrs
import pytest

import juston
from juston import money
from juston.dunning import (
    DunningConfig,
    InterestMethod,
    cancel_dunning,
    dunning_run,
    finalize_dunnings,
)
from juston.errors import ValidationError
from juston.model.dunning import Dunning
from juston.receivables import prepay
from juston.receivables.statements import MovementKind, statement
from juston.render.dunning import dunning_context, render_dunning
from juston.render.statement import render_statement
from juston.render.templates import CONTEXT_KEYS, Templates
from juston.testing import issue, sample_store

A = "C0000001"  # writes German, pays in 14 days


def eur(amount: str) -> juston.Money:
    return money(amount, "EUR")


def page(dunning: Dunning, language: str | None = None) -> str:
    """The HTML notice with entities resolved and narrow or no-break spaces as spaces."""
    raw = render_dunning(dunning, language=language).decode()
    return html.unescape(raw).replace("\xa0", " ").replace("\u202f", " ")


def with_interest(rate: str = "1") -> DunningConfig:
    """The default ladder with late-fee interest of *rate* % a month on every level."""
    config = DunningConfig.default()
    levels = tuple(attrs.evolve(lv, monthly_rate=Decimal(rate)) for lv in config.levels)
    return attrs.evolve(config, levels=levels)


def dun(store: juston.MemoryStore, *days: date, config: DunningConfig | None = None) -> Dunning:
    """Run and finalize on each of *days*; the last dunning closed."""
    closed: list[Dunning] = []
    for day in days:
        dunning_run(store, day, config)
        closed = finalize_dunnings(store, config=config)
    return closed[-1]


@pytest.fixture(scope="module")
def reminder() -> Dunning:
    """119.00 of 1 January, due 15 January, reminded on 14 February (30 days, no fee)."""
    store = sample_store(accounts=1)
    issue(store, A, "119.00", on=date(2026, 1, 1))
    return dun(store, date(2026, 2, 14))


@pytest.fixture(scope="module")
def final() -> Dunning:
    """Three invoices, 1 % interest a month; the third run on 15 April reaches level 3 on
    the oldest (90 days), level 2 on the second (71 days), level 1 on the third (31)."""
    store = sample_store(accounts=1)
    issue(store, A, "119.00", on=date(2026, 1, 1))  # due 15 Jan
    issue(store, A, "1249.50", on=date(2026, 1, 20))  # due 3 Feb
    issue(store, A, "59.50", on=date(2026, 3, 1))  # due 15 Mar
    days = (date(2026, 2, 14), date(2026, 3, 16), date(2026, 4, 15))
    return dun(store, *days, config=with_interest())


def test_the_context_has_the_documented_keys(final: Dunning) -> None:
    context = dunning_context(final)
    assert set(context) <= set(CONTEXT_KEYS["dunning"])
    assert context["number"] == "DUN-2026-00003" and context["level"] == 3
    assert context["pay_by"] == date(2026, 4, 22) and context["draft"] is False
    assert context["total"] == final.total == eur("1472.16")
    first = context["documents"][0]
    assert first == {
        "number": "INV-2026-00001",
        "invoice_date": date(2026, 1, 1),
        "due_date": date(2026, 1, 15),
        "days_overdue": 90,
        "open": eur("126.38"),  # 119.00 + the 1st notice's fee 5.00 and interest 2.38
        "overdue": eur("126.38"),
        "level": 3,
        "interest": eur("1.19"),
        "flat_fee": eur("0.00"),
    }


def test_a_german_reminder(reminder: Dunning) -> None:
    text = page(reminder)
    assert "<h1>Zahlungserinnerung</h1>" in text and "sicher haben Sie es nur übersehen" in text
    assert "DUN-2026-00001" in text and "INV-2026-00001" in text
    assert "15.01.2026" in text and ">30</td>" in text and "119,00 €" in text
    assert "Bitte überweisen Sie 119,00 € bis zum 21.02.2026" in text
    assert "DE02 1203 0000 0000 2020 51" in text  # the seller's IBAN
    # No fee and no interest: no fee line and no word on VAT.
    assert "Mahngebühr" not in text and "Umsatzsteuer" not in text and "Zinsen" not in text
    assert "gegenstandslos" in text


def test_the_final_demand_in_english(final: Dunning) -> None:
    text = page(final, "en")
    assert "<h1>Final demand</h1>" in text and "hand the matter over for collection" in text
    for figure in ("€126.38", "€1,262.00", "€12.49", "€1,447.88", "€10.00", "€14.28"):
        assert figure in text, figure
    assert "<td>Dunning fee</td>" in text and "Default interest" in text
    assert 'Amount to pay</td><td class="num">€1,472.16' in text
    assert "not subject to VAT" in text
    assert "Please transfer €1,472.16 by Apr 22, 2026" in text
    assert "disregard" not in text  # the last level says no such thing


def test_figures_are_formatted_per_locale(final: Dunning) -> None:
    text = page(final, "de")
    assert "<h1>Letzte Mahnung</h1>" in text
    for figure in ("1.262,00 €", "12,49 €", "1.447,88 €", "1.472,16 €", "22.04.2026"):
        assert figure in text, figure
    assert "<td>Mahngebühr</td>" in text and "Verzugszinsen" in text
    assert "nicht der Umsatzsteuer" in text


def test_interest_and_open_columns_only_when_needed(reminder: Dunning, final: Dunning) -> None:
    assert ">Zinsen</th>" not in page(reminder) and ">Zinsen</th>" in page(final)
    assert ">Offen</th>" not in page(final)  # the whole open amount is overdue
    first = reminder.details[0]
    plan = attrs.evolve(reminder, details=(attrs.evolve(first, overdue=eur("59.50")),))
    text = page(plan)
    assert ">Offen</th>" in text and "119,00 €" in text and "59,50 €" in text


def test_credits_on_the_account_are_taken_off() -> None:
    store = sample_store(accounts=1)
    issue(store, A, "119.00", on=date(2026, 1, 1))
    prepay(store, A, eur("20.00"), on=date(2026, 2, 1))
    made = dun(store, date(2026, 2, 14))
    assert made.credits == eur("-20.00") and made.total == eur("99.00")
    text = page(made)
    assert "Guthaben auf Ihrem Kundenkonto" in text and "-20,00 €" in text
    assert 'Zu zahlender Betrag</td><td class="num">99,00 €' in text


def test_statutory_interest_and_the_flat_fee_for_a_business() -> None:
    store = sample_store(accounts=1)
    store.put_account(attrs.evolve(store.account(A), vat_id="DE136695976"))
    issue(store, A, "10000.00", on=date(2026, 1, 1))  # due 15 January
    config = attrs.evolve(DunningConfig.default(), interest=InterestMethod.STATUTORY, flat_fee=True)
    made = dun(store, date(2026, 2, 14), config=config)
    # 10,000.00 × (1.27 + 9) % × 30 / 365 = 84.41; the flat fee 40.00 once.
    assert (made.interest, made.flat_fees) == (eur("84.41"), eur("40.00"))
    text = page(made)
    assert "Verzugspauschale (§ 288 Abs. 5 BGB)" in text and "40,00 €" in text
    assert "84,41 €" in text and "10.124,41 €" in text
    assert "Late payment flat fee" in page(made, "en")


def test_a_direct_debit_account_gets_no_transfer_instructions(reminder: Dunning) -> None:
    account = attrs.evolve(reminder.account, payment_method="sepa_direct_debit")
    text = page(attrs.evolve(reminder, account=account), "en")
    assert "Payment by SEPA direct debit" in text
    assert "We will collect €119.00 from your account by SEPA direct debit" in text
    assert "Please transfer" not in text and "Account holder" not in text
    german = page(attrs.evolve(reminder, account=account), "de")
    assert "per SEPA-Lastschrift" in german and "Bitte überweisen" not in german


def test_a_draft_is_marked(reminder: Dunning) -> None:
    draft = attrs.evolve(reminder, status=juston.dunning.DunningStatus.DRAFT, number=None)
    text = page(draft, "en")
    assert '<span class="draft">Draft</span>' in text and "DUN-" not in text


def test_names_are_escaped(reminder: Dunning) -> None:
    account = attrs.evolve(reminder.account, name="<script>alert(1)</script> GmbH")
    raw = render_dunning(attrs.evolve(reminder, account=account)).decode()
    assert "<script>" not in raw and "&lt;script&gt;alert(1)&lt;/script&gt; GmbH" in raw


def test_pdf_and_bad_formats(reminder: Dunning) -> None:
    assert render_dunning(reminder, "pdf", language="en").startswith(b"%PDF-")
    with pytest.raises(ValidationError, match="must be 'html' or 'pdf'"):
        render_dunning(reminder, "docx")


def test_own_templates(reminder: Dunning) -> None:
    own = Templates(strings={"en/dunning-1.html": "{{ number }}: {{ total | money }}"})
    assert (
        render_dunning(reminder, language="en", templates=own)
        == b"DUN-2026-00001: \xe2\x82\xac119.00"
    )


# --- statements show what dunnings booked ------------------------------------------------------


def test_a_statement_shows_the_fee_and_interest_and_their_reversal() -> None:
    store = sample_store(accounts=1)
    issue(store, A, "119.00", on=date(2026, 1, 1))
    notice = dun(store, date(2026, 2, 14), date(2026, 3, 16), config=with_interest())
    assert (notice.fee, notice.interest) == (eur("5.00"), eur("2.38"))  # two months of 1 %
    cancel_dunning(store, notice, on=date(2026, 3, 20))
    march = statement(store, A, start=date(2026, 3, 1), end=date(2026, 3, 31))
    assert [(m.date.day, m.kind, str(m.amount.amount), str(m.balance.amount)) for m in march.movements] == [
        (16, MovementKind.DUNNING_FEE, "5.00", "124.00"),
        (16, MovementKind.INTEREST, "2.38", "126.38"),
        (20, MovementKind.DUNNING_FEE, "-5.00", "121.38"),
        (20, MovementKind.INTEREST, "-2.38", "119.00"),
    ]  # fmt: skip
    assert {m.number for m in march.movements} == {"INV-2026-00001"}
    german = html.unescape(render_statement(march, language="de").decode()).replace("\xa0", " ")
    assert "<td>Mahngebühr</td>" in german and "<td>Verzugszinsen</td>" in german
    english = html.unescape(render_statement(march, language="en").decode())
    assert "<td>Dunning fee</td>" in english and "<td>Interest</td>" in english
    assert render_statement(march, "pdf").startswith(b"%PDF-")
