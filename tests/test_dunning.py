"""Dunning: worked cases with figures computed by hand (juston.md §11)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import attrs
import pytest

from juston import PaymentEntry, money, register_payment
from juston.dunning import (
    BaseRate,
    DunningConfig,
    DunningLevel,
    DunningStatus,
    InterestMethod,
    block_dunning,
    cancel_dunning,
    dunning_levels,
    dunning_run,
    finalize_dunnings,
    postpone_due_date,
    statutory_interest,
    unblock_dunning,
)
from juston.errors import ValidationError
from juston.model.receivables import BalanceType, Installment, InstallmentPlan
from juston.receivables import document_state
from juston.testing import issue, sample_store

A, B = "C0000001", "C0000002"


def eur(amount: str):
    return money(amount, "EUR")


def pay(store, entry_id: str, amount: str, day: date, reference: str):
    register_payment(
        store, PaymentEntry(id=entry_id, amount=eur(amount), booking_date=day, reference=reference)
    )


@pytest.fixture
def store():
    return sample_store(accounts=2)


def ladder(rate: str = "1") -> DunningConfig:
    """JustOn's example ladder (30/60/90 days, fees 0/5/10) with 1 % a month from level 2."""
    default = DunningConfig.default()
    levels = [
        attrs.evolve(level, monthly_rate=Decimal(rate) if level.number > 1 else Decimal(0))
        for level in default.levels
    ]
    return attrs.evolve(default, levels=tuple(levels))


def the_only(result):
    (dunning,) = result.drafts
    return dunning


def test_a_ladder_over_120_days_with_partial_payments(store):
    config = ladder()
    invoice = issue(store, A, "119.00", on=date(2026, 1, 1))  # due 15 January
    assert invoice.due_date == date(2026, 1, 15)

    # 14 Feb, 30 days overdue: the reminder, no fee, no interest (level 1 has no rate).
    reminder = the_only(dunning_run(store, date(2026, 2, 14), config))
    assert (reminder.level, reminder.kind, reminder.fee, reminder.interest) == (
        1,
        "dunning-1",
        eur("0.00"),
        eur("0.00"),
    )
    assert reminder.total == eur("119.00")
    [closed] = finalize_dunnings(store, config=config)
    assert closed.number == "DUN-2026-00001"

    pay(store, "E1", "50.00", date(2026, 2, 20), invoice.number)  # 69.00 left

    # 16 Mar, 60 days: 1st notice, fee 5.00, interest 69.00 × 1 % × 2 whole months = 1.38.
    notice = the_only(dunning_run(store, date(2026, 3, 16), config))
    [detail] = notice.details
    assert (notice.level, detail.previous_level, detail.days_overdue) == (2, 1, 60)
    assert (notice.fee, detail.interest, notice.total) == (eur("5.00"), eur("1.38"), eur("75.38"))
    finalize_dunnings(store, config=config)
    assert document_state(store, invoice).open == eur("75.38")

    pay(store, "E2", "30.00", date(2026, 3, 25), invoice.number)  # principal 39.00 + 6.38 charges

    # 15 Apr, 90 days: 2nd notice, fee 10.00; interest 39.00 × 1 % × 3 = 1.17 is less than
    # the 1.38 charged already, so nothing more. Due: 39.00 + 6.38 earlier charges + 10.00.
    second = the_only(dunning_run(store, date(2026, 4, 15), config))
    [detail] = second.details
    assert (second.level, detail.overdue, detail.interest) == (3, eur("45.38"), eur("0.00"))
    assert second.total == eur("55.38")
    finalize_dunnings(store, config=config)

    pay(store, "E3", "55.38", date(2026, 4, 20), invoice.number)
    assert document_state(store, invoice).status.value == "paid"
    # 15 May, 120 days: paid, so nothing; its level stays 3.
    assert dunning_run(store, date(2026, 5, 15), config).drafts == ()
    assert dunning_levels(store, A) == {invoice.id: 3}
    fees = [
        b.amount
        for b in store.balances(document_id=invoice.id)
        if b.type is BalanceType.DUNNING_FEE
    ]
    assert fees == [eur("5.00"), eur("10.00")]  # exactly the fees: never taxed


