"""Worked examples from the issue, every figure computed by hand (see the comments).

Conventions used in the comments:

* ``c(x)`` is the cumulative billing factor from the service start of a period to day x;
  a later part ``[a, b)`` of a period costs ``round(T·c(b)) − round(T·c(a))``.
* Rounding is commercial half-up to cents; tax is 19 % ("standard") or 7 % ("reduced")
  of the line net, rounded per line.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from juston import (
    Account,
    Address,
    Alignment,
    BillingPeriod,
    BillingType,
    CannotCancel,
    Discount,
    DocumentKind,
    DocumentStatus,
    Flat,
    Graduated,
    Item,
    MemoryStore,
    MinimumFee,
    Package,
    Percentage,
    PerUnit,
    Practice,
    Product,
    Subscription,
    Tier,
    Unit,
    Volume,
    cancel,
    finalize,
    invoice_run,
    money,
    price,
)
from juston.testing import sample_company

D = Decimal
SEATS = Product(code="SEATS", name="User seats")
PLATFORM = Product(code="PLATFORM", name="Platform", unit_code="MON")
STORAGE = Product(code="STORAGE", name="Storage (GB)")
SUPPORT = Product(code="SUPPORT", name="Support")
MINIMUM = Product(code="MIN", name="Minimum fee")
EBOOK = Product(code="EBOOK", name="Handbook (e-book)", tax_class="reduced")
MONTHLY = BillingPeriod(1, Unit.MONTH)
QUARTERLY = BillingPeriod(3, Unit.MONTH)


def eur(amount: str):
    return money(amount, "EUR")


def make_account(account_id: str = "C1") -> Account:
    return Account(
        id=account_id,
        name=f"Kunde {account_id}",
        billing_address=Address(street="Ring 2", postcode="80331", city="München", country="DE"),
        currency="EUR",
    )


def make_store(*subscriptions: Subscription) -> MemoryStore:
    store = MemoryStore()
    store.put_company(sample_company())
    for account_id in sorted({s.account_id for s in subscriptions}):
        store.put_account(make_account(account_id))
    for subscription in subscriptions:
        store.put_subscription(subscription)
    return store


def sub(
    items, *, start: date, period=MONTHLY, alignment=Alignment.ANNIVERSARY, number="S1", **kw
) -> Subscription:
    return Subscription(
        number=number,
        account_id="C1",
        start=start,
        billing_period=period,
        alignment=alignment,
        items=items,
        **kw,
    )


def item(item_id="seats", *, product=SEATS, price_model=None, quantity=1, **kw) -> Item:
    return Item(
        id=item_id,
        product=product,
        price=price_model or PerUnit(eur("10.00")),
        quantity=D(quantity),
        **kw,
    )


def only_document(result):
    assert result.failures == ()
    assert len(result.documents) == 1, result.documents
    return result.documents[0]


def lines_of(document, item_id):
    return [line for line in document.lines if line.item_id == item_id]


def only_line(document, item_id=None):
    lines = list(document.lines) if item_id is None else lines_of(document, item_id)
    assert len(lines) == 1, lines
    return lines[0]


# --------------------------------------------------------------------------------------
# (a) monthly in advance from 31 January (anniversary grid anchored on the original day)
# --------------------------------------------------------------------------------------


def test_a_monthly_advance_from_jan_31_periods_and_amounts():
    seats = item(
        price_model=PerUnit(eur("12.50")), quantity=3, billing_type=BillingType.RECURRING_PRORATED
    )
    store = make_store(sub([seats], start=date(2026, 1, 31)))

    # Every period is one whole anchored month (factor 1): 3 × 12.50 × 1 = 37.50 net.
    # Tax 19 %: 37.50 × 0.19 = 7.125 -> 7.13 (half-up); total 37.50 + 7.13 = 44.63.
    expected_periods = {
        date(2026, 1, 31): (date(2026, 1, 31), date(2026, 2, 27), date(2026, 2, 28)),
        date(2026, 2, 28): (date(2026, 2, 28), date(2026, 3, 30), date(2026, 3, 31)),
        date(2026, 3, 31): (date(2026, 3, 31), date(2026, 4, 29), date(2026, 4, 30)),
    }
    for billing_date, (start, last_day, end) in expected_periods.items():
        doc = only_document(invoice_run(store, billing_date))
        line = only_line(doc)
        assert line.period.start == start
        assert line.period.last_day == last_day
        assert line.period.end == end
        assert line.quantity == D(3)
        assert line.unit_price.amount == D("12.50")
        assert line.billing_factor == D(1)
        assert line.net.amount == D("37.50")
        assert line.tax.amount == D("7.13")
        assert doc.net_total.amount == D("37.50")
        assert doc.tax_total.amount == D("7.13")
        assert doc.total.amount == D("44.63")
        assert doc.kind is DocumentKind.INVOICE
        assert doc.billing_date == billing_date


def test_a_monthly_advance_nothing_before_the_next_period_starts():
    seats = item(price_model=PerUnit(eur("12.50")), quantity=3)
    store = make_store(sub([seats], start=date(2026, 1, 31)))
    assert len(invoice_run(store, date(2026, 1, 31)).documents) == 1
    # Feb 27 is still inside Jan 31..Feb 27: the next period (Feb 28) has not started.
    assert invoice_run(store, date(2026, 2, 27)).documents == ()
    doc = only_document(invoice_run(store, date(2026, 2, 28)))
    assert only_line(doc).period.start == date(2026, 2, 28)
    # Apr 15 lies in Mar 31..Apr 29, which the Mar 31 run has not billed yet: catch up.
    doc = only_document(invoice_run(store, date(2026, 4, 15)))
    line = only_line(doc)
    assert (line.period.start, line.period.last_day) == (date(2026, 3, 31), date(2026, 4, 29))
    assert line.net.amount == D("37.50")
    assert invoice_run(store, date(2026, 4, 29)).documents == ()


@pytest.mark.parametrize(
    "billing_type", [BillingType.RECURRING_PRORATED, BillingType.RECURRING_PRORATED_AVERAGE]
)
def test_a_full_periods_on_end_of_month_anniversary_grid_have_factor_one(billing_type):
    seats = item(price_model=PerUnit(eur("30.00")), billing_type=billing_type)
    store = make_store(sub([seats], start=date(2026, 1, 31)))
    # Jan 31..Feb 27, Feb 28..Mar 30 and Mar 31..Apr 29 are each one whole billing period
    # (one anchored month), so each has billing factor 1 and costs 1 × 30.00 = 30.00,
    # whichever proration variant: nothing is partial, so nothing is prorated.
    for billing_date in (date(2026, 1, 31), date(2026, 2, 28), date(2026, 3, 31)):
        line = only_line(only_document(invoice_run(store, billing_date)))
        assert line.period.start == billing_date
        assert (line.billing_factor, line.net.amount) == (D(1), D("30.00")), (
            billing_date,
            line.explanation,
        )


def test_a_full_quarters_on_end_of_month_anniversary_grid_have_factor_three():
    seats = item(
        price_model=PerUnit(eur("30.00")), billing_type=BillingType.RECURRING_PRORATED_AVERAGE
    )
    store = make_store(sub([seats], start=date(2025, 11, 30), period=QUARTERLY))
    # Nov 30..Feb 27, Feb 28..May 29, May 30..Aug 29: whole quarters, factor 3, 3 × 30.00 = 90.00
    for billing_date in (date(2025, 11, 30), date(2026, 2, 28), date(2026, 5, 30)):
        line = only_line(only_document(invoice_run(store, billing_date)))
        assert line.period.start == billing_date
        assert (line.billing_factor, line.net.amount) == (D(3), D("90.00")), (
            billing_date,
            line.explanation,
        )


# --------------------------------------------------------------------------------------
# (b) calendar alignment, starting mid-month
# --------------------------------------------------------------------------------------


def test_b_calendar_monthly_from_jan_15_prorated_first_period():
    seats = item(price_model=PerUnit(eur("30.00")), billing_type=BillingType.RECURRING_PRORATED)
    store = make_store(sub([seats], start=date(2026, 1, 15), alignment=Alignment.CALENDAR))

    doc = only_document(invoice_run(store, date(2026, 1, 15)))
    line = only_line(doc)
    # Served Jan 15..Jan 31 = 17 of January's 31 days.
    # 17/31 × 30.00 = 16.4516… -> 16.45; factor 17/31 = 0.548387… -> 0.54839 (5 places).
    # Tax 16.45 × 0.19 = 3.1255 -> 3.13; total 19.58.
    assert (line.period.start, line.period.last_day) == (date(2026, 1, 15), date(2026, 1, 31))
    assert line.billing_factor == D("0.54839")
    assert line.net.amount == D("16.45")
    assert line.tax.amount == D("3.13")
    assert doc.total.amount == D("19.58")

    # Then whole calendar months: Feb 1..Feb 28 and Mar 1..Mar 31, each 1 × 30.00.
    for billing_date, last_day in (
        (date(2026, 2, 1), date(2026, 2, 28)),
        (date(2026, 3, 1), date(2026, 3, 31)),
    ):
        line = only_line(only_document(invoice_run(store, billing_date)))
        assert (line.period.start, line.period.last_day) == (billing_date, last_day)
        assert line.billing_factor == D(1)
        assert line.net.amount == D("30.00")


def test_b_calendar_monthly_not_prorated_bills_whole_first_period():
    platform = item(
        "platform",
        product=PLATFORM,
        price_model=Flat(eur("30.00")),
        billing_type=BillingType.RECURRING,
    )
    store = make_store(sub([platform], start=date(2026, 1, 15), alignment=Alignment.CALENDAR))
    line = only_line(only_document(invoice_run(store, date(2026, 1, 15))))
    # RECURRING is not prorated: the partial period Jan 15..Jan 31 has factor 1 -> 30.00.
    assert (line.period.start, line.period.last_day) == (date(2026, 1, 15), date(2026, 1, 31))
    assert line.billing_factor == D(1)
    assert line.net.amount == D("30.00")
    line = only_line(only_document(invoice_run(store, date(2026, 2, 1))))
    assert line.period.start == date(2026, 2, 1)
    assert line.net.amount == D("30.00")


# --------------------------------------------------------------------------------------
# (c) quarterly in arrears
# --------------------------------------------------------------------------------------


def test_c_quarterly_in_arrears():
    seats = item(price_model=PerUnit(eur("20.00")), quantity=2, practice=Practice.ARREARS)
    store = make_store(
        sub([seats], start=date(2026, 1, 1), period=QUARTERLY, alignment=Alignment.CALENDAR)
    )

    # Nothing is billed while the quarter Jan 1..Mar 31 runs, not even on its last day.
    for day in (date(2026, 1, 1), date(2026, 2, 15), date(2026, 3, 31)):
        assert invoice_run(store, day).documents == (), day

    # On Apr 1 (the day after it ends) the whole quarter: 2 × 20.00 × 3 = 120.00.
    # Tax 120.00 × 0.19 = 22.80; total 142.80.
    doc = only_document(invoice_run(store, date(2026, 4, 1)))
    line = only_line(doc)
    assert (line.period.start, line.period.last_day) == (date(2026, 1, 1), date(2026, 3, 31))
    assert line.billing_factor == D(3)
    assert line.quantity == D(2)
    assert line.unit_price.amount == D("20.00")
    assert line.net.amount == D("120.00")
    assert line.tax.amount == D("22.80")
    assert doc.total.amount == D("142.80")

    assert invoice_run(store, date(2026, 6, 30)).documents == ()
    line = only_line(only_document(invoice_run(store, date(2026, 7, 1))))
    assert (line.period.start, line.period.last_day) == (date(2026, 4, 1), date(2026, 6, 30))
    assert line.net.amount == D("120.00")


def test_c_quarterly_in_arrears_partial_first_quarter():
    seats = item(price_model=PerUnit(eur("20.00")), quantity=2, practice=Practice.ARREARS)
    store = make_store(
        sub([seats], start=date(2026, 2, 15), period=QUARTERLY, alignment=Alignment.CALENDAR)
    )
    assert invoice_run(store, date(2026, 3, 31)).documents == ()
    line = only_line(only_document(invoice_run(store, date(2026, 4, 1))))
    # Service Feb 15..Mar 31: February 14/28 (Feb 15..28) + March 1 = 1.5 months.
    # 2 × 20.00 × 1.5 = 60.00.
    assert (line.period.start, line.period.last_day) == (date(2026, 2, 15), date(2026, 3, 31))
    assert line.billing_factor == D("1.5")
    assert line.net.amount == D("60.00")


def test_c_quarterly_in_arrears_bills_at_subscription_end():
    seats = item(price_model=PerUnit(eur("20.00")), quantity=2, practice=Practice.ARREARS)
    subscription = sub(
        [seats],
        start=date(2026, 1, 1),
        period=QUARTERLY,
        alignment=Alignment.CALENDAR,
        end=date(2026, 2, 15),
    )
    store = make_store(subscription)
    # Service Jan 1..Feb 14 ends on Feb 15 (first day not served): due then, not at quarter end.
    assert invoice_run(store, date(2026, 2, 14)).documents == ()
    line = only_line(only_document(invoice_run(store, date(2026, 2, 15))))
    # January 1 + February 14/28 = 1.5 months; 2 × 20.00 × 1.5 = 60.00
    assert (line.period.start, line.period.last_day) == (date(2026, 1, 1), date(2026, 2, 14))
    assert line.billing_factor == D("1.5")
    assert line.net.amount == D("60.00")
    assert invoice_run(store, date(2026, 4, 1)).documents == ()


# --------------------------------------------------------------------------------------
# (d) graduated vs volume on JustOn's tiers
# --------------------------------------------------------------------------------------

TIERS = [Tier(10, eur("2.50")), Tier(20, eur("2.40")), Tier(30, eur("2.30"))]


@pytest.mark.parametrize(
    ("quantity", "volume", "graduated"),
    [
        # volume: all units at the reached tier's price; graduated: each tier its own units
        (25, "57.50", "60.50"),  # 25 × 2.30 | 10 × 2.50 + 10 × 2.40 + 5 × 2.30 = 25 + 24 + 11.50
        (10, "25.00", "25.00"),  # 10 × 2.50 | 10 × 2.50
        (20, "48.00", "49.00"),  # 20 × 2.40 | 25.00 + 10 × 2.40
        (21, "48.30", "51.30"),  # 21 × 2.30 | 25.00 + 24.00 + 1 × 2.30
        (30, "69.00", "72.00"),  # 30 × 2.30 | 25.00 + 24.00 + 10 × 2.30
        (3, "7.50", "7.50"),  # 3 × 2.50
    ],
)
def test_d_price_volume_vs_graduated(quantity, volume, graduated):
    assert price(Volume(TIERS), quantity) == eur(volume)
    assert price(Graduated(TIERS), quantity) == eur(graduated)


def test_d_graduated_in_a_run_gives_one_line_per_tier():
    storage = item(
        "storage",
        product=STORAGE,
        price_model=Graduated(TIERS),
        quantity=25,
        billing_type=BillingType.RECURRING,
    )
    doc = only_document(
        invoice_run(make_store(sub([storage], start=date(2026, 1, 1))), date(2026, 1, 1))
    )
    # tier 1: 10 × 2.50 = 25.00, tax 4.75
    # tier 2: 10 × 2.40 = 24.00, tax 4.56
    # tier 3:  5 × 2.30 = 11.50, tax 2.185 -> 2.19
    # net 60.50, tax 4.75 + 4.56 + 2.19 = 11.50, total 72.00
    got = [(ln.quantity, ln.unit_price.amount, ln.net.amount, ln.tax.amount) for ln in doc.lines]
    assert got == [
        (D(10), D("2.50"), D("25.00"), D("4.75")),
        (D(10), D("2.40"), D("24.00"), D("4.56")),
        (D(5), D("2.30"), D("11.50"), D("2.19")),
    ]
    assert doc.net_total.amount == D("60.50")
    assert doc.tax_total.amount == D("11.50")
    assert doc.total.amount == D("72.00")


def test_d_volume_in_a_run_gives_one_line():
    storage = item(
        "storage",
        product=STORAGE,
        price_model=Volume(TIERS),
        quantity=25,
        billing_type=BillingType.RECURRING,
    )
    doc = only_document(
        invoice_run(make_store(sub([storage], start=date(2026, 1, 1))), date(2026, 1, 1))
    )
    line = only_line(doc)
    # 25 × 2.30 = 57.50; tax 57.50 × 0.19 = 10.925 -> 10.93; total 68.43
    assert (line.quantity, line.unit_price.amount, line.net.amount) == (
        D(25),
        D("2.30"),
        D("57.50"),
    )
    assert line.tax.amount == D("10.93")
    assert doc.total.amount == D("68.43")


# --------------------------------------------------------------------------------------
# (e) package
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [
        (25, "90.00"),  # 25 / 10 = 2.5 -> 3 started blocks × 30.00
        (30, "90.00"),  # exactly 3 blocks
        (31, "120.00"),  # 4 started blocks
        (1, "30.00"),  # 1 started block
        (0, "0.00"),  # no block
    ],
)
def test_e_package_price_per_started_block(quantity, expected):
    assert price(Package(eur("30.00"), 10), quantity) == eur(expected)


def test_e_package_in_a_run():
    sms = item(
        "sms",
        price_model=Package(eur("30.00"), 100),
        quantity=250,
        billing_type=BillingType.RECURRING,
    )
    line = only_line(
        only_document(invoice_run(make_store(sub([sms], start=date(2026, 1, 1))), date(2026, 1, 1)))
    )
    # 250 SMS in blocks of 100: 3 started blocks × 30.00 = 90.00; tax 17.10
    assert line.quantity == D(3)
    assert line.unit_price.amount == D("30.00")
    assert line.net.amount == D("90.00")
    assert line.tax.amount == D("17.10")


# --------------------------------------------------------------------------------------
# (f) minimum fee true-up
# --------------------------------------------------------------------------------------


def _minimum_store(usage_quantity: int) -> MemoryStore:
    usage = item("usage", price_model=PerUnit(eur("10.00")), quantity=usage_quantity)
    minimum = item("minimum", product=MINIMUM, price_model=MinimumFee(eur("100.00")))
    return make_store(sub([usage, minimum], start=date(2026, 1, 1)))


def test_f_minimum_fee_shortfall_line():
    doc = only_document(invoice_run(_minimum_store(7), date(2026, 1, 1)))
    usage = only_line(doc, "usage")
    minimum = only_line(doc, "minimum")
    # usage 7 × 10.00 = 70.00; minimum 100.00 -> true-up 100.00 − 70.00 = 30.00
    # tax 13.30 + 5.70 = 19.00; total 119.00
    assert usage.net.amount == D("70.00")
    assert minimum.quantity == D(1)
    assert minimum.unit_price.amount == D("30.00")
    assert minimum.net.amount == D("30.00")
    assert doc.net_total.amount == D("100.00")
    assert doc.tax_total.amount == D("19.00")
    assert doc.total.amount == D("119.00")


@pytest.mark.parametrize(("quantity", "net"), [(12, "120.00"), (10, "100.00")])
def test_f_minimum_fee_no_line_when_usage_reaches_minimum(quantity, net):
    doc = only_document(invoice_run(_minimum_store(quantity), date(2026, 1, 1)))
    # quantity × 10.00 ≥ 100.00: no shortfall, so no true-up line
    assert lines_of(doc, "minimum") == []
    assert only_line(doc, "usage").net.amount == D(net)
    assert doc.net_total.amount == D(net)


# --------------------------------------------------------------------------------------
# (g) the two proration variants
# --------------------------------------------------------------------------------------


def _proration_doc(item_start: date, period=MONTHLY):
    calendar_item = item(
        "calendar",
        price_model=PerUnit(eur("30.00")),
        start=item_start,
        billing_type=BillingType.RECURRING_PRORATED,
    )
    average_item = item(
        "average",
        price_model=PerUnit(eur("30.00")),
        start=item_start,
        billing_type=BillingType.RECURRING_PRORATED_AVERAGE,
    )
    store = make_store(
        sub(
            [calendar_item, average_item],
            start=date(2026, 1, 1),
            period=period,
            alignment=Alignment.CALENDAR,
        )
    )
    return store, only_document(invoice_run(store, item_start))


def test_g_proration_february():
    store, doc = _proration_doc(date(2026, 2, 10))
    calendar_line = only_line(doc, "calendar")
    average_line = only_line(doc, "average")
    # Served Feb 10..Feb 28 = 19 days.
    # calendar: 19/28 × 30.00 = 20.357142… -> 20.36 (factor 0.678571… -> 0.67857)
    # average: 19 × 12/365 × 30.00 = 6840/365 = 18.739726… -> 18.74 (factor 228/365 = 0.624657… -> 0.62466)
    assert (calendar_line.period.start, calendar_line.period.last_day) == (
        date(2026, 2, 10),
        date(2026, 2, 28),
    )
    assert calendar_line.billing_factor == D("0.67857")
    assert calendar_line.net.amount == D("20.36")
    assert average_line.billing_factor == D("0.62466")
    assert average_line.net.amount == D("18.74")

    # March is a whole month for both: 30.00 each.
    doc = only_document(invoice_run(store, date(2026, 3, 1)))
    assert only_line(doc, "calendar").net.amount == D("30.00")
    assert only_line(doc, "average").net.amount == D("30.00")


def test_g_proration_31_day_month():
    _, doc = _proration_doc(date(2026, 3, 10))
    # Served Mar 10..Mar 31 = 22 days.
    # calendar: 22/31 × 30.00 = 21.290322… -> 21.29
    # average: 22 × 12/365 × 30.00 = 7920/365 = 21.698630… -> 21.70
    assert only_line(doc, "calendar").net.amount == D("21.29")
    assert only_line(doc, "average").net.amount == D("21.70")


def test_g_proration_whole_months_plus_days_in_a_quarter():
    _, doc = _proration_doc(date(2026, 2, 10), period=QUARTERLY)
    calendar_line = only_line(doc, "calendar")
    average_line = only_line(doc, "average")
    # Quarter Jan 1..Mar 31, service Feb 10..Mar 31.
    # calendar: Feb 19/28 + March 1 = 47/28; 47/28 × 30.00 = 50.357142… -> 50.36
    # average: Feb 10 -> Mar 10 one whole month, Mar 10..Mar 31 = 22 days:
    #          1 + 22 × 12/365 = 629/365; × 30.00 = 18870/365 = 51.698630… -> 51.70
    assert (calendar_line.period.start, calendar_line.period.last_day) == (
        date(2026, 2, 10),
        date(2026, 3, 31),
    )
    assert calendar_line.net.amount == D("50.36")
    assert average_line.net.amount == D("51.70")


def test_g_yearly_calendar_both_variants():
    calendar_item = item(
        "calendar", price_model=PerUnit(eur("120.00")), billing_type=BillingType.RECURRING_PRORATED
    )
    average_item = item(
        "average",
        price_model=PerUnit(eur("120.00")),
        billing_type=BillingType.RECURRING_PRORATED_AVERAGE,
    )
    store = make_store(
        sub(
            [calendar_item, average_item],
            start=date(2026, 3, 15),
            period=BillingPeriod(1, Unit.YEAR),
            alignment=Alignment.CALENDAR,
        )
    )
    doc = only_document(invoice_run(store, date(2026, 3, 15)))
    # Price per year. Service Mar 15..Dec 31 of the calendar year 2026.
    # calendar: March 17/31 + Apr..Dec 9 months = 9 + 17/31 = 296/31 months = 296/372 years;
    #           120.00 × 296/372 = 95.483870… -> 95.48
    # average: Mar 15 -> Dec 15 = 9 whole months, Dec 15..Dec 31 = 17 days:
    #          (9 + 17 × 12/365)/12 = 0.75 + 17/365 years; 120.00 × that = 90 + 5.589041… = 95.589… -> 95.59
    calendar_line = only_line(doc, "calendar")
    assert (calendar_line.period.start, calendar_line.period.last_day) == (
        date(2026, 3, 15),
        date(2026, 12, 31),
    )
    assert calendar_line.net.amount == D("95.48")
    assert only_line(doc, "average").net.amount == D("95.59")
    doc = only_document(invoice_run(store, date(2027, 1, 1)))
    assert only_line(doc, "calendar").net.amount == D("120.00")
    assert only_line(doc, "average").net.amount == D("120.00")


# --------------------------------------------------------------------------------------
# (h) cancellation of a finalized invoice
# --------------------------------------------------------------------------------------


def test_h_cancellation_mirror_and_rebilling():
    seats = item(price_model=PerUnit(eur("12.50")), quantity=3)
    book = item(
        "book", product=EBOOK, price_model=PerUnit(eur("19.90")), billing_type=BillingType.RECURRING
    )
    store = make_store(sub([seats, book], start=date(2026, 1, 1)))

    (original,) = finalize(store, invoice_run(store, date(2026, 1, 1)).documents)
    # seats: 3 × 12.50 = 37.50, tax 19 % = 7.125 -> 7.13
    # book: 19.90, tax 7 % = 1.393 -> 1.39
    # net 57.40, tax 8.52, total 65.92
    assert original.number == "INV-2026-00001"
    assert original.net_total.amount == D("57.40")
    assert original.tax_total.amount == D("8.52")
    assert original.total.amount == D("65.92")

    mirror = cancel(store, original, cancellation_date=date(2026, 1, 20))
    assert mirror.kind is DocumentKind.CANCELLATION
    assert mirror.status is DocumentStatus.SETTLED
    assert mirror.number == "CR-2026-00001"
    assert mirror.invoice_date == date(2026, 1, 20)
    assert mirror.cancels == original.id
    assert mirror.net_total.amount == D("-57.40")
    assert mirror.tax_total.amount == D("-8.52")
    assert mirror.total.amount == D("-65.92")
    assert mirror.total == -original.total
    assert len(mirror.lines) == len(original.lines) == 2
    for negated, line in zip(mirror.lines, original.lines, strict=True):
        assert negated.quantity == line.quantity
        assert negated.unit_price == -line.unit_price
        assert negated.net == -line.net
        assert negated.tax == -line.tax
        assert negated.period == line.period
    seats_mirror = only_line(mirror, "seats")
    assert (seats_mirror.unit_price.amount, seats_mirror.net.amount, seats_mirror.tax.amount) == (
        D("-12.50"),
        D("-37.50"),
        D("-7.13"),
    )

    stored = store.document(original.id)
    assert stored.status is DocumentStatus.CANCELLED
    assert stored.cancelled_by == mirror.id
    assert store.document(mirror.id).cancels == original.id

    # The January period was released: the next run bills it again (57.40 net).
    rebill = only_document(invoice_run(store, date(2026, 1, 20)))
    assert rebill.net_total.amount == D("57.40")
    assert only_line(rebill, "seats").period.start == date(2026, 1, 1)
    (rebill,) = finalize(store, [rebill])
    assert rebill.number == "INV-2026-00002"
    assert invoice_run(store, date(2026, 1, 21)).documents == ()


def test_h_cannot_cancel_a_cancellation_a_cancelled_document_or_a_draft():
    store = make_store(sub([item()], start=date(2026, 1, 1)))
    (original,) = finalize(store, invoice_run(store, date(2026, 1, 1)).documents)
    mirror = cancel(store, original, cancellation_date=date(2026, 1, 5))
    with pytest.raises(CannotCancel):
        cancel(store, mirror, cancellation_date=date(2026, 1, 6))
    with pytest.raises(CannotCancel):
        cancel(store, original.id, cancellation_date=date(2026, 1, 6))
    (draft,) = invoice_run(store, date(2026, 1, 6)).documents
    with pytest.raises(CannotCancel):
        cancel(store, draft, cancellation_date=date(2026, 1, 6))
    # No credit number was used by the failed attempts.
    (again,) = finalize(store, [draft])
    assert cancel(store, again, cancellation_date=date(2026, 1, 7)).number == "CR-2026-00002"


# --------------------------------------------------------------------------------------
# (i) mid-period changes after advance billing
# --------------------------------------------------------------------------------------


def test_i_mid_period_quantity_increase_bills_prorated_difference():
    seats = item(price_model=PerUnit(eur("10.00")), quantity=5)
    subscription = sub([seats], start=date(2026, 1, 1))
    store = make_store(subscription)
    assert only_document(invoice_run(store, date(2026, 1, 1))).net_total.amount == D("50.00")

    store.put_subscription(subscription.with_item(seats.change_quantity(date(2026, 1, 15), 8)))
    doc = only_document(invoice_run(store, date(2026, 1, 15)))
    line = only_line(doc)
    # 3 more seats for Jan 15..Jan 31 = 17/31 of the month:
    #   8 seats: round(80 × 1) − round(80 × 14/31 = 36.129…) = 80.00 − 36.13 = 43.87
    #   5 seats: round(50 × 1) − round(50 × 14/31 = 22.580…) = 50.00 − 22.58 = 27.42
    #   difference 43.87 − 27.42 = 16.45 (= 3 × 10 × 17/31 = 16.4516… -> 16.45)
    # tax 16.45 × 0.19 = 3.1255 -> 3.13; total 19.58
    assert (line.period.start, line.period.last_day) == (date(2026, 1, 15), date(2026, 1, 31))
    assert line.quantity == D(3)
    assert line.unit_price.amount == D("10.00")
    assert line.billing_factor == D("0.54839")
    assert line.net.amount == D("16.45")
    assert line.tax.amount == D("3.13")
    assert doc.total.amount == D("19.58")
    assert doc.kind is DocumentKind.INVOICE

    assert invoice_run(store, date(2026, 1, 20)).documents == ()
    # February: 8 × 10.00 = 80.00
    line = only_line(only_document(invoice_run(store, date(2026, 2, 1))))
    assert (line.period.start, line.quantity, line.net.amount) == (
        date(2026, 2, 1),
        D(8),
        D("80.00"),
    )


def test_i_mid_period_quantity_decrease_credits_prorated_difference():
    seats = item(price_model=PerUnit(eur("10.00")), quantity=5)
    subscription = sub([seats], start=date(2026, 1, 1))
    store = make_store(subscription)
    invoice_run(store, date(2026, 1, 1))
    store.put_subscription(subscription.with_item(seats.change_quantity(date(2026, 1, 15), 2)))
    doc = only_document(invoice_run(store, date(2026, 1, 15)))
    # 2 seats: round(20) − round(20 × 14/31 = 9.032…) = 20.00 − 9.03 = 10.97
    # 5 seats: 50.00 − 22.58 = 27.42 -> difference 10.97 − 27.42 = −16.45
    # tax −16.45 × 0.19 = −3.1255 -> −3.13; total −19.58: a credit
    assert doc.net_total.amount == D("-16.45")
    assert doc.tax_total.amount == D("-3.13")
    assert doc.total.amount == D("-19.58")
    assert doc.kind is DocumentKind.CREDIT


def test_i_subscription_cancelled_after_advance_billing_credits_unused_part():
    seats = item(price_model=PerUnit(eur("10.00")), quantity=5)
    subscription = sub([seats], start=date(2026, 1, 1))
    store = make_store(subscription)
    invoice_run(store, date(2026, 1, 1))

    # Served Jan 1..Jan 20 (end = Jan 21, first day no longer served).
    store.put_subscription(subscription.cancel(date(2026, 1, 21)))
    doc = only_document(invoice_run(store, date(2026, 2, 1)))
    line = only_line(doc)
    # Unused Jan 21..Jan 31: round(50 × 1) − round(50 × 20/31 = 32.258…) = 50.00 − 32.26 = 17.74
    # tax −17.74 × 0.19 = −3.3706 -> −3.37; total −21.11; nothing for February
    assert (line.period.start, line.period.last_day) == (date(2026, 1, 21), date(2026, 1, 31))
    assert line.net.amount == D("-17.74")
    assert line.tax.amount == D("-3.37")
    assert doc.total.amount == D("-21.11")
    assert doc.kind is DocumentKind.CREDIT
    (credit,) = finalize(store, [doc])
    assert credit.number == "CR-2026-00001"
    assert invoice_run(store, date(2026, 3, 1)).documents == ()


def test_i_cancellation_on_anniversary_grid_prorates_by_the_grid_month():
    seats = item(price_model=PerUnit(eur("12.50")), quantity=3)
    subscription = sub([seats], start=date(2026, 1, 31))
    store = make_store(subscription)
    invoice_run(store, date(2026, 1, 31))
    invoice_run(store, date(2026, 2, 28))
    store.put_subscription(subscription.cancel(date(2026, 3, 15)))
    doc = only_document(invoice_run(store, date(2026, 3, 15)))
    line = only_line(doc)
    # Grid month Feb 28..Mar 30 has 31 days; served Feb 28..Mar 14 = 15 days.
    # Credit for Mar 15..Mar 30: round(37.50) − round(37.50 × 15/31 = 18.145…) = 37.50 − 18.15 = 19.35
    # tax −19.35 × 0.19 = −3.6765 -> −3.68
    assert (line.period.start, line.period.last_day) == (date(2026, 3, 15), date(2026, 3, 30))
    assert line.net.amount == D("-19.35")
    assert line.tax.amount == D("-3.68")
    assert doc.kind is DocumentKind.CREDIT


def test_i_item_cancelled_not_prorated_gets_no_credit():
    platform = item(
        "platform",
        product=PLATFORM,
        price_model=Flat(eur("49.00")),
        billing_type=BillingType.RECURRING,
    )
    subscription = sub([platform], start=date(2026, 1, 1))
    store = make_store(subscription)
    invoice_run(store, date(2026, 1, 1))
    store.put_subscription(subscription.with_item(platform.cancel(date(2026, 1, 21))))
    # RECURRING is not prorated: a partial period costs the whole period, so no credit.
    assert invoice_run(store, date(2026, 1, 21)).documents == ()
    assert invoice_run(store, date(2026, 2, 1)).documents == ()


def test_i_change_known_before_the_run_costs_the_same_as_a_change_after_it():
    seats = item(price_model=PerUnit(eur("10.00")), quantity=5).change_quantity(
        date(2026, 1, 15), 8
    )
    store = make_store(sub([seats], start=date(2026, 1, 1)))
    doc = only_document(invoice_run(store, date(2026, 1, 1)))
    first, second = sorted(doc.lines, key=lambda ln: ln.period.start)
    # Jan 1..14: round(50 × 14/31 = 22.580…) = 22.58
    # Jan 15..31: round(80 × 1) − round(80 × 14/31 = 36.129…) = 80.00 − 36.13 = 43.87
    # total 66.45 = 50.00 + 16.45, as when the change comes after billing
    assert (first.quantity, first.net.amount) == (D(5), D("22.58"))
    assert (second.quantity, second.net.amount) == (D(8), D("43.87"))
    assert doc.net_total.amount == D("66.45")
    assert invoice_run(store, date(2026, 1, 20)).documents == ()


def test_i_mid_period_price_change():
    seats = item(price_model=PerUnit(eur("10.00")), quantity=5)
    subscription = sub([seats], start=date(2026, 1, 1))
    store = make_store(subscription)
    invoice_run(store, date(2026, 1, 1))
    store.put_subscription(
        subscription.with_item(seats.change_price(date(2026, 1, 15), PerUnit(eur("12.00"))))
    )
    line = only_line(only_document(invoice_run(store, date(2026, 1, 15))))
    # at 12.00: round(60) − round(60 × 14/31 = 27.096…) = 60.00 − 27.10 = 32.90
    # at 10.00: 50.00 − 22.58 = 27.42; difference 5.48 (= 5 × 2.00 × 17/31 = 5.4838… -> 5.48)
    assert (line.period.start, line.net.amount) == (date(2026, 1, 15), D("5.48"))
    assert invoice_run(store, date(2026, 1, 16)).documents == ()
    # February at the new price: 5 × 12.00 = 60.00
    assert only_document(invoice_run(store, date(2026, 2, 1))).net_total.amount == D("60.00")


def test_i_graduated_quantity_increase_across_tiers():
    storage = item("storage", product=STORAGE, price_model=Graduated(TIERS), quantity=8)
    subscription = sub([storage], start=date(2026, 1, 1))
    store = make_store(subscription)
    # 8 × 2.50 = 20.00
    assert only_document(invoice_run(store, date(2026, 1, 1))).net_total.amount == D("20.00")
    store.put_subscription(subscription.with_item(storage.change_quantity(date(2026, 1, 15), 15)))
    doc = only_document(invoice_run(store, date(2026, 1, 15)))
    # 15 units = tier 1: 10 × 2.50 = 25.00, tier 2: 5 × 2.40 = 12.00 (was tier 1: 8 × 2.50 = 20.00)
    # tier 1: (25 − round(25 × 14/31 = 11.290…)) − (20 − round(20 × 14/31 = 9.032…))
    #         = (25 − 11.29) − (20 − 9.03) = 13.71 − 10.97 = 2.74   (2 × 2.50 × 17/31 = 2.7419…)
    # tier 2: 12 − round(12 × 14/31 = 5.419…) = 12 − 5.42 = 6.58   (12 × 17/31 = 6.5806…)
    got = sorted((ln.quantity, ln.unit_price.amount, ln.net.amount) for ln in doc.lines)
    assert got == [(D(2), D("2.50"), D("2.74")), (D(5), D("2.40"), D("6.58"))]
    assert doc.net_total.amount == D("9.32")


def test_i_percentage_follows_a_mid_period_change_of_its_base():
    seats = item(price_model=PerUnit(eur("10.00")), quantity=5)
    support = item("support", product=SUPPORT, price_model=Percentage(D(10), "EUR"))
    subscription = sub([seats, support], start=date(2026, 1, 1))
    store = make_store(subscription)
    # 50.00 + 10 % of 50.00 = 5.00
    assert only_document(invoice_run(store, date(2026, 1, 1))).net_total.amount == D("55.00")
    store.put_subscription(subscription.with_item(seats.change_quantity(date(2026, 1, 15), 8)))
    doc = only_document(invoice_run(store, date(2026, 1, 15)))
    # seats: 16.45 (see above); support: 10 % of 80.00 = 8.00 instead of 5.00 from Jan 15:
    #   (8 − round(8 × 14/31 = 3.612…)) − (5 − round(5 × 14/31 = 2.258…)) = 4.39 − 2.74 = 1.65
    assert only_line(doc, "seats").net.amount == D("16.45")
    assert only_line(doc, "support").net.amount == D("1.65")
    assert doc.net_total.amount == D("18.10")
    assert invoice_run(store, date(2026, 1, 16)).documents == ()


def test_i_retroactive_cancellation_credits_a_period_billed_in_advance():
    seats = item(price_model=PerUnit(eur("10.00")), quantity=5)
    subscription = sub([seats], start=date(2026, 1, 1))
    store = make_store(subscription)
    invoice_run(store, date(2026, 1, 1))
    invoice_run(store, date(2026, 2, 1))
    store.put_subscription(subscription.cancel(date(2026, 1, 21)))
    doc = only_document(invoice_run(store, date(2026, 2, 5)))
    # Jan 21..31 as before: −17.74; February entirely unused: −50.00; total −67.74
    got = sorted((ln.period.start, ln.period.last_day, ln.net.amount) for ln in doc.lines)
    assert got == [
        (date(2026, 1, 21), date(2026, 1, 31), D("-17.74")),
        (date(2026, 2, 1), date(2026, 2, 28), D("-50.00")),
    ]
    assert doc.net_total.amount == D("-67.74")
    assert doc.kind is DocumentKind.CREDIT


def test_i_average_item_started_and_cancelled_mid_month():
    seats = item(
        price_model=PerUnit(eur("30.00")),
        start=date(2026, 1, 10),
        billing_type=BillingType.RECURRING_PRORATED_AVERAGE,
    )
    subscription = sub([seats], start=date(2026, 1, 1), alignment=Alignment.CALENDAR)
    store = make_store(subscription)
    # Jan 10..31 = 22 days: 22 × 12/365 × 30.00 = 7920/365 = 21.698… -> 21.70
    assert only_document(invoice_run(store, date(2026, 1, 10))).net_total.amount == D("21.70")
    store.put_subscription(subscription.with_item(seats.cancel(date(2026, 1, 20))))
    line = only_line(only_document(invoice_run(store, date(2026, 1, 20))))
    # served Jan 10..19 = 10 days: c = 10 × 12/365; round(30 × 120/365 = 9.863…) = 9.86
    # credit Jan 20..31: −(21.70 − 9.86) = −11.84
    assert (line.period.start, line.net.amount) == (date(2026, 1, 20), D("-11.84"))


# --------------------------------------------------------------------------------------
# (j) percentage item and discounts
# --------------------------------------------------------------------------------------


def test_j_percentage_item():
    seats = item(price_model=PerUnit(eur("10.00")), quantity=5)
    platform = item(
        "platform",
        product=PLATFORM,
        price_model=Flat(eur("49.00")),
        billing_type=BillingType.RECURRING,
    )
    support = item("support", product=SUPPORT, price_model=Percentage(D(10), "EUR"))
    doc = only_document(
        invoice_run(
            make_store(sub([seats, platform, support], start=date(2026, 1, 1))), date(2026, 1, 1)
        )
    )
    # other charges 5 × 10.00 + 49.00 = 99.00; 10 % = 9.90
    # tax 9.50 + 9.31 + 1.881 -> 1.88 = 20.69; net 108.90; total 129.59
    line = only_line(doc, "support")
    assert line.unit_price.amount == D("9.90")
    assert line.net.amount == D("9.90")
    assert line.tax.amount == D("1.88")
    assert doc.net_total.amount == D("108.90")
    assert doc.tax_total.amount == D("20.69")
    assert doc.total.amount == D("129.59")


def test_j_percentage_of_discounted_charges():
    seats = item(price_model=PerUnit(eur("10.00")), quantity=5, discount=Discount(percent=D(10)))
    platform = item(
        "platform",
        product=PLATFORM,
        price_model=Flat(eur("49.00")),
        billing_type=BillingType.RECURRING,
    )
    support = item("support", product=SUPPORT, price_model=Percentage(D(10), "EUR"))
    doc = only_document(
        invoice_run(
            make_store(sub([seats, platform, support], start=date(2026, 1, 1))), date(2026, 1, 1)
        )
    )
    # seats 50.00 − 10 % = 45.00; base 45.00 + 49.00 = 94.00; 10 % = 9.40
    assert only_line(doc, "seats").net.amount == D("45.00")
    assert only_line(doc, "support").net.amount == D("9.40")
    assert doc.net_total.amount == D("103.40")


def test_j_percent_discount():
    seats = item(price_model=PerUnit(eur("12.50")), quantity=4, discount=Discount(percent=D(10)))
    line = only_line(
        only_document(
            invoice_run(make_store(sub([seats], start=date(2026, 1, 1))), date(2026, 1, 1))
        )
    )
    # 4 × 12.50 = 50.00; 10 % discount = 5.00; net 45.00; tax 8.55
    assert line.unit_price.amount == D("12.50")
    assert line.quantity == D(4)
    assert line.discount.amount == D("5.00")
    assert line.net.amount == D("45.00")
    assert line.tax.amount == D("8.55")


def test_j_amount_discount():
    seats = item(
        price_model=PerUnit(eur("12.50")), quantity=4, discount=Discount(amount=eur("7.50"))
    )
    line = only_line(
        only_document(
            invoice_run(make_store(sub([seats], start=date(2026, 1, 1))), date(2026, 1, 1))
        )
    )
    # 50.00 − 7.50 = 42.50; tax 42.50 × 0.19 = 8.075 -> 8.08
    assert line.discount.amount == D("7.50")
    assert line.net.amount == D("42.50")
    assert line.tax.amount == D("8.08")


def test_j_amount_discount_is_per_billing_unit():
    seats = item(
        price_model=PerUnit(eur("12.50")),
        quantity=4,
        discount=Discount(amount=eur("7.50")),
        billing_type=BillingType.RECURRING,
    )
    store = make_store(sub([seats], start=date(2026, 1, 1), period=QUARTERLY))
    line = only_line(only_document(invoice_run(store, date(2026, 1, 1))))
    # per month 50.00 − 7.50 = 42.50; a quarter is factor 3: 127.50 (discount 22.50)
    assert line.billing_factor == D(3)
    assert line.discount.amount == D("22.50")
    assert line.net.amount == D("127.50")


def test_j_date_limited_discount_splits_the_period():
    seats = item(
        price_model=PerUnit(eur("20.00")), discount=Discount(percent=D(25), start=date(2026, 1, 16))
    )
    store = make_store(sub([seats], start=date(2026, 1, 1)))
    doc = only_document(invoice_run(store, date(2026, 1, 1)))
    first, second = sorted(doc.lines, key=lambda ln: ln.period.start)
    # Jan 1..Jan 15 undiscounted: round(20.00 × 15/31 = 9.677…) = 9.68
    # Jan 16..Jan 31 at 15.00 (25 % off): round(15.00 × 1) − round(15.00 × 15/31 = 7.258…)
    #   = 15.00 − 7.26 = 7.74; undiscounted that part is 20.00 − 9.68 = 10.32, so discount 2.58
    # net 17.42; tax 1.8392 -> 1.84 + 1.4706 -> 1.47 = 3.31
    assert (first.period.start, first.period.last_day) == (date(2026, 1, 1), date(2026, 1, 15))
    assert first.net.amount == D("9.68")
    assert first.discount.amount == D("0.00")
    assert (second.period.start, second.period.last_day) == (date(2026, 1, 16), date(2026, 1, 31))
    assert second.net.amount == D("7.74")
    assert second.discount.amount == D("2.58")
    assert doc.net_total.amount == D("17.42")
    assert doc.tax_total.amount == D("3.31")

    # February entirely discounted: 15.00
    line = only_line(only_document(invoice_run(store, date(2026, 2, 1))))
    assert line.net.amount == D("15.00")
    assert line.discount.amount == D("5.00")
