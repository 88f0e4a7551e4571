"""Balance movements by hand: settlements, write-offs, refunds, payouts, chargebacks,
prepayments; and the views over them: open items and account balances.

Each function is one transaction: it checks, then books, or raises a
:class:`~juston.JustonError` naming the field and value and books nothing.

    >>> from datetime import date
    >>> import juston
    >>> store = juston.testing.sample_store(accounts=1)
    >>> [invoice] = juston.finalize(store, juston.invoice_run(store, date(2026, 1, 1)).documents)
    >>> _ = write_off(store, invoice, on=date(2026, 3, 1), reason="goodwill")
    >>> document_state(store, invoice).status.value
    'paid'
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import attrs
from moneyed import Money

from ..errors import StateError, ValidationError
from ..model.documents import Invoice
from ..model.receivables import Balance, BalanceType
from ..model.status import DocumentKind, DocumentStatus
from ..money import ZERO
from ..storage.base import Reader, Store, Transaction
from .booking import new_id, on_document, settlement
from .ledger import (
    PaymentState,
    account_balance,
    free_amount,
    open_amounts,
    paid_amount,
    payment_state,
)

__all__ = [
    "OpenItem",
    "balance_of",
    "book_chargeback",
    "book_payout",
    "book_refund",
    "chargeback",
    "document_state",
    "document_states",
    "open_items",
    "payout",
    "prepay",
    "refund",
    "settle",
    "write_off",
    "write_off_small",
]


def _document(reader: Reader, document: Invoice | str) -> Invoice:
    return reader.document(document if isinstance(document, str) else _id(document))


def _id(document: Invoice) -> str:
    if document.id is None:
        raise ValidationError("document", document.number, "is not stored (it has no id)")
    return document.id


def _finalized(document: Invoice, doing: str) -> None:
    if document.status is DocumentStatus.DRAFT:
        raise StateError(f"document {document.id}: is a draft; finalize it before {doing}")
    if document.status is DocumentStatus.CANCELLED:
        raise StateError(f"document {document.number}: is cancelled; {doing} is not possible")


def _amount(value: Money | None, currency: object, name: str = "amount") -> Money | None:
    if value is None:
        return None
    if not isinstance(value, Money):
        raise ValidationError(name, value, "is not Money; use juston.money(amount, currency)")
    if value.currency != currency:
        raise ValidationError(name, value, f"is not in the document currency {currency}")
    if value.amount <= 0:
        raise ValidationError(name, value, "must be greater than zero")
    return value


def document_state(
    reader: Reader, document: Invoice | str, as_of: date | None = None
) -> PaymentState:
    """The open amount, derived status (open, paid, settled …) and payment date of a document."""
    doc = _document(reader, document)
    return payment_state(doc, reader.balances(document_id=doc.id), as_of)


def document_states(reader: Reader, documents: Sequence[Invoice]) -> dict[str, PaymentState]:
    """:func:`document_state` of many stored documents (by id), reading the balances of
    their accounts once."""
    by_account = reader.balances_of({d.account_id for d in documents})
    states = {}
    for document in documents:
        assert document.id is not None
        states[document.id] = payment_state(document, by_account[document.account_id])
    return states


def balance_of(reader: Reader, account_id: str, as_of: date | None = None) -> Money:
    """The account's balance on *as_of* (or now): positive is owed, negative is credit."""
    account = reader.account(account_id)
    return account_balance(reader.balances(account_id=account_id), account.currency, as_of)


@attrs.frozen
class OpenItem:
    """A document with an open amount on a date, and how many days it is overdue."""

    document: Invoice
    open: Money
    days_overdue: int


def open_items(reader: Reader, account_id: str, as_of: date) -> list[OpenItem]:
    """The account's documents with an open amount on *as_of*, oldest due first."""
    balances = [b for b in reader.balances(account_id=account_id) if b.date <= as_of]
    items = []
    for item in open_amounts(balances):
        document = reader.document(item.document_id)
        items.append(OpenItem(document, item.amount, max(0, (as_of - document.due_date).days)))
    items.sort(
        key=lambda i: (i.document.due_date, i.document.invoice_date, i.document.number or "")
    )
    return items


