"""A payment provider for tests and demos: in memory, deterministic, scriptable.

It behaves as a well-made provider should (it charges once per idempotency key, never
refunds more than a payment, signs its webhooks) and can be told to decline documents,
to answer ``PENDING`` first, and to report chargebacks:

    >>> from datetime import date
    >>> from juston import money
    >>> from juston.payments import CollectionRequest
    >>> fake = FakeProvider()
    >>> request = CollectionRequest(document_id="D1", number="INV-1", account_id="C-1",
    ...     amount=money("119.00", "EUR"), due_date=date(2026, 2, 15), idempotency_key="D1:1")
    >>> [e.kind.value for e in fake.collect([request])], [e.kind.value for e in fake.collect([request])]
    (['paid'], ['paid'])
    >>> fake.charges
    1
    >>> payload, headers = fake.payload_for(fake.chargeback("pay_1", on=date(2026, 3, 2)))
    >>> [e.kind.value for e in fake.parse_events(payload, headers)]
    ['chargeback']
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Collection, Mapping, Sequence
from datetime import date

import attrs
from moneyed import Money

from ..errors import PluginError
from ..money import money
from ..payments.base import CollectionRequest, EventKind, ProviderEvent, RefundRequest

__all__ = ["FakeProvider"]

SIGNATURE = "X-Fake-Signature"


@attrs.define
class FakeProvider:
    """An in-memory provider named *name* (default ``fake``).

    *decline*: document ids or numbers whose collections fail. *pending*: collections
    answer ``PENDING``, and :meth:`settle` later reports them ``PAID``. *chargeback_fee*:
    the fee :meth:`chargeback` reports unless told another.
    """

    name: str = "fake"
    decline: Collection[str] = ()
    pending: bool = False
    chargeback_fee: Money | None = None
    secret: bytes = b"fake-webhook-secret"
    #: Every event it ever reported, in order (its "dashboard").
    events: list[ProviderEvent] = attrs.field(factory=list, init=False)
    # The answers per idempotency key: collections, and refunds.
    _collected: dict[str, list[ProviderEvent]] = attrs.field(factory=dict, init=False)
    _refunds: dict[str, ProviderEvent] = attrs.field(factory=dict, init=False)

    @property
    def charges(self) -> int:
        """How many payments it started (what the customer's statement would show)."""
        return len(
            {e.reference for e in self.events if e.kind in (EventKind.PAID, EventKind.PENDING)}
        )

    def _event(
        self, kind: EventKind, like: ProviderEvent | None = None, **fields: object
    ) -> ProviderEvent:
        values: dict[str, object] = {} if like is None else attrs.asdict(like, recurse=False)
        values.update(fields, id=f"evt_{len(self.events) + 1}", kind=kind)
        event = ProviderEvent(**values)  # type: ignore[arg-type]
        self.events.append(event)
        return event

    def collect(self, requests: Sequence[CollectionRequest]) -> Sequence[ProviderEvent]:
        answers: list[ProviderEvent] = []
        for request in requests:
            if request.idempotency_key not in self._collected:
                self._collected[request.idempotency_key] = [self._charge(request)]
            answers.extend(self._collected[request.idempotency_key])
        return answers

    def _charge(self, request: CollectionRequest) -> ProviderEvent:
        declined = request.document_id in self.decline or request.number in self.decline
        kind = (
            EventKind.FAILED if declined else EventKind.PENDING if self.pending else EventKind.PAID
        )
        return self._event(
            kind,
            document_id=request.document_id,
            amount=request.amount,
            date=request.due_date,
            reference=f"pay_{len(self._collected) + 1}",
            idempotency_key=request.idempotency_key,
            reason="card_declined" if declined else None,
        )

    def settle(self, on: date) -> list[ProviderEvent]:
        """Report every pending payment paid on *on* (the events a webhook would bring)."""
        waiting = [e for e in self._latest().values() if e.kind is EventKind.PENDING]
        return [self._event(EventKind.PAID, e, date=on) for e in waiting]

    def chargeback(
        self, reference: str, *, on: date, fee: Money | None = None, reason: str = "fraudulent"
    ) -> ProviderEvent:
        """Report that the payer took payment *reference* back."""
        paid = self._paid(reference)
        if paid is None:
            raise PluginError(f"fake provider: no payment {reference!r}")
        return self._event(
            EventKind.CHARGEBACK, paid, date=on, fee=fee or self.chargeback_fee, reason=reason
        )

    def refund(self, request: RefundRequest) -> ProviderEvent:
        if request.idempotency_key not in self._refunds:
            self._refunds[request.idempotency_key] = self._refund(request)
        return self._refunds[request.idempotency_key]

    def _refund(self, request: RefundRequest) -> ProviderEvent:
        fields: dict[str, object] = {
            "document_id": request.document_id, "date": request.on, "amount": request.amount,
            "idempotency_key": request.idempotency_key, "reason": None,
        }  # fmt: skip
        paid = self._paid(request.payment_reference or "")
        if paid is None:
            return self._event(EventKind.FAILED, None, **{**fields, "reason": "no such payment"})
        refunded = [
            e.amount
            for e in self.events
            if e.reference == paid.reference and e.kind is EventKind.REFUNDED
        ]
        left = paid.amount - sum(refunded, paid.amount * 0)
        if request.amount > left:
            reason = f"exceeds what is left of the payment ({left})"
            return self._event(EventKind.FAILED, paid, **{**fields, "reason": reason})
        return self._event(EventKind.REFUNDED, paid, **fields)

    def _paid(self, reference: str) -> ProviderEvent | None:
        return next(
            (e for e in self.events if e.reference == reference and e.kind is EventKind.PAID), None
        )

    def _latest(self) -> dict[str, ProviderEvent]:
        return {e.reference or "": e for e in self.events}

    def status(self, reference: str) -> ProviderEvent | None:
        return self._latest().get(reference)

    # --- webhooks ---------------------------------------------------------------------

    def payload_for(self, *events: ProviderEvent) -> tuple[bytes, dict[str, str]]:
        """The signed webhook message that delivers *events*."""
        body = json.dumps([_encode(e) for e in events], sort_keys=True).encode()
        return body, {SIGNATURE: hmac.new(self.secret, body, hashlib.sha256).hexdigest()}

    def parse_events(self, payload: bytes, headers: Mapping[str, str]) -> Sequence[ProviderEvent]:
        expected = hmac.new(self.secret, payload, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, headers.get(SIGNATURE, "")):
            raise PluginError("fake provider: the webhook signature does not verify")
        return [_decode(item) for item in json.loads(payload)]


def _encode(event: ProviderEvent) -> dict[str, object]:
    values = attrs.asdict(event, recurse=False)
    for name in ("amount", "fee"):
        amount = values[name]
        values[name] = None if amount is None else [str(amount.amount), amount.currency.code]
    values["kind"] = event.kind.value
    values["date"] = event.date.isoformat()
    return values


def _decode(item: dict[str, object]) -> ProviderEvent:
    values = dict(item)
    for name in ("amount", "fee"):
        pair = values[name]
        values[name] = None if pair is None else money(*pair)  # type: ignore[misc]
    values["date"] = date.fromisoformat(str(values["date"]))
    return ProviderEvent(**values)  # type: ignore[arg-type]
