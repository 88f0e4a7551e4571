"""Reusable hypothesis strategies for juston: dates, grids, price models, items, subscriptions.

Everything is EUR, every amount and quantity a ``Decimal`` (never a float). Strategies
produce *values* (subscriptions, accounts); :func:`build_store` turns them into a fresh
``MemoryStore``, so a test can replay the same data on an independent copy.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import strategies as st

import juston
from juston import (
    Account,
    Address,
    Alignment,
    BillingPeriod,
    BillingType,
    Flat,
    Graduated,
    Item,
    ItemChange,
    MemoryStore,
    Package,
    PerUnit,
    Practice,
    Product,
    Subscription,
    Tier,
    Unit,
    Volume,
)

EUR = "EUR"
FIRST_DAY = date(2024, 1, 1)
LAST_DAY = date(2027, 12, 31)

BILLING_PERIODS = (
    BillingPeriod(1, Unit.MONTH),
    BillingPeriod(3, Unit.MONTH),
    BillingPeriod(12, Unit.MONTH),
    BillingPeriod(1, Unit.YEAR),
)
ALIGNMENTS = tuple(Alignment)
BILLING_TYPES = tuple(BillingType)
RECURRING_TYPES = (
    BillingType.RECURRING,
    BillingType.RECURRING_PRORATED,
    BillingType.RECURRING_PRORATED_AVERAGE,
)
PRORATED_TYPES = (BillingType.RECURRING_PRORATED, BillingType.RECURRING_PRORATED_AVERAGE)
PRACTICES = tuple(Practice)

PRODUCTS = (
    Product(code="PLAN", name="Plan", unit_code="MON"),
    Product(code="SEATS", name="Seats"),
    Product(code="BOOK", name="Handbook", tax_class="reduced"),
    Product(code="EXPORT", name="Export service", tax_class="zero"),
    Product(code="TRAIN", name="Training", tax_class="exempt"),
)


# ---------------------------------------------------------------------------- scalars


def dates(min_value: date = FIRST_DAY, max_value: date = LAST_DAY) -> st.SearchStrategy[date]:
    """Days in 2024–2027 (or the given range)."""
    return st.dates(min_value=min_value, max_value=max_value)


def anchor_dates(
    min_value: date = FIRST_DAY, max_value: date = LAST_DAY
) -> st.SearchStrategy[date]:
    """Days in the range, often the 28th–31st (month ends are where month arithmetic clamps)."""

    def month_end(day: date) -> st.SearchStrategy[date]:
        last = (day.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
        return st.integers(0, last.day - 28).map(lambda k: day.replace(day=last.day - k))

    return st.one_of(dates(min_value, max_value), dates(min_value, max_value).flatmap(month_end))


def days_after(day: date, min_days: int = 0, max_days: int = 400) -> st.SearchStrategy[date]:
    """``day`` plus ``min_days``..``max_days`` days."""
    return st.integers(min_days, max_days).map(lambda n: day + timedelta(days=n))


def scaled_decimals(
    max_units: int = 500, max_places: int = 5, *, signed: bool = False
) -> st.SearchStrategy[Decimal]:
    """Decimals with up to *max_places* decimals and magnitude up to *max_units*."""

    def with_places(places: int) -> st.SearchStrategy[Decimal]:
        bound = max_units * 10**places
        low = -bound if signed else 0
        return st.integers(low, bound).map(lambda n: Decimal(n).scaleb(-places))

    return st.integers(0, max_places).flatmap(with_places)


def prices(max_units: int = 500) -> st.SearchStrategy[Decimal]:
    """Unit prices: non-negative Decimals with up to 5 decimals."""
    return scaled_decimals(max_units, 5)


def eur(amount: Decimal) -> juston.Money:
    return juston.money(amount, EUR)


def money_prices(max_units: int = 500) -> st.SearchStrategy[juston.Money]:
    return prices(max_units).map(eur)


def quantities(max_units: int = 60) -> st.SearchStrategy[Decimal]:
    """Quantities: whole numbers mostly, sometimes with one or two decimals."""
    return st.one_of(
        st.integers(0, max_units).map(Decimal),
        st.integers(0, max_units * 100).map(lambda n: Decimal(n).scaleb(-2)),
    )


billing_periods = st.sampled_from(BILLING_PERIODS)
alignments = st.sampled_from(ALIGNMENTS)
billing_types = st.sampled_from(BILLING_TYPES)
recurring_types = st.sampled_from(RECURRING_TYPES)
prorated_types = st.sampled_from(PRORATED_TYPES)
practices = st.sampled_from(PRACTICES)
products = st.sampled_from(PRODUCTS)


# ---------------------------------------------------------------------------- price models


@st.composite
def tier_lists(draw: st.DrawFn, max_tiers: int = 4) -> list[Tier]:
    """1–*max_tiers* tiers with strictly increasing bounds; the last is unbounded."""
    bounds = draw(
        st.lists(st.integers(1, 80).map(Decimal), max_size=max_tiers - 1, unique=True).map(sorted)
    )
    tiers = []
    for up_to in [*bounds, None]:
        flat = draw(st.none() | money_prices(50))
        tiers.append(Tier(up_to, draw(money_prices()), flat))
    # The model sorts tiers itself; hand them over shuffled to exercise that.
    return draw(st.permutations(tiers))


flats = money_prices().map(Flat)
per_units = money_prices().map(PerUnit)
graduated = tier_lists().map(Graduated)
volumes = tier_lists().map(Volume)
packages = st.builds(
    Package,
    money_prices(),
    st.one_of(
        st.integers(1, 50).map(Decimal), st.integers(1, 500).map(lambda n: Decimal(n).scaleb(-1))
    ),
)
price_models = st.one_of(flats, per_units, graduated, volumes, packages)


# ---------------------------------------------------------------------------- items and subscriptions


@st.composite
def item_changes(
    draw: st.DrawFn, start: date, *, max_changes: int = 2, max_days: int = 500
) -> tuple[ItemChange, ...]:
    """0–*max_changes* mid-life changes of quantity and/or price after *start*."""
    offsets = draw(st.lists(st.integers(1, max_days), max_size=max_changes, unique=True))
    changes = []
    for offset in sorted(offsets):
        what = draw(st.sampled_from(["quantity", "price", "both"]))
        changes.append(
            ItemChange(
                effective=start + timedelta(days=offset),
                quantity=draw(quantities()) if what != "price" else None,
                price=draw(price_models) if what != "quantity" else None,
            )
        )
    return tuple(changes)


@st.composite
def items(
    draw: st.DrawFn,
    sub_start: date,
    *,
    item_id: str = "i1",
    types: Sequence[BillingType] = BILLING_TYPES,
    practice_choices: Sequence[Practice] = PRACTICES,
    models: st.SearchStrategy[object] = price_models,
    with_changes: bool = True,
    with_start: bool = True,
    with_end: bool = True,
) -> Item:
    """An item of a subscription that starts on *sub_start*.

    Optionally with its own later start, an end, and mid-life quantity/price changes.
    """
    start = draw(st.none() | days_after(sub_start, 1, 200)) if with_start else None
    begin = start or sub_start
    end = draw(st.none() | days_after(begin, 1, 500)) if with_end else None
    changes = draw(item_changes(sub_start)) if with_changes else ()
    return Item(
        id=item_id,
        product=draw(products),
        price=draw(models),
        quantity=draw(quantities()),
        billing_type=draw(st.sampled_from(tuple(types))),
        practice=draw(st.sampled_from(tuple(practice_choices))),
        start=start,
        end=end,
        changes=changes,
    )


@st.composite
def subscriptions(
    draw: st.DrawFn,
    *,
    number: str = "S1",
    account_id: str = "A1",
    start: st.SearchStrategy[date] | None = None,
    min_items: int = 1,
    max_items: int = 3,
    with_end: bool = True,
    **item_options: object,
) -> Subscription:
    """A subscription with 1–3 items, a billing period, an alignment and an optional end."""
    sub_start = draw(start if start is not None else anchor_dates(FIRST_DAY, date(2026, 12, 31)))
    count = draw(st.integers(min_items, max_items))
    its = [draw(items(sub_start, item_id=f"i{n}", **item_options)) for n in range(1, count + 1)]  # type: ignore[arg-type]
    end = draw(st.none() | days_after(sub_start, 1, 800)) if with_end else None
    return Subscription(
        number=number,
        account_id=account_id,
        start=sub_start,
        end=end,
        billing_period=draw(billing_periods),
        alignment=draw(alignments),
        items=its,
    )


def account(account_id: str) -> Account:
    """A German EUR account."""
    return Account(
        id=account_id,
        name=f"Kunde {account_id} GmbH",
        billing_address=Address(street="Ring 2", postcode="80331", city="München", country="DE"),
        currency=EUR,
    )


@st.composite
def books(
    draw: st.DrawFn, *, max_accounts: int = 2, max_subscriptions: int = 2, **sub_options: object
) -> tuple[Subscription, ...]:
    """The subscriptions of 1–*max_accounts* accounts, 1–*max_subscriptions* each."""
    n_accounts = draw(st.integers(1, max_accounts))
    subs = []
    for a in range(1, n_accounts + 1):
        for s in range(1, draw(st.integers(1, max_subscriptions)) + 1):
            subs.append(draw(subscriptions(number=f"S{a}-{s}", account_id=f"A{a}", **sub_options)))  # type: ignore[arg-type]
    return tuple(subs)


def build_store(subs: Iterable[Subscription], account_ids: Iterable[str] = ()) -> MemoryStore:
    """A fresh memory store: the sample company, the accounts the subscriptions need, the subscriptions."""
    subs = tuple(subs)
    ids = sorted({s.account_id for s in subs} | set(account_ids))
    store = MemoryStore()
    with store.transaction() as tx:
        tx.put_company(juston.testing.sample_company())
        for account_id in ids:
            tx.put_account(account(account_id))
        for sub in subs:
            tx.put_subscription(sub)
    return store
