"""The SQL store's fast paths of an invoice run: reading accounts and subscriptions without
validating them again, and writing documents from their shared parts.

What is read back must equal what was stored; the public constructors must go on
refusing bad input; a row the fast path cannot read goes through the constructor; and a
document row must be the codec's JSON of its fields.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import attrs
import orjson
import pytest
from hypothesis import HealthCheck, given, settings

import juston
from juston import Account, Address, Item, Product, Subscription, ValidationError, money
from juston.errors import StorageError
from juston.model._trusted import trusted
from juston.model.documents import Invoice
from juston.model.parties import BankAccount, ElectronicAddress
from juston.model.subscriptions import ItemChange
from juston.model.terms import PaymentTerms
from juston.periods import Alignment
from juston.pricing import Flat, PerUnit
from juston.storage import codec
from juston.storage.sql import SqlStore
from juston.storage.sql.bodies import _BY_CODEC, COLUMNS, Documents, row_v1
from juston.testing import sample_accounts, sample_company, sample_store
from juston.testing.conformance import _billed_documents, copy_master_data
from strategies import subscriptions

ADDRESS = Address(street="Ring 2", postcode="80331", city="München", country="DE")


def _full_account(account_id: str = "C-1") -> Account:
    """An account with every optional field set."""
    return Account(
        id=account_id,
        name="Kunde AG",
        billing_address=ADDRESS,
        currency="EUR",
        legal_address=Address(
            street="Weg 1", postcode="10115", city="Berlin", country="DE", line2="Hof", region="BE"
        ),
        shipping_address=ADDRESS,
        language="de",
        vat_id="DE136695976",
        email="rechnung@kunde.example",
        payment_terms="30d",
        time_zone="Europe/Berlin",
        buyer_reference="991-12345-67",
        electronic_address=ElectronicAddress("0204", "991-12345-67"),
        bank_account=BankAccount(iban="DE02120300000000202051", bic="BYLADEM1001"),
        payment_method="sepa_direct_debit",
    )


def _subscription(account_id: str = "C-1") -> Subscription:
    product = Product(code="SEAT", name="Seat")
    return Subscription(
        number="S-1",
        account_id=account_id,
        start=date(2026, 1, 31),
        end=date(2027, 1, 31),
        billing_period="3m",
        alignment=Alignment.CALENDAR,
        items=[
            Item(id="base", product=product, price=Flat(money(49, "EUR")), quantity="2.50"),
            Item(
                id="seats",
                product=product,
                price=PerUnit(money("12.50", "EUR")),
                quantity=5,
                start=date(2026, 2, 1),
                end=date(2026, 12, 1),
                changes=(ItemChange(effective=date(2026, 6, 1), quantity=8),),
                description="Seats",
                order_number="PO-7",
            ),
        ],
        currency="EUR",
        payment_terms="14d eom",
    )


def _derived(subscription: Subscription) -> tuple[Any, ...]:
    """What a subscription computes itself (not compared by ``==``)."""
    items = tuple((i.derived, i.shape, i.usage) for i in subscription.items)
    return (subscription.grid, subscription.price_currencies, subscription.any_derived, items)


@pytest.fixture
def store() -> SqlStore:
    return SqlStore.open("sqlite://")


def test_accounts_and_subscriptions_read_back_equal_to_what_was_stored(store: SqlStore) -> None:
    stored = [(_full_account(), _subscription()), *sample_accounts(20, start=date(2026, 1, 1))]
    with store.transaction() as tx:
        tx.put_company(sample_company())
        for account, subscription in stored:
            tx.put_account(account)
            tx.put_subscription(subscription)
    ids = [account.id for account, _ in stored]
    read = {account.id: account for account in store.accounts(ids)}
    by_account = store.subscriptions_of(ids)
    for account, subscription in stored:
        assert read[account.id] == account
        assert store.account(account.id) == account
        (back,) = by_account[account.id]
        assert back == subscription
        assert _derived(back) == _derived(subscription)
        # The grid is shared with the equal grid of the value built by the constructor.
        assert back.grid is subscription.grid
    assert list(store.accounts()) == sorted(read.values(), key=lambda a: a.id)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(subscription=subscriptions())
def test_any_subscription_reads_back_as_its_constructor_builds_it(
    subscription: Subscription,
) -> None:
    back = codec.loads(codec.dumps(subscription), Subscription)
    assert back == subscription
    assert _derived(back) == _derived(subscription)
    assert codec.dumps(back) == codec.dumps(subscription)


def test_the_public_constructors_still_refuse_bad_input() -> None:
    with pytest.raises(ValidationError, match="name"):
        attrs.evolve(_full_account(), name=" ")
    with pytest.raises(ValidationError, match="country"):
        Address(street="Ring 2", postcode="80331", city="München", country="Deutschland")
    with pytest.raises(ValidationError, match="time_zone"):
        attrs.evolve(_full_account(), time_zone="Mars/Olympus")
    item = _subscription().items[0]
    with pytest.raises(ValidationError, match="items"):
        attrs.evolve(_subscription(), items=(item, item))
    with pytest.raises(ValidationError, match="end"):
        attrs.evolve(_subscription(), end=date(2026, 1, 1))
    with pytest.raises(ValidationError, match="metric"):
        attrs.evolve(item, metric=juston.Metric())
    with pytest.raises(ValidationError, match="quantity"):
        attrs.evolve(item, quantity=Decimal(-1))


def _dropped(value: object, cls: type[Any], *path: str | int) -> str:
    """The codec's JSON of *value* without the key at *path* (as a row written before
    that field existed)."""
    data = codec.unstructure(value, cls)
    inner = data
    for key in path[:-1]:
        inner = inner[key]
    del inner[path[-1]]
    return orjson.dumps(data).decode()


def test_a_row_without_a_newer_field_reads_through_the_constructor() -> None:
    account = attrs.evolve(_full_account(), payment_method=None, buyer_reference=None)
    assert codec.loads(_dropped(account, Account, "payment_method"), Account) == account
    assert codec.loads(_dropped(account, Account, "legal_address", "region"), Account) == (
        attrs.evolve(account, legal_address=attrs.evolve(account.legal_address, region=None))
    )
    subscription = _subscription()
    text = _dropped(subscription, Subscription, "items", 1, "order_number")
    back = codec.loads(text, Subscription)
    assert back.items[1] == attrs.evolve(subscription.items[1], order_number=None)


def test_a_bad_stored_value_is_still_an_error_naming_it() -> None:
    data = codec.unstructure(_full_account(), Account)
    with pytest.raises(StorageError, match="stored Account"):
        codec.structure({**data, "currency": "NOTACURRENCY"}, Account)
    sub = codec.unstructure(_subscription(), Subscription)
    with pytest.raises(StorageError, match="stored Subscription"):
        codec.structure({**sub, "start": "31.01.2026"}, Subscription)
    with pytest.raises(StorageError, match="stored Subscription"):
        codec.structure({**sub, "alignment": "lunar"}, Subscription)


def test_values_built_by_the_caller_pass_through() -> None:
    account, subscription = _full_account(), _subscription()
    assert codec.structure(account, Account) is account
    assert codec.structure(subscription, Subscription) is subscription


def test_trusted_construction_sets_the_fields_as_given() -> None:
    build = trusted(PaymentTerms)
    assert build("30d") == PaymentTerms("30d")
    with pytest.raises(TypeError, match="takes 1 positional argument but 2 were given"):
        build("30d", "more")

    @attrs.define(slots=False)
    class Loose:
        x: int

    with pytest.raises(TypeError, match="slotted"):
        trusted(Loose)

    @attrs.frozen(cache_hash=True)
    class Hashed:
        x: int

    with pytest.raises(TypeError, match="cached hash"):
        trusted(Hashed)


def test_subscriptions_with_the_same_grid_share_it() -> None:
    base = _subscription()
    other = attrs.evolve(base, number="S-2")
    monthly = attrs.evolve(base, billing_period="1m")
    anniversary = attrs.evolve(base, alignment=Alignment.ANNIVERSARY)
    assert other.grid is base.grid
    assert monthly.grid != base.grid and anniversary.grid != base.grid
    assert anniversary.grid.anchor == base.start
    assert base.grid.anchor == date(2026, 1, 1)  # calendar quarters


def test_price_currencies_are_each_currency_once() -> None:
    base = _subscription()
    assert base.price_currencies == (juston.currency("EUR"),)
    usd = attrs.evolve(base.items[0], id="usd", price=Flat(money(5, "USD")))
    mixed = attrs.evolve(base, items=(*base.items, usd))
    assert mixed.price_currencies == (juston.currency("EUR"), juston.currency("USD"))
    assert attrs.evolve(base, items=()).price_currencies == ()


def _codec_body(document: Invoice) -> dict[str, Any]:
    """A format-2 body as the codec writes each of its fields."""
    body: dict[str, Any] = {
        "v": 2,
        "kind": document.kind.value,
        "currency": document.currency.code,
        "billing_date": document.billing_date.isoformat(),
        "buyer": codec.unstructure(document.buyer, Account),
        "tax_breakdown": codec.unstructure(document.tax_breakdown, tuple[juston.TaxSubtotal, ...]),
        "net_total": codec.unstructure(document.net_total, juston.Money),
        "tax_total": codec.unstructure(document.tax_total, juston.Money),
        "total": codec.unstructure(document.total, juston.Money),
        "payment_terms": codec.unstructure(document.payment_terms, PaymentTerms),
        "subscriptions": list(document.subscriptions),
        "run_id": document.run_id,
        "cancels": document.cancels,
    }
    for name, hint in _BY_CODEC:
        value = getattr(document, name)
        body[name] = None if value is None else codec.unstructure(value, hint)
    return body


def test_a_document_row_is_the_codecs_json_of_its_fields() -> None:
    documents = _billed_documents()
    assert any(d.preceding for d in documents) or any(d.direct_debit for d in documents)
    docs = Documents()
    parts: dict[str, str] = {}
    # Twice: the second time the shared parts come from the caches.
    for _ in range(2):
        for document in documents:
            row = docs.row(document, parts)
            assert tuple(row) == COLUMNS
            assert row["body"] == orjson.dumps(_codec_body(document)).decode()
            v1 = row_v1(document)
            for column in COLUMNS:
                if column not in ("seller", "body", "terms"):
                    assert row[column] == v1[column], column
            as_text = docs.values(document, parts, textual=True)
            for column, plain, text in zip(COLUMNS, row.values(), as_text, strict=True):
                expected = plain if isinstance(plain, str) or plain is None else str(plain)
                assert text == expected, column


def test_a_run_stores_and_reads_back_the_same_documents(url: str) -> None:
    store = SqlStore.open(url)
    try:
        copy_master_data(sample_store(accounts=12), store)
        made = juston.invoice_run(store, date(2026, 2, 1))
        assert made.documents and not made.failures
        assert list(store.documents()) == list(made.documents)
        # Billing again finds everything billed (the terms read back): nothing new.
        assert juston.invoice_run(store, date(2026, 2, 1)).documents == ()
    finally:
        store.close()
