"""Bulk ingestion of plain rows (``ingest_usage_rows``) and the row form stores write.

Rows must be checked exactly as records are (same new / duplicate / rejected counts and
reasons), resolve to the same billing days (the per-day offset cache of a time zone
against ``datetime.fromtimestamp``), and bill the same invoices, however they are
ordered, repeated or split into batches, on the memory store and on SQL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal as D
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import juston
from juston import (
    UsageRecord,
    ingest_usage,
    ingest_usage_rows,
    invoice_run,
    money,
    testing,
)
from juston.model.usage import StoredUsage
from juston.storage.base import Store
from juston.storage.sql import SqlStore
from juston.testing.conformance import fingerprint
from juston.usage.ingest import CHUNK, _LocalDays
from juston.usage.rows import stored_usage, usage_row
from usage_items import add_rejecting_item

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch(text: str) -> int:
    return int((datetime.fromisoformat(text) - EPOCH).total_seconds())


def invoices(store: Store, billing_date: date) -> list[tuple[str, str, str, D, D]]:
    result = invoice_run(store, billing_date)
    assert not result.failures, result.failures
    return sorted(
        (doc.account_id, line.description, str(line.period), line.quantity, line.net.amount)
        for doc in result.documents
        for line in doc.lines
    )


@pytest.fixture(params=["memory", "sqlite"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., Store]]:
    """Stores with the usage sample (a new one per call)."""
    opened: list[SqlStore] = []

    def make(accounts: int = 2, time_zone: str = "Europe/Berlin") -> Store:
        if request.param == "memory":
            return testing.usage_store(accounts, time_zone=time_zone)
        store = SqlStore.open(f"sqlite:///{tmp_path}/{len(opened)}.db")
        opened.append(store)
        return testing.usage_store(accounts, store=store, time_zone=time_zone)

    yield make
    for store in opened:
        store.close()


# --- the same as records --------------------------------------------------------------


ROWS: list[tuple[Any, ...]] = [
    ("a", "S-1/api", epoch("2026-01-05T09:00:00+00:00"), 8000),
    ("b", "ORD-00001-API", datetime(2026, 1, 20, 10, tzinfo=UTC), 4500),
    ("c", "S-1/api", datetime(2026, 1, 31, 23, 30, tzinfo=timezone(timedelta(hours=1))), 7),
    ("d", "S-2/api", "2026-01-10T10:00:00+01:00", "2.50"),
    ("e", "S-2/api", epoch("2026-01-11T10:00:00+00:00"), D("1.000000"), money("0.02", "EUR")),
    ("f", "S-2/api", epoch("2026-01-12T10:00:00+00:00"), 3, None, "eu-west", "project-x"),
    ("g", "S-1/seats", epoch("2026-01-03T10:00:00+00:00"), 4, None, None, None, {"who": "x"}),
    ("a", "S-2/api", epoch("2026-01-06T09:00:00+00:00"), 1),  # a again: a duplicate
]


def as_record(row: tuple[Any, ...]) -> UsageRecord:
    fields: dict[str, Any] = dict(zip(juston.usage.ingest.ROW_FIELDS, row, strict=False))
    stamp = fields["timestamp"]
    if isinstance(stamp, int):
        fields["timestamp"] = datetime.fromtimestamp(stamp, UTC)
    elif isinstance(stamp, str):
        fields["timestamp"] = datetime.fromisoformat(stamp)
    return UsageRecord(**{k: v for k, v in fields.items() if v is not None})


def test_rows_are_ingested_and_billed_exactly_as_records(make_store: Callable[..., Store]) -> None:
    by_rows, by_records = make_store(), make_store()
    got = ingest_usage_rows(by_rows, ROWS, batch_size=3)
    assert (got.new, got.duplicates, got.rejected) == (7, 1, ())
    assert ingest_usage(by_records, [as_record(r) for r in ROWS]) == got
    assert invoices(by_rows, date(2026, 2, 1)) == invoices(by_records, date(2026, 2, 1))
    assert invoices(by_rows, date(2026, 3, 1)) == invoices(by_records, date(2026, 3, 1))


def test_a_row_is_stored_whole(tmp_path: Path) -> None:
    # What a row gives is kept: the order number as the reference, the offset, the
    # exponents, the price and the properties.
    store = SqlStore.open(f"sqlite:///{tmp_path}/whole.db")
    try:
        testing.usage_store(2, store=store)
        assert ingest_usage_rows(store, ROWS).new == 7
        with store.engine.connect() as conn:
            rows = conn.exec_driver_sql(
                "SELECT r.id, i.account_id, i.subscription, i.item_id, r.period_start, r.day, "
                "r.at, r.quantity, r.unit_price, r.criterion, r.invoice_criterion, "
                "r.properties, r.rest FROM usage_records r JOIN usage_items i ON i.seq = r.item"
            ).all()
        stored = {row[0]: stored_usage((row[0], tuple(row[1:4]), *row[4:])) for row in rows}
        for row in ROWS[:-1]:
            assert fingerprint(stored[row[0]].record) == fingerprint(as_record(row))
        assert stored["c"].day == date(2026, 1, 31)  # 23:30 at +01:00 is 23:30 in Berlin
    finally:
        store.close()


BAD: list[tuple[tuple[Any, ...], str, str]] = [
    (("x", "S-9/api", 1767607200, 1), "item", "names no usage item"),
    (("x", "S-1/api", 1767607200, -1), "quantity", "negative"),
    (("x", "S-1/api", 1767607200, 1.5), "quantity", "float"),
    (("x", "S-1/api", 1767607200, True), "quantity", "bool"),
    (("x", "S-1/api", 1767607200, "1.0000001"), "quantity", "decimal places"),
    (("x", "S-1/api", 1767607200, 2**63), "quantity", "more than a store holds"),
    (("x", "S-1/api", datetime(2026, 1, 10, 10), 1), "timestamp", "no time zone"),
    (("x", "S-1/api", "yesterday", 1), "timestamp", "ISO 8601"),
    (("x", "S-1/api", 1.5e9, 1), "timestamp", "datetime"),
    (("x", "S-1/api", 10**15, 1), "timestamp", "out of range"),
    (("x", "S-1/api", epoch("2025-12-31T22:59:00+00:00"), 1), "timestamp", "outside the service"),
    (("", "S-1/api", 1767607200, 1), "id", "non-empty"),
    ((" ", "S-1/api", 1767607200, 1), "id", "non-empty"),
    ((7, "S-1/api", 1767607200, 1), "id", "non-empty"),
    (("x", 7, 1767607200, 1), "item", "non-empty"),
    (("x", "S-1/api", 1767607200), "record", "4 to 8"),
    (("x", "S-1/api", 1767607200, 1, money("1", "USD")), "unit_price", "currency"),
    ("x,S-1/api", "record", "not a row"),
    (None, "record", "not a row"),
]


@pytest.mark.parametrize(("row", "field", "reason"), BAD, ids=[f"{b[1]}-{b[2]}" for b in BAD])
def test_bad_rows_are_rejected_with_reasons_and_the_rest_kept(
    make_store: Callable[..., Store], row: Any, field: str, reason: str
) -> None:
    good = ("ok", "S-1/api", 1767607200, 1)
    result = ingest_usage_rows(make_store(), [good, row, ("ok2", *good[1:])])
    assert (result.new, result.duplicates) == (2, 0)
    [rejected] = result.rejected
    assert (rejected.position, rejected.field) == (1, field)
    assert reason in rejected.reason
    if isinstance(row, tuple) and isinstance(row[0], str) and row[0].strip():
        assert rejected.record_id == row[0]


def test_late_rows_can_be_rejected_by_policy(make_store: Callable[..., Store]) -> None:
    store = make_store()
    reference = add_rejecting_item(store)
    ingest_usage_rows(store, [("1", reference, epoch("2026-01-03T10:00:00+00:00"), 5)])
    invoice_run(store, date(2026, 2, 1))
    result = ingest_usage_rows(
        store,
        [
            ("2", "S-1/ev", epoch("2026-01-04T10:00:00+00:00"), 5),
            ("1", "S-1/ev", epoch("2026-01-04T10:00:00+00:00"), 5),  # stored before
            ("3", "S-1/ev", epoch("2026-02-04T10:00:00+00:00"), 5),
            ("2", "S-1/ev", epoch("2026-02-04T10:00:00+00:00"), 5),  # 2 again
        ],
    )
    assert (result.new, result.duplicates) == (1, 2)
    [rejected] = result.rejected
    assert (rejected.position, rejected.record_id) == (0, "2")
    assert rejected.value == "2026-01-04T10:00:00+00:00"
    assert "already invoiced" in rejected.reason


def test_batches_larger_than_a_chunk_are_one_transaction_each(
    make_store: Callable[..., Store],
) -> None:
    store = make_store(accounts=3)
    rows = [(f"r{n}", f"S-{n % 3 + 1}/api", 1767607200 + n, 1) for n in range(CHUNK + 10)]
    rows.insert(CHUNK + 5, rows[3])  # a duplicate across chunks of one batch
    result = ingest_usage_rows(store, rows, batch_size=CHUNK + 20)
    assert (result.new, result.duplicates, result.rejected) == (CHUNK + 10, 1, ())
    again = ingest_usage_rows(store, rows[::-1], batch_size=7000)
    assert (again.new, again.duplicates) == (0, CHUNK + 11)
    assert sum(line[3] for line in invoices(store, date(2026, 2, 1))) == CHUNK + 10


def test_batch_size_must_be_positive(make_store: Callable[..., Store]) -> None:
    with pytest.raises(juston.ValidationError, match="batch_size"):
        ingest_usage_rows(make_store(), [], batch_size=0)


# --- billing days across daylight saving time ----------------------------------------


@pytest.mark.parametrize(
    ("zone", "stamp", "day"),
    [
        ("Europe/Berlin", "2026-03-28T23:30:00+00:00", date(2026, 3, 29)),
        ("Europe/Berlin", "2026-03-29T00:59:59+00:00", date(2026, 3, 29)),
        ("Europe/Berlin", "2026-03-31T21:59:59+00:00", date(2026, 3, 31)),
        ("Europe/Berlin", "2026-03-31T22:00:00+00:00", date(2026, 4, 1)),
        ("Europe/Berlin", "2026-10-25T01:30:00+00:00", date(2026, 10, 25)),
        ("Europe/Berlin", "2026-10-31T22:59:59+00:00", date(2026, 10, 31)),
        ("Europe/Berlin", "2026-10-31T23:00:00+00:00", date(2026, 11, 1)),
        ("America/New_York", "2026-03-08T04:59:59+00:00", date(2026, 3, 7)),
        ("America/New_York", "2026-03-08T05:00:00+00:00", date(2026, 3, 8)),
        ("America/New_York", "2026-11-01T03:59:59+00:00", date(2026, 10, 31)),
        ("America/New_York", "2026-11-02T04:59:59+00:00", date(2026, 11, 1)),
        ("Asia/Kathmandu", "2026-01-31T18:14:59+00:00", date(2026, 1, 31)),
        ("Asia/Kathmandu", "2026-01-31T18:15:00+00:00", date(2026, 2, 1)),
        # Lord Howe Island: +11 until 2026-04-05 02:00, then +10:30.
        ("Australia/Lord_Howe", "2026-04-04T12:59:59+00:00", date(2026, 4, 4)),
        ("Australia/Lord_Howe", "2026-04-04T13:00:00+00:00", date(2026, 4, 5)),
        ("Australia/Lord_Howe", "2026-04-05T13:29:59+00:00", date(2026, 4, 5)),
        ("Australia/Lord_Howe", "2026-04-05T13:30:00+00:00", date(2026, 4, 6)),
    ],
)
def test_a_row_counts_for_its_local_day(zone: str, stamp: str, day: date) -> None:
    for value in (epoch(stamp), datetime.fromisoformat(stamp)):
        store = testing.usage_store(time_zone=zone)
        result = ingest_usage_rows(store, [("r", "S-1/api", value, 7)])
        assert result.new == 1, result.rejected
        query = juston.usage.UsageQuery("C00001", "S-1", "api", juston.Aggregation.TIME_WEIGHTED)
        [total] = store.usage_totals([query])
        assert total.day == day


ZONES = [
    "Europe/Berlin",
    "America/New_York",
    "Asia/Kathmandu",
    "Australia/Lord_Howe",
    "Pacific/Apia",  # skipped a whole day (2011-12-30)
    "America/St_Johns",
    "Africa/Casablanca",  # offset changes around Ramadan, several times a year
    "Europe/Amsterdam",  # local mean time with seconds until 1937
    "UTC",
]


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(ZONES),
    st.integers(epoch("1900-01-01T00:00:00+00:00"), epoch("2100-01-01T00:00:00+00:00")),
    st.integers(-2, 2),
)
def test_the_local_day_of_an_instant_is_the_zones(name: str, seconds: int, shift: int) -> None:
    zone = ZoneInfo(name)
    days = _LocalDays(zone)
    # Around the instant too: the offsets of a UTC day are looked up once for all of it.
    for second in (seconds, seconds + shift * 3600, seconds - shift * 86399):
        assert days.day(second) == datetime.fromtimestamp(second, zone).toordinal()


def test_the_local_day_around_every_transition_of_a_year() -> None:
    for name in ZONES:
        zone, days = ZoneInfo(name), _LocalDays(ZoneInfo(name))
        start = epoch("2026-01-01T00:00:00+00:00")
        for second in range(start, start + 366 * 86400, 1799):
            assert days.day(second) == datetime.fromtimestamp(second, zone).toordinal(), name


# --- invariants ----------------------------------------------------------------------

ROW = st.builds(
    lambda n, item, seconds, quantity, form: (
        f"r{n}",
        item,
        form(epoch("2026-01-01T00:00:00+00:00") + seconds),
        quantity,
    ),
    st.integers(0, 40),
    st.sampled_from(["S-1/api", "S-2/api", "ORD-00001-API", "S-1/seats", "S-9/api"]),
    st.integers(-3600, 60 * 86400),
    st.one_of(st.integers(0, 5000), st.sampled_from(["1.5", D("0.000001"), D("2.50")])),
    st.sampled_from(
        [
            lambda s: s,
            lambda s: datetime.fromtimestamp(s, UTC),
            lambda s: datetime.fromtimestamp(s, ZoneInfo("America/New_York")),
        ]
    ),
)
ROWS_ST = st.lists(ROW, max_size=30)
RUNS = [date(2026, 2, 1), date(2026, 3, 1)]


def _billed(rows: list[Any], batch: int, store: Store | None = None) -> list[Any]:
    store = store or testing.usage_store(2)
    ingest_usage_rows(store, rows, batch_size=batch)
    return [invoices(store, day) for day in RUNS]


@settings(max_examples=40, deadline=None)
@given(ROWS_ST, st.randoms(use_true_random=False), st.integers(1, 30))
def test_order_and_batches_do_not_change_what_is_billed(
    rows: list[Any], rng: Any, batch: int
) -> None:
    # Duplicates are ignored whichever comes first: the same data under one id each.
    unique = list({row[0]: row for row in rows}.values())
    shuffled = unique + unique[: len(unique) // 2]
    rng.shuffle(shuffled)
    assert _billed(unique, 1000) == _billed(shuffled, batch)


@settings(max_examples=40, deadline=None)
@given(ROWS_ST, st.data())
def test_duplicates_never_change_a_total(rows: list[Any], data: st.DataObject) -> None:
    again = data.draw(st.lists(st.sampled_from(rows), max_size=10)) if rows else []
    changed = [(row[0], row[1], row[2], 99) for row in again]  # same id, other figure
    first = _billed(rows, 7)
    store = testing.usage_store(2)
    ingest_usage_rows(store, rows, batch_size=7)
    result = ingest_usage_rows(store, changed, batch_size=3)
    assert result.new == 0
    assert _billed([], 1, store) == first


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ROWS_ST, st.integers(1, 30))
def test_rows_bill_the_same_on_sql_and_in_memory(rows: list[Any], batch: int) -> None:
    store = SqlStore.open("sqlite://")
    try:
        testing.usage_store(2, store=store)
        assert _billed(rows, batch, store) == _billed(rows, 1000)
    finally:
        store.close()


@settings(max_examples=25, deadline=None)
@given(ROWS_ST)
def test_rows_and_records_give_the_same_result(rows: list[Any]) -> None:
    by_rows = ingest_usage_rows(testing.usage_store(2), rows)
    records: list[Any] = []
    for row in rows:
        try:
            records.append(as_record(row))
        except juston.ValidationError:
            records.append({"id": row[0]})  # rejected either way, at the same position
    by_records = ingest_usage(testing.usage_store(2), records)
    assert (by_rows.new, by_rows.duplicates) == (by_records.new, by_records.duplicates)
    assert [r.position for r in by_rows.rejected] == [r.position for r in by_records.rejected]


RECORDS = st.builds(
    UsageRecord,
    id=st.text(min_size=1).filter(str.strip),
    item=st.sampled_from(["S-1/api", "ORD-1", "S-1/other"]),
    timestamp=st.datetimes(
        min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.timezones()
    ),
    quantity=st.decimals(min_value=0, max_value=10**12, places=6),
    unit_price=st.none()
    | st.decimals(min_value=0, max_value=1000, places=4).map(lambda d: money(d, "EUR")),
    criterion=st.none() | st.sampled_from(["EU", "ä"]),
    invoice_criterion=st.none() | st.just("project-x"),
    properties=st.lists(
        st.tuples(st.sampled_from(["user", "region"]), st.text(max_size=3)), max_size=3
    ).map(tuple),
)


@settings(max_examples=200, deadline=None)
@given(RECORDS, st.dates(date(2000, 1, 1), date(2100, 1, 1)))
def test_a_stored_record_comes_back_from_its_row_exactly(record: UsageRecord, day: date) -> None:
    stored = StoredUsage(
        record=record,
        account_id="C1",
        subscription="S-1",
        item_id="api",
        day=day,
        period_start=day.replace(day=1),
    )
    back = stored_usage(usage_row(stored))
    # The same instant at the same offset: a named zone comes back as the offset it had.
    expected = attrs.evolve(stored, record=_utc_offset(record))
    assert back == expected
    assert fingerprint(back) == fingerprint(expected)


def _utc_offset(record: UsageRecord) -> UsageRecord:
    """*record* with its time zone as the plain offset it had (how every store keeps it)."""
    offset = record.timestamp.utcoffset()
    assert offset is not None
    zone = UTC if not offset else timezone(offset)
    return attrs.evolve(record, timestamp=record.timestamp.astimezone(zone))
