"""The storage conformance kit: the :class:`~juston.Store` contract as pytest tests.

A backend author subclasses :class:`StoreConformance` in a test module and provides a
``make_store`` fixture that returns a callable making a new, empty store (no company)
on each call::

    import pytest
    from juston.testing.conformance import StoreConformance
    from mypackage import MyStore

    class TestMyStore(StoreConformance):
        @pytest.fixture
        def make_store(self, tmp_path):
            stores = []

            def make():
                stores.append(MyStore.open(f"mine://{tmp_path}/{len(stores)}"))
                return stores[-1]

            yield make
            for store in stores:
                store.close()

Every ``test_*`` method then runs against the backend. The class name does not start
with ``Test``, so pytest does not collect the kit itself.

What "conforms" means: everything round-trips *exactly* (``==`` on the attrs values, and
every ``Decimal`` keeps its exponent: ``Decimal("25.00")`` does not come back as
``Decimal("25")``); reads come back in the documented order; a transaction that raises
writes nothing; usage totals are exactly those of :func:`juston.usage.aggregate`; open
documents are exactly :func:`juston.receivables.ledger.open_amounts` of the balances; and
a billing cycle (runs, finalizing, re-running, cancelling) gives the same documents and
balances as on :class:`~juston.MemoryStore`. The data is small (seven accounts), so the
kit runs in seconds.
"""

from __future__ import annotations

import enum
import functools
from collections import Counter as Multiset
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, cast

import attrs
import pytest
from moneyed import Currency, Money

import juston
from juston import (
    Account,
    Company,
    DocumentKind,
    DocumentStatus,
    Invoice,
    MemoryStore,
    NotFound,
    Store,
    Subscription,
    Term,
)
from juston.errors import StateError
from juston.model.billables import Billable
from juston.model.dunning import Dunning, DunningBlock, DunningDetail, DunningStatus
from juston.model.mandates import Mandate
from juston.model.receivables import (
    Balance,
    BalanceType,
    EntryStatus,
    ImportedFile,
    Installment,
    InstallmentPlan,
    OpenAmount,
    PaymentEntry,
)
from juston.model.usage import (
    Aggregation,
    StoredUsage,
    UsageQuery,
    UsageRecord,
    UsageTotal,
)
from juston.receivables.ledger import open_amounts
from juston.storage.base import Reader, UsageRows
from juston.usage.aggregate import aggregate, order
from juston.usage.rows import usage_row

from .sample import sample_accounts, sample_company

__all__ = ["StoreConformance", "billing_cycle", "copy_master_data", "fingerprint"]


# --- exact comparison ------------------------------------------------------------------


def fingerprint(value: object) -> list[tuple[str, str]]:
    """Every leaf of *value* as ``(path, exact text)``, for comparisons ``==`` is too lax for.

    ``Decimal("1.0") == Decimal("1.00")``, ``(1,) != [1]`` only by type, and attrs fields
    declared ``eq=False`` are not compared at all; here each leaf is written out with its
    type and, for decimals, its exponent. Comparing two lists shows the path of the first
    difference.

        >>> fingerprint(juston.money("25.00", "EUR"))
        [('', 'Money 25.00 EUR')]
    """
    leaves: list[tuple[str, str]] = []
    _collect(value, "", leaves)
    return leaves


def _collect(value: object, path: str, leaves: list[tuple[str, str]]) -> None:
    kind = type(value).__qualname__
    if attrs.has(type(value)):
        leaves.append((path, kind))
        for field in attrs.fields(cast("type[attrs.AttrsInstance]", type(value))):
            _collect(getattr(value, field.name), f"{path}.{field.name}", leaves)
    elif isinstance(value, (tuple, list)):
        leaves.append((path, f"{kind}[{len(value)}]"))
        for n, item in enumerate(value):
            _collect(item, f"{path}[{n}]", leaves)
    elif isinstance(value, dict):
        leaves.append((path, f"{kind}[{len(value)}]"))
        for key in sorted(value, key=repr):
            _collect(value[key], f"{path}[{key!r}]", leaves)
    elif isinstance(value, Money):
        leaves.append((path, f"Money {value.amount} {value.currency.code}"))
    elif isinstance(value, Currency):
        leaves.append((path, f"Currency {value.code}"))
    elif isinstance(value, enum.Enum):
        leaves.append((path, f"{kind}.{value.name}"))
    else:
        # str() of a Decimal keeps its exponent; repr of dates, str, int, bool, None is exact.
        text = str(value) if isinstance(value, Decimal) else repr(value)
        leaves.append((path, f"{kind} {text}"))


def _assert_exact(loaded: object, original: object) -> None:
    assert loaded == original
    assert fingerprint(loaded) == fingerprint(original)


# --- data --------------------------------------------------------------------------------


def _eur(amount: str) -> Money:
    return juston.money(amount, "EUR")


def _rich_accounts() -> list[tuple[Account, Subscription]]:
    """Two accounts whose subscriptions use every price model, discounts and changes.

    ``C9000001`` is an Austrian business (reverse charge, VAT category AE) billed monthly;
    ``C9000002`` a German consumer billed quarterly in advance, whose subscription the
    billing cycle ends early so that the next run makes a credit.
    """
    company = sample_company()
    business = Account(
        id="C9000001",
        name="Donaublick GmbH",
        billing_address=juston.Address(
            street="Graben 21", postcode="1010", city="Wien", country="AT"
        ),
        legal_address=juston.Address(
            street="Herrengasse 3", postcode="8010", city="Graz", country="AT", line2="2. Stock"
        ),
        currency="EUR",
        language="de",
        vat_id="ATU13585627",
        email="rechnung@donaublick.example",
        payment_terms="30d",
    )
    consumer = Account(
        id="C9000002",
        name="Jana Krüger",
        billing_address=juston.Address(
            street="Hohe Straße 7", postcode="50667", city="Köln", country="DE"
        ),
        currency="EUR",
        language="de",
    )
    tiers = [
        juston.Tier(10, _eur("2.50")),
        juston.Tier(Decimal("20.5"), _eur("2.4"), flat=_eur("5.00")),
        juston.Tier(None, _eur("2.3000")),
    ]
    platform = juston.Product(code="PLATFORM", name="Platform", unit_code="MON", supply="digital")
    seats = juston.Product(code="SEATS", name="User seats", supply="digital")
    storage = juston.Product(code="STORAGE", name="Storage (GB)", unit_code="E34")
    sms = juston.Product(code="SMS", name="SMS bundle", supply="digital")
    support = juston.Product(code="SUPPORT", name="Support")
    ebook = juston.Product(code="EBOOK", name="Handbook", tax_class="reduced", supply="digital")
    monthly_items = [
        juston.Item(id="platform", product=platform, price=juston.Flat(_eur("49.00")), quantity=1),
        juston.Item(
            id="seats",
            product=seats,
            price=juston.PerUnit(_eur("12.495")),
            quantity=Decimal("7"),
            billing_type=juston.BillingType.RECURRING_PRORATED,
            discount=juston.Discount(percent=Decimal("12.5"), end=date(2026, 3, 1)),
        ).change_quantity(date(2026, 1, 17), Decimal("9.0")),
        juston.Item(
            id="storage",
            product=storage,
            price=juston.Graduated(tiers),
            quantity=Decimal("25.25"),
            billing_type=juston.BillingType.RECURRING_PRORATED_AVERAGE,
        ),
        juston.Item(
            id="sms",
            product=sms,
            price=juston.Package(_eur("30.00"), 100),
            quantity=250,
            practice=juston.Practice.ARREARS,
            discount=juston.Discount(amount=_eur("1.50")),
        ),
        juston.Item(
            id="support",
            product=support,
            price=juston.Percentage(Decimal("12.5"), "EUR"),
            quantity=1,
            description="Premium support, 12.5 % of the platform fees",
        ),
        juston.Item(
            id="minimum", product=support, price=juston.MinimumFee(_eur("500")), quantity=1
        ),
    ]
    quarterly_items = [
        juston.Item(
            id="seats",
            product=seats,
            price=juston.PriceSchedule(
                [
                    (date(2026, 1, 1), juston.Volume(tiers)),
                    (date(2026, 2, 1), juston.PerUnit(_eur("3.10"))),
                ]
            ),
            quantity=12,
            billing_type=juston.BillingType.RECURRING_PRORATED,
            tax_date=juston.TaxDate.END_OF_SERVICE_PERIOD,
        ).change_price(date(2026, 3, 1), juston.PerUnit(_eur("3.25"))),
        juston.Item(
            id="ebook",
            product=ebook,
            price=juston.PerUnit(_eur("19.90")),
            quantity=1,
            billing_type=juston.BillingType.ONE_TIME,
        ),
    ]
    return [
        (
            business,
            Subscription(
                number="S9000001",
                account_id=business.id,
                start=date(2026, 1, 1),
                billing_period="1m",
                alignment=juston.Alignment.CALENDAR,
                items=monthly_items,
                payment_terms=company.payment_terms,
            ),
        ),
        (
            consumer,
            Subscription(
                number="S9000002",
                account_id=consumer.id,
                start=date(2026, 1, 1),
                billing_period=juston.BillingPeriod(3, juston.Unit.MONTH),
                alignment=juston.Alignment.CALENDAR,
                items=quarterly_items,
                currency="EUR",
            ),
        ),
    ]


@functools.cache
def _master_data() -> tuple[Company, tuple[Account, ...], tuple[Subscription, ...]]:
    # Values are frozen, so one set serves every test; built once per process.
    company = attrs.evolve(
        sample_company(),
        numbering=juston.Numbering(
            cancellation=juston.Counter(
                series="cancellation", pattern="STO-[Year]-{0000}", start=1000
            )
        ),
        payment_terms="14d eom",
    )
    pairs = [*sample_accounts(3, seed=4), *_rich_accounts()]
    return company, tuple(a for a, _ in pairs), tuple(s for _, s in pairs)


def _master_store() -> MemoryStore:
    company, accounts, subscriptions = _master_data()
    store = MemoryStore()
    with store.transaction() as tx:
        tx.put_company(company)
        for account in accounts:
            tx.put_account(account)
        for subscription in subscriptions:
            tx.put_subscription(subscription)
    return store


def copy_master_data(source: Reader, target: Store) -> None:
    """Copy the company, accounts and subscriptions of *source* into *target* (one transaction)."""
    with target.transaction() as tx:
        tx.put_company(source.company())
        for account in source.accounts():
            tx.put_account(account)
            for subscription in source.subscriptions(account.id):
                tx.put_subscription(subscription)


def billing_cycle(store: Store) -> list[Invoice]:
    """Three monthly runs with finalizing, re-runs, a cancellation and an ended subscription.

    Runs on 1 January, 1 February and 1 March 2026, each finalized and each repeated
    (which must bill nothing); the consumer's quarterly subscription ends on 1 February
    (a credit in March) and the first invoice is cancelled on 5 February (billed again in
    March). Returns every document of the store, in the order added.
    """
    for day in (date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1)):
        result = juston.invoice_run(store, day)
        assert not result.failures, result.failures
        juston.finalize(store, result.documents)
        again = juston.invoice_run(store, day)
        assert again.documents == (), f"the re-run on {day} billed again: {again}"
        if day.month == 1:
            with store.transaction() as tx:
                (quarterly,) = tx.subscriptions("C9000002")
                tx.put_subscription(quarterly.cancel(date(2026, 2, 1)))
        if day.month == 2:
            first = next(store.documents())
            juston.cancel(store, first, cancellation_date=date(2026, 2, 5))
    return list(store.documents())


