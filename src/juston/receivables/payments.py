"""Payment entries: register them, match them, assign them to documents and accounts.

Registering stores an entry (an id seen before is a duplicate and changes nothing),
matches it (:mod:`juston.receivables.matching`) and assigns it:

* money in pays the matched documents, or the account's open invoices oldest first; an
  overpayment is split and the rest stays on the account for the next invoice;
* money out matched to a document is a returned payment: a chargeback that reopens it;
  matched to an account only, a payout of money on the account;
* what cannot be matched or assigned stays in the queue (status open) with the reason.

    >>> from datetime import date
    >>> import juston
    >>> store = juston.testing.sample_store(accounts=1)
    >>> [invoice] = juston.finalize(store, juston.invoice_run(store, date(2026, 1, 1)).documents)
    >>> entry = register_payment(store, PaymentEntry(id="bank-1", amount=invoice.total,
    ...     booking_date=date(2026, 1, 10), reference=f"Invoice {invoice.number}"))
    >>> entry.status.value, entry.document_ids == (invoice.id,)
    ('assigned', True)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import attrs
from moneyed import Money

from ..errors import JustonError, NotFound, StateError, ValidationError
from ..model.documents import Invoice
from ..model.receivables import Balance, BalanceType, EntryStatus, OpenAmount, PaymentEntry
from ..storage.base import Reader, Store, Transaction
from .ledger import oldest_first, open_amounts
from .matching import DEFAULT_RULES, Lookups, Match, MatchContext, MatchRule, match
from .movements import book_chargeback, book_payout

__all__ = [
    "Registered",
    "assign_entry",
    "assign_payment",
    "ignore_payment",
    "match_payments",
    "receive",
    "register_payment",
    "register_payments",
]


@attrs.frozen
class Registered:
    """What registering a batch of entries did."""

    new: int
    duplicate: int
    assigned: tuple[PaymentEntry, ...]
    queued: tuple[PaymentEntry, ...]

    def __add__(self, other: Registered) -> Registered:
        """Both batches' counts and entries together."""
        return Registered(
            self.new + other.new,
            self.duplicate + other.duplicate,
            self.assigned + other.assigned,
            self.queued + other.queued,
        )

    def __str__(self) -> str:
        return (
            f"{self.new} new ({len(self.assigned)} assigned, {len(self.queued)} waiting), "
            f"{self.duplicate} duplicate"
        )


def _numbered(reader: Reader, number: str) -> Invoice | None:
    for document in reader.documents(number=number):
        if document.id is not None and not document.is_draft:
            return document
    return None


def _any_number(reader: Reader, number: str) -> OpenAmount | None:
    document = _numbered(reader, number)
    if document is None or document.id is None:
        return None
    zero = document.total - document.total
    return OpenAmount(document.id, document.account_id, zero, document.invoice_date, number)


def context(tx: Reader) -> MatchContext:
    """The match context of everything the store holds, for a batch of entries."""
    accounts = list(tx.accounts())
    mandates = [m for a in accounts for m in tx.mandates(a.id)]
    return MatchContext.build(
        tx.open_documents(), accounts, mandates, lambda number: _any_number(tx, number)
    )


class StoreLookups:
    """:class:`~juston.receivables.matching.Lookups` that ask the store only what an
    entry needs: a few entries are matched without reading every account and open
    document (what a batch does once, with :func:`context`)."""

    def __init__(self, reader: Reader) -> None:
        self._reader = reader
        self._everything: MatchContext | None = None

    def _all(self) -> MatchContext:
        if self._everything is None:
            self._everything = context(self._reader)
        return self._everything

    def open_number(self, number: str) -> OpenAmount | None:
        document = _numbered(self._reader, number)
        if document is None or document.id is None:
            return None
        balances = self._reader.balances(document_id=document.id)
        opens = open_amounts(balances)
        return opens[0] if opens else None

    def any_number(self, number: str) -> OpenAmount | None:
        return _any_number(self._reader, number)

    def account_id(self, value: str) -> str | None:
        for candidate in dict.fromkeys((value, value.upper())):
            try:
                return self._reader.account(candidate).id
            except NotFound:
                continue
        return None

    def iban_owners(self, iban: str) -> frozenset[str]:
        return self._all().iban_owners(iban)

    def mandate_owner(self, reference: str) -> str | None:
        return self._all().mandate_owner(reference)

    def open_documents(self) -> Sequence[OpenAmount]:
        return self._all().open_documents()

    def named(self, name: str) -> frozenset[str]:
        return self._all().named(name)


