"""Generated sample data: a company, accounts and subscriptions that use every price model.

Deterministic for a given *seed*, so demos, docs and benchmarks are reproducible.
:func:`populate` writes the data into any store; :func:`sample_store` is a memory store
filled by it.

    >>> store = sample_store(accounts=3)
    >>> len(list(store.accounts()))
    3

``realistic=True`` adds what a real customer base has: businesses with VAT ids and
consumers, accounts outside the EU billed in their own currency, discounts, and
subscriptions whose quantities and prices change mid-period or that end.

    >>> store = sample_store(accounts=7, realistic=True)
    >>> sorted({account.country for account in store.accounts()})
    ['AT', 'CH', 'DE', 'FR', 'NL', 'US']
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Iterable, Iterator
from datetime import date, timedelta
from decimal import Decimal

import attrs
from dateutil.relativedelta import relativedelta
from moneyed import Money

from ..model.catalog import Product
from ..model.documents import Invoice
from ..model.parties import Account, Address, BankAccount, Company, Contact
from ..model.receivables import PaymentEntry
from ..model.subscriptions import Item, Subscription
from ..money import money
from ..periods import Alignment, BillingPeriod, Unit
from ..pricing.discounts import Discount
from ..pricing.models import (
    Flat,
    Graduated,
    MinimumFee,
    Package,
    Percentage,
    PerUnit,
    PriceModel,
    Tier,
    Volume,
)
from ..pricing.proration import BillingType, Practice
from ..storage.base import Store
from ..storage.memory import MemoryStore

__all__ = [
    "populate",
    "sample_accounts",
    "sample_changes",
    "sample_company",
    "sample_payments",
    "sample_store",
]

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
CONSULTING = Product(code="CONSULTING", name="Consulting hours", unit_code="HUR")


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
    count: int, *, seed: int = 7, start: date = date(2026, 1, 1), realistic: bool = False
) -> Iterator[tuple[Account, Subscription]]:
    """*count* accounts with their subscriptions.

    By default each account has one subscription of three items of mixed price models,
    all in EUR, all consumers in DE, AT, FR or NL. With *realistic* the data is the
    richer mix described in the module docs; an account may then have two subscriptions.
    """
    if realistic:
        yield from _realistic_accounts(count, random.Random(seed), start)
        return
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


# --- realistic data ------------------------------------------------------------------------

_PLACES: dict[str, list[tuple[str, str, str, str | None]]] = {
    "DE": [
        ("Berlin", "10115", "Unter den Linden", None),
        ("München", "80331", "Marienplatz", None),
        ("Hamburg", "20095", "Mönckebergstraße", None),
        ("Köln", "50667", "Hohe Straße", None),
    ],
    "AT": [("Wien", "1010", "Graben", None), ("Graz", "8010", "Herrengasse", None)],
    "FR": [("Paris", "75001", "Rue de Rivoli", None), ("Lyon", "69002", "Rue Mercière", None)],
    "NL": [("Amsterdam", "1012", "Damrak", None), ("Utrecht", "3511", "Oudegracht", None)],
    "CH": [("Zürich", "8001", "Bahnhofstrasse", None), ("Basel", "4051", "Freie Strasse", None)],
    "US": [("New York", "10013", "Broadway", "NY"), ("Austin", "78701", "Congress Ave", "TX")],
}
# Only ids that pass python-stdnum's check digits: accounts validate them when built.
_VAT_IDS = {
    "DE": ["DE281403141", "DE811677221", "DE294736190"],
    "AT": ["ATU13585627", "ATU23456784", "ATU51627388"],
    "FR": ["FR40303265045", "FR44732829320", "FR83404833048"],
    "NL": ["NL004495445B01", "NL123456782B01", "NL802937445B01"],
}
_CURRENCIES = {"CH": "CHF", "US": "USD"}
_LANGUAGES = {"DE": "de", "AT": "de", "CH": "de", "FR": "fr", "NL": "nl"}
_LEGAL_FORMS = {
    "DE": ["GmbH", "AG", "KG"],
    "AT": ["GmbH", "OG"],
    "FR": ["SARL", "SAS"],
    "NL": ["B.V."],
    "CH": ["AG", "GmbH"],
    "US": ["Inc.", "LLC"],
}
_FIRST_NAMES = ["Lena", "Jonas", "Camille", "Daan", "Sophie", "Matteo", "Emma", "Lukas"]
_LAST_NAMES = ["Hoffmann", "Gruber", "Martin", "de Vries", "Keller", "Brown", "Moreau", "Bakker"]
# The first accounts cover every case a demo should show, whatever the seed: a domestic
# business and consumer, reverse charge, OSS, and buyers outside the EU in CHF and USD.
_PROFILES = [
    ("DE", True),
    ("DE", False),
    ("AT", True),
    ("FR", False),
    ("NL", True),
    ("CH", True),
    ("US", True),
]
_COUNTRY_WEIGHTS = {"DE": 8, "AT": 3, "FR": 3, "NL": 3, "CH": 1, "US": 1}


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(c if c.isalnum() else "-" for c in ascii_text.lower()).strip("-")


def _realistic_account(n: int, rng: random.Random) -> Account:
    if n <= len(_PROFILES):
        country, business = _PROFILES[n - 1]
    else:
        countries = list(_COUNTRY_WEIGHTS)
        country = rng.choices(countries, weights=list(_COUNTRY_WEIGHTS.values()))[0]
        business = country not in _VAT_IDS or rng.random() < 0.6
    city, postcode, street, region = rng.choice(_PLACES[country])
    if business:
        name = f"{rng.choice(_NAMES)} {rng.choice(_LEGAL_FORMS[country])}"
        email = f"invoices@{_slug(name)}.example"
        ids = _VAT_IDS.get(country)
        vat_id = ids[n % len(ids)] if ids else None
        terms = rng.choice(["14d", "30d", "14d eom"])
    else:
        name = f"{rng.choice(_FIRST_NAMES)} {rng.choice(_LAST_NAMES)}"
        email = f"{_slug(name)}@mail.example"
        vat_id = None
        terms = "14d"
    return Account(
        id=f"C{n:07d}",
        name=name,
        billing_address=Address(
            street=f"{street} {rng.randint(1, 120)}",
            postcode=postcode,
            city=city,
            country=country,
            region=region,
        ),
        currency=_CURRENCIES.get(country, "EUR"),
        language=_LANGUAGES.get(country, "en"),
        vat_id=vat_id,
        email=email,
        payment_terms=terms,
    )


def _tiers(code: str) -> list[Tier]:
    return [
        Tier(10, money("2.50", code)),
        Tier(20, money("2.40", code)),
        Tier(None, money("2.30", code)),
    ]


def _addons(code: str, rng: random.Random) -> list[Item]:
    """One item of each usage-like price model, to be picked from."""
    return [
        Item(
            id="seats",
            product=SEATS,
            price=PerUnit(money("12.50", code)),
            quantity=rng.choice([3, 5, 8, 12, 20]),
        ),
        Item(
            id="storage",
            product=STORAGE,
            price=Graduated(_tiers(code)),
            quantity=rng.choice([5, 15, 25, 40, 60]),
        ),
        Item(
            id="team-seats",
            product=SEATS,
            description="User seats (volume price)",
            price=Volume(_tiers(code)),
            quantity=rng.choice([4, 12, 25]),
            billing_type=BillingType.RECURRING_PRORATED_AVERAGE,
        ),
        Item(
            id="sms",
            product=SMS,
            price=Package(money("30.00", code), 100),
            quantity=rng.choice([80, 150, 250, 400]),
            billing_type=BillingType.RECURRING,
            practice=Practice.ARREARS,
        ),
        Item(
            id="consulting",
            product=CONSULTING,
            price=PerUnit(money("120.00", code)),
            quantity=rng.choice([2, 4, 8]),
            billing_type=BillingType.RECURRING,
            practice=Practice.ARREARS,
        ),
        Item(
            id="handbook",
            product=EBOOK,
            price=PerUnit(money("19.90", code)),
            quantity=rng.choice([1, 2, 5]),
            billing_type=BillingType.ONE_TIME,
        ),
    ]


def _realistic_subscription(
    n: int, account: Account, rng: random.Random, start: date
) -> Subscription:
    code = account.currency.code
    if n > len(_PROFILES) and rng.random() < 0.3:
        # Customers who sign up later, so the demo's months show growth.
        begins = start + relativedelta(months=rng.randint(1, 5), day=rng.randint(1, 28))
    else:
        begins = start
    calendar = rng.random() < 0.6
    if not calendar and begins == start:
        begins = start.replace(day=rng.randint(1, 28))
    platform = Item(
        id="platform",
        product=PLATFORM,
        price=Flat(money("49.00", code)),
        billing_type=BillingType.RECURRING,
    )
    addons = _addons(code, rng)
    # Rotating through the add-ons puts every price model into the first accounts.
    picked = [addons[n % len(addons)], addons[(n + 2) % len(addons)]]
    items = [platform, *picked]
    if n % 4 == 0:
        items[0] = attrs.evolve(platform, discount=Discount(percent=Decimal(10)))
    if n % 5 == 2:
        # An introductory offer: half price for the first three months.
        offer = Discount(percent=Decimal(50), start=begins, end=begins + relativedelta(months=3))
        items[0] = attrs.evolve(items[0], discount=offer)
    if n % 7 == 3 and items[1].billing_type is not BillingType.ONE_TIME:
        items[1] = attrs.evolve(items[1], discount=Discount(amount=money("5.00", code)))
    if n % 9 == 4:
        items.append(
            Item(
                id="premium-support",
                product=SUPPORT,
                description="Premium support (15 % of the other charges)",
                price=Percentage(Decimal(15), code),
                billing_type=BillingType.RECURRING,
            )
        )
    if n % 11 == 6:
        items.append(
            Item(
                id="minimum",
                product=PLATFORM,
                description="Minimum spend per period",
                price=MinimumFee(money("150.00", code)),
                billing_type=BillingType.RECURRING,
            )
        )
    items = [_with_changes(n, item, begins) for item in items]
    end = None
    if n % 8 == 5:
        # Cancelled with notice: the last period is served only in part.
        end = begins + relativedelta(months=7, days=19)
    return Subscription(
        number=f"S{n:07d}",
        account_id=account.id,
        start=begins,
        end=end,
        billing_period=BillingPeriod(rng.choice([1, 1, 1, 3]), Unit.MONTH),
        alignment=Alignment.CALENDAR if calendar else Alignment.ANNIVERSARY,
        items=items,
    )


def _with_changes(n: int, item: Item, begins: date) -> Item:
    """Mid-period changes the customer announced: more units, a new price, a removed item."""
    prorated = item.billing_type in (
        BillingType.RECURRING_PRORATED,
        BillingType.RECURRING_PRORATED_AVERAGE,
    )
    if n % 3 == 0 and prorated:
        item = item.change_quantity(
            begins + relativedelta(months=2, days=14),
            item.quantity + max(Decimal(2), item.quantity // 2),
        )
    if n % 6 == 1 and item.id == "platform":
        code = item.price.currency.code
        item = item.change_price(
            begins + relativedelta(months=5, days=9), Flat(money("59.00", code))
        )
    if n % 10 == 7 and item.id == "storage":
        item = item.cancel(begins + relativedelta(months=4, days=9))
    return item


def _realistic_accounts(
    count: int, rng: random.Random, start: date
) -> Iterator[tuple[Account, Subscription]]:
    for n in range(1, count + 1):
        account = _realistic_account(n, rng)
        yield account, _realistic_subscription(n, account, rng, start)
        if n % 5 == 0:
            # A second, yearly subscription: support billed a year in advance.
            yield (
                account,
                Subscription(
                    number=f"S{n:07d}-2",
                    account_id=account.id,
                    start=start,
                    billing_period=BillingPeriod(1, Unit.YEAR),
                    alignment=Alignment.CALENDAR,
                    items=[
                        Item(
                            id="support",
                            product=SUPPORT,
                            price=PerUnit(money("600.00", account.currency.code)),
                            billing_type=BillingType.RECURRING_PRORATED,
                        )
                    ],
                ),
            )


def populate(
    store: Store,
    *,
    accounts: int = 10,
    seed: int = 7,
    start: date = date(2026, 1, 1),
    realistic: bool = False,
) -> None:
    """Write :func:`sample_company` and :func:`sample_accounts` into *store*, in one transaction.

    Works with any backend, so a demo database is filled the same way as a memory store.

        >>> from juston import MemoryStore
        >>> store = MemoryStore()
        >>> populate(store, accounts=2)
        >>> store.count_accounts(), store.company().name
        (2, 'Nordwind Software GmbH')
    """
    with store.transaction() as tx:
        tx.put_company(sample_company())
        for account, subscription in sample_accounts(
            accounts, seed=seed, start=start, realistic=realistic
        ):
            tx.put_account(account)
            tx.put_subscription(subscription)


def sample_store(
    accounts: int = 10,
    *,
    seed: int = 7,
    start: date = date(2026, 1, 1),
    realistic: bool = False,
) -> MemoryStore:
    """A memory store filled by :func:`populate`."""
    store = MemoryStore()
    populate(store, accounts=accounts, seed=seed, start=start, realistic=realistic)
    return store


def sample_changes(
    store: Store, effective: date, *, cancel_every: int = 4, change_every: int = 3
) -> list[str]:
    """Change some subscriptions after they were billed, as customers do.

    Every *change_every*-th account adds two units to each prorated item from *effective*;
    every *cancel_every*-th cancels its subscriptions on *effective*. Returns what was
    changed, for display.
    """
    changed = []
    with store.transaction() as tx:
        for n, account in enumerate(tx.accounts(), start=1):
            for subscription in tx.subscriptions(account.id):
                if (
                    n % cancel_every == 0
                    and subscription.start < effective
                    and (subscription.end is None or subscription.end > effective)
                ):
                    tx.put_subscription(subscription.cancel(effective))
                    changed.append(f"{subscription.number} cancelled from {effective}")
                elif n % change_every == 0:
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


def sample_payments(documents: Iterable[Invoice], *, seed: int = 7) -> list[PaymentEntry]:
    """How customers pay *documents*, as a bank statement would say: most pay the total
    ten days after the invoice date naming its number, some forty-five days late, some
    round up to the next ten (the rest stays on the account), some name only their
    account, a few name nothing and deduct a fee (they wait in the queue), and some never
    pay. Credits and zero totals get no payment. Deterministic for
    a *seed*.

        >>> from datetime import date
        >>> import juston
        >>> store = sample_store(accounts=2)
        >>> docs = juston.finalize(store, juston.invoice_run(store, date(2026, 1, 1)).documents)
        >>> [(e.booking_date.isoformat(), e.reference) for e in sample_payments(docs)]
        [('2026-01-11', 'Invoice INV-2026-00001'), ('2026-01-11', 'Thank you')]
    """
    entries = []
    for document in documents:
        if document.total.amount <= 0 or document.number is None:
            continue
        rng = random.Random(f"{seed}/{document.number}")
        habit = rng.random()
        if habit < 0.08:
            continue  # never pays
        amount, reference, days = document.total, f"Invoice {document.number}", 10
        payer: str | None = document.buyer.name
        if habit < 0.16:
            days = 45
        elif habit < 0.22:
            rounded = -(-document.total.amount // 10) * 10
            amount = Money(rounded, document.currency)
        elif habit < 0.28:
            reference = f"Customer {document.account_id}"
        elif habit < 0.31:
            # Paid from a private account with no number and a bank fee deducted: nothing
            # can match it.
            reference, payer = "Thank you", None
            amount = document.total - Money("1.50", document.currency)
        entries.append(
            PaymentEntry(
                id=f"bank/{document.number}",
                amount=amount,
                booking_date=document.invoice_date + timedelta(days=days),
                reference=reference,
                payer_name=payer,
            )
        )
    return entries
