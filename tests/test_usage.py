"""Usage data billing: ingestion, billing days, aggregation, rating, late usage.

Figures are worked by hand in the comments. The sample subscription S-1 (calendar
months from 2026-01-01) has two usage items: ``api`` (sum, graduated: up to 1000 calls
at 0.010, up to 10000 at 0.008, beyond at 0.005 EUR) and ``seats`` (time-weighted
average at 8.00 EUR per seat and month). German VAT 19 %.
"""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from decimal import Decimal as D

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from juston import (
    Aggregation,
    Item,
    LatePolicy,
    Metric,
    PerUnit,
    Product,
    UsageRecord,
    ValidationError,
    Volume,
    cancel,
    finalize,
    ingest_usage,
    invoice_run,
    money,
    read_usage_csv,
    testing,
)
from juston.billing.usage import gauge_average
from juston.model.usage import StoredUsage
from juston.periods import Period
from juston.pricing import Tier
from juston.storage.base import Store
from juston.usage import aggregate


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def rec(id: str, item: str, quantity: object, at: str, **extra: object) -> dict[str, object]:
    return {"id": id, "item": item, "quantity": str(quantity), "timestamp": at, **extra}


def lines_of(store: Store, billing_date: date) -> list[tuple[str, str, D, D]]:
    result = invoice_run(store, billing_date)
    assert not result.failures, result.failures
    return [
        (line.description, str(line.period), line.quantity, line.net.amount)
        for doc in result.documents
        for line in doc.lines
    ]


def with_item(store: Store, item: Item) -> None:
    with store.transaction() as tx:
        subscription = tx.subscriptions("C00001")[0]
        tx.put_subscription(subscription.with_item(item))


# --- rating --------------------------------------------------------------------------


def test_graduated_usage_over_a_month_in_one_line_per_tier() -> None:
    store = testing.usage_store()
    ingest_usage(
        store,
        [
            rec("a", "S-1/api", 8000, "2026-01-10T10:00:00+01:00"),
            rec("b", "S-1/api", 4500, "2026-01-20T10:00:00+01:00"),
        ],
    )
    # 12,500 calls: 1000 × 0.010 = 10.00; 9000 × 0.008 = 72.00; 2500 × 0.005 = 12.50.
    assert lines_of(store, date(2026, 2, 1)) == [
        ("API calls (tier 1)", "2026-01-01..2026-01-31", D(1000), D("10.00")),
        ("API calls (tier 2)", "2026-01-01..2026-01-31", D(9000), D("72.00")),
        ("API calls (tier 3)", "2026-01-01..2026-01-31", D(2500), D("12.50")),
    ]


def test_usage_is_billed_in_arrears_only_once_the_period_is_over() -> None:
    store = testing.usage_store()
    ingest_usage(store, [rec("a", "S-1/api", 10, "2026-01-10T10:00:00+01:00")])
    assert lines_of(store, date(2026, 1, 31)) == []
    assert lines_of(store, date(2026, 2, 1)) == [
        ("API calls (tier 1)", "2026-01-01..2026-01-31", D(10), D("0.10")),
    ]
    assert lines_of(store, date(2026, 2, 1)) == []  # re-running bills nothing twice


def test_seats_gauge_is_a_time_weighted_average_over_the_days() -> None:
    store = testing.usage_store()
    ingest_usage(
        store,
        [
            rec("s1", "S-1/seats", 10, "2026-01-01T08:00:00+01:00"),
            rec("s2", "S-1/seats", 12, "2026-01-17T07:00:00+01:00"),  # overwritten the same day
            rec("s3", "S-1/seats", 20, "2026-01-17T18:00:00+01:00"),
        ],
    )
    # January: 16 days at 10 and 15 days at 20: 460 / 31 = 14.838710 seats × 8.00 = 118.71.
    # February: no readings, 20 seats carried over: 20 × 8.00 = 160.00.
    assert lines_of(store, date(2026, 3, 1)) == [
        ("Active seats", "2026-01-01..2026-01-31", D("14.83871"), D("118.71")),
        ("Active seats", "2026-02-01..2026-02-28", D(20), D("160.00")),
    ]


