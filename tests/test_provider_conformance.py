"""The provider conformance kit against FakeProvider, and against broken providers it must catch."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence

import attrs
import pytest

from juston.payments import CollectionRequest, EventKind, ProviderEvent, RefundRequest
from juston.testing.fake_provider import SIGNATURE, FakeProvider
from juston.testing.providers import (
    ProviderConformance,
    check_collects_once,
    check_events_apply_once,
    check_failed_collection_books_nothing,
    check_refunds_never_exceed_payments,
    check_status_reports_payments,
)


class TestFakeProvider(ProviderConformance):
    @pytest.fixture
    def provider(self) -> FakeProvider:
        return FakeProvider()

    @pytest.fixture
    def declining_provider(self) -> FakeProvider:
        # The kit's scenario bills one invoice, the first of 2026.
        return FakeProvider(decline={"INV-2026-00001"})


class TestFakeProviderUnderAnotherName(ProviderConformance):
    """A plugin's provider may take any name; the kit bills an account that uses it."""

    @pytest.fixture
    def provider(self) -> FakeProvider:
        return FakeProvider(name="acme_pay")

    @pytest.fixture
    def declining_provider(self) -> FakeProvider:
        return FakeProvider(name="acme_pay", decline={"INV-2026-00001"})


# --- broken providers: each breaks one promise, and the kit must say so -----------------


@attrs.define
class DoubleCharging(FakeProvider):
    """Ignores the idempotency key: a repeated run charges the customer again."""

    def collect(self, requests: Sequence[CollectionRequest]) -> Sequence[ProviderEvent]:
        return [
            self._charge(attrs.evolve(r, idempotency_key=f"{r.idempotency_key}:{len(self.events)}"))
            for r in requests
        ]


@attrs.define
class NewIdOnReplay(FakeProvider):
    """Charges once, but answers a replay with a new event id (so it would be booked twice)."""

    calls: int = 0

    def collect(self, requests: Sequence[CollectionRequest]) -> Sequence[ProviderEvent]:
        self.calls += 1
        return [attrs.evolve(e, id=f"{e.id}:{self.calls}") for e in super().collect(requests)]


@attrs.define
class OverRefunding(FakeProvider):
    """Refunds whatever it is asked to."""

    def refund(self, request: RefundRequest) -> ProviderEvent:
        return self._event(
            EventKind.REFUNDED, None, document_id=request.document_id, amount=request.amount,
            date=request.on, reference=request.payment_reference,
        )  # fmt: skip


@attrs.define
class Gullible(FakeProvider):
    """Believes any webhook: it signs what it receives instead of checking the signature."""

    def parse_events(self, payload: bytes, headers: Mapping[str, str]) -> Sequence[ProviderEvent]:
        signature = hmac.new(self.secret, payload, hashlib.sha256).hexdigest()
        return super().parse_events(payload, {SIGNATURE: signature})


@attrs.define
class Forgetful(FakeProvider):
    """Cannot tell the state of a payment."""

    def status(self, reference: str) -> ProviderEvent | None:
        return None


@attrs.define
class NeverDeclines(FakeProvider):
    """Reports a declined card as paid."""

    def _charge(self, request: CollectionRequest) -> ProviderEvent:
        return attrs.evolve(super()._charge(request), kind=EventKind.PAID, reason=None)


def test_the_kit_catches_a_provider_that_charges_twice() -> None:
    with pytest.raises(AssertionError, match="charged again"):
        check_collects_once(DoubleCharging())


def test_the_kit_catches_a_provider_whose_replays_would_be_booked_again() -> None:
    with pytest.raises(AssertionError, match="charged again"):
        check_collects_once(NewIdOnReplay())


def test_the_kit_catches_a_provider_that_refunds_more_than_its_payment() -> None:
    with pytest.raises(AssertionError, match="refunded more than its payment"):
        check_refunds_never_exceed_payments(OverRefunding())


def test_the_kit_catches_a_provider_that_believes_unsigned_webhooks() -> None:
    provider = Gullible()
    with pytest.raises(AssertionError, match="tampered message"):
        check_events_apply_once(provider, provider.payload_for)


def test_the_kit_catches_a_provider_that_cannot_report_status() -> None:
    with pytest.raises(AssertionError, match="knows nothing"):
        check_status_reports_payments(Forgetful())


def test_the_kit_catches_a_provider_that_books_a_declined_charge() -> None:
    with pytest.raises(AssertionError):
        check_failed_collection_books_nothing(NeverDeclines(decline={"INV-2026-00001"}))


def test_the_checks_pass_fake_provider_when_called_directly() -> None:
    check_collects_once(FakeProvider())
    provider = FakeProvider()
    check_events_apply_once(provider, provider.payload_for)
    check_refunds_never_exceed_payments(FakeProvider())
    check_status_reports_payments(FakeProvider())
    check_failed_collection_books_nothing(FakeProvider(decline={"INV-2026-00001"}))