def settle(
    store: Store,
    credit: Invoice | str,
    invoices: Sequence[Invoice | str] | None = None,
    *,
    on: date,
) -> list[Balance]:
    """Settle an open credit against open invoices of the same account (the given ones,
    else all, oldest first): each settlement is the smaller of the two open amounts.
    Returns the settlement balances (empty if nothing was open)."""
    with store.transaction() as tx:
        doc = _document(tx, credit)
        _finalized(doc, "settling")
        if doc.kind is DocumentKind.CANCELLATION:
            raise StateError(f"document {doc.number}: a cancellation is settled already")
        left = {o.document_id: o.amount.amount for o in tx.open_documents([doc.account_id])}
        if left.get(_id(doc), ZERO) >= 0:
            raise StateError(f"document {doc.number}: has no open credit to settle")
        if invoices is None:
            targets = [document_id for document_id, amount in left.items() if amount > 0]
        else:
            targets = [_id(_document(tx, i)) if not isinstance(i, str) else i for i in invoices]
        added: list[Balance] = []
        for target_id in targets:
            target = tx.document(target_id)
            _check_settle(doc, target)
            amount = min(-left[_id(doc)], left.get(target_id, ZERO))
            if amount <= 0:
                continue
            left[_id(doc)] += amount
            left[target_id] -= amount
            stem = new_id(tx, "settle")
            added += settlement(stem, doc.account_id, target_id, _id(doc), amount, doc.currency, on)
        tx.add_balances(added)
    return added


def _check_settle(credit: Invoice, target: Invoice) -> None:
    if target.account_id != credit.account_id:
        raise ValidationError("invoices", target.number, f"is not of account {credit.account_id}")
    if target.seller.id != credit.seller.id:
        raise ValidationError("invoices", target.number, "is issued by another business entity")
    if target.currency != credit.currency:
        raise ValidationError("invoices", target.number, f"is not in {credit.currency.code}")
    _finalized(target, "settling")


def write_off(
    store: Store,
    document: Invoice | str,
    amount: Money | None = None,
    *,
    on: date,
    reason: str,
) -> Balance:
    """Give up (part of) an invoice's open amount (default: all of it), with a reason."""
    with store.transaction() as tx:
        return _write_off(tx, _document(tx, document), amount, on, reason)


def _write_off(
    tx: Transaction, doc: Invoice, amount: Money | None, on: date, reason: str
) -> Balance:
    _finalized(doc, "writing off")
    if not reason or not reason.strip():
        raise ValidationError("reason", reason, "is required for a write-off")
    open_ = payment_state(doc, tx.balances(document_id=doc.id)).open
    if open_.amount <= 0:
        raise StateError(f"document {doc.number}: has nothing open to write off ({open_})")
    value = _amount(amount, doc.currency) or open_
    if value > open_:
        raise ValidationError("amount", value, f"exceeds the open amount {open_}")
    balance = on_document(
        new_id(tx, "write_off"), doc, BalanceType.WRITE_OFF, -value, on, note=reason
    )
    tx.add_balances([balance])
    return balance


def write_off_small(
    store: Store, *, as_of: date, percent: object, cap: Money, reason: str = "small remainder"
) -> list[Balance]:
    """Write off every open invoice remainder of at most *percent* of its total and at
    most *cap* (JustOn's automatic write-off), in one transaction."""
    from ..money import decimal

    share = decimal(percent, field="percent")
    if share < 0 or share > 100:
        raise ValidationError("percent", percent, "must be between 0 and 100")
    written: list[Balance] = []
    with store.transaction() as tx:
        for item in tx.open_documents():
            if item.amount.amount <= 0 or item.since > as_of:
                continue
            if item.amount.currency != cap.currency or item.amount > cap:
                continue
            doc = tx.document(item.document_id)
            if (
                doc.status is not DocumentStatus.OPEN
                or item.amount.amount * 100 > doc.total.amount * share
            ):
                continue
            written.append(_write_off(tx, doc, None, as_of, reason))
    return written


def _paid(tx: Transaction, doc: Invoice) -> Money:
    return paid_amount(tx.balances(document_id=doc.id), doc.currency)


def chargeback(
    store: Store,
    document: Invoice | str,
    amount: Money,
    *,
    on: date,
    fee: Money | None = None,
    reference: str | None = None,
) -> list[Balance]:
    """A payment on *document* taken back (a returned debit, a card dispute): reopens it
    by *amount*, plus an optional *fee* the bank charged, booked on the same document."""
    with store.transaction() as tx:
        doc = _document(tx, document)
        return book_chargeback(tx, doc, amount, on=on, fee=fee, reference=reference)


