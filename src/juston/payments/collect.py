"""Collecting what is due through the accounts' payment providers, and refunding.

:func:`collect_due` asks each provider for the open invoices of the accounts whose
``payment_method`` names it, for what is due on the day (only the installments due, for
a document with an installment plan), and books the answers, all in one transaction.
Accounts without a payment method pay by bank transfer and are not asked for; the
passive providers (``bank_transfer``, ``sepa_direct_debit``) answer nothing: transfers
arrive as payment entries, direct debits are collected by file
(:func:`juston.payments.sepa.sepa_batch`).

    >>> from datetime import date
    >>> import attrs, juston
    >>> from juston.payments.plugin import ProviderPlugin
    >>> from juston.testing.fake_provider import FakeProvider
    >>> store = juston.testing.sample_store(accounts=1)
    >>> with store.transaction() as tx:
    ...     tx.put_account(attrs.evolve(tx.account("C0000001"), payment_method="fake"))
    >>> [invoice] = juston.finalize(store, juston.invoice_run(store, date(2026, 1, 1)).documents)
    >>> plugins = juston.Plugins.load(entry_points=False)
    >>> plugins.register(ProviderPlugin(FakeProvider()))
    >>> str(collect_due(store, plugins, as_of=invoice.due_date).applied)
    '1 booked'
    >>> str(collect_due(store, plugins, as_of=invoice.due_date).applied)
    'nothing'
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date
from typing import TYPE_CHECKING

import attrs
from moneyed import Money

from ..errors import PluginError, StateError, ValidationError
from ..model.documents import Invoice
from ..model.mandates import Mandate
from ..receivables.ledger import paid_amount
from ..storage.base import Reader, Store, Transaction
from .apply import Applied, book_events
from .base import CollectionRequest, EventKind, ProviderEvent, RefundRequest
from .due import amount_due, idempotency_key

if TYPE_CHECKING:
    from ..plugins import Plugins

__all__ = ["CollectionResult", "Skipped", "collect_due", "due_requests", "refund_payment"]


@attrs.frozen
class Skipped:
    """A document not collected, and why."""

    document_id: str
    number: str | None
    reason: str


@attrs.frozen
class CollectionResult:
    """What a collection did: the requests made, the events booked, what was skipped."""

    requests: tuple[CollectionRequest, ...]
    applied: Applied
    skipped: tuple[Skipped, ...] = ()


def active_mandate(reader: Reader, account_id: str, day: date) -> Mandate | None:
    """The account's mandate active on *day* (the latest signed, if several are)."""
    active = [m for m in reader.mandates(account_id) if m.active_on(day)]
    return active[-1] if active else None


def due_requests(
    reader: Reader, *, on: date, methods: Collection[str] | None = None, attempt: int = 1
) -> dict[str, list[CollectionRequest]]:
    """The collection requests for what is due on *on*, by payment method: the open
    invoices of the accounts whose payment method is set (and in *methods*, if given),
    oldest first."""
    accounts: dict[str, str] = {}
    for account in reader.accounts():
        method = account.payment_method
        if method is not None and (methods is None or method in methods):
            accounts[account.id] = method
    opens = [o for o in reader.open_documents(list(accounts)) if o.amount.amount > 0]
    plans = reader.installment_plans_of([o.document_id for o in opens])
    found: dict[str, list[CollectionRequest]] = {}
    for item in opens:
        document = reader.document(item.document_id)
        due = amount_due(item.amount, document.due_date, plans.get(item.document_id), on)
        if not due.amount:
            continue
        bookings = len(reader.balances(document_id=item.document_id))
        request = CollectionRequest(
            document_id=item.document_id,
            number=document.number or item.document_id,
            account_id=item.account_id,
            amount=due,
            due_date=on,
            idempotency_key=idempotency_key(item.document_id, bookings, attempt),
            mandate=active_mandate(reader, item.account_id, on),
            description=f"{document.number} {document.seller.name}",
        )
        found.setdefault(accounts[item.account_id], []).append(request)
    return found


