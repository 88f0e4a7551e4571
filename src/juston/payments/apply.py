"""Booking provider events, each once, however often a provider delivers it.

Every booking has an id made from the provider's name and the event's id, so an event
seen before is recognised and changes nothing:

* ``PAID``: a payment entry ``<provider>:<event id>`` (method: the provider), assigned
  to the document (what exceeds its open amount stays on the account);
* ``CHARGEBACK``: a chargeback ``chargeback:<provider>:<event id>`` plus its fee, which
  reopens the document;
* ``REFUNDED``: a refund ``refund:<provider>:<event id>``;
* ``PENDING`` and ``FAILED``: nothing, they are only reported.

The core's rules hold for providers too: a chargeback or refund of more than was paid
on the document is refused (reported as rejected, nothing booked).

    >>> from datetime import date
    >>> import juston
    >>> store = juston.testing.sample_store(accounts=1)
    >>> [invoice] = juston.finalize(store, juston.invoice_run(store, date(2026, 1, 1)).documents)
    >>> paid = ProviderEvent(id="evt_1", kind=EventKind.PAID, document_id=invoice.id,
    ...                      amount=invoice.total, date=date(2026, 1, 9))
    >>> len(apply_events(store, "fake", [paid]).booked), len(apply_events(store, "fake", [paid]).duplicate)
    (1, 1)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Literal

import attrs

from ..errors import NotFound, StateError, ValidationError
from ..model.documents import Invoice
from ..model.receivables import PaymentEntry
from ..receivables.matching import Match
from ..receivables.movements import book_chargeback, book_refund
from ..receivables.payments import assign_entry
from ..storage.base import Store, Transaction
from .base import EventKind, ProviderEvent

if TYPE_CHECKING:
    from ..plugins import Plugins

__all__ = ["Applied", "apply_events", "book_events", "receive_events"]

Outcome = Literal["booked", "duplicate", "pending", "failed", "queued"]


@attrs.frozen
class Applied:
    """What booking a sequence of events did, event by event."""

    booked: tuple[ProviderEvent, ...] = ()
    #: Seen before: nothing changed.
    duplicate: tuple[ProviderEvent, ...] = ()
    pending: tuple[ProviderEvent, ...] = ()
    failed: tuple[ProviderEvent, ...] = ()
    #: Money received that could not be assigned (another currency …): stored as a
    #: payment entry that waits in the payment queue with the reason.
    queued: tuple[ProviderEvent, ...] = ()
    #: Refused by the core (more back than was paid, an unknown document …), with the
    #: reason; nothing was stored, so delivering the event again tries again.
    rejected: tuple[tuple[ProviderEvent, str], ...] = ()

    def __add__(self, other: Applied) -> Applied:
        return Applied(
            booked=self.booked + other.booked,
            duplicate=self.duplicate + other.duplicate,
            pending=self.pending + other.pending,
            failed=self.failed + other.failed,
            queued=self.queued + other.queued,
            rejected=self.rejected + other.rejected,
        )

    def __str__(self) -> str:
        counts = [(len(getattr(self, f.name)), f.name) for f in attrs.fields(Applied)]
        return ", ".join(f"{count} {name}" for count, name in counts if count) or "nothing"


def book_events(
    tx: Transaction, provider: str, events: Iterable[ProviderEvent], *, strict: bool = False
) -> Applied:
    """Book *events* of *provider* inside an open transaction; see the module docs.

    With *strict*, an event the core refuses raises its error instead of being reported.
    """
    found: dict[Outcome, list[ProviderEvent]] = {}
    rejected: list[tuple[ProviderEvent, str]] = []
    for event in events:
        if not isinstance(event, ProviderEvent):
            raise ValidationError("events", event, "is not a ProviderEvent")
        try:
            outcome = _book(tx, provider, event)
        # Only the core's refusals: a failing store (StorageError) still aborts the call.
        except (ValidationError, StateError, NotFound) as exc:
            if strict:
                raise
            rejected.append((event, str(exc)))
        else:
            found.setdefault(outcome, []).append(event)
    return Applied(
        booked=tuple(found.get("booked", ())),
        duplicate=tuple(found.get("duplicate", ())),
        pending=tuple(found.get("pending", ())),
        failed=tuple(found.get("failed", ())),
        queued=tuple(found.get("queued", ())),
        rejected=tuple(rejected),
    )


def _book(tx: Transaction, provider: str, event: ProviderEvent) -> Outcome:
    if event.kind is EventKind.PENDING:
        return "pending"
    if event.kind is EventKind.FAILED:
        return "failed"
    key = f"{provider}:{event.id}"
    document = tx.document(event.document_id)
    if event.kind is EventKind.PAID:
        return _book_paid(tx, provider, key, event, document)
    stem = f"{'chargeback' if event.kind is EventKind.CHARGEBACK else 'refund'}:{key}"
    if tx.known_balances([stem]):
        return "duplicate"
    if event.kind is EventKind.CHARGEBACK:
        # The cause names why the payer took it back (MD06 …) when the provider says.
        cause = event.reason or key
        book_chargeback(
            tx, document, event.amount, on=event.date, fee=event.fee, reference=cause, stem=stem
        )
    else:
        book_refund(tx, document, event.amount, on=event.date, reference=key, stem=stem)
    return "booked"


def _book_paid(
    tx: Transaction, provider: str, key: str, event: ProviderEvent, document: Invoice
) -> Outcome:
    try:
        tx.payment_entry(key)
    except NotFound:
        pass
    else:
        return "duplicate"
    entry = PaymentEntry(
        id=key,
        amount=event.amount,
        booking_date=event.date,
        reference=event.reference or document.number or "",
        method=provider,
        mandate_reference=event.mandate_reference,
        end_to_end_id=event.end_to_end_id,
        source=provider,
    )
    # The provider names the document, so no matching: assign it there directly (money
    # beyond its open amount, e.g. when it was paid meanwhile, stays on the account).
    found = Match(document.account_id, (event.document_id,), f"{provider} payment {event.id}")
    done = assign_entry(tx, entry, found)
    tx.put_payment_entries([done])
    return "queued" if done.is_open else "booked"


def apply_events(store: Store, provider: str, events: Iterable[ProviderEvent]) -> Applied:
    """Book the *events* of the provider named *provider* in one transaction, each once."""
    with store.transaction() as tx:
        return book_events(tx, provider, events)


def receive_events(
    store: Store, plugins: Plugins, provider: str, payload: bytes, headers: Mapping[str, str]
) -> Applied:
    """Book the events of a message (a webhook) the provider named *provider* sent: the
    provider reads it (checking its signature), and each event is booked once.

    Call it from your web handler with the request body and headers."""
    events = plugins.provider(provider).parse_events(payload, headers)
    return apply_events(store, provider, events)