def test_statutory_interest_for_a_business_over_a_base_rate_change():
    # 10,000.00 due 15 June 2025; 16–30 June at 2.27 + 9 = 11.27 %, 1–15 July at 1.27 + 9
    # = 10.27 %: 10,000 × (11.27 % × 15 + 10.27 % × 15) / 365 = 88.5205… → 88.52.
    rates = (
        BaseRate(since=date(2025, 1, 1), percent=Decimal("2.27")),
        BaseRate(since=date(2025, 7, 1), percent=Decimal("1.27")),
    )
    due = date(2025, 6, 15)
    assert statutory_interest(
        eur("10000.00"), due, date(2025, 7, 15), business=True, base_rates=rates
    ) == eur("88.52")
    # A consumer: 7.27 % and 6.27 %: 10,000 × (7.27 × 15 + 6.27 × 15) / 100 / 365 = 55.64.
    assert statutory_interest(
        eur("10000.00"), due, date(2025, 7, 15), business=False, base_rates=rates
    ) == eur("55.64")
    with pytest.raises(ValidationError, match="base_rates"):
        statutory_interest(eur("1.00"), due, date(2026, 1, 5), business=True, base_rates=rates)


def test_a_statutory_dunning_charges_interest_once_and_the_flat_fee_once(store):
    with store.transaction() as tx:  # a business: it has a VAT id
        account = tx.account(A)
        tx.put_account(attrs.evolve(account, vat_id="DE811907980"))
    config = attrs.evolve(ladder("0"), interest=InterestMethod.STATUTORY, flat_fee=True)
    invoice = issue(store, A, "10000.00", on=date(2026, 1, 1))  # due 15 Jan
    # 14 Feb: 15 Jan → 14 Feb is 30 days at 1.27 + 9 = 10.27 %: 10,000 × 10.27 % × 30/365
    # = 84.4109… → 84.41; plus the € 40 flat fee.
    first = the_only(dunning_run(store, date(2026, 2, 14), config))
    [detail] = first.details
    assert (detail.interest, detail.flat_fee, first.total) == (
        eur("84.41"),
        eur("40.00"),
        eur("10124.41"),
    )
    finalize_dunnings(store, config=config)
    # 16 Mar: 30 more days from 14 Feb: 84.41 again, no second flat fee; the earlier 124.41
    # are due with it, and the 5.00 fee of level 2.
    second = the_only(dunning_run(store, date(2026, 3, 16), config))
    [detail] = second.details
    assert (detail.interest, detail.flat_fee) == (eur("84.41"), eur("0.00"))
    assert second.total == eur("10000.00") + eur("124.41") + eur("84.41") + eur("5.00")
    assert invoice.id in {d.document_id for d in second.details}


def test_a_blocked_invoice_and_a_blocked_account_are_not_dunned(store):
    disputed = issue(store, A, "100.00", on=date(2026, 1, 1))
    other = issue(store, A, "50.00", on=date(2026, 1, 2))
    block_dunning(store, document=disputed, reason="disputed: wrong quantity")
    dunning = the_only(dunning_run(store, date(2026, 2, 20)))
    assert [d.document_id for d in dunning.details] == [other.id]
    block_dunning(store, account_id=A, reason="in negotiation", until=date(2026, 3, 1))
    assert dunning_run(store, date(2026, 2, 20)).removed == (dunning.id,)
    # The account block ends on 1 March; the invoice stays blocked until lifted.
    after = the_only(dunning_run(store, date(2026, 3, 1)))
    assert [d.document_id for d in after.details] == [other.id]
    unblock_dunning(store, document=disputed)
    assert {d.document_id for d in the_only(dunning_run(store, date(2026, 3, 1))).details} == {
        disputed.id,
        other.id,
    }


