"""Account statements: an account's balances over a period, as the customer reads them.

A :class:`Statement` summarizes what happened on an account from *start* to *end* (both
included) without claiming default (JustOn, juston.md §10): the opening balance (the sum
of the balances dated before *start*), one :class:`Movement` per booking in date order
with the running balance, the closing balance, the documents still open on *end* with
their days overdue, the money on the account, and the open items aged in buckets.

The figures always reconcile: ``opening + Σ movements == closing ==
balance_of(store, account, end)``, and ``Σ open items + on_account == closing``.

Moves that net to zero are internal: a credit settled against an invoice, money on the
account applied to a new invoice, a payment moved to the account when its invoice is
cancelled (the two balances of one ``pair``). Each shows as one movement without an amount
(it tells the customer where money went, and leaves the balance as it was). The clearing
balances that zero a cancelled invoice against its cancellation are left out: the
cancellation's own movement says it already.

    >>> from datetime import date
    >>> import juston
    >>> from juston.testing import issue, sample_store
    >>> store = sample_store(accounts=1)
    >>> invoice = issue(store, "C0000001", "119.00", on=date(2026, 1, 5))
    >>> january = statement(store, "C0000001", start=date(2026, 1, 1), end=date(2026, 1, 31))
    >>> [(m.kind.value, m.number, str(m.amount.amount)) for m in january.movements]
    [('invoice', 'INV-2026-00001', '119.00')]
    >>> january.closing_balance, january.ageing.days_1_30
    (Money('119.00', 'EUR'), Money('119.00', 'EUR'))
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import date
from decimal import Decimal
from itertools import islice
from typing import Any

import attrs
from moneyed import Currency, Money

from .._enum import Enum
from ..errors import CurrencyMismatch, ValidationError
from ..model.documents import Invoice
from ..model.parties import Account, Company
from ..model.receivables import Balance, BalanceType
from ..model.status import DocumentKind
from ..money import ZERO
from ..rounding import round_amount
from ..storage.base import Reader
from .movements import OpenItem, open_items

__all__ = [
    "Ageing",
    "Movement",
    "MovementKind",
    "Statement",
    "build_statement",
    "statement",
    "statement_run",
]


class MovementKind(Enum):
    """What a line of a statement records."""

    INVOICE = "invoice"
    CREDIT = "credit"
    CANCELLATION = "cancellation"
    PAYMENT = "payment"
    #: A credit set off against an invoice (internal: no amount).
    SETTLEMENT = "settlement"
    #: Money on the account used to pay a document (internal: no amount).
    APPLIED = "applied"
    #: Money moved from a document to the account, as a cancellation does (internal).
    TRANSFER = "transfer"
    WRITE_OFF = "write_off"
    #: A write-off undone, as a cancellation does.
    WRITE_OFF_REVERSED = "write_off_reversed"
    CHARGEBACK = "chargeback"
    #: The bank's or provider's fee for a chargeback, passed on.
    FEE = "fee"
    REFUND = "refund"
    PAYOUT = "payout"
    PREPAYMENT = "prepayment"
    #: Clearing balances that do not net to zero on their day (not made by juston itself).
    CLEARING = "clearing"
    #: A dunning's fee (or the € 40 flat fee); negative when the dunning is cancelled.
    DUNNING_FEE = "dunning_fee"
    #: Late-fee interest a dunning charged; negative when the dunning is cancelled.
    INTEREST = "interest"


#: The kinds of the balances booked on their own (invoice balances depend on the document).
_SINGLE_KINDS = {
    BalanceType.PAYMENT: MovementKind.PAYMENT,
    BalanceType.CLEARING: MovementKind.CLEARING,
    BalanceType.SETTLEMENT: MovementKind.SETTLEMENT,
    BalanceType.CHARGEBACK: MovementKind.CHARGEBACK,
    BalanceType.CHARGEBACK_FEE: MovementKind.FEE,
    BalanceType.REFUND: MovementKind.REFUND,
    BalanceType.PAYOUT: MovementKind.PAYOUT,
    BalanceType.PREPAYMENT: MovementKind.PREPAYMENT,
    BalanceType.DUNNING_FEE: MovementKind.DUNNING_FEE,
    BalanceType.INTEREST: MovementKind.INTEREST,
}

#: A plain English description per kind (templates word them in their own language).
TEXTS: Mapping[MovementKind, str] = {
    MovementKind.INVOICE: "Invoice",
    MovementKind.CREDIT: "Credit note",
    MovementKind.CANCELLATION: "Cancellation",
    MovementKind.PAYMENT: "Payment received",
    MovementKind.SETTLEMENT: "Set off against a credit note",
    MovementKind.APPLIED: "Paid from money on the account",
    MovementKind.TRANSFER: "Moved to the account",
    MovementKind.WRITE_OFF: "Written off",
    MovementKind.WRITE_OFF_REVERSED: "Write-off reversed",
    MovementKind.CHARGEBACK: "Chargeback",
    MovementKind.FEE: "Chargeback fee",
    MovementKind.REFUND: "Refund",
    MovementKind.PAYOUT: "Payout",
    MovementKind.PREPAYMENT: "Prepayment",
    MovementKind.CLEARING: "Clearing",
    MovementKind.DUNNING_FEE: "Dunning fee",
    MovementKind.INTEREST: "Interest",
}


@attrs.frozen(kw_only=True)
class Movement:
    """One line of a statement: positive *amount* is charged to the customer, negative is
    paid or credited, zero is an internal move; *balance* is the running balance after it.

    *number* is the number of the document concerned (``None``: the account itself);
    *other* the number of the other document a move or cancellation refers to (the credit
    note of a settlement, the invoice a cancellation cancels)."""

    date: date
    kind: MovementKind
    document_id: str | None
    number: str | None
    other: str | None
    text: str
    amount: Money
    balance: Money


#: The ageing buckets: name and the last day overdue each takes (``None``: no limit).
BUCKETS: tuple[tuple[str, int | None], ...] = (
    ("current", 0),
    ("1-30", 30),
    ("31-60", 60),
    ("61-90", 90),
    ("over-90", None),
)


@attrs.frozen(kw_only=True)
class Ageing:
    """The open items summed by days overdue on the statement's end date."""

    current: Money
    days_1_30: Money
    days_31_60: Money
    days_61_90: Money
    over_90: Money

    def buckets(self) -> tuple[tuple[str, Money], ...]:
        """``(name, sum)`` in order, names as in :data:`BUCKETS`."""
        values = (self.current, self.days_1_30, self.days_31_60, self.days_61_90, self.over_90)
        return tuple((name, value) for (name, _), value in zip(BUCKETS, values, strict=True))

    @property
    def total(self) -> Money:
        return _total((value for _, value in self.buckets()), self.current.currency)


