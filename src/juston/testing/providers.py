"""The payment-provider conformance kit: the :class:`~juston.payments.PaymentProvider`
contract as pytest tests.

A provider author subclasses :class:`ProviderConformance` in a test module and provides
a ``provider`` fixture that returns a fresh provider whose collections succeed at once
(a test mode with a card that pays); ``declining_provider`` (one whose collections are
declined) and ``webhook`` (a callable that turns an event into the signed message the
provider would send) make the tests that need them run instead of skip::

    import pytest
    from juston.testing.providers import ProviderConformance
    from mypackage import MyProvider

    class TestMyProvider(ProviderConformance):
        @pytest.fixture
        def provider(self):
            return MyProvider(api_key="test_...")

        @pytest.fixture
        def declining_provider(self):
            return MyProvider(api_key="test_...", card="4000000000000002")

        @pytest.fixture
        def webhook(self, provider):
            return provider.sign_test_event  # event -> (payload bytes, headers)

The class name does not start with ``Test``, so pytest does not collect the kit itself.
Each test calls a ``check_*`` function of this module, which raises AssertionError when
the provider breaks the contract; call them directly to check a provider elsewhere.

What "conforms" means: collecting with the same idempotency key twice charges once
and answers with the same events; an event delivered twice (the same webhook payload)
is booked once, and a tampered payload is refused; a refund never exceeds what was paid
(the provider refuses more than its payment, juston more than the document's);
``status`` reports a collected payment; a declined collection books nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, timedelta
from decimal import Decimal

import attrs
import pytest
from moneyed import Money

from ..billing.run import finalize, invoice_run
from ..errors import JustonError, ValidationError
from ..model.documents import Invoice
from ..payments import (
    CollectionRequest,
    EventKind,
    PaymentProvider,
    ProviderEvent,
    ProviderPlugin,
    RefundRequest,
    apply_events,
    collect_due,
    receive_events,
    refund_payment,
)
from ..payments.collect import due_requests
from ..plugins import Plugins
from ..receivables.ledger import paid_amount
from ..storage.memory import MemoryStore
from .sample import sample_store

__all__ = [
    "ProviderConformance",
    "Scenario",
    "Webhook",
    "check_collects_once",
    "check_events_apply_once",
    "check_failed_collection_books_nothing",
    "check_refunds_never_exceed_payments",
    "check_status_reports_payments",
    "scenario",
]

#: Turns an event into the message the provider would send for it: (payload, headers).
Webhook = Callable[[ProviderEvent], tuple[bytes, Mapping[str, str]]]


@attrs.frozen
class Scenario:
    """A store with one finalized invoice of an account that pays with the provider."""

    store: MemoryStore
    plugins: Plugins
    invoice: Invoice
    provider: PaymentProvider

    @property
    def paid(self) -> Money:
        return paid_amount(self.store.balances(document_id=self.invoice.id), self.invoice.currency)

    def requests(self) -> list[CollectionRequest]:
        return due_requests(self.store, on=self.invoice.due_date)[self.provider.name]

    def collect(self) -> ProviderEvent:
        """Collect the invoice through juston; the PAID event booked."""
        result = collect_due(self.store, self.plugins, as_of=self.invoice.due_date)
        paid = [e for e in result.applied.booked if e.kind is EventKind.PAID]
        assert len(paid) == 1, f"collecting one invoice booked {result.applied}, not one payment"
        assert self.paid == self.invoice.total, f"paid {self.paid}, not {self.invoice.total}"
        return paid[0]


def scenario(provider: PaymentProvider) -> Scenario:
    """A fresh :class:`Scenario` for *provider* (registered as a plugin)."""
    store = sample_store(accounts=1)
    with store.transaction() as tx:
        [account] = tx.accounts()
        tx.put_account(attrs.evolve(account, payment_method=provider.name))
    [invoice] = finalize(store, invoice_run(store, date(2026, 1, 1)).documents)
    plugins = Plugins.load(entry_points=False)
    plugins.register(ProviderPlugin(provider))
    return Scenario(store, plugins, invoice, provider)


def _refused(error: type[JustonError], call: Callable[[], object], what: str) -> None:
    # Not pytest.raises: its failure is no AssertionError, and the checks promise one.
    try:
        call()
    except error:
        return
    raise AssertionError(f"{what} was not refused with {error.__name__}")


def _cent(money: Money) -> Money:
    return money + Money(Decimal("0.01"), money.currency)


def check_collects_once(provider: PaymentProvider) -> None:
    """The same request twice (a run repeated after a crash) charges once: the second
    answer repeats the first, and booking both books one payment."""
    case = scenario(provider)
    requests = case.requests()
    first = list(provider.collect(requests))
    again = list(provider.collect(requests))
    assert [e.kind for e in first] == [EventKind.PAID], f"collecting answered {first}"
    assert {e.id for e in again} == {e.id for e in first}, (
        f"the same idempotency key charged again: first {first}, then {again}"
    )
    assert all(e.document_id == requests[0].document_id for e in first + again)
    assert first[0].amount == requests[0].amount, (
        f"asked {requests[0].amount}, paid {first[0].amount}"
    )
    apply_events(case.store, provider.name, first + again)
    assert case.paid == case.invoice.total


def check_events_apply_once(provider: PaymentProvider, webhook: Webhook) -> None:
    """An event delivered again, through the provider's own messages, books nothing; a
    tampered message is refused."""
    case = scenario(provider)
    event = case.collect()
    payload, headers = webhook(event)
    assert event.id in {e.id for e in provider.parse_events(payload, headers)}
    for _ in range(2):
        applied = receive_events(case.store, case.plugins, provider.name, payload, headers)
        assert not applied.booked, f"a delivered-again event was booked: {applied}"
    assert case.paid == case.invoice.total
    _refused(
        JustonError, lambda: provider.parse_events(payload + b" ", headers), "a tampered message"
    )


def check_refunds_never_exceed_payments(provider: PaymentProvider) -> None:
    """Neither juston nor the provider refunds more than was paid."""
    case = scenario(provider)
    paid = case.collect()
    total = case.invoice.total
    too_much_back = _cent(total)
    _refused(
        ValidationError,
        lambda: refund_payment(case.store, case.plugins, case.invoice, too_much_back, on=paid.date),
        f"refunding {too_much_back} of {total}",
    )
    assert case.paid == total, "a refused refund booked something"
    too_much = RefundRequest(
        document_id=paid.document_id, number=case.invoice.number or paid.document_id,
        account_id=case.invoice.account_id, amount=_cent(total), payment_reference=paid.reference,
        idempotency_key="conformance:too-much", on=paid.date,
    )  # fmt: skip
    try:
        answer = provider.refund(too_much)
    except JustonError:
        pass
    else:
        assert answer.kind is EventKind.FAILED, (
            f"the provider refunded more than its payment: {answer}"
        )
    part = Money(Decimal("10.00"), total.currency)
    refunded = refund_payment(case.store, case.plugins, case.invoice, part, on=paid.date)
    assert refunded.kind in (EventKind.REFUNDED, EventKind.PENDING), refunded
    left = total - part if refunded.kind is EventKind.REFUNDED else total
    assert case.paid == left
    more = _cent(left)
    _refused(
        ValidationError,
        lambda: refund_payment(case.store, case.plugins, case.invoice, more, on=paid.date),
        f"refunding {more} of what is left ({left})",
    )
    forged = attrs.evolve(
        paid, id="conformance:forged", kind=EventKind.REFUNDED, amount=_cent(left)
    )
    assert apply_events(case.store, provider.name, [forged]).rejected, (
        "the core booked too much back"
    )
    assert case.paid == left


def check_status_reports_payments(provider: PaymentProvider) -> None:
    """``status`` reports a collected payment, and None for a payment it does not know."""
    case = scenario(provider)
    paid = case.collect()
    assert paid.reference, f"a payment without a reference cannot be asked about: {paid}"
    status = provider.status(paid.reference)
    assert status is not None, f"status({paid.reference!r}) knows nothing of the payment"
    assert (status.kind, status.document_id, status.amount) == (
        EventKind.PAID, paid.document_id, paid.amount,
    ), status  # fmt: skip
    assert provider.status("conformance-no-such-payment") is None


def check_failed_collection_books_nothing(provider: PaymentProvider) -> None:
    """A declined collection is reported as failed and books nothing."""
    case = scenario(provider)
    before = case.store.balances(document_id=case.invoice.id)
    result = collect_due(case.store, case.plugins, as_of=case.invoice.due_date)
    assert result.applied.failed and not result.applied.booked, str(result.applied)
    assert case.store.balances(document_id=case.invoice.id) == before
    assert not list(case.store.payment_entries())
    later = case.invoice.due_date + timedelta(days=1)
    assert not collect_due(case.store, case.plugins, as_of=later).applied.booked


class ProviderConformance:
    """Subclass this in a test module (as ``Test...``) and provide the fixtures; see the
    module docs."""

    @pytest.fixture
    def provider(self) -> PaymentProvider:
        """A fresh provider whose collections succeed at once."""
        raise NotImplementedError(
            "provide a `provider` fixture in your ProviderConformance subclass"
        )

    @pytest.fixture
    def declining_provider(self) -> PaymentProvider:
        """A fresh provider that declines every collection."""
        pytest.skip("no `declining_provider` fixture: declined collections are not checked")

    @pytest.fixture
    def webhook(self, provider: PaymentProvider) -> Webhook:
        """The provider's message (payload, headers) for an event; by default its
        ``payload_for`` method, as :class:`~juston.testing.fake_provider.FakeProvider` has."""
        payload_for = getattr(provider, "payload_for", None)
        if payload_for is None:
            pytest.skip("no `webhook` fixture: delivering events again is not checked")
        return payload_for  # type: ignore[no-any-return]

    def test_is_a_payment_provider(self, provider: PaymentProvider) -> None:
        assert isinstance(provider, PaymentProvider)
        assert isinstance(provider.name, str) and provider.name

    def test_collects_once_per_idempotency_key(self, provider: PaymentProvider) -> None:
        check_collects_once(provider)

    def test_applies_each_event_once(self, provider: PaymentProvider, webhook: Webhook) -> None:
        check_events_apply_once(provider, webhook)

    def test_refunds_never_exceed_payments(self, provider: PaymentProvider) -> None:
        check_refunds_never_exceed_payments(provider)

    def test_status_reports_payments(self, provider: PaymentProvider) -> None:
        check_status_reports_payments(provider)

    def test_a_failed_collection_books_nothing(self, declining_provider: PaymentProvider) -> None:
        check_failed_collection_books_nothing(declining_provider)