@functools.cache
def _billed_memory() -> tuple[MemoryStore, tuple[Invoice, ...]]:
    """A memory store after a billing cycle (never changed afterwards), and its documents."""
    store = _master_store()
    return store, tuple(billing_cycle(store))


@functools.cache
def _billed_documents() -> tuple[Invoice, ...]:
    """Real documents from a billing cycle on a memory store: every kind and status."""
    documents = _billed_memory()[1]
    seen = {(d.kind, d.status) for d in documents}
    # Guard against the sample data changing under the kit: these must all be covered.
    assert (DocumentKind.INVOICE, DocumentStatus.OPEN) in seen, seen
    assert (DocumentKind.INVOICE, DocumentStatus.CANCELLED) in seen, seen
    assert (DocumentKind.CREDIT, DocumentStatus.OPEN) in seen, seen
    assert (DocumentKind.CANCELLATION, DocumentStatus.SETTLED) in seen, seen
    assert any(s.category == "AE" for d in documents for s in d.tax_breakdown)
    assert any(line.discount_amount for d in documents for line in d.lines)
    return documents


def _draft(document: Invoice) -> Invoice:
    """*document* as an unsaved draft (what an invoice run hands to ``add_document``)."""
    return attrs.evolve(
        document,
        id=None,
        status=DocumentStatus.DRAFT,
        number=None,
        cancels=None,
        cancelled_by=None,
    )


def _comparable(documents: Sequence[Invoice]) -> list[Invoice]:
    """*documents* with store-assigned ids and random run ids replaced by their positions."""
    ids = {d.id: f"#{n}" for n, d in enumerate(documents)}
    runs: dict[str | None, str | None] = {None: None}
    for d in documents:
        runs.setdefault(d.run_id, f"run {len(runs)}")
    return [
        attrs.evolve(
            d,
            id=ids[d.id],
            run_id=runs[d.run_id],
            cancels=ids.get(d.cancels) if d.cancels else None,
            cancelled_by=ids.get(d.cancelled_by) if d.cancelled_by else None,
        )
        for d in documents
    ]


def _snapshot(store: Reader) -> list[tuple[str, str]]:
    """Everything *store* holds except counters, as one fingerprint."""
    try:
        company: Company | None = store.company()
    except NotFound:
        company = None
    accounts = list(store.accounts())
    documents = list(store.documents())
    return fingerprint(
        {
            "company": company,
            "accounts": accounts,
            "count": store.count_accounts(),
            "subscriptions": [list(store.subscriptions(a.id)) for a in accounts],
            "documents": documents,
            "terms": [sorted(map(repr, store.billed_terms(a.id))) for a in accounts],
            "balances": store.balances(),
            "entries": list(store.payment_entries()),
            "mandates": [list(store.mandates(a.id)) for a in accounts],
            "plans": dict(store.installment_plans_of([d.id or "" for d in documents])),
            "dunnings": list(store.dunnings()),
            "dunning blocks": store.dunning_blocks(),
        }
    )


def _ids(documents: Iterable[Invoice]) -> list[str | None]:
    return [d.id for d in documents]


def _terms(documents: Iterable[Invoice]) -> Multiset[Term]:
    return Multiset(t for d in documents for t in d.terms())


# --- usage and charges -------------------------------------------------------------------

_JAN = date(2026, 1, 1)
_FEB = date(2026, 2, 1)
_CET = timezone(timedelta(hours=1))
_IST = timezone(timedelta(hours=5, minutes=30))
_PST = timezone(timedelta(hours=-8))
#: A property name that a JSON path would trip over.
_ODD = 'na"me\\ä.x'


def _at(day: int, hour: int = 12, minute: int = 0, tz: timezone = UTC, month: int = 1) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=tz)


def _stored(
    record_id: str,
    item: tuple[str, str, str],
    timestamp: datetime,
    quantity: str = "1",
    *,
    period: date = _JAN,
    day: date | None = None,
    price: str | None = None,
    criterion: str | None = None,
    invoice_criterion: str | None = None,
    properties: dict[str, str] | None = None,
) -> StoredUsage:
    account_id, subscription, item_id = item
    record = UsageRecord(
        id=record_id,
        item=f"{subscription}/{item_id}",
        timestamp=timestamp,
        quantity=quantity,
        unit_price=None if price is None else juston.money(price, "EUR"),
        criterion=criterion,
        invoice_criterion=invoice_criterion,
        properties=properties or {},
    )
    return StoredUsage(
        record=record,
        account_id=account_id,
        subscription=subscription,
        item_id=item_id,
        day=day or timestamp.astimezone(UTC).date(),
        period_start=period,
    )


_API = ("C1", "S-1", "api")
_SEATS = ("C1", "S-1", "seats")
_USERS = ("C1", "S-1", "users")
_OTHER_API = ("C2", "S-1", "api")  # the same subscription number and item, another account
_NOT_ASKED = (("C2", "S-2", "api"), ("C1", "S-1", "other"), ("C1", "S-2", "api"))


@functools.cache
def _usage_rows() -> tuple[StoredUsage, ...]:
    """Usage of several accounts, subscriptions, items and periods that every aggregation
    has something to get wrong in: fractions down to 10⁻⁶, sums beyond a float's digits,
    prices equal in value but not in exponent, criteria, properties present and absent,
    equal instants in different offsets, and equal instants told apart only by id."""
    return (
        # api: sums, maxima, prices, criteria.
        _stored("u01", _API, _at(3, 10), "0.000001"),
        _stored("u02", _API, _at(3, 10), "123456.5"),
        _stored("u03", _API, _at(5), "2.50", price="0.10"),
        _stored("u04", _API, _at(5, 13), "3", price="0.1"),  # the group of u03
        _stored("u05", _API, _at(6), "4", price="0.100000"),  # and again
        _stored("u06", _API, _at(6), "1", price="0.2"),
        _stored("u07", _API, _at(7), "5", criterion="EU"),
        _stored("u08", _API, _at(7), "6", criterion="EU", invoice_criterion="project-x"),
        _stored("u09", _API, _at(8), "7", invoice_criterion="project-x"),
        _stored("u10", _API, _at(9), "999999999.999999"),
        _stored("u11", _API, _at(9, 11), "888888888888"),
        _stored("u12", _API, _at(10, tz=_PST), "7777777777.777777"),
        _stored("u13", _API, _at(1, month=2), "1", period=_FEB),
        _stored("u14", _API, _at(2, month=2), "0", period=_FEB),
        _stored("u15", _API, _at(31, 23, 30, tz=_PST), "1.25", period=_JAN, day=date(2026, 1, 31)),
        # seats: latest values, per day and per period.
        _stored("s1", _SEATS, _at(2, 8, tz=_CET), "5"),
        _stored("s2", _SEATS, _at(2, 9, tz=_CET), "7"),
        _stored("s3", _SEATS, _at(2, 8), "9"),  # the instant of s2; s3 > s2
        _stored("B-4", _SEATS, _at(4), "3"),
        _stored("a-4", _SEATS, _at(4), "4"),  # the instant of B-4; "a-4" > "B-4"
        _stored("s5", _SEATS, _at(10, 18), "2.5"),
        _stored("s6", _SEATS, _at(10, 17, 59), "100"),
        _stored("s7", _SEATS, _at(10, 22, 30, tz=_IST), "8", criterion="night"),
        _stored("s8", _SEATS, _at(3, month=2), "11", period=_FEB),
        # users: distinct property values.
        _stored("p1", _USERS, _at(3), properties={"user": "anna"}),
        _stored("p2", _USERS, _at(3), properties={"user": "bob"}),
        _stored("p3", _USERS, _at(4), properties={"user": "anna", "region": "eu"}),
        _stored("p4", _USERS, _at(4)),
        _stored("p5", _USERS, _at(5), properties={"region": "eu"}),
        _stored("p6", _USERS, _at(5), properties={"user": 'ä"\\'}),
        _stored("p7", _USERS, _at(6), properties={"user": ""}),
        _stored("p8", _USERS, _at(6), properties={"user": "bob"}, criterion="EU"),
        # another account's item of the same name.
        _stored("o1", _OTHER_API, _at(3), "10"),
        _stored("o2", _OTHER_API, _at(3), "20", properties={_ODD: "v1"}),
        _stored("o3", _OTHER_API, _at(4), "30", properties={_ODD: "v2", "user": "anna"}),
        _stored("o4", _OTHER_API, _at(5), "40", properties={_ODD: "v1"}),
        # items nobody asks for.
        *(_stored(f"x{n}", item, _at(3), "1000") for n, item in enumerate(_NOT_ASKED)),
    )


_ASKED = (_API, _SEATS, _USERS, _OTHER_API)


def _expected_totals(
    rows: Iterable[StoredUsage], queries: Iterable[UsageQuery]
) -> list[UsageTotal]:
    """What :func:`aggregate` gives for *queries* over *rows*, in the order of the stores."""
    rows = list(rows)
    totals: list[UsageTotal] = []
    for query in queries:
        item = (query.account_id, query.subscription, query.item_id)
        mine = [r for r in rows if (r.account_id, r.subscription, r.item_id) == item]
        totals.extend(aggregate(mine, query.aggregation, query.property))
    totals.sort(key=order)
    return totals


def _queries(aggregation: Aggregation, prop: str | None = None) -> list[UsageQuery]:
    return [UsageQuery(*item, aggregation, prop) for item in _ASKED]


def _charge(
    source: str, key: str, account_id: str, amount: str = "10.00", **more: object
) -> Billable:
    return Billable(
        source=source,
        key=key,
        account_id=account_id,
        description=f"{source} {key}",
        unit_price=juston.money(amount, "EUR"),
        service_date=date(2026, 1, 15),
        **more,  # type: ignore[arg-type]
    )


# --- receivables -------------------------------------------------------------------------


def _balance(
    balance_id: str,
    account_id: str,
    document_id: str | None,
    amount: str,
    day: int,
    kind: BalanceType = BalanceType.PAYMENT,
    code: str = "EUR",
    **more: str,
) -> Balance:
    return Balance(
        id=balance_id,
        account_id=account_id,
        document_id=document_id,
        type=kind,
        amount=juston.money(amount, code),
        date=date(2026, 1, day),
        **more,
    )


_INVOICE = BalanceType.INVOICE


def _ledger_balances() -> tuple[list[Balance], list[Balance]]:
    """Balances of four accounts in three currencies, added in two transactions.

    Open: D4 (since its first balance, a payment: no number), D1, D3, D5 (a credit, still
    negative) and d6, those four on the same day (so in code point order of their ids:
    upper case first). Zero, so not open: D2 (paid) and D0 (settled by D5). One payment is
    on the account itself, not on a document.
    """
    first = [
        _balance("invoice:D1", "C0000001", "D1", "119.00", 5, _INVOICE, cause="INV-1"),
        _balance("invoice:D2", "C0000001", "D2", "50.00", 3, _INVOICE, cause="INV-2"),
        _balance("invoice:D3", "C-JPY", "D3", "5000", 5, _INVOICE, "JPY", cause="INV-3"),
        _balance("payment:E1:0", "C0000001", "D2", "-50.00", 10, cause="E1"),
        _balance("payment:E2:0", "C-KWD", "D4", "-1.234", 1, code="KWD", cause="E2"),
    ]
    settled = BalanceType.SETTLEMENT
    second = [
        _balance("invoice:D4", "C-KWD", "D4", "2.000", 8, _INVOICE, "KWD", cause="INV-4"),
        _balance("payment:E3:rest", "C0000001", None, "-30.00", 11, note="overpayment"),
        _balance("invoice:D5", "C0000002", "D5", "-20.00", 5, _INVOICE, cause="CR-5"),
        _balance("payment:E1:1", "C0000001", "D1", "-19.00", 10, cause="E1"),
        _balance("invoice:D0", "C0000002", "D0", "10.00", 5, _INVOICE, cause="INV-0"),
        _balance("settle:D5:D0:from", "C0000002", "D5", "10.00", 12, settled, pair="settle:D5:D0"),
        _balance("settle:D5:D0:to", "C0000002", "D0", "-10.00", 12, settled, pair="settle:D5:D0"),
        _balance("invoice:d6", "C-JPY", "d6", "700", 5, _INVOICE, "JPY", cause="INV-6"),
    ]
    return first, second


