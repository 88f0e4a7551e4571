"""Booking balances inside a transaction: the steps finalize, cancel and payments share.

Every function takes an open :class:`~juston.storage.base.Transaction` and adds
balances to it; the caller's transaction makes the whole step all-or-nothing. Ids are
deterministic from the cause (``invoice:<document>``, ``payment:<entry>:<n>``), or drawn
from a per-kind counter for manual steps, never random.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Protocol

from moneyed import Currency, Money

from ..model.documents import Invoice
from ..model.receivables import Balance, BalanceType, OpenAmount
from ..model.status import DocumentKind
from ..money import ZERO
from ..storage.base import Transaction
from .ledger import free_by_type, open_amounts

__all__ = [
    "Finalized",
    "book_cancellation",
    "book_finalized",
    "move",
    "new_id",
    "on_document",
    "settlements",
]

#: The order in which money on the account is consumed by a new invoice.
FREE_ORDER = (
    BalanceType.PREPAYMENT,
    BalanceType.PAYMENT,
    BalanceType.SETTLEMENT,
)


def new_id(tx: Transaction, kind: str) -> str:
    """A fresh balance-id stem for a manual step of *kind* (``write_off:7``)."""
    return f"{kind}:{tx.next_number(f'balances/{kind}')}"


def move(
    stem: str,
    *,
    account_id: str,
    source: str | None,
    target: str | None,
    kind: BalanceType,
    amount: Decimal,
    currency: Currency,
    on: date,
    cause: str | None = None,
    note: str | None = None,
) -> list[Balance]:
    """The two halves of moving *amount* of *kind* from document *source* to document
    *target* (``None``: the account itself): the source gets ``+amount`` and the target
    ``−amount``, so moving money in (negative) from the account to an invoice leaves the
    account and pays the invoice. The pair sums to zero."""
    return [
        Balance(
            id=f"{stem}:from",
            account_id=account_id,
            document_id=source,
            type=kind,
            amount=Money(amount, currency),
            date=on,
            cause=cause,
            pair=stem,
            note=note,
        ),
        Balance(
            id=f"{stem}:to",
            account_id=account_id,
            document_id=target,
            type=kind,
            amount=Money(-amount, currency),
            date=on,
            cause=cause,
            pair=stem,
            note=note,
        ),
    ]


class Finalized(Protocol):
    """What booking needs of a finalized document: an :class:`~juston.Invoice`, or the
    header of one that a store finalized without reading it whole."""

    @property
    def id(self) -> str | None: ...
    @property
    def account_id(self) -> str: ...
    @property
    def kind(self) -> DocumentKind: ...
    @property
    def currency(self) -> Currency: ...
    @property
    def total(self) -> Money: ...
    @property
    def number(self) -> str | None: ...
    @property
    def invoice_date(self) -> date: ...


def _invoice_balance(document: Finalized) -> Balance:
    assert document.id is not None
    return Balance(
        id=f"invoice:{document.id}",
        account_id=document.account_id,
        document_id=document.id,
        type=BalanceType.INVOICE,
        amount=document.total,
        date=document.invoice_date,
        cause=document.number,
    )


def book_finalized(tx: Transaction, documents: Sequence[Finalized], *, settle: bool = True) -> None:
    """Book freshly finalized *documents*: each gets its invoice balance; then (JustOn's
    finalize steps 3 and 4) an invoice takes open credits of its account and money on the
    account, and a credit settles the account's open invoices, oldest first."""
    invoices = [_invoice_balance(d) for d in documents]
    if not settle:
        tx.add_balances(invoices)
        return
    # What the accounts had before, read before the new balances are added: those are
    # known here, and reading them back would cost more than booking them.
    before = tx.balances_of(list(dict.fromkeys(d.account_id for d in documents)))
    tx.add_balances(invoices)
    moves = settlements(documents, before)
    if moves:
        tx.add_balances(moves)


def settlements(
    documents: Sequence[Finalized], before: Mapping[str, Sequence[Balance]]
) -> list[Balance]:
    """What settles freshly finalized *documents* whose invoice balances are booked
    (:func:`book_finalized`'s steps 3 and 4), given what their accounts had *before*
    (balances by account, in the order to settle them; accounts not in it settle nothing).
    An account's one new document alone, without earlier balances, settles nothing."""
    by_account: dict[str, list[Finalized]] = {}
    for document in documents:
        by_account.setdefault(document.account_id, []).append(document)
    moves: list[Balance] = []
    for account_id, balances in before.items():
        new = by_account[account_id]
        if balances or len(new) > 1:
            added = [_invoice_balance(d) for d in new]
            moves.extend(_consume(account_id, [*balances, *added], new))
    return moves