def _money(value: Decimal, code: Currency) -> Money:
    # The amounts are at the minor unit already: rounding only writes a zero as 0.00.
    return Money(round_amount(value, code.code), code)


def _total(amounts: Iterable[Money], code: Currency) -> Money:
    return _money(sum((m.amount for m in amounts), ZERO), code)


def _check_sums(statement: Statement, field: attrs.Attribute[Any], closing: Money) -> None:
    # Built by build_statement these always hold; the check keeps hand-made ones honest.
    expected = _total((m.amount for m in statement.movements), statement.currency)
    if statement.opening_balance + expected != closing:
        raise ValidationError(field.name, closing, "is not the opening balance plus the movements")
    if statement.open_total + statement.on_account != closing:
        raise ValidationError(
            field.name, closing, "is not the open items plus the money on the account"
        )
    if statement.ageing.total != statement.open_total:
        raise ValidationError("ageing", statement.ageing, "does not add up to the open items")


@attrs.frozen(kw_only=True)
class Statement:
    """An account statement for *start* to *end* (both included), made on *statement_date*.

    *account* and *company* are as they were when it was made. *on_account* is the money
    on the account itself, not on a document (negative: a credit the next invoice takes).
    """

    account: Account
    company: Company
    start: date
    end: date
    statement_date: date
    currency: Currency
    opening_balance: Money
    movements: tuple[Movement, ...]
    open_items: tuple[OpenItem, ...]
    on_account: Money
    ageing: Ageing
    closing_balance: Money = attrs.field(validator=_check_sums)

    @property
    def open_total(self) -> Money:
        """The sum of the open items."""
        return _total((i.open for i in self.open_items), self.currency)


# --- the pure core -------------------------------------------------------------------------


def _group_key(balance: Balance) -> tuple[object, ...]:
    # Both halves of a move share their pair and day; the clearing balances of a
    # cancellation have no pair but come in twos on its day that sum to zero.
    if balance.pair is not None:
        return ("pair", balance.date, balance.pair)
    if balance.type is BalanceType.CLEARING:
        return ("clearing", balance.date)
    return ("single", balance.id)