def test_gauge_average_by_hand() -> None:
    february = Period(date(2026, 2, 1), date(2026, 3, 1))
    # 5 seats for 7 days, 12 for 21 days: (35 + 252) / 28 = 10.25.
    assert gauge_average(february, D(5), [(date(2026, 2, 8), D(12))]) == D("10.25")
    assert gauge_average(february, D(0), []) == D(0)


@pytest.mark.parametrize(
    ("metric", "expected"),
    [
        (Metric(aggregation="sum"), D("12.5")),
        (Metric(aggregation="count"), D(4)),
        (Metric(aggregation="max"), D(7)),
        (Metric(aggregation="unique_count", property="user"), D(2)),
        (Metric(aggregation="latest"), D("0.5")),
    ],
)
def test_each_aggregation_rates_its_quantity(metric: Metric, expected: D) -> None:
    store = testing.usage_store()
    product = Product(code="EV", name="Events")
    with_item(
        store,
        Item(
            id="ev",
            product=product,
            price=PerUnit(money(2, "EUR")),
            billing_type="usage",
            metric=metric,
        ),
    )
    ingest_usage(
        store,
        [
            rec("1", "S-1/ev", 3, "2026-01-03T10:00:00+00:00", properties={"user": "ann"}),
            rec("2", "S-1/ev", 7, "2026-01-04T10:00:00+00:00", properties={"user": "bob"}),
            rec("3", "S-1/ev", 2, "2026-01-05T10:00:00+00:00", properties={"user": "ann"}),
            rec("4", "S-1/ev", "0.5", "2026-01-06T10:00:00+00:00"),
        ],
    )
    [line] = [ln for ln in lines_of(store, date(2026, 2, 1)) if ln[0] == "Events"]
    assert line[2] == expected
    assert line[3] == expected * 2


def test_a_tier_quantity_selects_the_volume_tier_only() -> None:
    store = testing.usage_store()
    tiers = [Tier(100, money("1.00", "EUR")), Tier(None, money("0.50", "EUR"))]
    with_item(
        store,
        Item(
            id="vol",
            product=Product(code="V", name="Volume"),
            price=Volume(tiers),
            billing_type="usage",
            metric=Metric(tier_quantity=500),
        ),
    )
    ingest_usage(store, [rec("1", "S-1/vol", 40, "2026-01-03T10:00:00+00:00")])
    # 40 units at the rate of the tier 500 reaches (0.50) = 20.00, not 40 × 1.00.
    assert ("Volume (volume tier 2)", "2026-01-01..2026-01-31", D(40), D("20.00")) in lines_of(
        store, date(2026, 2, 1)
    )


def test_tier_quantity_needs_a_volume_price() -> None:
    with pytest.raises(ValidationError, match="tier_quantity"):
        Item(
            id="x",
            product=Product(code="X", name="X"),
            price=PerUnit(money(1, "EUR")),
            billing_type="usage",
            metric=Metric(tier_quantity=5),
        )


def test_a_metric_needs_billing_type_usage() -> None:
    with pytest.raises(ValidationError, match="metric"):
        Item(
            id="x",
            product=Product(code="X", name="X"),
            price=PerUnit(money(1, "EUR")),
            metric=Metric(),
        )


def test_minimum_commitment_bills_the_shortfall_then_corrects_it() -> None:
    store = testing.usage_store()
    with_item(
        store,
        Item(
            id="ev",
            product=Product(code="EV", name="Events"),
            price=PerUnit(money("0.25", "EUR")),
            billing_type="usage",
            metric=Metric(minimum=money(50, "EUR")),
        ),
    )
    ingest_usage(store, [rec("1", "S-1/ev", 50, "2026-01-03T10:00:00+00:00")])
    # 50 × 0.25 = 12.50 used, commitment 50.00: true-up 37.50.
    january = [ln for ln in lines_of(store, date(2026, 2, 1)) if ln[0].startswith("Events")]
    assert january == [
        ("Events", "2026-01-01..2026-01-31", D(50), D("12.50")),
        ("Events (minimum commitment)", "2026-01-01..2026-01-31", D(1), D("37.50")),
    ]
    # Above the commitment nothing is topped up: 300 × 0.25 = 75.00 in February.
    ingest_usage(store, [rec("2", "S-1/ev", 300, "2026-02-03T10:00:00+00:00")])
    february = [ln for ln in lines_of(store, date(2026, 3, 1)) if ln[0].startswith("Events")]
    assert february == [("Events", "2026-02-01..2026-02-28", D(300), D("75.00"))]


