"""Sample usage data: a store with usage items, and generated usage records."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

from ..model.catalog import Product
from ..model.parties import Account, Address
from ..model.subscriptions import Item, Subscription
from ..model.usage import Aggregation, Metric, UsageRecord
from ..money import money
from ..periods import Alignment
from ..pricing.models import Graduated, PerUnit, Tier
from ..pricing.proration import BillingType
from ..storage.base import Store
from ..storage.memory import MemoryStore
from .sample import sample_company

__all__ = ["usage_accounts", "usage_records", "usage_store"]

API = Product(code="API", name="API calls", unit_code="C62")
SEATS = Product(code="SEAT-DAYS", name="Active seats", unit_code="C62")


def _eur(value: str) -> object:
    return money(value, "EUR")


def usage_accounts(
    count: int, *, start: date = date(2026, 1, 1)
) -> Iterator[tuple[Account, Subscription]]:
    """*count* German accounts, each with one calendar-monthly subscription ``S-<n>`` of
    two usage items: ``api`` (sum, graduated per call) and ``seats`` (time-weighted
    average, per seat)."""
    api_price = Graduated(
        [Tier(1000, _eur("0.010")), Tier(10000, _eur("0.008")), Tier(None, _eur("0.005"))]
    )
    for n in range(1, count + 1):
        account = Account(
            id=f"C{n:05d}",
            name=f"Kunde {n}",
            currency="EUR",
            billing_address=Address(
                street="Ring 2", postcode="80331", city="München", country="DE"
            ),
        )
        items = (
            Item(
                id="api",
                product=API,
                price=api_price,
                billing_type=BillingType.USAGE,
                metric=Metric(aggregation=Aggregation.SUM),
                order_number=f"ORD-{n:05d}-API",
            ),
            Item(
                id="seats",
                product=SEATS,
                price=PerUnit(_eur("8.00")),
                billing_type=BillingType.USAGE,
                metric=Metric(aggregation=Aggregation.TIME_WEIGHTED),
            ),
        )
        yield (
            account,
            Subscription(
                number=f"S-{n}",
                account_id=account.id,
                start=start,
                alignment=Alignment.CALENDAR,
                items=items,
            ),
        )


def usage_store(
    accounts: int = 1, *, store: Store | None = None, time_zone: str = "Europe/Berlin"
) -> Store:
    """A store (default: a new memory store) with the sample company, billing in
    *time_zone*, and :func:`usage_accounts`."""
    import attrs

    store = store or MemoryStore()
    with store.transaction() as tx:
        tx.put_company(attrs.evolve(sample_company(), time_zone=time_zone))
        for account, subscription in usage_accounts(accounts):
            tx.put_account(account)
            tx.put_subscription(subscription)
    return store


def usage_records(
    accounts: int,
    count: int,
    *,
    start: date = date(2026, 1, 1),
    days: int = 31,
    seed: int = 7,
) -> Iterator[UsageRecord]:
    """*count* API-call records spread over *accounts* of :func:`usage_accounts` and
    *days* days from *start*; every 1000th record repeats an earlier id (a duplicate)."""
    rng = random.Random(seed)
    origin = datetime(start.year, start.month, start.day, tzinfo=UTC)
    seconds = days * 86400
    for n in range(count):
        number = n - 1 if n % 1000 == 999 else n
        yield UsageRecord(
            id=f"u{number}",
            item=f"S-{rng.randrange(accounts) + 1}/api",
            timestamp=origin + timedelta(seconds=rng.randrange(seconds)),
            quantity=rng.randrange(1, 50),
        )