def _groups(balances: Iterable[Balance]) -> list[list[Balance]]:
    """The balances grouped as they show on a statement, in date order (stable)."""
    grouped: dict[tuple[object, ...], list[Balance]] = {}
    for balance in sorted(balances, key=lambda b: b.date):
        grouped.setdefault(_group_key(balance), []).append(balance)
    return list(grouped.values())


class _Lines:
    """Turns groups of balances into movements, naming documents by their number."""

    def __init__(self, documents: Mapping[str, Invoice], code: Currency) -> None:
        self.documents = documents
        self.code = code

    def number(self, document_id: str | None) -> str | None:
        document = self.documents.get(document_id) if document_id is not None else None
        return None if document is None else document.number or document.id

    def movement(self, group: Sequence[Balance], balance: Money) -> Movement | None:
        amount = _total((b.amount for b in group), self.code)
        head = group[0]
        if head.pair is not None:
            kind, document_id, other = self._move(group)
        elif head.type is BalanceType.CLEARING:
            if not amount.amount:
                return None  # the cancellation's own movement says it already
            ids = {b.document_id for b in group}
            kind, other = MovementKind.CLEARING, None
            document_id = ids.pop() if len(ids) == 1 else None
        else:
            kind, document_id, other = self._single(head)
        return Movement(
            date=head.date,
            kind=kind,
            document_id=document_id,
            number=self.number(document_id),
            other=other,
            text=TEXTS[kind],
            amount=amount,
            balance=balance + amount,
        )

    def _single(self, balance: Balance) -> tuple[MovementKind, str | None, str | None]:
        document = self.documents.get(balance.document_id or "")
        if balance.type is BalanceType.INVOICE and document is not None:
            kind = {
                DocumentKind.INVOICE: MovementKind.INVOICE,
                DocumentKind.CREDIT: MovementKind.CREDIT,
                DocumentKind.CANCELLATION: MovementKind.CANCELLATION,
            }[document.kind]
            return kind, balance.document_id, self.number(document.cancels)
        if balance.type is BalanceType.INVOICE:
            kind = MovementKind.INVOICE if balance.amount.amount >= 0 else MovementKind.CREDIT
        elif balance.type is BalanceType.WRITE_OFF:
            # A cancellation books the reversal of a write-off as a positive write-off.
            reversed_ = balance.amount.amount > 0
            kind = MovementKind.WRITE_OFF_REVERSED if reversed_ else MovementKind.WRITE_OFF
        else:
            kind = _SINGLE_KINDS[balance.type]
        return kind, balance.document_id, None

    def _move(self, halves: Sequence[Balance]) -> tuple[MovementKind, str | None, str | None]:
        # booking.move names its halves <pair>:from and <pair>:to. The sign cannot tell the
        # direction: a cancellation moves a payment (negative) and a chargeback (positive)
        # alike from the document to the account.
        source = next((b.document_id for b in halves if b.id.endswith(":from")), None)
        target = next((b.document_id for b in halves if b.id.endswith(":to")), None)
        if source is not None and target is not None:
            return MovementKind.SETTLEMENT, target, self.number(source)
        if source is None and target is not None:
            return MovementKind.APPLIED, target, None
        return MovementKind.TRANSFER, source, None


def _repeats(last: Movement, movement: Movement) -> bool:
    """Whether *movement* is an internal move saying what *last* said: an invoice paid
    from several kinds of money on the account is one line to the customer."""
    same = (last.date, last.kind, last.document_id, last.other) == (
        movement.date,
        movement.kind,
        movement.document_id,
        movement.other,
    )
    return same and not last.amount.amount and not movement.amount.amount


def _ageing(items: Sequence[OpenItem], code: Currency) -> Ageing:
    sums = [ZERO for _ in BUCKETS]
    for item in items:
        index = next(
            n for n, (_, last) in enumerate(BUCKETS) if last is None or item.days_overdue <= last
        )
        sums[index] += item.open.amount
    current, first, second, third, older = (_money(s, code) for s in sums)
    return Ageing(
        current=current, days_1_30=first, days_31_60=second, days_61_90=third, over_90=older
    )


def _check_currency(balances: Iterable[Balance], code: Currency) -> None:
    for balance in balances:
        if balance.amount.currency != code:
            raise CurrencyMismatch(
                "balances", balance.id, f"is in {balance.amount.currency.code}, not {code.code}"
            )


def _check_period(start: date, end: date) -> None:
    if start > end:
        raise ValidationError("start", start.isoformat(), f"is after the end {end}")