def test_criteria_split_lines_and_invoice_criteria_split_documents() -> None:
    store = testing.usage_store()
    ingest_usage(
        store,
        [
            rec("1", "S-1/api", 100, "2026-01-03T10:00:00+00:00", criterion="eu"),
            rec("2", "S-1/api", 200, "2026-01-03T10:00:00+00:00", criterion="us"),
            rec("3", "S-1/api", 300, "2026-01-03T10:00:00+00:00", invoice_criterion="project-x"),
        ],
    )
    result = invoice_run(store, date(2026, 2, 1))
    by_document = sorted(
        sorted((ln.description, ln.quantity) for ln in doc.lines) for doc in result.documents
    )
    # Each group is rated on its own: all stay in tier 1 (0.010).
    assert by_document == [
        [("API calls (tier 1)", D(300))],
        [("API calls – eu (tier 1)", D(100)), ("API calls – us (tier 1)", D(200))],
    ]
    assert lines_of(store, date(2026, 2, 1)) == []


def test_records_with_their_own_price_are_billed_at_it() -> None:
    store = testing.usage_store()
    ingest_usage(
        store,
        [
            rec("1", "S-1/api", 100, "2026-01-03T10:00:00+00:00"),
            rec("2", "S-1/api", 40, "2026-01-04T10:00:00+00:00", unit_price="0.05", currency="EUR"),
            rec(
                "3", "S-1/api", 60, "2026-01-05T10:00:00+00:00", unit_price="0.050", currency="EUR"
            ),
        ],
    )
    assert lines_of(store, date(2026, 2, 1)) == [
        ("API calls (tier 1)", "2026-01-01..2026-01-31", D(100), D("1.00")),
        ("API calls (at 0.05)", "2026-01-01..2026-01-31", D(100), D("5.00")),
    ]


# --- late usage and cancellation -----------------------------------------------------


def test_late_usage_is_a_correction_line_for_its_original_period() -> None:
    store = testing.usage_store()
    ingest_usage(store, [rec("a", "S-1/api", 12500, "2026-01-10T10:00:00+01:00")])
    finalize(store, invoice_run(store, date(2026, 2, 1)).documents)
    # 23:30 UTC on Jan 31 is 00:30 on Feb 1 in Berlin: February. 22:30 UTC is still January.
    ingest_usage(
        store,
        [
            rec("late", "ORD-00001-API", 1000, "2026-01-31T22:30:00+00:00"),
            rec("feb", "S-1/api", 10, "2026-01-31T23:30:00+00:00"),
        ],
    )
    # January now has 13,500 calls: tier 3 grows from 2500 to 3500 × 0.005: +5.00.
    assert lines_of(store, date(2026, 3, 1)) == [
        ("API calls (tier 3)", "2026-01-01..2026-01-31", D(1000), D("5.00")),
        ("API calls (tier 1)", "2026-02-01..2026-02-28", D(10), D("0.10")),
    ]


def test_late_usage_can_be_rejected_by_policy() -> None:
    store = testing.usage_store()
    with_item(
        store,
        Item(
            id="ev",
            product=Product(code="EV", name="Events"),
            price=PerUnit(money(1, "EUR")),
            billing_type="usage",
            metric=Metric(late=LatePolicy.REJECT),
        ),
    )
    ingest_usage(store, [rec("1", "S-1/ev", 5, "2026-01-03T10:00:00+00:00")])
    invoice_run(store, date(2026, 2, 1))
    result = ingest_usage(
        store,
        [
            rec("2", "S-1/ev", 5, "2026-01-04T10:00:00+00:00"),
            rec("3", "S-1/ev", 5, "2026-02-04T10:00:00+00:00"),
        ],
    )
    assert (result.new, result.duplicates) == (1, 0)
    [rejected] = result.rejected
    assert rejected.record_id == "2" and "already invoiced" in rejected.reason


