"""The payment-provider seam: what a provider plugin offers, and the values it trades in.

A provider collects money for documents (a card processor, a direct-debit service),
refunds it, reports the state of a payment and reads its own event messages (webhooks).
It never touches the store: it answers with :class:`ProviderEvent` values, and juston
books them (:func:`juston.payments.apply_events`), each event once. Providers are found
through the ``juston_payment_providers`` hook and picked by the account's
``payment_method``.

    >>> from datetime import date
    >>> from juston import money
    >>> event = ProviderEvent(id="evt_1", kind=EventKind.PAID, document_id="D1",
    ...                       amount=money("119.00", "EUR"), date=date(2026, 2, 15))
    >>> event.kind.value
    'paid'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any, Protocol, runtime_checkable

import attrs
from moneyed import Money

from .._enum import Enum
from .._fields import as_money, as_optional_money, check_date, check_text
from ..errors import ValidationError
from ..model.mandates import Mandate

__all__ = [
    "CollectionRequest",
    "EventKind",
    "PaymentProvider",
    "ProviderEvent",
    "RefundRequest",
]


def _amount(value: object) -> Money:
    amount = as_money(value, "amount")
    if amount.amount <= 0:
        raise ValidationError("amount", amount, "must be greater than zero")
    return amount


def _optional_fee(value: object) -> Money | None:
    fee = as_optional_money(value, "fee")
    if fee is not None and fee.amount <= 0:
        raise ValidationError("fee", fee, "must be greater than zero (or None)")
    return fee


def _check_optional_mandate(instance: object, field: attrs.Attribute[Any], value: object) -> None:
    if value is not None and not isinstance(value, Mandate):
        raise ValidationError(field.name, value, "is not a Mandate")


@attrs.frozen(kw_only=True)
class _Request:
    """What every request names: an amount on one document, and the request's key."""

    document_id: str = attrs.field(validator=check_text)
    number: str = attrs.field(validator=check_text)
    account_id: str = attrs.field(validator=check_text)
    amount: Money = attrs.field(converter=_amount)
    idempotency_key: str = attrs.field(validator=check_text)


@attrs.frozen(kw_only=True)
class CollectionRequest(_Request):
    """Collect *amount* for one document (an invoice, or its installments now due).

    *idempotency_key* is deterministic from the document's state: a provider must charge
    at most once per key, and answer a key it has seen with that collection's events.
    """

    #: The day to collect on (the run's date, or a direct debit's collection date).
    due_date: date = attrs.field(validator=check_date)
    #: The account's mandate active on *due_date* (direct debit), if it has one.
    mandate: Mandate | None = attrs.field(default=None, validator=_check_optional_mandate)
    #: The text the payer sees (remittance information).
    description: str = ""


@attrs.frozen(kw_only=True)
class RefundRequest(_Request):
    """Pay back *amount* of the provider's payment *payment_reference* on a document.

    juston never asks for more than was paid on the document; a provider must also
    refuse more than its payment (answer ``FAILED``). A provider must refund at most
    once per idempotency key.
    """

    #: The provider's reference of the payment refunded (``ProviderEvent.reference``).
    payment_reference: str | None
    on: date = attrs.field(validator=check_date)


class EventKind(Enum):
    """What happened to a payment, as the provider reports it."""

    #: Accepted, not settled yet (books nothing; a later PAID or FAILED follows).
    PENDING = "pending"
    #: Money received: a payment on the document.
    PAID = "paid"
    #: Declined or failed: books nothing.
    FAILED = "failed"
    #: Money paid back to the payer at our request.
    REFUNDED = "refunded"
    #: Money the payer took back (a card dispute, a returned debit): reopens the document.
    CHARGEBACK = "chargeback"


@attrs.frozen(kw_only=True)
class ProviderEvent:
    """One thing a provider reports about a payment on a document.

    *id* is the provider's id of the event, unique per provider: juston books an event
    once, by that id, however often it is delivered.
    """

    id: str = attrs.field(validator=check_text)
    kind: EventKind = attrs.field(converter=EventKind)
    document_id: str = attrs.field(validator=check_text)
    #: What was paid, refunded or taken back (positive).
    amount: Money = attrs.field(converter=_amount)
    date: date = attrs.field(validator=check_date)
    #: What the provider charged for a chargeback, passed on to the customer.
    fee: Money | None = attrs.field(default=None, converter=_optional_fee)
    #: The provider's reference of the payment (what :meth:`PaymentProvider.status` takes).
    reference: str | None = None
    #: The request it answers, if any.
    idempotency_key: str | None = None
    #: Why it failed or came back (a decline code, an ISO 20022 return reason).
    reason: str | None = None
    #: For direct debits: the mandate and the end-to-end id of the debit.
    mandate_reference: str | None = None
    end_to_end_id: str | None = None


@runtime_checkable
class PaymentProvider(Protocol):
    """A payment provider; ``name`` is what ``Account.payment_method`` names.

    Every method answers with events and books nothing; juston books them.
    """

    @property
    def name(self) -> str:
        """What ``Account.payment_method`` names it by (``stripe``, ``sepa_direct_debit`` …)."""
        ...

    def collect(self, requests: Sequence[CollectionRequest]) -> Sequence[ProviderEvent]:
        """Collect each request (charging at most once per idempotency key); the events
        of each (``PAID``, ``PENDING`` or ``FAILED``). A passive method (bank transfer)
        answers nothing: its payments arrive as payment entries."""
        ...

    def refund(self, request: RefundRequest) -> ProviderEvent:
        """Refund (part of) a payment: ``REFUNDED``, ``PENDING`` or ``FAILED``."""
        ...

    def status(self, reference: str) -> ProviderEvent | None:
        """The latest event of the payment *reference*, or None if the provider has none."""
        ...

    def parse_events(self, payload: bytes, headers: Mapping[str, str]) -> Sequence[ProviderEvent]:
        """The events in a message the provider sent (a webhook); the provider checks
        its signature and raises :class:`~juston.PluginError` if it does not verify."""
        ...