def test_postponing_the_due_date_postpones_the_dunning(store):
    invoice = issue(store, A, "100.00", on=date(2026, 1, 1))  # due 15 Jan
    postpone_due_date(store, invoice, date(2026, 2, 28))
    assert dunning_run(store, date(2026, 3, 1)).drafts == ()  # 1 day overdue only
    dunning = the_only(dunning_run(store, date(2026, 3, 30)))  # 30 days after 28 Feb
    assert (dunning.level, dunning.details[0].days_overdue) == (1, 30)


def test_an_installment_plan_duns_only_the_overdue_installments(store):
    invoice = issue(store, A, "300.00", on=date(2026, 1, 1))
    with store.transaction() as tx:
        tx.put_installment_plan(
            InstallmentPlan(
                document_id=invoice.id,
                installments=[
                    Installment(due_date=date(2026, 2, 1), amount=eur("100.00")),
                    Installment(due_date=date(2026, 3, 1), amount=eur("100.00")),
                    Installment(due_date=date(2026, 4, 1), amount=eur("100.00")),
                ],
            )
        )
    # 3 March: 1 Feb and 1 Mar are due (200.00); overdue since 1 Feb, 30 days: a reminder.
    dunning = the_only(dunning_run(store, date(2026, 3, 3)))
    [detail] = dunning.details
    assert (detail.overdue, detail.due_date, detail.days_overdue) == (
        eur("200.00"),
        date(2026, 2, 1),
        30,
    )
    # The first installment paid: the second is overdue since 1 March, only 2 days.
    pay(store, "E1", "100.00", date(2026, 3, 3), invoice.number)
    assert dunning_run(store, date(2026, 3, 3)).removed == (dunning.id,)


def test_running_again_the_same_day_creates_nothing_and_a_payment_removes_the_invoice(store):
    first = issue(store, A, "100.00", on=date(2026, 1, 1))
    second = issue(store, A, "40.00", on=date(2026, 1, 1))
    run = dunning_run(store, date(2026, 2, 20))
    assert len(run.created) == 1
    again = dunning_run(store, date(2026, 2, 20))
    assert (again.created, again.refreshed, again.unchanged) == ((), (), run.created)
    pay(store, "E1", "40.00", date(2026, 2, 21), second.number)
    # The draft of 20 Feb is decided once more when it is finalized: the payment of 21 Feb
    # is later than its date, so the invoice stays; a run on the 21st takes it out.
    refreshed = dunning_run(store, date(2026, 2, 21))
    [draft] = refreshed.refreshed
    assert [d.document_id for d in draft.details] == [first.id]
    [closed] = finalize_dunnings(store)
    assert [d.document_id for d in closed.details] == [first.id]
    assert list(store.dunnings(status=DunningStatus.DRAFT)) == []


def test_cancelling_a_dunning_reverses_its_fee_and_interest(store):
    config = ladder()
    invoice = issue(store, A, "100.00", on=date(2026, 1, 1))
    dunning_run(store, date(2026, 3, 16), config)  # 60 days: level 2 at once
    [closed] = finalize_dunnings(store, config=config)
    assert (closed.level, closed.fee, closed.interest) == (2, eur("5.00"), eur("2.00"))
    assert document_state(store, invoice).open == eur("107.00")
    cancelled = cancel_dunning(store, closed, on=date(2026, 3, 20))
    assert cancelled is not None and cancelled.status is DunningStatus.CANCELLED
    assert document_state(store, invoice).open == eur("100.00")
    assert dunning_levels(store, A) == {}
    again = the_only(dunning_run(store, date(2026, 3, 20), config))
    assert (again.level, again.interest) == (2, eur("2.00"))