def test_cancelling_an_invoice_releases_its_usage_for_rebilling() -> None:
    store = testing.usage_store()
    ingest_usage(store, [rec("a", "S-1/api", 500, "2026-01-10T10:00:00+01:00")])
    [invoice] = finalize(store, invoice_run(store, date(2026, 2, 1)).documents)
    assert lines_of(store, date(2026, 2, 1)) == []
    cancel(store, invoice, cancellation_date=date(2026, 2, 5))
    assert lines_of(store, date(2026, 2, 5)) == [
        ("API calls (tier 1)", "2026-01-01..2026-01-31", D(500), D("5.00")),
    ]


# --- ingestion -----------------------------------------------------------------------


def test_duplicates_are_counted_and_never_billed_twice() -> None:
    store = testing.usage_store()
    first = ingest_usage(store, [rec("a", "S-1/api", 5, "2026-01-10T10:00:00+01:00")] * 2)
    again = ingest_usage(store, [rec("a", "S-1/api", 99, "2026-01-11T10:00:00+01:00")])
    assert (first.new, first.duplicates, again.new, again.duplicates) == (1, 1, 0, 1)
    assert lines_of(store, date(2026, 2, 1))[0][2] == D(5)


@pytest.mark.parametrize(
    ("record", "field", "reason"),
    [
        (rec("x", "S-9/api", 1, "2026-01-10T10:00:00+01:00"), "item", "names no usage item"),
        (rec("x", "S-1/api", "abc", "2026-01-10T10:00:00+01:00"), "quantity", ""),
        (rec("x", "S-1/api", -1, "2026-01-10T10:00:00+01:00"), "quantity", "negative"),
        (
            rec("x", "S-1/api", "1.0000001", "2026-01-10T10:00:00+01:00"),
            "quantity",
            "decimal places",
        ),
        (rec("x", "S-1/api", 1, "2026-01-10T10:00:00"), "timestamp", "no time zone"),
        (rec("x", "S-1/api", 1, "yesterday"), "timestamp", "ISO 8601"),
        (rec("x", "S-1/api", 1, "2025-12-31T22:59:00+00:00"), "timestamp", "outside the service"),
        ({"item": "S-1/api", "timestamp": "2026-01-10T10:00:00+01:00"}, "id", "missing"),
        (
            rec("x", "S-1/api", 1, "2026-01-10T10:00:00+01:00", unit_price="1", currency="USD"),
            "unit_price",
            "currency",
        ),
    ],
)
def test_bad_records_are_rejected_with_reasons_and_the_rest_kept(
    record: dict[str, object], field: str, reason: str
) -> None:
    store = testing.usage_store()
    good = rec("ok", "S-1/api", 1, "2026-01-10T10:00:00+01:00")
    result = ingest_usage(store, [good, record, good | {"id": "ok2"}])
    assert (result.new, result.duplicates) == (2, 0)
    [rejected] = result.rejected
    assert (rejected.position, rejected.field) == (1, field)
    assert reason in rejected.reason
    assert field in str(rejected)


def test_csv_ingestion_with_own_column_names_and_properties() -> None:
    text = io.StringIO(
        "event;order;when;amount;user\n"
        "e1;ORD-00001-API;2026-01-05T09:00:00Z;3;ann\n"
        "e2;ORD-00001-API;2026-01-05T09:00:00Z;oops;bob\n"
        "e1;ORD-00001-API;2026-01-05T09:00:00Z;3;ann\n"
    )
    rows = read_usage_csv(
        text,
        columns={"id": "event", "item": "order", "timestamp": "when", "quantity": "amount"},
        properties=["user"],
        delimiter=";",
    )
    store = testing.usage_store()
    result = ingest_usage(store, rows)
    assert (result.new, result.duplicates, [r.record_id for r in result.rejected]) == (1, 1, ["e2"])