def collect_due(
    store: Store, plugins: Plugins, *, as_of: date, provider: str | None = None, attempt: int = 1
) -> CollectionResult:
    """Collect what is due on *as_of* through the accounts' providers (only *provider*'s
    accounts, if given) and book the answers, in one transaction.

    Repeating it is safe: each request carries an idempotency key, and each event is
    booked once. After a decline, pass *attempt* = 2, 3 … to ask again with a new key.
    """
    if attempt < 1:
        raise ValidationError("attempt", attempt, "must be 1 or more")
    providers = plugins.providers()
    requests: list[CollectionRequest] = []
    skipped: list[Skipped] = []
    applied = Applied()
    with store.transaction() as tx:
        methods = None if provider is None else {provider}
        for method, asked in due_requests(tx, on=as_of, methods=methods, attempt=attempt).items():
            if method not in providers:
                reason = f"payment method {method!r}: no provider plugin has that name"
                skipped += [Skipped(r.document_id, r.number, reason) for r in asked]
                continue
            events = providers[method].collect(asked)
            _check_answers(method, {r.document_id for r in asked}, events)
            requests += asked
            applied += book_events(tx, method, events)
    return CollectionResult(tuple(requests), applied, tuple(skipped))


def _check_answers(provider: str, asked: Collection[str], events: Sequence[ProviderEvent]) -> None:
    for event in events:
        if not isinstance(event, ProviderEvent):
            raise PluginError(f"provider {provider!r}: answered {event!r}, not a ProviderEvent")
        if event.document_id not in asked:
            raise PluginError(
                f"provider {provider!r}: answered for document {event.document_id!r}, "
                "which it was not asked to collect"
            )


def refund_payment(
    store: Store,
    plugins: Plugins,
    document: Invoice | str,
    amount: Money,
    *,
    on: date,
    provider: str | None = None,
) -> ProviderEvent:
    """Refund *amount* of what the provider collected on *document* (by default through
    the provider its account pays with) and book the answer; never more than was paid.

    A declined refund raises :class:`~juston.StateError`; a pending one books nothing
    yet (its ``REFUNDED`` event comes later, e.g. by webhook).
    """
    with store.transaction() as tx:
        doc = tx.document(document if isinstance(document, str) else _stored_id(document))
        assert doc.id is not None
        name = provider or tx.account(doc.account_id).payment_method
        if name is None:
            raise ValidationError(
                "provider", None, f"account {doc.account_id} pays by bank transfer; name a provider"
            )
        balances = tx.balances(document_id=doc.id)
        paid = paid_amount(balances, doc.currency)
        if not isinstance(amount, Money) or amount.currency != doc.currency or amount.amount <= 0:
            raise ValidationError(
                "amount", amount, f"must be a positive amount in {doc.currency.code}"
            )
        # Checked before the provider is asked, so it is never asked to refund too much.
        if amount > paid:
            raise ValidationError(
                "amount", amount, f"exceeds what was paid on {doc.number} ({paid})"
            )
        request = RefundRequest(
            document_id=doc.id,
            number=doc.number or doc.id,
            account_id=doc.account_id,
            amount=amount,
            payment_reference=_last_payment(tx, name, doc.id, doc.account_id),
            idempotency_key=f"{doc.id}:refund:{len(balances)}",
            on=on,
        )
        event = plugins.provider(name).refund(request)
        if not isinstance(event, ProviderEvent) or event.document_id != doc.id:
            raise PluginError(f"provider {name!r}: answered a refund of {doc.id} with {event!r}")
        if event.kind is EventKind.FAILED:
            raise StateError(f"refund of {doc.number}: {name} declined it ({event.reason})")
        if event.kind not in (EventKind.REFUNDED, EventKind.PENDING):
            raise PluginError(
                f"provider {name!r}: answered a refund with a {event.kind.value} event"
            )
        book_events(tx, name, [event], strict=True)
    return event


def _stored_id(document: Invoice) -> str:
    if document.id is None:
        raise ValidationError("document", document.number, "is not stored (it has no id)")
    return document.id


def _last_payment(tx: Transaction, provider: str, document_id: str, account_id: str) -> str | None:
    """The provider's reference of its latest payment on the document, if any."""
    references = [
        e.reference
        for e in tx.payment_entries(account_id=account_id)
        if e.method == provider and document_id in e.document_ids and e.amount.amount > 0
    ]
    return references[-1] if references else None