def build_statement(
    account: Account,
    company: Company,
    balances: Iterable[Balance],
    documents: Mapping[str, Invoice],
    items: Sequence[OpenItem],
    *,
    start: date,
    end: date,
    on: date | None = None,
) -> Statement:
    """The statement of *account* from its *balances* (all of them, any date), the
    *documents* they name (by id; those of the period's balances at least) and its open
    *items* on *end* (:func:`~juston.receivables.open_items`). Pure: no store, no clock."""
    _check_period(start, end)
    code = account.currency
    balances = list(balances)
    _check_currency(balances, code)
    opening = _total((b.amount for b in balances if b.date < start), code)
    lines = _Lines(documents, code)
    movements: list[Movement] = []
    running = opening
    for group in _groups(b for b in balances if start <= b.date <= end):
        movement = lines.movement(group, running)
        if movement is None or (movements and _repeats(movements[-1], movement)):
            continue
        movements.append(movement)
        running = movement.balance
    upto_end = [b for b in balances if b.date <= end]
    on_account = _total((b.amount for b in upto_end if b.document_id is None), code)
    return Statement(
        account=account,
        company=company,
        start=start,
        end=end,
        statement_date=on or end,
        currency=code,
        opening_balance=opening,
        movements=tuple(movements),
        open_items=tuple(items),
        on_account=on_account,
        ageing=_ageing(items, code),
        closing_balance=running,
    )


# --- the shell: reading a store ------------------------------------------------------------


def _documents(
    reader: Reader, ids: Iterable[str | None], known: Iterable[Invoice]
) -> dict[str, Invoice]:
    found = {d.id: d for d in known if d.id is not None}
    for document_id in dict.fromkeys(ids):
        if document_id is not None and document_id not in found:
            found[document_id] = reader.document(document_id)
    # A cancellation names the document it cancels: its number goes on the statement.
    for document in list(found.values()):
        if document.cancels is not None and document.cancels not in found:
            found[document.cancels] = reader.document(document.cancels)
    return found


def _statement(
    reader: Reader,
    account: Account,
    company: Company,
    balances: Sequence[Balance],
    start: date,
    end: date,
    on: date | None,
) -> Statement:
    items = open_items(reader, account.id, end)
    period = (b.document_id for b in balances if start <= b.date <= end)
    documents = _documents(reader, period, (i.document for i in items))
    return build_statement(
        account, company, balances, documents, items, start=start, end=end, on=on
    )


def statement(
    reader: Reader, account_id: str, *, start: date, end: date, on: date | None = None
) -> Statement:
    """The statement of one account for *start* to *end* (both included), dated *on*
    (default: *end*); :class:`~juston.NotFound` for an unknown account.

        >>> from datetime import date
        >>> from juston.testing import sample_store
        >>> empty = statement(sample_store(accounts=1), "C0000001",
        ...                   start=date(2026, 1, 1), end=date(2026, 1, 31))
        >>> empty.movements, empty.closing_balance
        ((), Money('0.00', 'EUR'))
    """
    _check_period(start, end)
    account = reader.account(account_id)
    balances = reader.balances(account_id=account_id)
    return _statement(reader, account, reader.company(), balances, start, end, on)


def statement_run(
    reader: Reader,
    *,
    start: date,
    end: date,
    on: date | None = None,
    batch_size: int = 200,
    progress: Callable[[int], None] | None = None,
) -> Iterator[Statement]:
    """The statements of every account with balances dated from *start* to *end* (JustOn's
    statement run), in account id order, one at a time: the balances are read for
    *batch_size* accounts at once, so memory stays flat however many accounts there are.
    *progress* is called after each batch with the number of accounts it held.

        >>> from datetime import date
        >>> from juston.testing import issue, sample_store
        >>> store = sample_store(accounts=3)
        >>> _ = issue(store, "C0000002", "10.00", on=date(2026, 3, 2))
        >>> [s.account.id for s in statement_run(store, start=date(2026, 3, 1), end=date(2026, 3, 31))]
        ['C0000002']
    """
    _check_period(start, end)
    if batch_size < 1:
        raise ValidationError("batch_size", batch_size, "must be at least 1")
    company = reader.company()
    accounts = reader.accounts()
    while batch := list(islice(accounts, batch_size)):
        balances = reader.balances_of([a.id for a in batch])
        for account in batch:
            own = balances[account.id]
            if any(start <= b.date <= end for b in own):
                yield _statement(reader, account, company, own, start, end, on)
        if progress is not None:
            progress(len(batch))