def _open(
    document_id: str, account_id: str, amount: str, code: str, day: int, number: str | None
) -> OpenAmount:
    return OpenAmount(
        document_id, account_id, juston.money(amount, code), date(2026, 1, day), number
    )


#: What is open in :func:`_ledger_balances`, in order.
_OPEN = (
    _open("D4", "C-KWD", "0.766", "KWD", 1, None),
    _open("D1", "C0000001", "100.00", "EUR", 5, "INV-1"),
    _open("D3", "C-JPY", "5000", "JPY", 5, "INV-3"),
    _open("D5", "C0000002", "-10.00", "EUR", 5, "CR-5"),
    _open("d6", "C-JPY", "700", "JPY", 5, "INV-6"),
)


def _entry(entry_id: str, day: int, amount: str = "119.00", **more: object) -> PaymentEntry:
    return PaymentEntry(
        id=entry_id,
        amount=juston.money(amount, "EUR"),
        booking_date=date(2026, 2, day),
        **more,  # type: ignore[arg-type]
    )


def _entries() -> list[PaymentEntry]:
    """Entries of every status, with every field set on one; ids equal but for case on
    one day, so in code point order there."""
    assigned = EntryStatus.ASSIGNED
    return [
        _entry("e-2", 3, reference="INV-1"),
        _entry("E-10", 3, status=assigned, account_id="C0000001", document_ids=["D1", "D2"]),
        _entry("E-2", 3, status=EntryStatus.IGNORED, reason="not ours"),
        _entry(
            "a",
            5,
            "-119.00",
            reference="RETURN INV-1",
            payer_name="Jana Krüger",
            payer_iban="DE89370400440532013000",
            method="sepa_direct_debit",
            value_date=date(2026, 2, 6),
            mandate_reference="M-0001",
            end_to_end_id="E2E-1",
            return_reason="MD06",
            foreign_amount=juston.money("130.5", "USD"),
            source="camt-2026-02-05.xml",
            reason="no document with this number",
        ),
        _entry("z", 1, "12.5", status=assigned, account_id="C0000002", reason="by hand"),
    ]


def _mandate(reference: str, account_id: str = "C0000001", day: int = 5, **more: object) -> Mandate:
    return Mandate(
        reference=reference,
        account_id=account_id,
        iban="DE89370400440532013000",
        signed_on=date(2026, 1, day),
        **more,  # type: ignore[arg-type]
    )


def _plan(document_id: str, *amounts: str) -> InstallmentPlan:
    installments = tuple(
        Installment(due_date=date(2026, 2 + n, 1), amount=_eur(amount))
        for n, amount in enumerate(amounts)
    )
    # Any: mypy cannot type a field whose converter is the generic ``tuple``.
    return InstallmentPlan(document_id=document_id, installments=cast(Any, installments))


def _comparable_receivables(store: Reader, documents: Sequence[Invoice]) -> list[tuple[str, str]]:
    """The balances and open documents of *store* as one fingerprint, with the document ids
    the store assigned replaced by the documents' positions in *documents*."""
    ids = {d.id: f"#{n}" for n, d in enumerate(documents)}

    def mapped(text: str) -> str:
        return ":".join(ids.get(part, part) for part in text.split(":"))

    def maybe(text: str | None) -> str | None:
        return None if text is None else mapped(text)

    balances = [
        attrs.evolve(b, id=mapped(b.id), document_id=maybe(b.document_id), pair=maybe(b.pair))
        for b in store.balances()
    ]
    opens = [attrs.evolve(o, document_id=mapped(o.document_id)) for o in store.open_documents()]
    return fingerprint({"balances": balances, "open": opens})


# --- dunning -----------------------------------------------------------------------------


def _dunning(account_id: str = "C9000001", **more: Any) -> Dunning:
    """A draft dunning of two invoices of *account_id* (one escalated, with interest and
    the flat fee), with the account and company snapshots, a fee and credits; amounts of
    several exponents."""
    company, accounts, _ = _master_data()
    account = next(a for a in accounts if a.id == account_id)
    details = tuple(
        DunningDetail(
            document_id=f"D0000000{n}",
            number=f"RE-2026-000{n}",
            invoice_date=date(2026, month, 1),
            due_date=date(2026, month, 15),
            open=_eur(open_),
            overdue=_eur(overdue),
            days_overdue=days,
            previous_level=previous,
            level=level,
            interest=_eur(interest),
            flat_fee=_eur(flat_fee),
        )
        for n, month, open_, overdue, days, previous, level, interest, flat_fee in (
            # Escalated, with interest and the flat fee; then one installment, newly overdue.
            (1, 1, "119.00", "119.0", 61, 1, 2, "1.19", "40"),
            (7, 2, "238.50", "79.50", 30, 0, 1, "0.00", "0"),
        )
    )
    dunning = Dunning(
        id=None,
        account=account,
        company=company,
        status=DunningStatus.DRAFT,
        number=None,
        dunning_date=date(2026, 3, 17),
        due_date=date(2026, 3, 24),
        level=2,
        details=details,
        fee=_eur("5.00"),
        credits=_eur("-12.5"),
        kind="dunning-2",
        fee_document_id="D00000001",
    )
    return attrs.evolve(dunning, **more)


def _closed(number: str, **more: Any) -> Dunning:
    return _dunning(status=DunningStatus.CLOSED, number=number, **more)


def _dunning_ids(dunnings: Iterable[Dunning]) -> list[str | None]:
    return [d.id for d in dunnings]


class _Boom(Exception):
    """Raised inside a transaction to abort it."""


MakeStore = Callable[[], Store]


# --- the kit -----------------------------------------------------------------------------