#: Up to this many entries are matched by asking the store entry by entry; more share one
#: context of everything (a bank statement).
FEW = 20


def receive(
    tx: Transaction,
    entries: Iterable[PaymentEntry],
    rules: Sequence[MatchRule] = DEFAULT_RULES,
    *,
    assign: bool = True,
) -> Registered:
    """Register *entries* inside an open transaction; see :func:`register_payments`."""
    fresh: list[PaymentEntry] = []
    seen: set[str] = set()
    duplicate = 0
    for entry in entries:
        if not isinstance(entry, PaymentEntry):
            raise ValidationError("entries", entry, "is not a PaymentEntry")
        if entry.id in seen or _stored(tx, entry.id):
            duplicate += 1
            continue
        seen.add(entry.id)
        fresh.append(attrs.evolve(entry, status=EntryStatus.OPEN, reason=None))
    done = _match_all(tx, fresh, rules) if assign and fresh else fresh
    tx.put_payment_entries(done)
    return Registered(
        new=len(fresh),
        duplicate=duplicate,
        assigned=tuple(e for e in done if e.status is EntryStatus.ASSIGNED),
        queued=tuple(e for e in done if e.status is EntryStatus.OPEN),
    )


def _stored(tx: Transaction, entry_id: str) -> bool:
    try:
        tx.payment_entry(entry_id)
    except JustonError:
        return False
    return True


def _match_all(
    tx: Transaction, entries: list[PaymentEntry], rules: Sequence[MatchRule]
) -> list[PaymentEntry]:
    found: Lookups = StoreLookups(tx) if len(entries) <= FEW else context(tx)
    done = []
    for entry in entries:
        result = match(entry, found, rules)
        if isinstance(result, str):
            done.append(attrs.evolve(entry, status=EntryStatus.OPEN, reason=result))
        else:
            done.append(assign_entry(tx, entry, result))
    return done


def register_payment(
    store: Store, entry: PaymentEntry, *, rules: Sequence[MatchRule] = DEFAULT_RULES
) -> PaymentEntry:
    """Register one payment entry, match and assign it; returns it as stored (a duplicate
    id returns the entry stored before, unchanged)."""
    with store.transaction() as tx:
        receive(tx, [entry], rules)
        return tx.payment_entry(entry.id)


def register_payments(
    store: Store,
    entries: Iterable[PaymentEntry],
    *,
    rules: Sequence[MatchRule] = DEFAULT_RULES,
    assign: bool = True,
) -> Registered:
    """Register many payment entries in one transaction, match and assign each (unless
    *assign* is false: then they wait in the queue for :func:`match_payments`)."""
    with store.transaction() as tx:
        return receive(tx, entries, rules, assign=assign)


def match_payments(store: Store, *, rules: Sequence[MatchRule] = DEFAULT_RULES) -> Registered:
    """Try the queue again (after new invoices or rules): assign what matches now."""
    with store.transaction() as tx:
        waiting = list(tx.payment_entries(status=EntryStatus.OPEN))
        done = _match_all(tx, waiting, rules) if waiting else []
        tx.put_payment_entries(done)
    return Registered(
        new=0,
        duplicate=0,
        assigned=tuple(e for e in done if e.status is EntryStatus.ASSIGNED),
        queued=tuple(e for e in done if e.status is EntryStatus.OPEN),
    )