def test_the_minimum_and_credits_on_the_account(store):
    import juston

    issue(store, A, "100.00", on=date(2026, 1, 1))
    credit = issue(store, A, "-30.00", on=date(2026, 1, 2), finalize_it=False)
    juston.finalize(store, [credit], settle=False)  # an open credit, not settled
    # Overdue 100.00, credit −30.00: 70.00 net.
    assert (
        dunning_run(
            store, date(2026, 2, 20), attrs.evolve(DunningConfig.default(), minimum=Decimal("80"))
        ).drafts
        == ()
    )
    dunning = the_only(
        dunning_run(
            store, date(2026, 2, 20), attrs.evolve(DunningConfig.default(), minimum=Decimal("60"))
        )
    )
    assert (dunning.overdue, dunning.credits, dunning.total) == (
        eur("100.00"),
        eur("-30.00"),
        eur("70.00"),
    )
    # Money on the account counts the same way.
    pay(store, "E1", "25.00", date(2026, 2, 21), "thanks, customer C0000001")
    dunning = the_only(dunning_run(store, date(2026, 2, 21)))
    assert (dunning.overdue, dunning.credits, dunning.total) == (
        eur("75.00"),
        eur("-30.00"),
        eur("45.00"),
    )


def test_a_level_must_be_higher_than_the_current_one(store):
    config = DunningConfig(
        levels=[
            DunningLevel(number=1, name="reminder", grace_days=10, fee=eur("0.00")),
            DunningLevel(number=2, name="notice", grace_days=20, fee=eur("2.50")),
        ]
    )
    issue(store, A, "10.00", on=date(2026, 1, 1))  # due 15 Jan
    assert the_only(dunning_run(store, date(2026, 1, 26), config)).level == 1
    finalize_dunnings(store, config=config)
    assert dunning_run(store, date(2026, 1, 30), config).drafts == ()  # still level 1
    assert the_only(dunning_run(store, date(2026, 2, 4), config)).level == 2
    with pytest.raises(ValidationError, match="levels"):
        DunningConfig(levels=[DunningLevel(number=2, name="x", grace_days=1, fee=eur("0"))])


# --- properties ------------------------------------------------------------------------

from datetime import timedelta  # noqa: E402

from hypothesis import HealthCheck, event, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

step = st.one_of(
    st.tuples(st.just("wait"), st.integers(min_value=1, max_value=60)),
    st.tuples(st.just("pay"), st.integers(0, 2), st.integers(min_value=1, max_value=15_000)),
    st.tuples(
        st.just("invoice"), st.sampled_from([A, B]), st.integers(min_value=100, max_value=30_000)
    ),
    st.tuples(st.just("run"), st.booleans()),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(step, min_size=1, max_size=30))
def test_dunning_invariants(steps):
    store = sample_store(accounts=2)
    config = ladder()
    day = date(2026, 1, 1)
    invoices = [issue(store, A, "119.00", on=day)]
    levels: dict[str, int] = {}
    entries = 0
    for op in steps:
        if op[0] == "wait":
            day += timedelta(days=op[1])
        elif op[0] == "invoice":
            invoices.append(issue(store, op[1], Decimal(op[2]).scaleb(-2), on=day))
        elif op[0] == "pay":
            invoice = invoices[op[1] % len(invoices)]
            entries += 1
            pay(store, f"E{entries}", str(Decimal(op[2]).scaleb(-2)), day, invoice.number)
        else:
            result = dunning_run(store, day, config)
            event(f"dunned: {bool(result.drafts)}; finalized: {op[1]}")
            drafts = list(store.dunnings(status=DunningStatus.DRAFT))
            dunned = [d.document_id for draft in drafts for d in draft.details]
            assert len(dunned) == len(set(dunned)), "an invoice is in two open dunnings"
            for draft in result.drafts:
                assert draft.fee.amount in (Decimal("0.00"), Decimal("5.00"), Decimal("10.00"))
                for detail in draft.details:
                    state = document_state(store, detail.document_id, as_of=day)
                    assert state.open.amount > 0, "a paid invoice is dunned"
            if op[1]:
                finalize_dunnings(store, config=config)
        now = {a: dunning_levels(store, a) for a in (A, B)}
        for account_levels in now.values():
            for document_id, level in account_levels.items():
                assert level >= levels.get(document_id, 0), "a level went down"
                levels[document_id] = level
    for balance in store.balances():
        if balance.type is BalanceType.DUNNING_FEE:
            # Fees are booked as the ladder says, to the cent: no tax is ever added.
            assert balance.amount in (eur("5.00"), eur("10.00"))
