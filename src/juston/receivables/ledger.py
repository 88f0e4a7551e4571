"""Sums over balances: open amounts, paid states, account balances, allocation.

Pure functions on values. Nothing here is stored: "paid" is what the balances of a
document add up to, at any date, so it cannot drift from them.

    >>> from datetime import date
    >>> from juston import money
    >>> from juston.model.receivables import Balance, BalanceType
    >>> lines = [
    ...     Balance(id="invoice:D1", account_id="C-1", document_id="D1",
    ...             type=BalanceType.INVOICE, amount=money("119.00", "EUR"), date=date(2026, 1, 1)),
    ...     Balance(id="payment:E1:0", account_id="C-1", document_id="D1",
    ...             type=BalanceType.PAYMENT, amount=money("-119.00", "EUR"), date=date(2026, 1, 9)),
    ... ]
    >>> account_balance(lines, "EUR"), account_balance(lines, "EUR", as_of=date(2026, 1, 5))
    (Money('0.00', 'EUR'), Money('119.00', 'EUR'))
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal

import attrs
from moneyed import Currency, Money

from ..model.documents import Invoice
from ..model.receivables import Balance, BalanceType, OpenAmount
from ..model.status import DocumentKind, DocumentStatus
from ..money import ZERO, currency

__all__ = [
    "PaymentState",
    "account_balance",
    "free_amount",
    "free_by_type",
    "oldest_first",
    "open_amounts",
    "paid_amount",
    "payment_state",
]

#: Balance types that are money the customer paid (or took back) on a document.
PAID_TYPES = frozenset({BalanceType.PAYMENT, BalanceType.CHARGEBACK, BalanceType.REFUND})


def _upto(balances: Iterable[Balance], as_of: date | None) -> Iterable[Balance]:
    return balances if as_of is None else (b for b in balances if b.date <= as_of)


def _sum(balances: Iterable[Balance], code: str | Currency) -> Money:
    return Money(sum((b.amount.amount for b in balances), ZERO), currency(code))


def account_balance(
    balances: Iterable[Balance], code: str | Currency, as_of: date | None = None
) -> Money:
    """What the account owes (positive) or has in credit (negative) on *as_of* (or now)."""
    return _sum(_upto(balances, as_of), code)


def free_amount(
    balances: Iterable[Balance], code: str | Currency, as_of: date | None = None
) -> Money:
    """The sum of the balances on the account itself, not on a document: negative is
    money the next invoice consumes."""
    return _sum((b for b in _upto(balances, as_of) if b.document_id is None), code)


def free_by_type(balances: Iterable[Balance]) -> dict[BalanceType, Decimal]:
    """The account-level balances summed per type (a move keeps its type)."""
    sums: dict[BalanceType, Decimal] = {}
    for balance in balances:
        if balance.document_id is None:
            sums[balance.type] = sums.get(balance.type, ZERO) + balance.amount.amount
    return sums


def paid_amount(balances: Iterable[Balance], code: str | Currency) -> Money:
    """Money paid on a document and not taken back: −(payments + chargebacks + refunds)."""
    return -_sum((b for b in balances if b.type in PAID_TYPES), code)


def open_amounts(balances: Iterable[Balance]) -> list[OpenAmount]:
    """The documents whose balances do not add up to zero, ordered by (since, id)."""
    sums: dict[str, list[Decimal]] = {}
    first: dict[str, Balance] = {}
    for balance in balances:
        if balance.document_id is None:
            continue
        if balance.document_id not in first:
            first[balance.document_id] = balance
            sums[balance.document_id] = []
        sums[balance.document_id].append(balance.amount.amount)
    found = []
    for document_id, amounts in sums.items():
        total = sum(amounts, ZERO)
        if total:
            head = first[document_id]
            amount = Money(total, head.amount.currency)
            number = head.cause if head.type is BalanceType.INVOICE else None
            found.append(OpenAmount(document_id, head.account_id, amount, head.date, number))
    found.sort(key=lambda o: (o.since, o.document_id))
    return found


@attrs.frozen
class PaymentState:
    """Where a document stands: what is open, the derived status, and when it was paid."""

    open: Money
    status: DocumentStatus
    #: The date of the last balance, once nothing is open.
    paid_on: date | None = None

    @property
    def is_paid(self) -> bool:
        return self.status in (DocumentStatus.PAID, DocumentStatus.SETTLED)


def payment_state(
    document: Invoice, balances: Iterable[Balance], as_of: date | None = None
) -> PaymentState:
    """The derived state of *document* from its *balances* on *as_of* (or now).

    Drafts and cancelled documents keep their own status; a finalized invoice is Paid
    (a credit Settled) when its balances sum to zero, and Open otherwise. A chargeback
    makes the sum non-zero again, so it reopens the invoice.
    """
    own = [b for b in _upto(balances, as_of) if b.document_id == document.id]
    open_ = _sum(own, document.currency)
    if document.status in (DocumentStatus.DRAFT, DocumentStatus.CANCELLED):
        return PaymentState(open_, document.status)
    if document.kind is DocumentKind.CANCELLATION:
        return PaymentState(open_, DocumentStatus.SETTLED, own[-1].date if own else None)
    if not own or open_.amount:
        return PaymentState(open_, DocumentStatus.OPEN)
    paid_on = max(b.date for b in own)
    status = DocumentStatus.SETTLED if document.kind is DocumentKind.CREDIT else DocumentStatus.PAID
    return PaymentState(open_, status, paid_on)


def oldest_first(
    amount: Decimal, opens: Sequence[OpenAmount]
) -> tuple[list[tuple[OpenAmount, Decimal]], Decimal]:
    """Spread *amount* (> 0) over the positive open amounts in the order given (oldest
    first): each gets what it needs until the amount runs out. Returns the parts and
    what is left over."""
    parts: list[tuple[OpenAmount, Decimal]] = []
    left = amount
    for item in opens:
        if left <= 0:
            break
        need = item.amount.amount
        if need <= 0:
            continue
        part = min(need, left)
        parts.append((item, part))
        left -= part
    return parts, left