class StoreConformance:
    """The storage contract as tests; subclass it and provide a ``make_store`` fixture."""

    @pytest.fixture
    def make_store(self) -> MakeStore:
        """Override: return a callable that makes a new, empty store on each call."""
        pytest.fail(
            f"{type(self).__name__}: define a `make_store` fixture that returns a callable "
            "making a new, empty store",
            pytrace=False,
        )

    @pytest.fixture
    def store(self, make_store: MakeStore) -> Store:
        """A new, empty store."""
        return make_store()

    @pytest.fixture
    def filled(self, make_store: MakeStore) -> Store:
        """A new store with the company, five accounts and their subscriptions."""
        store = make_store()
        copy_master_data(_master_store(), store)
        return store

    @pytest.fixture
    def ledger(self, filled: Store) -> tuple[Store, list[Balance]]:
        """*filled* plus a JPY and a KWD account and :func:`_ledger_balances`; with those
        balances in the order added."""
        first, second = _ledger_balances()
        with filled.transaction() as tx:
            template = tx.account("C0000003")
            for code in ("JPY", "KWD"):
                tx.put_account(attrs.evolve(template, id=f"C-{code}", currency=code))
            tx.add_balances(first)
            tx.add_balances([])
        with filled.transaction() as tx:
            tx.add_balances(second)
        return filled, first + second

    @pytest.fixture
    def billed(self, filled: Store) -> tuple[Store, list[Invoice]]:
        """*filled* plus the billed documents added as drafts, with what add_document returned."""
        with filled.transaction() as tx:
            added = [tx.add_document(_draft(d)) for d in _billed_documents()]
        return filled, added

    # --- protocol ------------------------------------------------------------------------

    def test_store_and_transaction_implement_the_protocols(self, store: Store) -> None:
        assert isinstance(store, juston.Store)
        with store.transaction() as tx:
            assert isinstance(tx, juston.Transaction)

    def test_a_new_store_is_empty(self, store: Store) -> None:
        assert list(store.accounts()) == []
        assert store.count_accounts() == 0
        assert list(store.documents()) == []
        assert list(store.subscriptions("C0000001")) == []
        assert list(store.billed_terms("C0000001")) == []
        assert list(store.dunnings()) == []
        assert store.dunning_blocks() == []

    # --- company -------------------------------------------------------------------------

    def test_company_missing_is_not_found(self, store: Store) -> None:
        with pytest.raises(NotFound):
            store.company()

    def test_company_round_trips_exactly(self, store: Store) -> None:
        company = _master_data()[0]
        with store.transaction() as tx:
            tx.put_company(company)
        _assert_exact(store.company(), company)

    def test_put_company_again_replaces_it(self, store: Store) -> None:
        company = _master_data()[0]
        renamed = attrs.evolve(company, name="Nordwind Software AG", vat_id=None)
        with store.transaction() as tx:
            tx.put_company(company)
        with store.transaction() as tx:
            tx.put_company(renamed)
        _assert_exact(store.company(), renamed)

    # --- accounts ------------------------------------------------------------------------

    def test_accounts_round_trip_exactly(self, filled: Store) -> None:
        for account in _master_data()[1]:
            _assert_exact(filled.account(account.id), account)

    def test_account_missing_is_not_found(self, filled: Store) -> None:
        with pytest.raises(NotFound, match="C-404"):
            filled.account("C-404")

    def test_accounts_are_ordered_by_id(self, store: Store) -> None:
        accounts = sorted(_master_data()[1], key=lambda a: a.id)
        with store.transaction() as tx:
            for account in [accounts[2], accounts[4], accounts[0], accounts[3], accounts[1]]:
                tx.put_account(account)
        assert [a.id for a in store.accounts()] == [a.id for a in accounts]

    def test_accounts_filtered_by_ids_are_ordered_by_id(self, filled: Store) -> None:
        assert [a.id for a in filled.accounts(["C9000002", "C0000001", "C0000003"])] == [
            "C0000001",
            "C0000003",
            "C9000002",
        ]
        assert [a.id for a in filled.accounts({"C9000001"})] == ["C9000001"]
        assert list(filled.accounts([])) == []

    def test_accounts_with_an_unknown_id_is_not_found(self, filled: Store) -> None:
        # An invoice run for a mistyped account must fail, not silently bill nothing.
        with pytest.raises(NotFound, match="C-404"):
            list(filled.accounts(["C0000001", "C-404"]))

    def test_count_accounts(self, store: Store) -> None:
        assert store.count_accounts() == 0
        copy_master_data(_master_store(), store)
        assert store.count_accounts() == len(_master_data()[1])

    def test_put_account_again_replaces_it(self, filled: Store) -> None:
        account = filled.account("C9000001")
        changed = attrs.evolve(account, name="Donaublick AG", email=None, vat_id="ATU23456784")
        with filled.transaction() as tx:
            tx.put_account(changed)
        _assert_exact(filled.account("C9000001"), changed)
        assert filled.count_accounts() == len(_master_data()[1])

    # --- subscriptions -------------------------------------------------------------------

    def test_subscriptions_round_trip_exactly(self, filled: Store) -> None:
        for subscription in _master_data()[2]:
            (loaded,) = filled.subscriptions(subscription.account_id)
            _assert_exact(loaded, subscription)

    def test_subscriptions_are_ordered_by_number(self, filled: Store) -> None:
        (base,) = filled.subscriptions("C9000001")
        numbers = ["S9000001-C", "S9000001-A", "S9000001-B"]
        with filled.transaction() as tx:
            for number in numbers:
                tx.put_subscription(attrs.evolve(base, number=number))
        assert [s.number for s in filled.subscriptions("C9000001")] == [
            "S9000001",
            "S9000001-A",
            "S9000001-B",
            "S9000001-C",
        ]
        # Other accounts' subscriptions are not mixed in.
        assert [s.number for s in filled.subscriptions("C9000002")] == ["S9000002"]

    def test_put_subscription_again_replaces_it(self, filled: Store) -> None:
        (subscription,) = filled.subscriptions("C9000002")
        ended = subscription.cancel(date(2026, 2, 1))
        with filled.transaction() as tx:
            tx.put_subscription(ended)
        (loaded,) = filled.subscriptions("C9000002")
        _assert_exact(loaded, ended)

    def test_put_subscription_for_a_missing_account_is_not_found(self, filled: Store) -> None:
        (subscription,) = filled.subscriptions("C9000002")
        orphan = attrs.evolve(subscription, number="S-404", account_id="C-404")
        with pytest.raises(NotFound), filled.transaction() as tx:
            tx.put_subscription(orphan)
        assert list(filled.subscriptions("C-404")) == []

    def test_subscriptions_of_many_accounts(self, filled: Store) -> None:
        with filled.transaction() as tx:
            (base,) = tx.subscriptions("C9000001")
            tx.put_subscription(attrs.evolve(base, number="S9000001-B"))
            tx.put_subscription(attrs.evolve(base, number="S9000001-A"))
            tx.put_account(attrs.evolve(tx.account("C0000001"), id="C0000000"))
        ids = ["C9000001", "C0000000", "C0000002"]
        got = filled.subscriptions_of(ids)
        # A key for every id asked for, also for an account without subscriptions.
        assert sorted(got) == sorted(ids)
        for account_id in ids:
            assert list(got[account_id]) == list(filled.subscriptions(account_id)), account_id
        assert [s.number for s in got["C9000001"]] == ["S9000001", "S9000001-A", "S9000001-B"]
        assert list(got["C0000000"]) == []
        assert dict(filled.subscriptions_of([])) == {}

    # --- documents -----------------------------------------------------------------------

    def test_documents_round_trip_exactly(self, billed: tuple[Store, list[Invoice]]) -> None:
        store, added = billed
        for original, stored in zip(_billed_documents(), added, strict=True):
            expected = attrs.evolve(_draft(original), id=stored.id)
            _assert_exact(stored, expected)
            _assert_exact(store.document(stored.id or ""), expected)

    def test_finalized_documents_round_trip_exactly(self, filled: Store) -> None:
        # As stored by finalize/cancel: numbers, statuses and links between documents.
        originals = _billed_documents()
        with filled.transaction() as tx:
            stored = [tx.add_document(attrs.evolve(d, id=None)) for d in originals]
        for original, document in zip(originals, stored, strict=True):
            _assert_exact(
                filled.document(document.id or ""), attrs.evolve(original, id=document.id)
            )

    def test_add_document_assigns_new_unique_ids(self, filled: Store) -> None:
        documents = [_draft(d) for d in _billed_documents()]
        with filled.transaction() as tx:
            first = [tx.add_document(d) for d in documents[:3]]
        with filled.transaction() as tx:
            second = [tx.add_document(d) for d in documents[:3]]  # the same ones again
        ids = _ids(first + second)
        assert None not in ids
        assert len(set(ids)) == len(ids)
        for document, stored in zip(documents[:3] * 2, first + second, strict=True):
            assert stored == attrs.evolve(document, id=stored.id)
        # An id the caller sets is not kept: the store assigns ids.
        with filled.transaction() as tx:
            forced = tx.add_document(attrs.evolve(documents[0], id=ids[0]))
        assert forced.id not in ids

    def test_add_documents_adds_in_order(self, filled: Store) -> None:
        documents = [_draft(d) for d in reversed(_billed_documents())]
        with filled.transaction() as tx:
            one = tx.add_document(documents[0])
            many = tx.add_documents(documents[1:])
            assert list(tx.add_documents([])) == []
            assert _ids(tx.documents()) == _ids([one, *many])
        ids = _ids([one, *many])
        assert None not in ids
        assert len(set(ids)) == len(ids)
        for document, stored in zip(documents, [one, *many], strict=True):
            _assert_exact(stored, attrs.evolve(document, id=stored.id))
            _assert_exact(filled.document(stored.id or ""), stored)
        assert _ids(filled.documents()) == ids

    def test_ids_are_not_reused_after_a_delete(self, filled: Store) -> None:
        # An id may have been shown or sent (a draft's link): it must never name another
        # document, even after the document with the highest id is deleted.
        document = _draft(_billed_documents()[0])
        with filled.transaction() as tx:
            tx.add_document(document)
            last = tx.add_document(document)
        with filled.transaction() as tx:
            tx.delete_document(last.id or "")
        with filled.transaction() as tx:
            new = tx.add_document(document)
        assert new.id != last.id, f"the id {last.id} of a deleted document was given again"

    def test_document_missing_is_not_found(self, billed: tuple[Store, list[Invoice]]) -> None:
        store, _ = billed
        with pytest.raises(NotFound):
            store.document("D-404")

    def test_documents_keep_insertion_order(self, filled: Store) -> None:
        # Not by id, account or number: the reverse of the run's order, across transactions.
        documents = [_draft(d) for d in reversed(_billed_documents())]
        added = []
        for chunk in (documents[:4], documents[4:]):
            with filled.transaction() as tx:
                added += [tx.add_document(d) for d in chunk]
        assert _ids(filled.documents()) == _ids(added)

    def test_documents_filtered(self, filled: Store) -> None:
        originals = list(_billed_documents())
        with filled.transaction() as tx:
            added = [tx.add_document(attrs.evolve(d, id=None)) for d in reversed(originals)]
        run_id = next(d.run_id for d in added if d.run_id is not None)
        number = next(d.number for d in added if d.number is not None)
        filters: list[dict[str, str | DocumentStatus]] = [
            {"number": number},
            {"number": "INV-404"},
            {"number": number, "status": DocumentStatus.DRAFT},
            {"account_id": "C9000001"},
            {"account_id": "C0000002"},
            {"status": DocumentStatus.OPEN},
            {"status": DocumentStatus.DRAFT},
            {"status": DocumentStatus.SETTLED},
            {"run_id": run_id},
            {"account_id": "C9000002", "status": DocumentStatus.OPEN},
            {"account_id": "C9000001", "run_id": run_id},
            {"account_id": "C-404"},
        ]
        for where in filters:
            expected = [
                d
                for d in added
                if d.account_id == where.get("account_id", d.account_id)
                and d.status is where.get("status", d.status)
                and d.run_id == where.get("run_id", d.run_id)
                and d.number == where.get("number", d.number)
            ]
            got = list(filled.documents(**where))  # type: ignore[arg-type]
            assert _ids(got) == _ids(expected), where
            assert got == expected, where
        assert list(filled.documents(status=DocumentStatus.DRAFT)) == []

    def test_replace_document(self, billed: tuple[Store, list[Invoice]]) -> None:
        store, added = billed
        before = list(store.documents())
        target = added[1]
        final = attrs.evolve(
            target,
            status=DocumentStatus.OPEN,
            number="INV-2026-00042",
            invoice_date=date(2026, 1, 3),
            due_date=date(2026, 2, 2),
        )
        with store.transaction() as tx:
            tx.replace_document(final)
        _assert_exact(store.document(target.id or ""), final)
        # Same place in the order; nothing else changed.
        assert list(store.documents()) == [final if d.id == target.id else d for d in before]
        assert [d.id for d in store.documents(status=DocumentStatus.OPEN)] == [target.id]

    def test_replace_documents_replaces_each(self, billed: tuple[Store, list[Invoice]]) -> None:
        store, added = billed
        finals = [
            attrs.evolve(d, status=DocumentStatus.OPEN, number=f"INV-2026-{n:05d}")
            for n, d in enumerate(added[:2], start=1)
        ]
        with store.transaction() as tx:
            tx.replace_documents(finals)
            tx.replace_documents([])
        for final in finals:
            _assert_exact(store.document(final.id or ""), final)
        assert _ids(store.documents(status=DocumentStatus.OPEN)) == _ids(finals)
        with pytest.raises(NotFound), store.transaction() as tx:
            tx.replace_documents([finals[0], attrs.evolve(finals[1], id="D-404")])
        _assert_exact(store.document(finals[0].id or ""), finals[0])

    def test_replace_missing_document_is_not_found(
        self, billed: tuple[Store, list[Invoice]]
    ) -> None:
        store, added = billed
        with pytest.raises(NotFound), store.transaction() as tx:
            tx.replace_document(attrs.evolve(added[0], id="D-404"))

    def test_delete_document(self, billed: tuple[Store, list[Invoice]]) -> None:
        store, added = billed
        gone = added[0]
        with store.transaction() as tx:
            tx.delete_document(gone.id or "")
        with pytest.raises(NotFound):
            store.document(gone.id or "")
        assert _ids(store.documents()) == _ids(added[1:])
        remaining = [d for d in added[1:] if d.account_id == gone.account_id]
        assert Multiset(store.billed_terms(gone.account_id)) == _terms(remaining)

    def test_delete_missing_document_is_not_found(
        self, billed: tuple[Store, list[Invoice]]
    ) -> None:
        store, _ = billed
        with pytest.raises(NotFound), store.transaction() as tx:
            tx.delete_document("D-404")
        assert len(list(store.documents())) == len(_billed_documents())

    def test_billed_terms_are_those_of_all_the_accounts_documents(
        self, billed: tuple[Store, list[Invoice]]
    ) -> None:
        store, added = billed
        for account in store.accounts():
            expected = _terms(d for d in added if d.account_id == account.id)
            # Drafts, cancelled invoices and cancellations (negated terms) all count.
            assert Multiset(store.billed_terms(account.id)) == expected, account.id
        assert any(t.count < 0 for t in store.billed_terms("C9000002"))
        assert list(store.billed_terms("C-404")) == []

    def test_billed_terms_of_many_accounts(self, billed: tuple[Store, list[Invoice]]) -> None:
        store, _ = billed
        ids = ["C9000002", "C0000001", "C-404"]
        got = store.billed_terms_of(ids)
        assert sorted(got) == sorted(ids)
        for account_id in ids:
            assert Multiset(got[account_id]) == Multiset(store.billed_terms(account_id))
        assert list(got["C-404"]) == []
        assert dict(store.billed_terms_of([])) == {}

    # --- counters ------------------------------------------------------------------------

    def test_next_number_starts_at_one_and_counts_up(self, store: Store) -> None:
        with store.transaction() as tx:
            assert [tx.next_number("nordwind/invoice/2026") for _ in range(3)] == [1, 2, 3]
        with store.transaction() as tx:
            assert tx.next_number("nordwind/invoice/2026") == 4

    def test_next_numbers_advances_by_a_count_at_once(self, store: Store) -> None:
        with store.transaction() as tx:
            assert tx.next_number("nordwind/credit/2026") == 1
            assert list(tx.next_numbers("nordwind/credit/2026", 3)) == [2, 3, 4]
            assert list(tx.next_numbers("nordwind/invoice/2026", 2)) == [1, 2]
        with store.transaction() as tx:
            assert tx.next_number("nordwind/credit/2026") == 5

    def test_set_counter_and_has_counter(self, store: Store) -> None:
        with store.transaction() as tx:
            assert not tx.has_counter("nordwind/cancellation/2026")
            tx.set_counter("nordwind/cancellation/2026", 1000)
            assert tx.has_counter("nordwind/cancellation/2026")
            assert tx.next_number("nordwind/cancellation/2026") == 1001
            assert not tx.has_counter("nordwind/invoice/2026")
            tx.next_number("nordwind/invoice/2026")
            assert tx.has_counter("nordwind/invoice/2026")
        with store.transaction() as tx:
            assert tx.has_counter("nordwind/cancellation/2026")
            assert tx.has_counter("nordwind/invoice/2026")
            assert tx.next_number("nordwind/cancellation/2026") == 1002

    def test_counters_are_independent(self, store: Store) -> None:
        sequences = ["nordwind/invoice/2026", "nordwind/invoice/2027", "nordwind/credit/2026"]
        with store.transaction() as tx:
            for n in range(1, 4):
                for k, sequence in enumerate(sequences):
                    for _ in range(k):
                        tx.next_number(sequence)
                    assert tx.next_number(sequence) == n * (k + 1)

    # --- transactions --------------------------------------------------------------------

    def test_reads_in_a_transaction_see_its_writes(self, store: Store) -> None:
        company, accounts, subscriptions = _master_data()
        document = _draft(_billed_documents()[0])
        with store.transaction() as tx:
            tx.put_company(company)
            assert tx.company() == company
            for account in reversed(accounts):
                tx.put_account(account)
            assert tx.account(accounts[0].id) == accounts[0]
            assert [a.id for a in tx.accounts()] == sorted(a.id for a in accounts)
            assert [a.id for a in tx.accounts([accounts[1].id])] == [accounts[1].id]
            assert tx.count_accounts() == len(accounts)
            tx.put_subscription(subscriptions[0])
            assert list(tx.subscriptions(subscriptions[0].account_id)) == [subscriptions[0]]
            batch = tx.subscriptions_of([subscriptions[0].account_id])
            assert list(batch[subscriptions[0].account_id]) == [subscriptions[0]]
            added = tx.add_document(document)
            assert tx.document(added.id or "") == added
            assert list(tx.documents()) == [added]
            assert list(tx.documents(account_id=added.account_id)) == [added]
            assert list(tx.documents(status=DocumentStatus.DRAFT, run_id=added.run_id)) == [added]
            assert Multiset(tx.billed_terms(added.account_id)) == _terms([added])
            assert Multiset(tx.billed_terms_of([added.account_id])[added.account_id]) == _terms(
                [added]
            )
            final = attrs.evolve(added, status=DocumentStatus.OPEN, number="INV-1")
            tx.replace_document(final)
            assert tx.document(added.id or "") == final
            assert list(tx.documents(status=DocumentStatus.DRAFT)) == []
            tx.delete_document(added.id or "")
            with pytest.raises(NotFound):
                tx.document(added.id or "")
            assert list(tx.documents()) == []
            assert list(tx.billed_terms(added.account_id)) == []
            assert tx.next_number("seq") == 1
            assert tx.has_counter("seq")

    def test_a_committed_transaction_is_visible_afterwards(self, store: Store) -> None:
        company, accounts, subscriptions = _master_data()
        document = _draft(_billed_documents()[0])
        with store.transaction() as tx:
            tx.put_company(company)
            for account in accounts:
                tx.put_account(account)
            tx.put_subscription(subscriptions[0])
            added = tx.add_document(document)
            tx.next_number("seq")
        assert store.company() == company
        assert list(store.accounts()) == sorted(accounts, key=lambda a: a.id)
        assert list(store.subscriptions(subscriptions[0].account_id)) == [subscriptions[0]]
        assert list(store.documents()) == [added]
        with store.transaction() as tx:
            assert tx.next_number("seq") == 2

    def test_a_failed_transaction_writes_nothing_and_reraises(
        self, billed: tuple[Store, list[Invoice]]
    ) -> None:
        store, added = billed
        with store.transaction() as tx:
            for _ in range(3):
                tx.next_number("nordwind/invoice/2026")
        before = _snapshot(store)
        company, accounts, subscriptions = _master_data()
        boom = _Boom("abort")
        with pytest.raises(_Boom) as raised, store.transaction() as tx:
            tx.put_company(attrs.evolve(company, name="Changed GmbH"))
            tx.put_account(attrs.evolve(accounts[0], name="Changed GmbH"))
            new_account = attrs.evolve(accounts[0], id="C0000099")
            tx.put_account(new_account)
            tx.put_subscription(
                attrs.evolve(subscriptions[0], number="S0000099", account_id="C0000099")
            )
            tx.put_subscription(subscriptions[-1].cancel(date(2026, 1, 15)))
            tx.add_document(_draft(_billed_documents()[0]))
            tx.add_documents([_draft(d) for d in _billed_documents()[:3]])
            tx.replace_document(attrs.evolve(added[0], status=DocumentStatus.OPEN, number="X-1"))
            tx.delete_document(added[1].id or "")
            tx.next_number("nordwind/invoice/2026")
            tx.next_number("nordwind/credit/2026")
            tx.set_counter("nordwind/cancellation/2026", 1000)
            raise boom
        assert raised.value is boom
        assert _snapshot(store) == before
        with store.transaction() as tx:
            assert tx.next_number("nordwind/invoice/2026") == 4
            assert not tx.has_counter("nordwind/credit/2026")
            assert not tx.has_counter("nordwind/cancellation/2026")

    def test_a_failed_first_transaction_leaves_the_store_empty(self, store: Store) -> None:
        company, accounts, subscriptions = _master_data()
        with pytest.raises(_Boom), store.transaction() as tx:
            tx.put_company(company)
            tx.put_account(accounts[0])
            tx.put_subscription(subscriptions[0])
            assert tx.next_number("seq") == 1
            raise _Boom
        with pytest.raises(NotFound):
            store.company()
        assert store.count_accounts() == 0
        assert list(store.subscriptions(accounts[0].id)) == []
        with store.transaction() as tx:
            assert not tx.has_counter("seq")
            assert tx.next_number("seq") == 1

    def test_a_store_works_after_a_failed_transaction(self, filled: Store) -> None:
        with pytest.raises(_Boom), filled.transaction() as tx:
            tx.next_number("seq")
            tx.add_document(_draft(_billed_documents()[0]))
            raise _Boom
        with filled.transaction() as tx:
            assert tx.next_number("seq") == 1
            added = tx.add_document(_draft(_billed_documents()[0]))
        assert list(filled.documents()) == [added]

    def test_an_error_of_the_store_rolls_back_the_transaction(self, filled: Store) -> None:
        # A NotFound raised by the store itself aborts like any other exception.
        with pytest.raises(NotFound), filled.transaction() as tx:
            tx.add_document(_draft(_billed_documents()[0]))
            tx.next_number("seq")
            tx.delete_document("D-404")
        assert list(filled.documents()) == []
        with filled.transaction() as tx:
            assert not tx.has_counter("seq")

    # --- usage ---------------------------------------------------------------------------

    def test_add_usage_stores_new_rows_and_counts_them(self, store: Store) -> None:
        rows = _usage_rows()
        with store.transaction() as tx:
            assert tx.add_usage(rows[:10]) == 10
            assert tx.add_usage([]) == 0
        ids = [r.id for r in rows]
        assert store.known_usage(ids) == set(ids[:10])
        with store.transaction() as tx:
            # Five stored before, the rest new, and two of the new ones given twice.
            again = [*rows[5:20], rows[12], rows[15]]
            assert tx.add_usage(again) == 10
        assert store.known_usage(ids) == set(ids[:20])
        with store.transaction() as tx:
            assert tx.add_usage(rows) == len(rows) - 20
            assert tx.add_usage(rows) == 0
        assert store.known_usage(ids) == set(ids)

    def test_the_first_of_equal_ids_is_stored(self, store: Store) -> None:
        first = _stored("dup", _API, _at(3), "5")
        second = _stored("dup", _API, _at(4), "7")
        with store.transaction() as tx:
            assert tx.add_usage([first, second]) == 1
        with store.transaction() as tx:
            assert tx.add_usage([_stored("dup", _API, _at(5), "9")]) == 0
        (total,) = store.usage_totals([UsageQuery(*_API, Aggregation.SUM)])
        assert (total.quantity, total.records) == (Decimal(5), 1)

    def test_known_usage(self, store: Store) -> None:
        assert store.known_usage(["u01"]) == set()
        assert store.known_usage([]) == set()
        with store.transaction() as tx:
            tx.add_usage(_usage_rows())
        asked = [f"u{n:02d}" for n in range(1, 1200)]  # more than one query's worth
        assert store.known_usage(asked) == {f"u{n:02d}" for n in range(1, 16)}
        assert store.known_usage({"a-4", "B-4", "A-4", "b-4"}) == {"a-4", "B-4"}
        assert store.known_usage(["u01", "u01"]) == {"u01"}

    def test_a_failed_transaction_stores_no_usage(self, store: Store) -> None:
        rows = _usage_rows()
        with store.transaction() as tx:
            tx.add_usage(rows[:3])
        with pytest.raises(_Boom), store.transaction() as tx:
            assert tx.add_usage(rows) == len(rows) - 3
            raise _Boom
        assert store.known_usage([r.id for r in rows]) == {r.id for r in rows[:3]}
        queries = _queries(Aggregation.COUNT)
        assert store.usage_totals(queries) == _expected_totals(rows[:3], queries)
        with store.transaction() as tx:
            assert tx.add_usage(rows) == len(rows) - 3

    def test_reads_in_a_transaction_see_its_usage(self, store: Store) -> None:
        rows = _usage_rows()
        with store.transaction() as tx:
            tx.add_usage(rows[:10])
        queries = _queries(Aggregation.SUM)
        with store.transaction() as tx:
            tx.add_usage(rows[10:])
            assert tx.known_usage([r.id for r in rows]) == {r.id for r in rows}
            assert tx.usage_totals(queries) == _expected_totals(rows, queries)
        assert store.usage_totals(queries) == _expected_totals(rows, queries)

    def test_usage_added_after_a_read_in_a_transaction_counts_too(self, store: Store) -> None:
        rows = _usage_rows()
        queries = [
            *_queries(Aggregation.SUM),
            *_queries(Aggregation.TIME_WEIGHTED),
            *_queries(Aggregation.UNIQUE_COUNT, "user"),
        ]
        with store.transaction() as tx:
            tx.add_usage(rows[:12])
            assert tx.usage_totals(queries) == _expected_totals(rows[:12], queries)
            tx.add_usage(rows[12:30])
            assert tx.usage_totals(queries) == _expected_totals(rows[:30], queries)
            tx.add_usage(rows[30:])
        assert store.usage_totals(queries) == _expected_totals(rows, queries)
        with pytest.raises(_Boom), store.transaction() as tx:
            tx.add_usage([_stored("late", _SEATS, _at(20), "77")])
            assert len(tx.usage_totals(queries)) > len(_expected_totals(rows, queries))
            raise _Boom
        assert store.usage_totals(queries) == _expected_totals(rows, queries)

    @pytest.mark.parametrize("aggregation", list(Aggregation), ids=lambda a: a.value)
    def test_usage_totals_are_those_of_aggregate(
        self, store: Store, aggregation: Aggregation
    ) -> None:
        rows = _usage_rows()
        with store.transaction() as tx:
            tx.add_usage(rows)
        props = ["user", _ODD, "nobody"] if aggregation is Aggregation.UNIQUE_COUNT else [None]
        for prop in props:
            queries = _queries(aggregation, prop)
            expected = _expected_totals(rows, queries)
            got = store.usage_totals(queries)
            assert got == expected, prop
            assert fingerprint(got) == fingerprint(expected), prop  # exponents too
            assert all(t.records > 0 for t in got)

    def test_usage_totals_of_mixed_queries(self, store: Store) -> None:
        rows = _usage_rows()
        with store.transaction() as tx:
            tx.add_usage(rows)
        # One aggregation per item, as a run asks (two for one item tie in the order).
        queries = [
            UsageQuery(*_API, Aggregation.SUM),
            UsageQuery(*_SEATS, Aggregation.TIME_WEIGHTED),
            UsageQuery(*_USERS, Aggregation.UNIQUE_COUNT, "user"),
            UsageQuery(*_OTHER_API, Aggregation.UNIQUE_COUNT, _ODD),
            UsageQuery("C1", "S-2", "api", Aggregation.LATEST),
            UsageQuery("C-404", "S-1", "api", Aggregation.SUM),
        ]
        expected = _expected_totals(rows, queries)
        assert fingerprint(store.usage_totals(queries)) == fingerprint(expected)
        assert fingerprint(store.usage_totals(list(reversed(queries)))) == fingerprint(expected)
        assert store.usage_totals([]) == []

    def test_usage_totals_are_exact(self, store: Store) -> None:
        with store.transaction() as tx:
            tx.add_usage(_usage_rows())
        by_group = {
            (t.period_start, t.criterion, t.invoice_criterion, t.unit_price): t
            for t in store.usage_totals([UsageQuery(*_API, Aggregation.SUM)])
        }
        plain = by_group[(_JAN, None, None, None)]
        # Beyond the 15-17 digits of a float, and fractions down to one millionth.
        assert str(plain.quantity) == "897666790123.527777"
        assert plain.records == 6
        priced = by_group[(_JAN, None, None, Decimal("0.1"))]
        assert (str(priced.unit_price), str(priced.quantity), priced.records) == ("0.1", "9.5", 3)
        assert str(by_group[(_FEB, None, None, None)].quantity) == "1"
        latest = {
            t.day: t.quantity
            for t in store.usage_totals([UsageQuery(*_SEATS, Aggregation.TIME_WEIGHTED)])
            if t.criterion is None and t.period_start == _JAN
        }
        # Equal instants: the greater id wins ("s3" over "s2", "a-4" over "B-4").
        assert latest == {
            date(2026, 1, 2): Decimal(9),
            date(2026, 1, 4): Decimal(4),
            date(2026, 1, 10): Decimal("2.5"),
        }

    def test_usage_totals_only_for_the_items_asked_for(self, store: Store) -> None:
        with store.transaction() as tx:
            tx.add_usage(_usage_rows())
        for aggregation in Aggregation:
            prop = "user" if aggregation is Aggregation.UNIQUE_COUNT else None
            got = store.usage_totals([UsageQuery(*_OTHER_API, aggregation, prop)])
            assert got, aggregation
            assert {(t.account_id, t.subscription, t.item_id) for t in got} == {_OTHER_API}
            assert store.usage_totals([UsageQuery("C1", "S-1", "nothing", aggregation)]) == []

    def test_usage_totals_of_many_items(self, store: Store) -> None:
        items = [(f"C{n % 7}", f"S-{n % 13}", f"i{n}") for n in range(1200)]
        rows = [
            _stored(f"m{n}-{k}", item, _at(1 + k), str(n + k))
            for n, item in enumerate(items)
            for k in range(2)
        ]
        with store.transaction() as tx:
            assert tx.add_usage(rows) == len(rows)
        queries = [UsageQuery(*item, Aggregation.SUM) for item in items[::2]]
        got = store.usage_totals(queries)
        assert got == _expected_totals(rows, queries)
        assert len(got) == 600

    def test_usage_rows_are_stored_as_their_records(self, store: Store) -> None:
        # A store whose transactions take rows (juston.storage.base.UsageRows) stores a
        # row exactly as the record it stands for; any store takes the records.
        rows = _usage_rows()
        plain = [usage_row(row) for row in rows]
        with store.transaction() as tx:
            if isinstance(tx, UsageRows):
                assert tx.add_usage_rows(plain[:20]) == 20
                assert tx.add_usage_rows([]) == 0
                # Ten stored before, one given twice: the first of equal ids counts.
                again = [*plain[10:], plain[25]]
                assert tx.add_usage_rows(again) == len(rows) - 20
            else:
                assert tx.add_usage(rows) == len(rows)
        with store.transaction() as tx:
            if isinstance(tx, UsageRows):
                assert tx.add_usage_rows(plain) == 0
        assert store.known_usage([r.id for r in rows]) == {r.id for r in rows}
        for aggregation in Aggregation:
            prop = "user" if aggregation is Aggregation.UNIQUE_COUNT else None
            queries = _queries(aggregation, prop)
            expected = _expected_totals(rows, queries)
            assert fingerprint(store.usage_totals(queries)) == fingerprint(expected)

    def test_a_failed_transaction_stores_no_usage_rows(self, store: Store) -> None:
        plain = [usage_row(row) for row in _usage_rows()]
        with pytest.raises(_Boom), store.transaction() as tx:
            if isinstance(tx, UsageRows):
                tx.add_usage_rows(plain)
            raise _Boom
        assert store.known_usage([row[0] for row in plain]) == set()
        assert store.usage_totals(_queries(Aggregation.COUNT)) == []

    # --- ad-hoc charges ------------------------------------------------------------------

    def test_charges_round_trip_exactly(self, filled: Store) -> None:
        charge = _charge(
            "time",
            "entry/1",
            "C9000001",
            "12.3450",
            quantity=Decimal("2.50"),
            service_end=date(2026, 1, 20),
            unit_code="HUR",
            tax_class="reduced",
            product_code="CONSULTING",
            invoice="project-7",
        )
        plain = _charge("fee", "setup", "C9000001", "99")
        with filled.transaction() as tx:
            tx.put_charge(charge)
            tx.put_charge(plain)
        got = filled.charges_of(["C9000001"])["C9000001"]
        _assert_exact(list(got), [plain, charge])

    def test_charges_of_many_accounts_in_source_and_key_order(self, filled: Store) -> None:
        charges = [
            _charge("time", "k9", "C9000001"),
            _charge("time", "k10", "C9000001"),
            _charge("expense", "K1", "C9000001"),
            _charge("expense", "k1", "C9000001"),
            _charge("time", "k1", "C0000001"),
            _charge("Time", "k1", "C9000001"),
        ]
        with filled.transaction() as tx:
            for charge in charges:
                tx.put_charge(charge)
        ids = ["C9000001", "C0000001", "C0000002", "C-404"]
        got = filled.charges_of(ids)
        assert sorted(got) == sorted(ids)
        assert [(c.source, c.key) for c in got["C9000001"]] == [
            ("Time", "k1"),
            ("expense", "K1"),
            ("expense", "k1"),
            ("time", "k10"),
            ("time", "k9"),
        ]
        assert list(got["C0000001"]) == [charges[4]]
        assert list(got["C0000002"]) == []
        assert list(got["C-404"]) == []
        assert dict(filled.charges_of([])) == {}

    def test_put_charge_again_replaces_it(self, filled: Store) -> None:
        with filled.transaction() as tx:
            tx.put_charge(_charge("time", "k1", "C9000001", "10.00"))
            tx.put_charge(_charge("time", "k2", "C9000001", "20.00"))
        changed = _charge("time", "k1", "C9000001", "12.50", quantity=Decimal("3"))
        with filled.transaction() as tx:
            tx.put_charge(changed)
        got = filled.charges_of(["C9000001"])["C9000001"]
        assert [c.unit_price.amount for c in got] == [Decimal("12.50"), Decimal("20.00")]
        _assert_exact(got[0], changed)
        # Its (source, key) is its identity: a charge put for another account moves there.
        moved = _charge("time", "k1", "C0000001", "12.50")
        with filled.transaction() as tx:
            tx.put_charge(moved)
        got_now = filled.charges_of(["C9000001", "C0000001"])
        assert [c.key for c in got_now["C9000001"]] == ["k2"]
        assert list(got_now["C0000001"]) == [moved]

    def test_delete_charge(self, filled: Store) -> None:
        with filled.transaction() as tx:
            tx.put_charge(_charge("time", "k1", "C9000001"))
            tx.put_charge(_charge("time", "k2", "C9000001"))
        with filled.transaction() as tx:
            tx.delete_charge("time", "k1")
        assert [c.key for c in filled.charges_of(["C9000001"])["C9000001"]] == ["k2"]
        with pytest.raises(NotFound, match="k1"), filled.transaction() as tx:
            tx.delete_charge("time", "k2")
            tx.delete_charge("time", "k1")
        # The failed transaction deleted nothing.
        assert [c.key for c in filled.charges_of(["C9000001"])["C9000001"]] == ["k2"]

    def test_put_charge_for_a_missing_account_is_not_found(self, filled: Store) -> None:
        with pytest.raises(NotFound, match="C-404"), filled.transaction() as tx:
            tx.put_charge(_charge("time", "k1", "C9000001"))
            tx.put_charge(_charge("time", "k2", "C-404"))
        assert dict(filled.charges_of(["C9000001", "C-404"])) == {"C9000001": [], "C-404": []}

    def test_reads_in_a_transaction_see_its_charges(self, filled: Store) -> None:
        charge = _charge("time", "k1", "C9000001")
        with filled.transaction() as tx:
            tx.put_charge(charge)
            assert list(tx.charges_of(["C9000001"])["C9000001"]) == [charge]
            tx.delete_charge("time", "k1")
            assert list(tx.charges_of(["C9000001"])["C9000001"]) == []
            tx.put_charge(charge)
        with pytest.raises(_Boom), filled.transaction() as tx:
            tx.delete_charge("time", "k1")
            tx.put_charge(_charge("time", "k2", "C9000001"))
            raise _Boom
        assert list(filled.charges_of(["C9000001"])["C9000001"]) == [charge]

    # --- receivables ---------------------------------------------------------------------

    def test_balances_round_trip_exactly_in_the_order_added(
        self, ledger: tuple[Store, list[Balance]]
    ) -> None:
        store, added = ledger
        _assert_exact(store.balances(), added)

    def test_balances_of_an_account_or_a_document(
        self, ledger: tuple[Store, list[Balance]]
    ) -> None:
        store, added = ledger
        filters: list[dict[str, str]] = [
            {"account_id": "C0000001"},
            {"account_id": "C-KWD"},
            {"document_id": "D4"},
            {"document_id": "D0"},
            {"account_id": "C0000001", "document_id": "D1"},
            {"account_id": "C0000002", "document_id": "D1"},
            {"account_id": "C0000003"},
            {"account_id": "C-404"},
            {"document_id": "D-404"},
        ]
        for where in filters:
            expected = [
                b
                for b in added
                if b.account_id == where.get("account_id", b.account_id)
                and b.document_id == where.get("document_id", b.document_id)
            ]
            assert store.balances(**where) == expected, where
        assert [b.id for b in store.balances(document_id="D1")] == ["invoice:D1", "payment:E1:1"]

    def test_balances_of_many_accounts(self, ledger: tuple[Store, list[Balance]]) -> None:
        store, added = ledger
        ids = ["C0000001", "C-KWD", "C0000003", "C-404"]
        got = store.balances_of(ids)
        # A key for every id asked for, also for an account without balances.
        assert sorted(got) == sorted(ids)
        for account_id in ids:
            assert list(got[account_id]) == [b for b in added if b.account_id == account_id]
        assert list(got["C0000003"]) == []
        many = store.balances_of([f"X{n}" for n in range(1200)] + ["C-JPY"])
        assert len(many) == 1201
        assert [b.id for b in many["C-JPY"]] == ["invoice:D3", "invoice:d6"]
        assert dict(store.balances_of([])) == {}

    def test_known_balances(self, ledger: tuple[Store, list[Balance]]) -> None:
        store, added = ledger
        ids = [b.id for b in added]
        asked = [*ids, "INVOICE:D1", "invoice:D9", *(f"x{n}" for n in range(1200))]
        assert store.known_balances(asked) == set(ids)
        assert store.known_balances(["invoice:D1", "invoice:D1"]) == {"invoice:D1"}
        assert store.known_balances([]) == set()

    def test_a_balance_stored_again_is_a_state_error_and_nothing_is_written(
        self, ledger: tuple[Store, list[Balance]]
    ) -> None:
        store, added = ledger
        fresh = _balance("fresh", "C0000001", "D1", "-1.00", 20)
        again = attrs.evolve(added[1], amount=_eur("51.00"))
        with pytest.raises(StateError, match="invoice:D2"), store.transaction() as tx:
            tx.add_balances([fresh])
            tx.add_balances([_balance("other", "C0000001", None, "-5.00", 20), again])
        twice = _balance("twice", "C0000001", None, "-5.00", 20)
        with pytest.raises(StateError, match="twice"), store.transaction() as tx:
            tx.add_balances([fresh, twice, twice])
        _assert_exact(store.balances(), added)
        assert store.known_balances(["fresh", "other", "twice"]) == set()
        with store.transaction() as tx:
            tx.add_balances([fresh])
        assert store.balances()[-1] == fresh

    def test_open_documents_sum_the_balances_per_document(
        self, ledger: tuple[Store, list[Balance]]
    ) -> None:
        store, _ = ledger
        got = store.open_documents()
        _assert_exact(got, list(_OPEN))
        assert got == open_amounts(store.balances())

    def test_open_documents_of_some_accounts(self, ledger: tuple[Store, list[Balance]]) -> None:
        store, _ = ledger

        def of(*account_ids: str) -> list[OpenAmount]:
            return [o for o in _OPEN if o.account_id in account_ids]

        for ids in (["C-JPY"], ["C0000001", "C-404"], ["C0000002", "C-KWD"], ["C0000003"]):
            _assert_exact(store.open_documents(ids), of(*ids))
        assert store.open_documents({"C-KWD", "C-JPY"}) == of("C-KWD", "C-JPY")
        assert store.open_documents([]) == []
        many = [f"X{n}" for n in range(1200)] + ["C-JPY", "C0000001"]
        assert store.open_documents(many) == of("C-JPY", "C0000001")

    def test_a_document_paid_later_is_no_longer_open(
        self, ledger: tuple[Store, list[Balance]]
    ) -> None:
        store, _ = ledger
        with store.transaction() as tx:
            tx.add_balances([_balance("payment:E9:0", "C0000001", "D1", "-100.00", 20)])
        assert [o.document_id for o in store.open_documents()] == ["D4", "D3", "D5", "d6"]
        with store.transaction() as tx:  # a chargeback reopens it
            reopened = _balance("back:E9", "C0000001", "D1", "0.01", 21, BalanceType.CHARGEBACK)
            tx.add_balances([reopened])
        assert store.open_documents(["C0000001"]) == [
            _open("D1", "C0000001", "0.01", "EUR", 5, "INV-1")
        ]

    def test_payment_entry_missing_is_not_found(self, store: Store) -> None:
        with pytest.raises(NotFound, match="E-404"):
            store.payment_entry("E-404")

    def test_payment_entries_round_trip_exactly_in_date_and_id_order(self, filled: Store) -> None:
        entries = _entries()
        with filled.transaction() as tx:
            tx.put_payment_entries(entries[:2])
            tx.put_payment_entries([])
        with filled.transaction() as tx:
            tx.put_payment_entries(entries[2:])
        for entry in entries:
            _assert_exact(filled.payment_entry(entry.id), entry)
        assert [e.id for e in filled.payment_entries()] == ["z", "E-10", "E-2", "e-2", "a"]
        _assert_exact(
            list(filled.payment_entries()), sorted(entries, key=lambda e: (e.booking_date, e.id))
        )

    def test_payment_entries_filtered(self, filled: Store) -> None:
        with filled.transaction() as tx:
            tx.put_payment_entries(_entries())
        assigned, open_ = EntryStatus.ASSIGNED, EntryStatus.OPEN
        filters: list[tuple[dict[str, object], list[str]]] = [
            ({"status": open_}, ["e-2", "a"]),
            ({"status": assigned}, ["z", "E-10"]),
            ({"status": EntryStatus.IGNORED}, ["E-2"]),
            ({"account_id": "C0000001"}, ["E-10"]),
            ({"status": assigned, "account_id": "C0000002"}, ["z"]),
            ({"status": open_, "account_id": "C0000002"}, []),
            ({"account_id": "C-404"}, []),
        ]
        for where, ids in filters:
            assert [e.id for e in filled.payment_entries(**where)] == ids, where  # type: ignore[arg-type]

    def test_many_payment_entries_in_order(self, filled: Store) -> None:
        entries = [_entry(f"m{n}", 1 + n % 3, str(n)) for n in range(2500)]
        with filled.transaction() as tx:
            tx.put_payment_entries(entries)
        expected = sorted(entries, key=lambda e: (e.booking_date, e.id))
        assert list(filled.payment_entries()) == expected
        assert list(filled.payment_entries(status=EntryStatus.OPEN)) == expected

    def test_put_payment_entries_replaces_by_id(self, filled: Store) -> None:
        first, second, *_ = _entries()
        with filled.transaction() as tx:
            tx.put_payment_entries([first, second])
        done = attrs.evolve(
            first, status=EntryStatus.ASSIGNED, account_id="C0000001", document_ids=["D1"]
        )
        with filled.transaction() as tx:
            tx.put_payment_entries([done])
            # The same id twice in one call: the last one wins.
            tx.put_payment_entries(
                [attrs.evolve(second, reason="first"), attrs.evolve(second, reason="last")]
            )
        _assert_exact(filled.payment_entry(first.id), done)
        assert filled.payment_entry(second.id).reason == "last"
        assert [e.id for e in filled.payment_entries()] == ["E-10", "e-2"]
        assert list(filled.payment_entries(status=EntryStatus.OPEN)) == []

    def test_an_imported_file_is_found_by_name_or_content(self, store: Store) -> None:
        a = ImportedFile(
            name="camt-2026-02-03.xml", digest="sha256:aa", imported_on=date(2026, 2, 3), entries=12
        )
        b = ImportedFile(
            name="camt-2026-02-04.xml", digest="sha256:bb", imported_on=date(2026, 2, 4)
        )
        assert store.imported_file(a.name, a.digest) is None
        with store.transaction() as tx:
            tx.add_imported_file(a)
        with store.transaction() as tx:
            tx.add_imported_file(b)
        _assert_exact(store.imported_file(a.name, "sha256:new"), a)
        _assert_exact(store.imported_file("renamed.xml", b.digest), b)
        # One file by name, another by content: the first imported.
        assert store.imported_file(b.name, a.digest) == a
        assert store.imported_file("new.xml", "sha256:new") is None
        assert store.imported_file(a.name.upper(), a.digest.upper()) is None

    def test_mandates_of_an_account_in_signature_and_reference_order(self, filled: Store) -> None:
        mandates = [
            _mandate("M-b", scheme="B2B", debtor_name="Donaublick GmbH"),
            _mandate("M-0", day=7),
            _mandate("m-a", bic=None),
            _mandate("M-a", revoked_on=date(2026, 3, 1)),
            _mandate("M-c", "C0000002"),
        ]
        with filled.transaction() as tx:
            for mandate in mandates:
                tx.put_mandate(mandate)
        got = filled.mandates("C0000001")
        assert [m.reference for m in got] == ["M-a", "M-b", "m-a", "M-0"]
        _assert_exact(list(got), [mandates[3], mandates[0], mandates[2], mandates[1]])
        _assert_exact(list(filled.mandates("C0000002")), [mandates[4]])
        assert list(filled.mandates("C0000003")) == []
        assert list(filled.mandates("C-404")) == []

    def test_put_mandate_again_replaces_it(self, filled: Store) -> None:
        with filled.transaction() as tx:
            tx.put_mandate(_mandate("M-1"))
            tx.put_mandate(_mandate("M-2"))
        revoked = _mandate("M-1", revoked_on=date(2026, 2, 1))
        with filled.transaction() as tx:
            tx.put_mandate(revoked)
            # Its reference is its identity: put for another account, it moves there.
            tx.put_mandate(_mandate("M-2", "C0000002"))
        _assert_exact(list(filled.mandates("C0000001")), [revoked])
        assert [m.reference for m in filled.mandates("C0000002")] == ["M-2"]

    def test_put_mandate_for_a_missing_account_is_not_found(self, filled: Store) -> None:
        with pytest.raises(NotFound, match="C-404"), filled.transaction() as tx:
            tx.put_mandate(_mandate("M-1"))
            tx.put_mandate(_mandate("M-2", "C-404"))
        assert list(filled.mandates("C0000001")) == []
        assert list(filled.mandates("C-404")) == []

    def test_installment_plans(self, billed: tuple[Store, list[Invoice]]) -> None:
        store, added = billed
        first, second, third = (d.id or "" for d in added[:3])
        plans = [_plan(first, "60.00", "59.5"), _plan(second, "10")]
        with store.transaction() as tx:
            for plan in plans:
                tx.put_installment_plan(plan)
        got = store.installment_plans_of([first, second, third, "D-404"])
        _assert_exact(dict(got), {first: plans[0], second: plans[1]})
        changed = _plan(first, "30.00", "30.00", "59.50")
        with store.transaction() as tx:
            tx.put_installment_plan(changed)
        _assert_exact(dict(store.installment_plans_of([first])), {first: changed})
        assert dict(store.installment_plans_of([third])) == {}
        assert dict(store.installment_plans_of([])) == {}

    def test_put_installment_plan_for_a_missing_document_is_not_found(
        self, billed: tuple[Store, list[Invoice]]
    ) -> None:
        store, added = billed
        first = added[0].id or ""
        with pytest.raises(NotFound, match="D-404"), store.transaction() as tx:
            tx.put_installment_plan(_plan(first, "1.00"))
            tx.put_installment_plan(_plan("D-404", "1.00"))
        assert dict(store.installment_plans_of([first, "D-404"])) == {}

    def test_reads_in_a_transaction_see_its_receivables(
        self, billed: tuple[Store, list[Invoice]]
    ) -> None:
        store, added = billed
        first, second = _ledger_balances()
        entries = _entries()
        imported = ImportedFile(name="f.xml", digest="sha256:ff", imported_on=date(2026, 2, 3))
        plan = _plan(added[0].id or "", "1.00")
        with store.transaction() as tx:
            for code in ("JPY", "KWD"):
                tx.put_account(attrs.evolve(tx.account("C0000003"), id=f"C-{code}", currency=code))
            tx.add_balances(first)
            assert tx.balances() == first
            tx.add_balances(second)
            assert tx.balances() == first + second
            assert tx.balances(document_id="D4") == [first[4], second[0]]
            assert list(tx.balances_of(["C-JPY"])["C-JPY"]) == [first[2], second[-1]]
            assert tx.known_balances(["invoice:D4", "x"]) == {"invoice:D4"}
            assert tx.open_documents() == list(_OPEN)
            assert tx.open_documents(["C-KWD"]) == [_OPEN[0]]
            tx.put_payment_entries(entries)
            assert tx.payment_entry("a") == entries[3]
            assert [e.id for e in tx.payment_entries(status=EntryStatus.OPEN)] == ["e-2", "a"]
            tx.add_imported_file(imported)
            assert tx.imported_file("f.xml", "") == imported
            tx.put_mandate(_mandate("M-1"))
            assert list(tx.mandates("C0000001")) == [_mandate("M-1")]
            tx.put_installment_plan(plan)
            assert dict(tx.installment_plans_of([plan.document_id])) == {plan.document_id: plan}
        assert store.balances() == first + second
        assert store.payment_entry("a") == entries[3]

    def test_a_failed_transaction_writes_no_receivables(
        self, billed: tuple[Store, list[Invoice]]
    ) -> None:
        store, added = billed
        before = _snapshot(store)
        with pytest.raises(_Boom), store.transaction() as tx:
            tx.add_balances(_ledger_balances()[0])
            tx.put_payment_entries(_entries())
            tx.add_imported_file(
                ImportedFile(name="f.xml", digest="sha256:ff", imported_on=date(2026, 2, 3))
            )
            tx.put_mandate(_mandate("M-1"))
            tx.put_installment_plan(_plan(added[0].id or "", "1.00"))
            raise _Boom
        assert _snapshot(store) == before
        assert store.known_balances(["invoice:D1"]) == set()
        assert store.imported_file("f.xml", "sha256:ff") is None

    # --- dunning ------------------------------------------------------------------------

    def test_dunnings_round_trip_exactly_in_the_order_added(self, filled: Store) -> None:
        dunnings = [
            _dunning(),
            _closed("DUN-2026-00001", account_id="C0000001", do_not_send=True, collection=True),
            _dunning(
                status=DunningStatus.CANCELLED,
                number="DUN-2026-00002",
                cancelled_on=date(2026, 3, 20),
                kind="custom-notice",
                fee_document_id=None,
            ),
        ]
        with filled.transaction() as tx:
            added = [tx.add_dunning(d) for d in dunnings]
        for dunning, stored in zip(dunnings, added, strict=True):
            assert stored.id is not None
            _assert_exact(stored, attrs.evolve(dunning, id=stored.id))
            _assert_exact(filled.dunning(stored.id), stored)
        _assert_exact(list(filled.dunnings()), added)

    def test_add_dunning_assigns_new_ids_never_reused(self, filled: Store) -> None:
        with filled.transaction() as tx:
            first = tx.add_dunning(_dunning())
            # The id of what is added is the store's, whatever it had.
            second = tx.add_dunning(first)
        with filled.transaction() as tx:
            tx.delete_dunning(second.id or "")
        with filled.transaction() as tx:
            third = tx.add_dunning(_dunning())
            tx.delete_dunning(third.id or "")
            fourth = tx.add_dunning(_dunning())
        ids = _dunning_ids([first, second, third, fourth])
        assert None not in ids and len(set(ids)) == 4, ids
        assert _dunning_ids(filled.dunnings()) == [first.id, fourth.id]
        with pytest.raises(NotFound):
            filled.dunning(second.id or "")

    def test_dunnings_filtered_by_account_and_status(self, filled: Store) -> None:
        with filled.transaction() as tx:
            added = [
                tx.add_dunning(d)
                for d in (
                    _closed("DUN-1"),
                    _dunning("C0000001"),
                    _dunning(),
                    _closed("DUN-2", account_id="C0000001"),
                    _closed("DUN-3"),
                )
            ]
        closed = DunningStatus.CLOSED
        assert list(filled.dunnings(account_id="C9000001")) == [added[0], added[2], added[4]]
        assert list(filled.dunnings(status=closed)) == [added[0], added[3], added[4]]
        assert list(filled.dunnings(account_id="C0000001", status=closed)) == [added[3]]
        assert list(filled.dunnings(status=DunningStatus.DRAFT)) == [added[1], added[2]]
        assert list(filled.dunnings(status=DunningStatus.CANCELLED)) == []
        assert list(filled.dunnings(account_id="C0000002")) == []
        assert list(filled.dunnings(account_id="C-404")) == []

    def test_replace_dunning_keeps_its_place(self, filled: Store) -> None:
        with filled.transaction() as tx:
            first, second = (tx.add_dunning(_dunning(a)) for a in ("C9000001", "C0000001"))
        assert first.id is not None
        closed = attrs.evolve(
            first,
            status=DunningStatus.CLOSED,
            number="DUN-2026-00001",
            details=first.details[:1],
            fee=_eur("10.0"),
        )
        with filled.transaction() as tx:
            tx.replace_dunning(closed)
        _assert_exact(filled.dunning(first.id), closed)
        _assert_exact(list(filled.dunnings()), [closed, second])
        assert list(filled.dunnings(status=DunningStatus.DRAFT)) == [second]
        assert list(filled.dunnings(status=DunningStatus.CLOSED)) == [closed]

    def test_missing_dunnings_are_not_found(self, filled: Store) -> None:
        with filled.transaction() as tx:
            kept = tx.add_dunning(_dunning())
            gone = tx.add_dunning(_dunning())
            tx.delete_dunning(gone.id or "")
        for dunning_id in (gone.id or "", "N-404", "D00000001", ""):
            with pytest.raises(NotFound):
                filled.dunning(dunning_id)
            with pytest.raises(NotFound), filled.transaction() as tx:
                tx.delete_dunning(dunning_id)
            with pytest.raises(NotFound), filled.transaction() as tx:
                tx.replace_dunning(attrs.evolve(kept, id=dunning_id))
        assert list(filled.dunnings()) == [kept]

    def test_add_dunning_for_a_missing_account_is_not_found(self, filled: Store) -> None:
        stranger = attrs.evolve(_dunning().account, id="C-404")
        with pytest.raises(NotFound, match="C-404"), filled.transaction() as tx:
            tx.add_dunning(_dunning())
            tx.add_dunning(_dunning(account=stranger))
        assert list(filled.dunnings()) == []

    def test_dunning_blocks_in_key_order(self, filled: Store) -> None:
        blocks = [
            DunningBlock(key="document:D00000002", reason="disputed", until=date(2026, 4, 1)),
            DunningBlock(key="account:c9000001", reason="lower case"),
            DunningBlock(key="account:C9000001", reason="insolvency proceedings"),
        ]
        assert filled.dunning_blocks() == []
        with filled.transaction() as tx:
            for block in blocks:
                tx.put_dunning_block(block)
        # In code point order, as Python sorts text: upper case first.
        _assert_exact(filled.dunning_blocks(), [blocks[2], blocks[1], blocks[0]])
        lifted = attrs.evolve(blocks[0], reason="settled", until=date(2026, 3, 1))
        with filled.transaction() as tx:
            tx.put_dunning_block(lifted)
            tx.delete_dunning_block(blocks[1].key)
        _assert_exact(filled.dunning_blocks(), [blocks[2], lifted])
        for key in (blocks[1].key, "account:C-404"):
            with pytest.raises(NotFound), filled.transaction() as tx:
                tx.delete_dunning_block(key)
        assert filled.dunning_blocks() == [blocks[2], lifted]

    def test_reads_in_a_transaction_see_its_dunnings(self, filled: Store) -> None:
        block = DunningBlock(key="account:C9000001", reason="disputed")
        with filled.transaction() as tx:
            kept = tx.add_dunning(_closed("DUN-1"))
            draft = tx.add_dunning(_dunning("C0000001"))
            assert draft.id is not None
            assert tx.dunning(draft.id) == draft
            assert list(tx.dunnings()) == [kept, draft]
            assert list(tx.dunnings(account_id="C0000001")) == [draft]
            closed = attrs.evolve(draft, status=DunningStatus.CLOSED, number="DUN-2")
            tx.replace_dunning(closed)
            assert tx.dunning(draft.id) == closed
            assert list(tx.dunnings(status=DunningStatus.CLOSED)) == [kept, closed]
            assert list(tx.dunnings(status=DunningStatus.DRAFT)) == []
            tx.delete_dunning(kept.id or "")
            assert list(tx.dunnings()) == [closed]
            tx.put_dunning_block(block)
            assert tx.dunning_blocks() == [block]
        assert list(filled.dunnings()) == [closed]
        assert filled.dunning_blocks() == [block]
        with filled.transaction() as tx:
            tx.delete_dunning_block(block.key)
            assert tx.dunning_blocks() == []
        assert filled.dunning_blocks() == []

    def test_a_failed_transaction_writes_no_dunnings(self, filled: Store) -> None:
        block = DunningBlock(key="account:C9000001", reason="disputed")
        with filled.transaction() as tx:
            first, second = tx.add_dunning(_dunning()), tx.add_dunning(_dunning("C0000001"))
            tx.put_dunning_block(block)
        before = _snapshot(filled)
        with pytest.raises(_Boom), filled.transaction() as tx:
            tx.add_dunning(_closed("DUN-9"))
            tx.replace_dunning(attrs.evolve(first, status=DunningStatus.CLOSED, number="DUN-1"))
            tx.delete_dunning(second.id or "")
            tx.put_dunning_block(attrs.evolve(block, reason="changed"))
            tx.put_dunning_block(DunningBlock(key="document:D00000001", reason="new"))
            raise _Boom
        assert _snapshot(filled) == before
        with pytest.raises(_Boom), filled.transaction() as tx:
            tx.delete_dunning_block(block.key)
            raise _Boom
        assert filled.dunning_blocks() == [block]
        with filled.transaction() as tx:
            third = tx.add_dunning(_dunning())
        assert third.id not in (first.id, second.id)
        assert list(filled.dunnings()) == [first, second, third]

    # --- billing end to end --------------------------------------------------------------

    def test_a_billing_cycle_gives_the_same_documents_and_balances_as_the_memory_store(
        self, filled: Store
    ) -> None:
        memory, documents = _billed_memory()
        expected = _comparable(documents)
        billed = billing_cycle(filled)
        got = _comparable(billed)
        assert [(d.number, d.kind, d.status, d.total) for d in got] == [
            (d.number, d.kind, d.status, d.total) for d in expected
        ]
        assert fingerprint(got) == fingerprint(expected)
        # Finalizing booked invoice balances and settlements, cancelling clearing balances.
        assert _comparable_receivables(filled, billed) == _comparable_receivables(memory, documents)
        # Re-running any of the dates bills nothing twice.
        for day in (date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1)):
            assert juston.invoice_run(filled, day).documents == ()