def book_chargeback(
    tx: Transaction,
    doc: Invoice,
    amount: Money,
    *,
    on: date,
    fee: Money | None = None,
    reference: str | None = None,
    stem: str | None = None,
) -> list[Balance]:
    """:func:`chargeback` inside an open transaction (*stem*: a deterministic id)."""
    _finalized(doc, "a chargeback")
    value = _amount(amount, doc.currency)
    assert value is not None
    paid = _paid(tx, doc)
    if value > paid:
        raise ValidationError("amount", value, f"exceeds what was paid on {doc.number} ({paid})")
    stem = stem or new_id(tx, "chargeback")
    added = [on_document(stem, doc, BalanceType.CHARGEBACK, value, on, cause=reference)]
    fee_value = _amount(fee, doc.currency, "fee")
    if fee_value is not None:
        added.append(
            on_document(
                f"{stem}:fee", doc, BalanceType.CHARGEBACK_FEE, fee_value, on, cause=reference
            )
        )
    tx.add_balances(added)
    return added


def refund(
    store: Store,
    document: Invoice | str,
    amount: Money,
    *,
    on: date,
    reference: str | None = None,
) -> Balance:
    """Pay money back for a payment on *document*; never more than was paid on it.

    A refund on a credit pays out the credit; on an invoice it reopens what it refunds
    (issue a credit or cancel the invoice alongside)."""
    with store.transaction() as tx:
        return book_refund(tx, _document(tx, document), amount, on=on, reference=reference)


def book_refund(
    tx: Transaction,
    doc: Invoice,
    amount: Money,
    *,
    on: date,
    reference: str | None = None,
    stem: str | None = None,
) -> Balance:
    """:func:`refund` inside an open transaction (*stem*: a deterministic id)."""
    _finalized(doc, "a refund")
    value = _amount(amount, doc.currency)
    assert value is not None
    balances = tx.balances(document_id=doc.id)
    limit = paid_amount(balances, doc.currency)
    if doc.kind is DocumentKind.CREDIT:
        # A credit is paid out up to what is open on it.
        limit = -payment_state(doc, balances).open
    if value > limit:
        raise ValidationError(
            "amount", value, f"exceeds what can be refunded on {doc.number} ({limit})"
        )
    balance = on_document(
        stem or new_id(tx, "refund"), doc, BalanceType.REFUND, value, on, cause=reference
    )
    tx.add_balances([balance])
    return balance


def payout(
    store: Store, account_id: str, amount: Money, *, on: date, reference: str | None = None
) -> Balance:
    """Pay out money on the account (an overpayment, a cancelled-and-paid invoice) to the
    customer; never more than the account holds."""
    with store.transaction() as tx:
        return book_payout(tx, account_id, amount, on=on, reference=reference)


def book_payout(
    tx: Transaction,
    account_id: str,
    amount: Money,
    *,
    on: date,
    reference: str | None = None,
    stem: str | None = None,
) -> Balance:
    """:func:`payout` inside an open transaction (*stem*: a deterministic id)."""
    account = tx.account(account_id)
    value = _amount(amount, account.currency)
    assert value is not None
    free = -free_amount(tx.balances(account_id=account_id), account.currency)
    if value > free:
        raise ValidationError(
            "amount", value, f"exceeds the money on account {account_id} ({free})"
        )
    balance = Balance(
        id=stem or new_id(tx, "payout"),
        account_id=account_id,
        document_id=None,
        type=BalanceType.PAYOUT,
        amount=value,
        date=on,
        cause=reference,
    )
    tx.add_balances([balance])
    return balance


def prepay(
    store: Store, account_id: str, amount: Money, *, on: date, reference: str | None = None
) -> Balance:
    """Money received before there is an invoice: kept on the account until the next
    finalized invoice consumes it."""
    with store.transaction() as tx:
        account = tx.account(account_id)
        value = _amount(amount, account.currency)
        assert value is not None
        balance = Balance(
            id=new_id(tx, "prepayment"),
            account_id=account_id,
            document_id=None,
            type=BalanceType.PREPAYMENT,
            amount=-value,
            date=on,
            cause=reference,
        )
        tx.add_balances([balance])
    return balance