def test_the_same_csv_file_twice_adds_nothing(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "usage.csv"
    path.write_text("id,item,timestamp,quantity\nu1,S-1/api,2026-01-05T09:00:00+01:00,4\n")
    store = testing.usage_store()
    assert ingest_usage(store, read_usage_csv(path)).new == 1
    assert ingest_usage(store, read_usage_csv(path)).duplicates == 1


# --- billing days across daylight saving time ----------------------------------------


@pytest.mark.parametrize(
    ("zone", "stamp", "day"),
    [
        # Europe/Berlin: CET (+1) until 2026-03-29 02:00, CEST (+2) until 2026-10-25 03:00.
        ("Europe/Berlin", "2026-03-28T23:30:00+00:00", date(2026, 3, 29)),  # 00:30 CET
        ("Europe/Berlin", "2026-03-29T00:59:00+00:00", date(2026, 3, 29)),  # 01:59 CET
        ("Europe/Berlin", "2026-03-29T01:00:00+00:00", date(2026, 3, 29)),  # 03:00 CEST
        ("Europe/Berlin", "2026-03-31T21:59:00+00:00", date(2026, 3, 31)),  # 23:59 CEST
        ("Europe/Berlin", "2026-03-31T22:00:00+00:00", date(2026, 4, 1)),  # 00:00 CEST
        ("Europe/Berlin", "2026-10-24T22:30:00+00:00", date(2026, 10, 25)),  # 00:30 CEST
        ("Europe/Berlin", "2026-10-25T00:30:00+00:00", date(2026, 10, 25)),  # 02:30 CEST
        ("Europe/Berlin", "2026-10-25T01:30:00+00:00", date(2026, 10, 25)),  # 02:30 CET again
        ("Europe/Berlin", "2026-10-31T22:59:00+00:00", date(2026, 10, 31)),  # 23:59 CET
        ("Europe/Berlin", "2026-10-31T23:00:00+00:00", date(2026, 11, 1)),  # 00:00 CET
        # America/New_York: EST (-5) until 2026-03-08 02:00, EDT (-4) until 2026-11-01 02:00.
        ("America/New_York", "2026-03-01T04:59:00+00:00", date(2026, 2, 28)),  # 23:59 EST
        ("America/New_York", "2026-03-01T05:00:00+00:00", date(2026, 3, 1)),  # 00:00 EST
        ("America/New_York", "2026-03-08T06:59:00+00:00", date(2026, 3, 8)),  # 01:59 EST
        ("America/New_York", "2026-03-08T07:00:00+00:00", date(2026, 3, 8)),  # 03:00 EDT
        ("America/New_York", "2026-04-01T03:59:00+00:00", date(2026, 3, 31)),  # 23:59 EDT
        ("America/New_York", "2026-11-01T03:59:00+00:00", date(2026, 10, 31)),  # 23:59 EDT
        ("America/New_York", "2026-11-01T05:30:00+00:00", date(2026, 11, 1)),  # 01:30 EDT
        ("America/New_York", "2026-11-01T06:30:00+00:00", date(2026, 11, 1)),  # 01:30 EST
        ("America/New_York", "2026-12-01T04:59:00+00:00", date(2026, 11, 30)),  # 23:59 EST
    ],
)
def test_a_record_counts_for_its_local_day(zone: str, stamp: str, day: date) -> None:
    store = testing.usage_store(time_zone=zone)
    result = ingest_usage(store, [rec("r", "S-1/api", 7, stamp)])
    assert result.new == 1, result.rejected
    [row] = store.usage_totals([_query("C00001", "S-1", "api", Aggregation.COUNT)])
    assert row.period_start == date(day.year, day.month, 1)


def test_the_accounts_own_time_zone_wins_over_the_companys() -> None:
    store = testing.usage_store(time_zone="Europe/Berlin")
    with store.transaction() as tx:
        tx.put_account(attrs.evolve(tx.account("C00001"), time_zone="America/New_York"))
    ingest_usage(store, [rec("r", "S-1/api", 7, "2026-02-01T03:00:00+00:00")])
    # 04:00 on Feb 1 in Berlin, but 22:00 on Jan 31 in New York: January.
    assert lines_of(store, date(2026, 2, 1))[0][1] == "2026-01-01..2026-01-31"


def test_a_time_zone_that_does_not_exist_is_refused() -> None:
    with pytest.raises(ValidationError, match="time_zone"):
        attrs.evolve(testing.sample_company(), time_zone="Mars/Olympus")


def _query(account: str, sub: str, item: str, aggregation: Aggregation):  # type: ignore[no-untyped-def]
    from juston.usage import UsageQuery

    return UsageQuery(account, sub, item, aggregation)


# --- invariants ----------------------------------------------------------------------

RECORDS = st.lists(
    st.builds(
        lambda n, day, hour, quantity: UsageRecord(
            id=f"r{n}",
            item="S-1/api",
            timestamp=datetime(2026, 1 + day // 28, 1 + day % 28, hour, tzinfo=UTC),
            quantity=quantity,
        ),
        st.integers(0, 40),
        st.integers(0, 55),
        st.integers(0, 23),
        st.integers(0, 5000),
    ),
    max_size=25,
    unique_by=lambda r: r.id,
)


def _billed_by_period(records: list[UsageRecord], batch: int, runs: list[date]) -> dict[str, D]:
    store = testing.usage_store()
    ingest_usage(store, records, batch_size=batch)
    totals: dict[str, D] = {}
    for day in runs:
        for _, period, _, net in lines_of(store, day):
            totals[period] = totals.get(period, D(0)) + net
    return totals


@settings(max_examples=40, deadline=None)
@given(RECORDS, st.randoms(use_true_random=False), st.integers(1, 30))
def test_order_and_batches_do_not_change_what_is_billed(records, rng, batch) -> None:  # type: ignore[no-untyped-def]
    shuffled = records + records[: len(records) // 2]  # exact repeats are duplicates too
    rng.shuffle(shuffled)
    runs = [date(2026, 2, 1), date(2026, 3, 1)]
    assert _billed_by_period(records, 1000, runs) == _billed_by_period(shuffled, batch, runs)


@settings(max_examples=40, deadline=None)
@given(RECORDS, st.data())
def test_duplicates_never_change_a_total(records, data) -> None:  # type: ignore[no-untyped-def]
    again = data.draw(st.lists(st.sampled_from(records), max_size=10)) if records else []
    changed = [attrs.evolve(r, quantity=r.quantity + 1) for r in again]  # same id, other figure
    runs = [date(2026, 3, 1)]
    assert _billed_by_period(records, 7, runs) == _billed_by_period(records + changed, 7, runs)


@settings(max_examples=60, deadline=None)
@given(RECORDS, st.data())
def test_sum_and_count_over_a_period_equal_the_sum_over_any_split(records, data) -> None:  # type: ignore[no-untyped-def]
    unique = list({r.id: r for r in records}.values())
    rows = [
        StoredUsage(
            record=r,
            account_id="C",
            subscription="S",
            item_id="i",
            day=r.timestamp.date(),
            period_start=date(2026, 1, 1),
        )
        for r in unique
    ]
    cut = data.draw(st.integers(0, len(rows)))
    for aggregation in (Aggregation.SUM, Aggregation.COUNT):
        whole = sum((t.quantity for t in aggregate(rows, aggregation)), D(0))
        parts = sum(
            (t.quantity for part in (rows[:cut], rows[cut:]) for t in aggregate(part, aggregation)),
            D(0),
        )
        assert whole == parts


def test_latest_is_the_latest_instant_even_in_the_repeated_autumn_hour() -> None:
    from zoneinfo import ZoneInfo

    berlin = ZoneInfo("Europe/Berlin")
    # 02:30 CEST (00:30 UTC) comes before 02:10 CET (01:10 UTC) on 2026-10-25.
    early = datetime(2026, 10, 25, 2, 30, tzinfo=berlin, fold=0)
    late = datetime(2026, 10, 25, 2, 10, tzinfo=berlin, fold=1)
    rows = [
        StoredUsage(
            record=UsageRecord(id=name, item="S/i", timestamp=at, quantity=q),
            account_id="C",
            subscription="S",
            item_id="i",
            day=date(2026, 10, 25),
            period_start=date(2026, 10, 1),
        )
        for name, at, q in (("a", early, 1), ("b", late, 2))
    ]
    [total] = aggregate(rows, Aggregation.LATEST)
    assert total.quantity == D(2)
