"""Generated sample data: a company, accounts and subscriptions that use every price model.

Deterministic for a given *seed*, so demos, docs and benchmarks are reproducible.

    >>> store = sample_store(accounts=3)
    >>> len(list(store.accounts()))
    3
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date
from decimal import Decimal

from ..model.catalog import Product
from ..model.parties import Account, Address, BankAccount, Company, Contact
from ..model.subscriptions import Item, Subscription
from ..money import money
from ..periods import Alignment, BillingPeriod, Unit
from ..pricing.discounts import Discount
from ..pricing.models import Flat, Graduated, Package, PerUnit, PriceModel, Tier, Volume
from ..pricing.proration import BillingType, Practice
from ..storage.memory import MemoryStore

__all__ = ["sample_accounts", "sample_changes", "sample_company", "sample_store"]

_CITIES = [
    ("DE", "Berlin", "10115", "Unter den Linden"),
    ("DE", "München", "80331", "Marienplatz"),
    ("DE", "Hamburg", "20095", "Mönckebergstraße"),
    ("AT", "Wien", "1010", "Graben"),
    ("FR", "Paris", "75001", "Rue de Rivoli"),
    ("NL", "Amsterdam", "1012", "Damrak"),
]
_NAMES = [
    "Nordlicht",
    "Alpenblick",
    "Hafenkante",
    "Sonnenhof",
    "Brückenbau",
    "Lindenweg",
    "Kranich",
    "Weitblick",
]
_FORMS = ["GmbH", "AG", "KG", "SARL", "BV", "e.K."]

# Software as a service, telecoms and e-books are digital services (taxed where a consumer
# lives, OSS); support by people is a service taxed where the seller is.
PLATFORM = Product(code="PLATFORM", name="Platform subscription", unit_code="MON", supply="digital")
SEATS = Product(code="SEATS", name="User seats", supply="digital")
STORAGE = Product(code="STORAGE", name="Storage (GB)", unit_code="E34", supply="digital")
SUPPORT = Product(code="SUPPORT", name="Support package")
SMS = Product(code="SMS", name="SMS bundle", supply="digital")
EBOOK = Product(code="EBOOK", name="Handbook (e-book)", tax_class="reduced", supply="digital")


def sample_company() -> Company:
    """A German software company as the issuer."""
    return Company(
        id="nordwind",
        name="Nordwind Software GmbH",
        address=Address(street="Am Sandtorkai 50", postcode="20457", city="Hamburg", country="DE"),
        vat_id="DE136695976",
        tax_number="27/123/45678",
        bank_account=BankAccount(
            iban="DE02120300000000202051", bic="BYLADEM1001", bank_name="Deutsche Kreditbank"
        ),
        contact=Contact(
            name="Billing team", email="billing@nordwind.example", phone="+49 40 1234567"
        ),
    )


def _eur(value: str) -> object:
    return money(value, "EUR")


def _models() -> list[tuple[Product, PriceModel, BillingType]]:
    tiers = [Tier(10, _eur("2.50")), Tier(20, _eur("2.40")), Tier(None, _eur("2.30"))]
    return [
        (PLATFORM, Flat(_eur("49.00")), BillingType.RECURRING),
        (SEATS, PerUnit(_eur("12.50")), BillingType.RECURRING_PRORATED),
        (STORAGE, Graduated(tiers), BillingType.RECURRING_PRORATED),
        (SEATS, Volume(tiers), BillingType.RECURRING_PRORATED_AVERAGE),
        (SMS, Package(_eur("30.00"), 100), BillingType.RECURRING),
        (EBOOK, PerUnit(_eur("19.90")), BillingType.ONE_TIME),
    ]


def sample_accounts(
    count: int, *, seed: int = 7, start: date = date(2026, 1, 1)
) -> Iterator[tuple[Account, Subscription]]:
    """*count* accounts, each with one subscription of three items of mixed price models."""
    rng = random.Random(seed)
    models = _models()
    for n in range(1, count + 1):
        country, city, postcode, street = _CITIES[rng.randrange(len(_CITIES))]
        account = Account(
            id=f"C{n:07d}",
            name=f"{rng.choice(_NAMES)} {rng.choice(_FORMS)}",
            billing_address=Address(
                street=f"{street} {rng.randint(1, 120)}",
                postcode=postcode,
                city=city,
                country=country,
            ),
            currency="EUR",
            language="de" if country in ("DE", "AT") else "en",
            payment_terms=rng.choice(["14d", "30d", "14d eom"]),
        )
        picks = rng.sample(range(len(models)), 3)
        items = []
        for position, pick in enumerate(picks):
            product, model, billing_type = models[pick]
            items.append(
                Item(
                    id=f"{product.code.lower()}-{position}",
                    product=product,
                    price=model,
                    quantity=Decimal(rng.choice([1, 3, 5, 12, 25, 40, 150])),
                    billing_type=billing_type,
                    practice=Practice.ARREARS if pick == 4 else Practice.ADVANCE,
                    discount=Discount(percent=Decimal(10)) if rng.random() < 0.1 else None,
                )
            )
        calendar = rng.random() < 0.5
        subscription = Subscription(
            number=f"S{n:07d}",
            account_id=account.id,
            start=start if calendar else start.replace(day=rng.randint(1, 28)),
            billing_period=BillingPeriod(rng.choice([1, 1, 1, 3]), Unit.MONTH),
            alignment=Alignment.CALENDAR if calendar else Alignment.ANNIVERSARY,
            items=items,
        )
        yield account, subscription


def sample_store(
    accounts: int = 10, *, seed: int = 7, start: date = date(2026, 1, 1)
) -> MemoryStore:
    """A memory store filled with :func:`sample_company` and :func:`sample_accounts`."""
    store = MemoryStore()
    with store.transaction() as tx:
        tx.put_company(sample_company())
        for account, subscription in sample_accounts(accounts, seed=seed, start=start):
            tx.put_account(account)
            tx.put_subscription(subscription)
    return store


def sample_changes(store: MemoryStore, effective: date) -> list[str]:
    """Change some subscriptions after they were billed, as customers do.

    Every third account adds two units to each prorated item from *effective*; every
    fourth cancels its subscription on *effective*. Returns what was changed, for display.
    """
    changed = []
    with store.transaction() as tx:
        for n, account in enumerate(tx.accounts(), start=1):
            for subscription in tx.subscriptions(account.id):
                if n % 4 == 0 and subscription.start < effective:
                    tx.put_subscription(subscription.cancel(effective))
                    changed.append(f"{subscription.number} cancelled from {effective}")
                elif n % 3 == 0:
                    updated = subscription
                    for item in subscription.items:
                        if item.billing_type in (
                            BillingType.RECURRING_PRORATED,
                            BillingType.RECURRING_PRORATED_AVERAGE,
                        ):
                            quantity = item.quantity_on(effective) + 2
                            updated = updated.with_item(item.change_quantity(effective, quantity))
                            changed.append(
                                f"{subscription.number}/{item.id} quantity {quantity} from {effective}"
                            )
                    tx.put_subscription(updated)
    return changed