def assign_payment(
    store: Store,
    entry_id: str,
    *,
    account_id: str | None = None,
    documents: Sequence[str] = (),
) -> PaymentEntry:
    """Assign a waiting entry by hand: to documents (their account is implied) or to an
    account (its open invoices oldest first, the rest on the account)."""
    with store.transaction() as tx:
        entry = tx.payment_entry(entry_id)
        if not entry.is_open:
            raise StateError(f"payment entry {entry_id}: is {entry.status.value}, not waiting")
        docs = [tx.document(d) for d in documents]
        accounts = {d.account_id for d in docs} | ({account_id} if account_id else set())
        if len(accounts) != 1:
            raise ValidationError(
                "account_id", account_id, "give one account, or documents of one account"
            )
        (owner,) = accounts
        tx.account(owner)
        done = assign_entry(tx, entry, Match(owner, tuple(documents), "assigned by hand"))
        if done.is_open:
            raise ValidationError("entry", entry_id, done.reason or "cannot be assigned")
        tx.put_payment_entries([done])
    return done


def ignore_payment(store: Store, entry_id: str, reason: str) -> PaymentEntry:
    """Take a waiting entry out of the queue for good (not ours, a duplicate transfer …)."""
    with store.transaction() as tx:
        entry = tx.payment_entry(entry_id)
        if not entry.is_open:
            raise StateError(f"payment entry {entry_id}: is {entry.status.value}, not waiting")
        done = attrs.evolve(entry, status=EntryStatus.IGNORED, reason=reason)
        tx.put_payment_entries([done])
    return done


def assign_entry(tx: Transaction, entry: PaymentEntry, found: Match) -> PaymentEntry:
    """Book *entry* as *found* says inside an open transaction (a provider's event names
    its document: no matching needed), or return it waiting with the reason why not."""
    account = tx.account(found.account_id)
    if entry.amount.currency != account.currency:
        reason = f"is in {entry.amount.currency.code}, account {account.id} bills in {account.currency.code}"
        return attrs.evolve(entry, reason=reason)
    try:
        if entry.amount.amount >= 0:
            paid = _book_payment(tx, entry, found)
        else:
            paid = _book_return(tx, entry, found)
    except JustonError as exc:
        return attrs.evolve(entry, reason=f"{found.reason}, but {exc}")
    return attrs.evolve(
        entry,
        status=EntryStatus.ASSIGNED,
        reason=found.reason,
        account_id=account.id,
        document_ids=paid,
    )


def _book_payment(tx: Transaction, entry: PaymentEntry, found: Match) -> tuple[str, ...]:
    opens = tx.open_documents([found.account_id])
    if found.document_ids:
        named = {d: n for n, d in enumerate(found.document_ids)}
        targets = sorted(
            (o for o in opens if o.document_id in named), key=lambda o: named[o.document_id]
        )
    else:
        targets = [o for o in opens if o.amount.currency == entry.amount.currency]
    parts, left = oldest_first(entry.amount.amount, targets)
    code = entry.amount.currency
    day = entry.booking_date
    balances = [
        Balance(
            id=f"payment:{entry.id}:{n}",
            account_id=found.account_id,
            document_id=item.document_id,
            type=BalanceType.PAYMENT,
            amount=Money(-part, code),
            date=day,
            cause=entry.id,
        )
        for n, (item, part) in enumerate(parts)
    ]
    if left:
        balances.append(
            Balance(
                id=f"payment:{entry.id}:rest",
                account_id=found.account_id,
                document_id=None,
                type=BalanceType.PAYMENT,
                amount=Money(-left, code),
                date=day,
                cause=entry.id,
                note="overpayment: kept on the account",
            )
        )
    tx.add_balances(balances)
    return tuple(item.document_id for item, _ in parts)


def _book_return(tx: Transaction, entry: PaymentEntry, found: Match) -> tuple[str, ...]:
    back = -entry.amount
    if found.document_ids:
        doc = tx.document(found.document_ids[0])
        reference = entry.return_reason or entry.reference or None
        book_chargeback(
            tx, doc, back, on=entry.booking_date, reference=reference, stem=f"chargeback:{entry.id}"
        )
        return (doc.id,) if doc.id else ()
    book_payout(
        tx,
        found.account_id,
        back,
        on=entry.booking_date,
        reference=entry.id,
        stem=f"payout:{entry.id}",
    )
    return ()
