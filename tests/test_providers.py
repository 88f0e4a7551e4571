"""Payment providers: the hook, collecting what is due (installments), events booked once,
refunds, chargebacks, webhooks. Figures are worked by hand: a month of a 100.00 flat fee
with 19 % German VAT is an invoice of 119.00."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import attrs
import pytest

from juston import (
    Account,
    Address,
    BillingType,
    Flat,
    Invoice,
    Item,
    MemoryStore,
    PluginError,
    Plugins,
    Product,
    StateError,
    Subscription,
    ValidationError,
    finalize,
    invoice_run,
    money,
)
from juston.model.receivables import BalanceType, Installment, InstallmentPlan, PaymentEntry
from juston.payments import (
    EventKind,
    ProviderEvent,
    ProviderPlugin,
    apply_events,
    collect_due,
    receive_events,
    refund_payment,
)
from juston.payments.collect import due_requests
from juston.receivables import document_state, register_payment
from juston.testing import sample_company
from juston.testing.fake_provider import FakeProvider

PLATFORM = Product(code="PLATFORM", name="Platform", unit_code="MON")
JAN_1 = date(2026, 1, 1)
JAN_15 = date(2026, 1, 15)  # due date: 14 days


def eur(amount: str):
    return money(amount, "EUR")


def make_store(*, creditor_id: str | None = "DE98ZZZ09999999999") -> MemoryStore:
    return MemoryStore(attrs.evolve(sample_company(), creditor_id=creditor_id))


def bill(
    store: MemoryStore,
    account_id: str,
    *,
    method: str | None,
    fee: str = "100.00",
    terms: str = "14d",
    currency: str = "EUR",
) -> Invoice:
    """A finalized invoice of a new account billed a month of *fee* net on 1 January."""
    store.put_account(
        Account(
            id=account_id, name=f"Kunde {account_id}", currency=currency, payment_terms=terms,
            billing_address=Address(street="Ring 2", postcode="80331", city="München", country="DE"),
            payment_method=method,
        )
    )  # fmt: skip
    item = Item(
        id="platform", product=PLATFORM, price=Flat(money(fee, currency)), quantity=Decimal(1),
        billing_type=BillingType.ONE_TIME,
    )  # fmt: skip
    store.put_subscription(
        Subscription(number=f"S-{account_id}", account_id=account_id, start=JAN_1, items=[item])
    )
    [invoice] = finalize(store, invoice_run(store, JAN_1, accounts=[account_id]).documents)
    return invoice


def two_installments(store: MemoryStore, invoice: Invoice) -> None:
    """119.00 as 60.00 due 1 February and 59.00 due 1 March."""
    assert invoice.id is not None
    plan = InstallmentPlan(
        document_id=invoice.id,
        installments=[
            Installment(due_date=date(2026, 2, 1), amount=eur("60.00")),
            Installment(due_date=date(2026, 3, 1), amount=eur("59.00")),
        ],
    )
    with store.transaction() as tx:
        tx.put_installment_plan(plan)


def with_providers(*providers: object) -> Plugins:
    plugins = Plugins.load(entry_points=False)
    plugins.register(ProviderPlugin(*providers))  # type: ignore[arg-type]
    return plugins


def open_amount(store: MemoryStore, invoice: Invoice):
    return document_state(store, invoice).open


@pytest.fixture
def fake() -> FakeProvider:
    return FakeProvider()


# --- the hook ---------------------------------------------------------------------------


def test_the_built_in_providers_are_plugins() -> None:
    providers = Plugins.load(entry_points=False).providers()
    assert sorted(providers) == ["bank_transfer", "sepa_direct_debit"]


def test_a_plugin_provider_replaces_a_built_in_one_of_the_same_name() -> None:
    mine = FakeProvider(name="bank_transfer")
    assert with_providers(mine).provider("bank_transfer") is mine


def test_an_unknown_provider_names_the_ones_there_are() -> None:
    with pytest.raises(
        PluginError, match="no provider 'stripe'; there are bank_transfer, sepa_direct_debit"
    ):
        Plugins.load(entry_points=False).provider("stripe")


def test_a_plugin_offering_something_else_is_an_error() -> None:
    with pytest.raises(PluginError, match="is not a PaymentProvider"):
        with_providers(object()).providers()


# --- collecting what is due -------------------------------------------------------------


def test_an_invoice_is_collected_from_its_due_date(fake: FakeProvider) -> None:
    store = make_store()
    invoice = bill(store, "C-1", method="fake")
    plugins = with_providers(fake)
    assert invoice.total == eur("119.00") and invoice.due_date == JAN_15
    assert collect_due(store, plugins, as_of=date(2026, 1, 14)).requests == ()
    result = collect_due(store, plugins, as_of=JAN_15)
    [request] = result.requests
    assert (request.amount, request.number, request.due_date) == (
        eur("119.00"),
        invoice.number,
        JAN_15,
    )
    assert [e.kind for e in result.applied.booked] == [EventKind.PAID]
    assert open_amount(store, invoice) == eur("0.00")
    [entry] = store.payment_entries()
    assert (entry.id, entry.method, entry.document_ids) == ("fake:evt_1", "fake", (invoice.id,))


def test_only_the_installments_due_are_collected(fake: FakeProvider) -> None:
    store = make_store()
    invoice = bill(store, "C-1", method="fake")
    two_installments(store, invoice)
    plugins = with_providers(fake)
    assert collect_due(store, plugins, as_of=JAN_15).requests == ()  # nothing due before 1 Feb
    [feb] = collect_due(store, plugins, as_of=date(2026, 2, 15)).requests
    assert feb.amount == eur("60.00")
    assert open_amount(store, invoice) == eur("59.00")
    assert collect_due(store, plugins, as_of=date(2026, 2, 28)).requests == ()
    [mar] = collect_due(store, plugins, as_of=date(2026, 3, 15)).requests
    assert mar.amount == eur("59.00")
    assert document_state(store, invoice).is_paid
    assert fake.charges == 2


def test_a_late_run_collects_every_installment_due_by_then(fake: FakeProvider) -> None:
    store = make_store()
    invoice = bill(store, "C-1", method="fake")
    two_installments(store, invoice)
    [request] = collect_due(store, with_providers(fake), as_of=date(2026, 3, 1)).requests
    assert request.amount == eur("119.00")


def test_collecting_again_charges_nothing(fake: FakeProvider) -> None:
    store = make_store()
    bill(store, "C-1", method="fake")
    plugins = with_providers(fake)
    collect_due(store, plugins, as_of=JAN_15)
    again = collect_due(store, plugins, as_of=JAN_15)
    assert again.requests == () and str(again.applied) == "nothing"
    assert fake.charges == 1


def test_a_run_after_a_crash_gets_the_first_charge_back(fake: FakeProvider) -> None:
    store = make_store()
    invoice = bill(store, "C-1", method="fake")
    two_installments(store, invoice)
    plugins = with_providers(fake)
    # On 15 Feb the provider charged 60.00, and the process died before booking it.
    [request] = due_requests(store, on=date(2026, 2, 15))["fake"]
    assert request.amount == eur("60.00")
    fake.collect([request])
    assert open_amount(store, invoice) == eur("119.00") and fake.charges == 1
    # The next run, a month later, asks with the same key: the 60.00 charge is booked,
    # not a second charge of 119.00.
    result = collect_due(store, plugins, as_of=date(2026, 3, 15))
    assert [e.amount for e in result.applied.booked] == [eur("60.00")]
    assert fake.charges == 1 and open_amount(store, invoice) == eur("59.00")


def test_bank_transfer_accounts_are_not_asked_for() -> None:
    store = make_store()
    bill(store, "C-1", method=None)
    bill(store, "C-2", method="bank_transfer")
    result = collect_due(store, Plugins.load(entry_points=False), as_of=JAN_15)
    assert [r.account_id for r in result.requests] == ["C-2"]
    assert str(result.applied) == "nothing" and not list(store.payment_entries())


def test_an_account_of_an_unknown_provider_is_skipped_with_the_reason() -> None:
    store = make_store()
    invoice = bill(store, "C-1", method="stripe")
    result = collect_due(store, Plugins.load(entry_points=False), as_of=JAN_15)
    [skipped] = result.skipped
    assert skipped.number == invoice.number and "'stripe': no provider plugin" in skipped.reason


def test_only_the_named_provider_collects(fake: FakeProvider) -> None:
    store = make_store()
    bill(store, "C-1", method="fake")
    bill(store, "C-2", method="other")
    other = FakeProvider(name="other")
    result = collect_due(store, with_providers(fake, other), as_of=JAN_15, provider="other")
    assert [r.account_id for r in result.requests] == ["C-2"]
    assert (fake.charges, other.charges) == (0, 1)


def test_a_declined_collection_books_nothing_until_asked_again() -> None:
    store = make_store()
    invoice = bill(store, "C-1", method="fake")
    fake = FakeProvider(decline={invoice.number})
    plugins = with_providers(fake)
    result = collect_due(store, plugins, as_of=JAN_15)
    assert [e.reason for e in result.applied.failed] == ["card_declined"]
    # The same state asks with the same key: the provider repeats its answer.
    assert collect_due(store, plugins, as_of=date(2026, 1, 16)).applied.failed
    fake.decline = ()
    retried = collect_due(store, plugins, as_of=date(2026, 1, 16), attempt=2)
    assert [e.kind for e in retried.applied.booked] == [EventKind.PAID]
    assert open_amount(store, invoice) == eur("0.00")


def test_a_provider_answering_for_another_document_is_an_error(fake: FakeProvider) -> None:
    store = make_store()
    bill(store, "C-1", method="fake")

    @attrs.define
    class Confused(FakeProvider):
        def collect(self, requests):  # type: ignore[no-untyped-def]
            return [attrs.evolve(e, document_id="D-other") for e in super().collect(requests)]

    with pytest.raises(PluginError, match="which it was not asked to collect"):
        collect_due(store, with_providers(Confused()), as_of=JAN_15)


# --- events: pending, webhooks, chargebacks ----------------------------------------------


def test_a_pending_payment_books_when_the_webhook_says_paid() -> None:
    store = make_store()
    invoice = bill(store, "C-1", method="fake")
    fake = FakeProvider(pending=True)
    plugins = with_providers(fake)
    assert collect_due(store, plugins, as_of=JAN_15).applied.pending
    # Asked again while pending: the same key, so no second charge.
    assert collect_due(store, plugins, as_of=date(2026, 1, 16)).applied.pending
    assert fake.charges == 1 and open_amount(store, invoice) == eur("119.00")
    payload, headers = fake.payload_for(*fake.settle(date(2026, 1, 18)))
    assert len(receive_events(store, plugins, "fake", payload, headers).booked) == 1
    assert len(receive_events(store, plugins, "fake", payload, headers).duplicate) == 1
    assert document_state(store, invoice).paid_on == date(2026, 1, 18)


def test_a_forged_webhook_is_refused(fake: FakeProvider) -> None:
    store = make_store()
    bill(store, "C-1", method="fake")
    plugins = with_providers(fake)
    [paid] = collect_due(store, plugins, as_of=JAN_15).applied.booked
    payload, _ = fake.payload_for(fake.chargeback(paid.reference, on=date(2026, 2, 2)))
    with pytest.raises(PluginError, match="signature"):
        receive_events(store, plugins, "fake", payload, {"X-Fake-Signature": "0" * 64})


def test_a_chargeback_reopens_the_invoice_with_the_fee_once(fake: FakeProvider) -> None:
    store = make_store()
    invoice = bill(store, "C-1", method="fake")
    plugins = with_providers(fake)
    [paid] = collect_due(store, plugins, as_of=JAN_15).applied.booked
    back = fake.chargeback(paid.reference, on=date(2026, 2, 2), fee=eur("15.00"))
    payload, headers = fake.payload_for(back)
    for _ in range(2):
        receive_events(store, plugins, "fake", payload, headers)
    state = document_state(store, invoice)
    assert state.open == eur("134.00") and not state.is_paid  # 119.00 back + 15.00 fee
    kinds = {b.id: (b.type, b.amount) for b in store.balances(document_id=invoice.id)}
    assert kinds[f"chargeback:fake:{back.id}"] == (BalanceType.CHARGEBACK, eur("119.00"))
    assert kinds[f"chargeback:fake:{back.id}:fee"] == (BalanceType.CHARGEBACK_FEE, eur("15.00"))
    # Collected again next run: what is open, fee included.
    [again] = collect_due(store, plugins, as_of=date(2026, 2, 3)).requests
    assert again.amount == eur("134.00")


def test_the_core_refuses_an_event_taking_back_more_than_was_paid(fake: FakeProvider) -> None:
    store = make_store()
    invoice = bill(store, "C-1", method="fake")
    event = ProviderEvent(id="cb-1", kind=EventKind.CHARGEBACK, document_id=invoice.id,
                          amount=eur("119.00"), date=JAN_15)  # fmt: skip
    applied = apply_events(store, "fake", [event])
    [(rejected, reason)] = applied.rejected
    assert rejected == event and "exceeds what was paid" in reason
    assert open_amount(store, invoice) == eur("119.00")


def test_money_for_a_document_paid_meanwhile_stays_on_the_account(fake: FakeProvider) -> None:
    store = make_store()
    invoice = bill(store, "C-1", method="fake")
    register_payment(store, PaymentEntry(id="bank-1", amount=eur("119.00"), booking_date=JAN_15,
                                         reference=invoice.number or ""))  # fmt: skip
    event = ProviderEvent(id="late", kind=EventKind.PAID, document_id=invoice.id,
                          amount=eur("119.00"), date=JAN_15)  # fmt: skip
    assert apply_events(store, "fake", [event]).booked
    free = [b for b in store.balances(account_id="C-1") if b.document_id is None]
    assert [b.amount for b in free] == [eur("-119.00")]


# --- refunds ---------------------------------------------------------------------------


def test_a_refund_goes_through_the_provider_and_reopens_what_it_refunds(fake: FakeProvider) -> None:
    store = make_store()
    invoice = bill(store, "C-1", method="fake")
    plugins = with_providers(fake)
    collect_due(store, plugins, as_of=JAN_15)
    event = refund_payment(store, plugins, invoice, eur("19.00"), on=date(2026, 1, 20))
    assert (event.kind, event.reference) == (EventKind.REFUNDED, "pay_1")
    assert open_amount(store, invoice) == eur("19.00")
    with pytest.raises(ValidationError, match="exceeds what was paid"):
        refund_payment(store, plugins, invoice, eur("100.01"), on=date(2026, 1, 21))
    assert [e.kind for e in fake.events].count(EventKind.REFUNDED) == 1


def test_a_bank_transfer_refund_is_declined_with_how_to_pay_it() -> None:
    store = make_store()
    invoice = bill(store, "C-1", method=None)
    register_payment(store, PaymentEntry(id="bank-1", amount=eur("119.00"), booking_date=JAN_15,
                                         reference=invoice.number or ""))  # fmt: skip
    plugins = Plugins.load(entry_points=False)
    with pytest.raises(ValidationError, match="pays by bank transfer"):
        refund_payment(store, plugins, invoice, eur("10.00"), on=JAN_15)
    with pytest.raises(StateError, match=r"juston\.receivables\.refund"):
        refund_payment(store, plugins, invoice, eur("10.00"), on=JAN_15, provider="bank_transfer")
    assert open_amount(store, invoice) == eur("0.00")
