"""Money is conserved: no sequence of invoices, credits, payments, allocations,
settlements, write-offs, chargebacks, refunds, payouts and cancellations creates or
loses a cent.

The test keeps its own books from what each step says it did (the amounts it was
given), never from the balances, and compares: the sum of an account's balances equals
its invoices − credits − money received + chargebacks and fees + refunds + payouts −
write-offs. A step that is refused must leave every balance as it was.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st

import juston
from juston import money
from juston.errors import JustonError
from juston.model.receivables import BalanceType, EntryStatus, PaymentEntry
from juston.model.status import DocumentKind, DocumentStatus
from juston.receivables import (
    balance_of,
    chargeback,
    document_state,
    payout,
    prepay,
    refund,
    register_payment,
    settle,
    write_off,
)
from juston.testing import issue, sample_store

ACCOUNTS = ("C0000001", "C0000002")
START = date(2026, 1, 1)

cents = st.integers(min_value=1, max_value=50_000).map(lambda c: Decimal(c).scaleb(-2))
account = st.sampled_from(ACCOUNTS)
pick = st.integers(min_value=0, max_value=1_000)
step = st.one_of(
    st.tuples(st.just("invoice"), account, cents),
    st.tuples(st.just("credit"), account, cents),
    st.tuples(st.just("pay"), account, cents, pick, st.sampled_from(["number", "account", "none"])),
    st.tuples(st.just("chargeback"), pick, cents, st.booleans()),
    st.tuples(st.just("refund"), pick, cents),
    st.tuples(st.just("payout"), account, cents),
    st.tuples(st.just("prepay"), account, cents),
    st.tuples(st.just("write_off"), pick, cents),
    st.tuples(st.just("settle"), pick),
    st.tuples(st.just("cancel"), pick),
)


def eur(amount: Decimal) -> juston.Money:
    return money(amount, "EUR")


class Books:
    """The expected balance per account, from what each step did."""

    def __init__(self) -> None:
        self.owed: dict[str, Decimal] = defaultdict(Decimal)
        self.written_off: dict[str, Decimal] = defaultdict(Decimal)
        self.documents: list[juston.Invoice] = []
        self.entries = 0


def _apply(store, books: Books, op: tuple, day: date) -> None:
    kind = op[0]
    docs = [
        d for d in books.documents if store.document(d.id).status is not DocumentStatus.CANCELLED
    ]
    chosen = docs[op[1] % len(docs)] if docs and isinstance(op[1], int) else None
    if kind in ("invoice", "credit"):
        amount = op[2] if kind == "invoice" else -op[2]
        document = issue(store, op[1], amount, on=day)
        books.documents.append(document)
        books.owed[op[1]] += amount
    elif kind == "pay":
        _, account_id, amount, which, how = op
        mine = [d for d in docs if d.account_id == account_id]
        reference = {
            "number": mine[which % len(mine)].number if mine else "",
            "account": account_id,
        }.get(how, "")
        books.entries += 1
        done = register_payment(
            store,
            PaymentEntry(
                id=f"E{books.entries}", amount=eur(amount), booking_date=day, reference=reference
            ),
        )
        if done.status is EntryStatus.ASSIGNED:
            books.owed[done.account_id] -= amount
    elif kind == "chargeback" and chosen is not None:
        fee = eur(Decimal("2.50")) if op[3] else None
        chargeback(store, chosen, eur(op[2]), on=day, fee=fee)
        books.owed[chosen.account_id] += op[2] + (Decimal("2.50") if op[3] else 0)
    elif kind == "refund" and chosen is not None:
        refund(store, chosen, eur(op[2]), on=day)
        books.owed[chosen.account_id] += op[2]
    elif kind == "payout":
        payout(store, op[1], eur(op[2]), on=day)
        books.owed[op[1]] += op[2]
    elif kind == "prepay":
        prepay(store, op[1], eur(op[2]), on=day)
        books.owed[op[1]] -= op[2]
    elif kind == "write_off" and chosen is not None:
        open_ = document_state(store, chosen).open.amount
        amount = min(op[2], open_) if open_ > 0 else op[2]
        write_off(store, chosen, eur(amount), on=day, reason="test")
        books.owed[chosen.account_id] -= amount
        books.written_off[chosen.id] += amount
    elif kind == "settle" and chosen is not None:
        settle(store, chosen, on=day)
    elif kind == "cancel" and chosen is not None:
        mirror = juston.cancel(store, chosen, cancellation_date=day)
        # The cancellation negates the original; its write-offs are reversed with it.
        books.owed[chosen.account_id] += mirror.total.amount + books.written_off.pop(chosen.id, 0)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(step, max_size=25))
def test_no_sequence_of_steps_creates_or_loses_a_cent(steps):
    store = sample_store(accounts=2)
    books = Books()
    for n, op in enumerate(steps):
        day = START + timedelta(days=n)
        before = store.balances()
        try:
            _apply(store, books, op, day)
            event(f"{op[0]}: done")
        except JustonError as refused:
            event(f"{op[0]}: refused")
            note(f"{op}: refused: {refused}")
            assert store.balances() == before, "a refused step changed the balances"
        for account_id in ACCOUNTS:
            assert balance_of(store, account_id).amount == books.owed[account_id], (op, account_id)
    for document in books.documents:
        stored = store.document(document.id)
        state = document_state(store, stored)
        if stored.status is DocumentStatus.CANCELLED:
            assert state.open.amount == 0
            assert document_state(store, stored.cancelled_by).open.amount == 0
        elif stored.kind is DocumentKind.INVOICE:
            assert state.open.amount >= 0, "an invoice was paid more than it asks"
        else:
            assert state.open.amount <= 0, "a credit was paid out more than it gives"
    # Every move between a document and the account nets to zero.
    pairs: dict[str, Decimal] = defaultdict(Decimal)
    for balance in store.balances():
        if balance.pair is not None:
            pairs[balance.pair] += balance.amount.amount
    assert all(total == 0 for total in pairs.values())
    assert all(b.type is not BalanceType.CLEARING or b.document_id for b in store.balances())