def _consume(
    account_id: str, balances: Sequence[Balance], new: Sequence[Finalized]
) -> list[Balance]:
    opens = {o.document_id: o for o in open_amounts(balances)}
    free = free_by_type(balances)
    # Money on the account is what all free balances add up to: a chargeback moved there
    # by a cancellation offsets the payment moved with it.
    available = -sum(free.values(), ZERO)
    credits = [o for o in opens.values() if o.amount.amount < 0]
    debits = [o for o in opens.values() if o.amount.amount > 0]
    if available <= 0 and not (credits and debits):
        return []
    left = {o.document_id: o.amount.amount for o in opens.values()}
    moves: list[Balance] = []
    for document in new:
        assert document.id is not None
        code = document.currency
        if left.get(document.id, ZERO) > 0:
            # An invoice takes open credits first (settlement), then free money.
            for credit in _same_currency(credits, code):
                moves += _settle(document.id, credit, left, account_id, document.invoice_date)
            for kind in FREE_ORDER:
                take = min(-free.get(kind, ZERO), left[document.id], available)
                if take > 0 and document.kind is not DocumentKind.CANCELLATION:
                    stem = f"consume:{document.id}:{kind.value}"
                    moves += move(
                        stem,
                        account_id=account_id,
                        source=None,
                        target=document.id,
                        kind=kind,
                        amount=take,
                        currency=code,
                        on=document.invoice_date,
                        cause=document.number,
                        note="money on the account",
                    )
                    free[kind] += take
                    available -= take
                    left[document.id] -= take
        elif left.get(document.id, ZERO) < 0:
            credit = opens[document.id]
            for debit in _same_currency(debits, code):
                moves += _settle(debit.document_id, credit, left, account_id, document.invoice_date)
    return moves


def _same_currency(opens: Iterable[OpenAmount], code: Currency) -> list[OpenAmount]:
    return [o for o in opens if o.amount.currency == code]


def _settle(
    invoice_id: str, credit: OpenAmount, left: dict[str, Decimal], account_id: str, on: date
) -> list[Balance]:
    """Settle as much of *credit* against *invoice_id* as both have open (the smaller)."""
    amount = min(-left[credit.document_id], left[invoice_id])
    if amount <= 0:
        return []
    left[credit.document_id] += amount
    left[invoice_id] -= amount
    stem = f"settle:{credit.document_id}:{invoice_id}"
    return settlement(
        stem, account_id, invoice_id, credit.document_id, amount, credit.amount.currency, on
    )


def settlement(
    stem: str,
    account_id: str,
    invoice_id: str,
    credit_id: str,
    amount: Decimal,
    code: Currency,
    on: date,
) -> list[Balance]:
    """The settlement pair: −amount on the invoice, +amount on the credit."""
    return move(
        stem,
        account_id=account_id,
        source=credit_id,
        target=invoice_id,
        kind=BalanceType.SETTLEMENT,
        amount=amount,
        currency=code,
        on=on,
    )


def book_cancellation(tx: Transaction, original: Invoice, mirror: Invoice, on: date) -> None:
    """Book a cancellation (JustOn): the original's write-offs are reversed, its other
    payments, settlements and chargebacks move to the account, and both documents get a
    clearing balance, so both sum to zero."""
    assert original.id is not None and mirror.id is not None
    own = tx.balances(document_id=original.id)
    if not own:  # finalized before receivables were booked: book its invoice balance now
        own = [_invoice_balance(original)]
        tx.add_balances(own)
    sums: dict[BalanceType, Decimal] = {}
    for balance in own:
        sums[balance.type] = sums.get(balance.type, ZERO) + balance.amount.amount
    code = original.currency
    stem = f"cancel:{original.id}"
    added = [_invoice_balance(mirror)]
    for kind, amount in sorted(sums.items(), key=lambda kv: kv[0].value):
        if not amount or kind in (BalanceType.INVOICE, BalanceType.CLEARING):
            continue
        if kind is BalanceType.WRITE_OFF:
            added.append(
                on_document(
                    f"{stem}:write_off:{original.id}",
                    original,
                    kind,
                    Money(-amount, code),
                    on,
                    note="write-off reversed",
                )
            )
        else:
            added += move(
                f"{stem}:{kind.value}",
                account_id=original.account_id,
                source=original.id,
                target=None,
                kind=kind,
                amount=-amount,
                currency=code,
                on=on,
                cause=mirror.number,
                note=f"moved to the account by cancellation {mirror.number}",
            )
    clearing = sums.get(BalanceType.INVOICE, ZERO) + sums.get(BalanceType.CLEARING, ZERO)
    for document, amount in ((original, -clearing), (mirror, clearing)):
        added.append(
            on_document(
                f"{stem}:clearing:{document.id}",
                document,
                BalanceType.CLEARING,
                Money(amount, code),
                on,
            )
        )
    tx.add_balances(added)


def on_document(
    balance_id: str,
    document: Invoice,
    kind: BalanceType,
    amount: Money,
    on: date,
    **extra: str | None,
) -> Balance:
    """One balance of *kind* on *document* (extra fields: ``cause``, ``note``)."""
    return Balance(
        id=balance_id,
        account_id=document.account_id,
        document_id=document.id,
        type=kind,
        amount=amount,
        date=on,
        **extra,
    )
