"""What only the SQL store has to prove: schema versions, exact amounts, atomic batches
across a crash, concurrent numbering and usage ingestion, usage totals computed in the
database, and an exact storage format.

The shared contract of every store is checked by the conformance kit
(``test_storage_conformance.py``); these tests run on SQLite and on a real PostgreSQL.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import textwrap
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import attrs
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from hypothesis import HealthCheck, given, settings

import juston
from juston.billing import parallel
from juston.billing.batch import RUN_THRESHOLD
from juston.billing.parallel import account_ids
from juston.errors import StorageError
from juston.model.billables import Billable
from juston.model.subscriptions import Subscription
from juston.model.usage import Aggregation, StoredUsage, UsageQuery, UsageRecord
from juston.pricing import Flat
from juston.storage import codec
from juston.storage.sql import SqlStore
from juston.storage.sql import store as sql_store
from juston.storage.sql.migrate import SchemaError, current_version, head_version
from juston.storage.sql.migrate import config as migrate_config
from juston.storage.sql.schema import metadata
from juston.testing import conformance, sample_store
from juston.testing.conformance import copy_master_data, fingerprint
from juston.testing.postgres import drop_database, with_database
from juston.usage.aggregate import aggregate
from juston.usage.rows import stored_usage
from strategies import subscriptions


def copy_sample(store: Any, accounts: int = 6) -> None:
    copy_master_data(sample_store(accounts=accounts), store)


def run_python(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run *code* in a fresh interpreter (a real process that can crash or race)."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


# ------------------------------------------------------------------ schema versions


def test_migrations_build_exactly_the_declared_schema(url: str) -> None:
    store = SqlStore.open(url)
    try:
        with store.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, metadata) == []
            assert context.get_current_revision() == head_version()
    finally:
        store.close()


def test_opening_again_keeps_the_data(url: str) -> None:
    store = SqlStore.open(url)
    copy_sample(store, accounts=2)
    store.close()
    again = SqlStore.open(url)
    try:
        assert again.count_accounts() == 2
    finally:
        again.close()


def test_a_database_from_a_newer_release_is_refused(url: str) -> None:
    store = SqlStore.open(url)
    copy_sample(store, accounts=1)
    with store.engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
    store.close()
    with pytest.raises(SchemaError, match=r"9999_from_the_future.*newer release"):
        SqlStore.open(url)


def test_an_empty_database_is_left_alone_when_upgrading_is_not_allowed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/empty.db"
    with pytest.raises(SchemaError, match="upgrade_schema=True"):
        SqlStore.open(url, upgrade_schema=False)
    engine = sa.create_engine(url)
    try:
        assert sa.inspect(engine).get_table_names() == []
    finally:
        engine.dispose()


def test_a_url_no_backend_handles_is_a_clear_error() -> None:
    with pytest.raises(StorageError, match="url: 'mysql://x/y'"):
        SqlStore.open("mysql://x/y")
    with pytest.raises(juston.PluginError, match="no storage plugin handles 'nosuch:thing'"):
        juston.open_store("nosuch:thing")


def test_open_store_finds_the_sql_backend_through_the_plugins(tmp_path: Path) -> None:
    store = juston.open_store(f"sqlite:///{tmp_path}/via-hook.db")
    assert isinstance(store, SqlStore)
    store.close()


# ------------------------------------------------------------------ exact amounts


def test_amount_columns_hold_the_exact_document_totals(url: str) -> None:
    store = SqlStore.open(url)
    try:
        copy_sample(store)
        documents = juston.invoice_run(store, date(2026, 2, 1)).documents
        assert documents
        with store.engine.connect() as conn:
            rows = conn.execute(
                sa.text("SELECT net_total, tax_total, total FROM documents ORDER BY seq")
            ).all()
            if conn.dialect.name == "sqlite":
                kinds = conn.execute(sa.text("SELECT DISTINCT typeof(total) FROM documents"))
                assert kinds.scalars().all() == ["text"]  # never REAL
        expected = [(d.net_total.amount, d.tax_total.amount, d.total.amount) for d in documents]
        assert [tuple(Decimal(str(v)) for v in row) for row in rows] == expected
    finally:
        store.close()


# ------------------------------------------------------------------ atomic batches


CRASH_IN_SECOND_BATCH = """
import os, sys
from datetime import date
import juston
from juston.storage.sql import bodies

rows = 0
original = bodies.Documents.values

def row_then_crash(self, document, parts, **options):
    global rows
    rows += 1
    if rows == 5:  # the second batch of three accounts is half written
        os._exit(17)
    return original(self, document, parts, **options)

bodies.Documents.values = row_then_crash
store = juston.open_store(sys.argv[1])
juston.invoice_run(store, date(2026, 2, 1), batch_size=3)
"""


def test_a_crash_in_the_middle_of_a_run_keeps_whole_batches_only(url: str) -> None:
    store = SqlStore.open(url)
    try:
        copy_sample(store, accounts=9)
        clean = juston.invoice_run(juston.testing.sample_store(accounts=9), date(2026, 2, 1))
        by_account = {d.account_id for d in clean.documents}
        first_batch = sorted(a.id for a in store.accounts())[:3]
        assert len(clean.documents) >= 6, "the sample must bill in both batches"

        crashed = run_python(CRASH_IN_SECOND_BATCH, url)
        assert crashed.returncode == 17, crashed.stderr

        stored = list(store.documents())
        assert {d.account_id for d in stored} == set(first_batch) & by_account
        assert len(stored) == sum(1 for d in clean.documents if d.account_id in first_batch)

        # The next run bills exactly what is missing: nothing twice, nothing lost.
        juston.invoice_run(store, date(2026, 2, 1))
        totals = sorted((d.account_id, d.total) for d in store.documents())
        assert totals == sorted((d.account_id, d.total) for d in clean.documents)
    finally:
        store.close()


def test_an_error_inside_a_transaction_writes_nothing(url: str) -> None:
    store = SqlStore.open(url)
    try:
        copy_sample(store, accounts=2)
        documents = juston.invoice_run(store, date(2026, 2, 1), dry_run=True).documents
        with pytest.raises(RuntimeError), store.transaction() as tx:
            tx.add_documents(documents)
            tx.next_number("x/invoice/2026")
            raise RuntimeError("boom")
        assert list(store.documents()) == []
        with store.transaction() as tx:
            assert not tx.has_counter("x/invoice/2026")
    finally:
        store.close()


# ------------------------------------------------------------------ concurrent numbering


FINALIZE_ONE_BY_ONE = """
import sys
import juston
store = juston.open_store(sys.argv[1])
for document_id in sys.argv[2].split(","):
    juston.finalize(store, [document_id])
"""


def test_two_processes_finalizing_at_once_draw_gapless_unique_numbers(url: str) -> None:
    store = SqlStore.open(url)
    try:
        copy_sample(store, accounts=60)
        drafts = juston.invoice_run(store, date(2026, 2, 1)).documents
        ids = [d.id for d in drafts if d.id is not None]
        assert len(ids) >= 20
        # Interleaved halves, each finalized one transaction per document, at the same time.
        halves = [",".join(ids[0::2]), ",".join(ids[1::2])]
        env = {**os.environ}
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", FINALIZE_ONE_BY_ONE, url, half],
                env=env,
                stderr=subprocess.PIPE,
                text=True,
            )
            for half in halves
        ]
        for proc in procs:
            _, err = proc.communicate(timeout=180)
            assert proc.returncode == 0, err
        numbers = sorted(d.number or "" for d in store.documents())
        assert numbers == [f"INV-2026-{n:05d}" for n in range(1, len(ids) + 1)]
    finally:
        store.close()


def test_finalizing_a_draft_twice_numbers_it_once(url: str) -> None:
    store = SqlStore.open(url)
    try:
        copy_sample(store, accounts=2)
        (draft, *_) = juston.invoice_run(store, date(2026, 2, 1)).documents
        juston.finalize(store, [draft])
        with pytest.raises(juston.NotADraft):
            juston.finalize(store, [draft])
        with store.transaction() as tx:
            assert tx.next_number(f"{draft.seller.id}/invoice/2026") == 2
    finally:
        store.close()


# ------------------------------------------------------------------ streaming


def test_accounts_are_read_in_pages_in_id_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sql_store, "PAGE", 2)
    store = SqlStore.open(f"sqlite:///{tmp_path}/pages.db")
    try:
        copy_sample(store, accounts=5)
        seen: list[str] = []
        real = sql_store._Reads.accounts_page

        def counting(self: Any, after: str, limit: int) -> Any:
            seen.append(after)
            return real(self, after, limit)

        monkeypatch.setattr(sql_store._Reads, "accounts_page", counting)
        ids = [a.id for a in store.accounts()]
        assert ids == sorted(ids) and len(ids) == 5
        assert len(seen) == 4  # pages of 2, 2, 1 and the empty one that ends it
    finally:
        store.close()


def test_account_ids_are_listed_in_pages_without_reading_the_accounts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sql_store, "ID_PAGE", 2)
    store = SqlStore.open(f"sqlite:///{tmp_path}/ids.db")
    try:
        copy_sample(store, accounts=5)
        expected = [a.id for a in store.accounts()]

        def refuse(*_: Any) -> Any:
            raise AssertionError("an account was read")

        monkeypatch.setattr(sql_store._Reads, "accounts_page", refuse)
        monkeypatch.setattr(sql_store._Reads, "accounts_by_id", refuse)
        assert list(store.account_ids()) == expected
        # Given ids come back as accounts() gives them: distinct, in id order, checked.
        some = [expected[3], expected[0], expected[3]]
        assert list(store.account_ids(some)) == [expected[0], expected[3]]
        assert list(store.account_ids([])) == []
        with pytest.raises(juston.NotFound, match="'C-none'"):
            list(store.account_ids([expected[0], "C-none"]))
        # The parallel run asks a store that lists ids for them, and any other for accounts.
        assert list(account_ids(store, some)) == [expected[0], expected[3]]
        memory = sample_store(accounts=3)
        assert list(account_ids(memory)) == [a.id for a in memory.accounts()]
    finally:
        store.close()


def test_documents_added_by_the_store_are_those_a_transaction_adds(url: str) -> None:
    store = SqlStore.open(url)
    try:
        copy_sample(store, accounts=6)
        planned = juston.invoice_run(store, date(2026, 2, 1), dry_run=True).documents
        with store.transaction() as tx:
            by_transaction = tx.add_documents(planned[:2])
        by_store = store.add_documents(planned[2:4])
        assert [d.id for d in by_store] == ["D00000003", "D00000004"]
        # For a caller that only counts them: returned as given, stored all the same.
        counted = store.add_documents(planned[4:], ids=False)
        assert counted == list(planned[4:]) and all(d.id is None for d in counted)
        stored = list(store.documents())
        assert stored == [*by_transaction, *by_store] + [
            d.with_id(f"D{n:08d}") for n, d in enumerate(planned[4:], start=5)
        ]
        assert juston.invoice_run(store, date(2026, 2, 1), dry_run=True).documents == ()
    finally:
        store.close()


# ------------------------------------------------------------------ the storage format


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(subscriptions())
def test_any_subscription_survives_the_storage_format_exactly(sub: Subscription) -> None:
    back = codec.loads(codec.dumps(sub), Subscription)
    assert back == sub
    assert codec.dumps(back) == codec.dumps(sub)  # exponents and order kept too


def test_decimal_exponents_survive() -> None:
    model = Flat(juston.money("12.50", "EUR"))
    back = codec.loads(codec.dumps(model), Flat)
    assert str(back.amount.amount) == "12.50"


def test_an_unknown_price_model_cannot_be_stored() -> None:
    class Homemade:
        derived = False
        currency = juston.currency("EUR")

        def charges(self, quantity: Decimal, *, base: Decimal = Decimal(0)) -> tuple[()]:
            return ()

    item = juston.Item(id="i", product=juston.Product(code="P", name="P"), price=Homemade())
    with pytest.raises(StorageError, match="not a price model the store knows"):
        codec.dumps(item)


def test_damaged_stored_data_is_a_storage_error_naming_the_class() -> None:
    text = codec.dumps(sample_store(accounts=1).company())
    with pytest.raises(StorageError, match="stored Company"):
        codec.loads(text.replace('"DE136695976"', '"DE000000000"'), juston.Company)


def test_a_database_that_cannot_be_opened_is_a_storage_error(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="unable to open database file"):
        SqlStore.open(f"sqlite:///{tmp_path}/no/such/dir/x.db")


PARALLEL_RUN = """
import sys
from datetime import date
import juston

if __name__ == "__main__":
    store = juston.open_store(sys.argv[1])
    result = juston.invoice_run(store, date(2026, 2, 1), workers=2, batch_size=4, collect=False)
    print(result.count, result.totals()["EUR"], len(result.failures))
"""


def test_a_run_in_two_worker_processes_bills_what_one_process_bills(tmp_path: Path) -> None:
    one, two = (SqlStore.open(f"sqlite:///{tmp_path}/{n}.db") for n in ("one", "two"))
    try:
        for store in (one, two):
            copy_sample(store, accounts=30)
        single = juston.invoice_run(one, date(2026, 2, 1))
        script = tmp_path / "parallel_run.py"
        script.write_text(textwrap.dedent(PARALLEL_RUN))
        done = subprocess.run(
            [sys.executable, str(script), two.share()], capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stderr
        count, total, failures = done.stdout.split()
        assert (int(count), Decimal(total), int(failures)) == (
            len(single.documents),
            single.totals()["EUR"],
            0,
        )
        content = sorted((d.account_id, d.total, d.tax_total) for d in one.documents())
        assert sorted((d.account_id, d.total, d.tax_total) for d in two.documents()) == content
    finally:
        one.close()
        two.close()


PARALLEL_SOME = """
import sys
from datetime import date
import juston

if __name__ == "__main__":
    store = juston.open_store(sys.argv[1])
    ids = sys.argv[2:]
    try:
        result = juston.invoice_run(store, date(2026, 2, 1), accounts=ids, workers=2, batch_size=2)
    except juston.NotFound as exc:
        print("NotFound", exc)
    else:
        print(" ".join(sorted(d.account_id for d in result.documents)))
"""


def test_workers_bill_the_accounts_asked_for_and_check_them_first(tmp_path: Path) -> None:
    store = SqlStore.open(f"sqlite:///{tmp_path}/some.db")
    try:
        copy_sample(store, accounts=8)
        ids = [a.id for a in store.accounts()]
        script = tmp_path / "parallel_some.py"
        script.write_text(textwrap.dedent(PARALLEL_SOME))

        def run(*accounts: str) -> str:
            done = subprocess.run(
                [sys.executable, str(script), store.share(), *accounts],
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert done.returncode == 0, done.stderr
            return done.stdout.strip()

        # An unknown account stops the run before anything is billed.
        assert run(ids[1], "C-none", ids[0]) == "NotFound account: 'C-none' does not exist"
        assert list(store.documents()) == []
        some = [ids[6], ids[1], ids[4], ids[1], ids[2]]
        assert run(*some) == " ".join(sorted(set(some)))
        assert sorted(d.account_id for d in store.documents()) == sorted(set(some))
    finally:
        store.close()


def test_a_worker_collects_garbage_as_seldom_as_a_run_for_its_whole_life(
    tmp_path: Path,
) -> None:
    store = SqlStore.open(f"sqlite:///{tmp_path}/worker.db")
    copy_sample(store, accounts=2)
    setup = parallel._Setup(
        url=store.share(),
        options={"billing_date": date(2026, 2, 1)},
        tax=None,
        dry_run=True,
        collect=True,
    )
    before = gc.get_threshold()
    try:
        gc.set_threshold(700, *before[1:])
        parallel._start(setup)
        assert gc.get_threshold()[0] == RUN_THRESHOLD
        assert gc.get_freeze_count() > 0  # what the worker holds to the end is not scanned
        tally, failures = parallel._bill([a.id for a in store.accounts()], None)
        assert (tally.count, failures) == (2, [])
        assert gc.get_threshold()[0] == RUN_THRESHOLD  # also after a batch
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
        assert parallel._worker is not None
        parallel._worker[0].close()  # type: ignore[attr-defined]
        parallel._worker = None
        store.close()


def test_workers_need_a_store_other_processes_can_open() -> None:
    with pytest.raises(StorageError, match="workers: 2 needs a store other processes can open"):
        juston.invoice_run(sample_store(accounts=1), date(2026, 2, 1), workers=2)
    memory = SqlStore.open("sqlite://")
    with pytest.raises(StorageError, match="in-memory SQLite database cannot be shared"):
        memory.share()


def test_a_header_change_keeps_the_stored_body_and_a_content_change_rewrites_it(
    url: str,
) -> None:
    store = SqlStore.open(url)
    try:
        copy_sample(store, accounts=2)
        draft = juston.invoice_run(store, date(2026, 2, 1)).documents[0]
        assert draft.id is not None
        seq = int(draft.id[1:])

        def body() -> tuple[str, ...]:
            """What the row holds besides the header columns."""
            with store.engine.connect() as conn:
                query = sa.text("SELECT body, seller, terms FROM documents WHERE seq = :s")
                return tuple(conn.execute(query, {"s": seq}).one())

        before = body()
        (final,) = juston.finalize(store, [draft])
        assert body() == before  # only the columns changed
        assert store.document(draft.id) == final
        assert (final.status, final.number) == (juston.DocumentStatus.OPEN, "INV-2026-00001")

        with store.transaction() as tx:
            loaded = tx.document(draft.id)
            tx.replace_document(attrs.evolve(loaded, lines=loaded.lines[:1]))
        assert body() != before
        assert store.document(draft.id).lines == final.lines[:1]
    finally:
        store.close()


# ------------------------------------------------------------------ usage and charges


def _record(record_id: str, **fields: Any) -> UsageRecord:
    fields.setdefault("timestamp", datetime(2026, 1, 5, 9, 30, 0, 250, tzinfo=UTC))
    return UsageRecord(id=record_id, item="S-1/api", **fields)


def _row(record: UsageRecord, account_id: str = "C1", item_id: str = "api") -> StoredUsage:
    return StoredUsage(
        record=record,
        account_id=account_id,
        subscription="S-1",
        item_id=item_id,
        day=record.timestamp.date(),
        period_start=date(2026, 1, 1),
    )


RICH_RECORDS = [
    _record("plain"),
    _record(
        "rich",
        timestamp=datetime(2026, 1, 5, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-8))),
        quantity="123456.500000",
        unit_price=juston.money("0.10", "EUR"),
        criterion="EU",
        invoice_criterion="project-x",
        properties=(("user", "änna"), ("region", 'e"u\\'), ("user", "bob")),
    ),
    _record("tiny", quantity="0.000001", timestamp=datetime(2026, 1, 5, 9, tzinfo=UTC)),
    _record("seconds", timestamp=datetime(2026, 1, 5, tzinfo=timezone(timedelta(seconds=5430)))),
]


def test_a_usage_record_is_stored_whole_and_its_columns_exactly(url: str) -> None:
    store = SqlStore.open(url)
    try:
        with store.transaction() as tx:
            assert tx.add_usage([_row(r) for r in RICH_RECORDS]) == len(RICH_RECORDS)
        query = sa.text(
            "SELECT r.id, i.account_id, i.subscription, i.item_id, r.period_start, r.day, "
            "r.at, r.quantity, r.unit_price, r.criterion, r.invoice_criterion, r.properties, "
            "r.rest FROM usage_records r JOIN usage_items i ON i.seq = r.item ORDER BY r.id"
        )
        with store.engine.connect() as conn:
            rows = {row.id: row for row in conn.execute(query)}
            if conn.dialect.name == "sqlite":
                kinds = conn.execute(
                    sa.text(
                        "SELECT DISTINCT typeof(quantity), typeof(at), typeof(day) "
                        "FROM usage_records"
                    )
                )
                assert kinds.all() == [("integer", "integer", "integer")]  # never REAL
        for record in RICH_RECORDS:
            row = rows[record.id]
            properties = row.properties
            if isinstance(properties, dict):  # PostgreSQL's driver reads JSON as objects
                properties = json.dumps(properties)
            item = (row.account_id, row.subscription, row.item_id)
            back = stored_usage((row.id, item, *row[4:11], properties, row.rest))
            assert back == _row(record)
            assert fingerprint(back) == fingerprint(_row(record))  # exponents and offsets too
        rich = rows["rich"]
        assert (rich.quantity, rich.unit_price, rich.criterion) == (123456500000, "0.1", "EU")
        epoch = datetime(1970, 1, 1, tzinfo=UTC)
        assert rich.at == (RICH_RECORDS[1].timestamp - epoch) // timedelta(microseconds=1)
        assert (rich.period_start, rich.day) == (
            date(2026, 1, 1).toordinal(),
            date(2026, 1, 5).toordinal(),
        )
        assert rows["tiny"].quantity == 1
        properties = (
            rich.properties if isinstance(rich.properties, dict) else json.loads(rich.properties)
        )
        # One value per name: the one UsageRecord.property() gives ("bob" sorts first).
        assert properties == {"user": "bob", "region": 'e"u\\'}
        # What the columns do not give: the offset, the exponents, the currency, and the
        # second value of "user".
        assert json.loads(rich.rest) == {
            "quantity": "123456.500000",
            "offset": -8 * 3600 * 10**6,
            "currency": "EUR",
            "unit_price": "0.10",
            "properties": [["region", 'e"u\\'], ["user", "bob"], ["user", "änna"]],
        }
        plain = rows["plain"]
        assert (plain.properties, plain.rest, plain.unit_price, plain.criterion) == (
            None,
            None,
            "",
            "",
        )
    finally:
        store.close()


def test_the_fast_usage_record_encoding_is_the_codecs() -> None:
    named = _record(
        "named", timestamp=datetime(2026, 3, 29, 3, 30, tzinfo=ZoneInfo("Europe/Berlin"))
    )
    for record in [*RICH_RECORDS, named]:
        assert codec.dumps_usage_record(record) == codec.dumps(record, UsageRecord)
    # A named zone comes back as its offset at that instant: the same instant.
    back = codec.loads(codec.dumps_usage_record(named), UsageRecord)
    assert back == named
    assert back.timestamp.utcoffset() == timedelta(hours=2)


def test_a_billable_survives_the_storage_format_exactly() -> None:
    charge = Billable(
        source="time",
        key="entry/1",
        account_id="C1",
        description="Consulting",
        unit_price=juston.money("120.50", "EUR"),
        service_date=date(2026, 1, 5),
        quantity=Decimal("2.50"),
        service_end=date(2026, 1, 7),
        product_code="CONSULT",
        invoice="project-7",
    )
    back = codec.loads(codec.dumps(charge, Billable), Billable)
    assert fingerprint(back) == fingerprint(charge)
    assert (str(back.quantity), str(back.unit_price.amount)) == ("2.50", "120.50")


def test_a_quantity_too_large_for_the_store_is_refused(url: str) -> None:
    store = SqlStore.open(url)
    try:
        huge = _row(_record("huge", quantity="9223372036854.775808"))  # 2**63 millionths
        with pytest.raises(juston.ValidationError, match="quantity"), store.transaction() as tx:
            tx.add_usage([_row(_record("fine"))])
            tx.add_usage([huge])
        assert store.known_usage(["fine", "huge"]) == set()
        most = _row(_record("most", quantity="9223372036854.775807"))
        with store.transaction() as tx:
            assert tx.add_usage([most]) == 1
        (total,) = store.usage_totals([UsageQuery("C1", "S-1", "api", Aggregation.MAX)])
        assert str(total.quantity) == "9223372036854.775807"
    finally:
        store.close()


def test_usage_totals_are_computed_in_the_database(url: str) -> None:
    store = SqlStore.open(url)
    try:
        at = datetime(2026, 1, 5, tzinfo=UTC)
        rows = [
            _row(
                _record(f"r{n}", quantity=n + 1, timestamp=at + timedelta(minutes=n)),
                item_id=f"i{n % 3}",
            )
            for n in range(30)
        ]
        with store.transaction() as tx:
            tx.add_usage(rows)
        statements: list[str] = []

        def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            statements.append(statement)

        sa.event.listen(store.engine, "before_cursor_execute", record)
        try:
            queries = [
                UsageQuery("C1", "S-1", "i0", Aggregation.SUM),
                UsageQuery("C1", "S-1", "i1", Aggregation.SUM),
                UsageQuery("C1", "S-1", "i2", Aggregation.LATEST),
            ]
            totals = store.usage_totals(queries)
        finally:
            sa.event.remove(store.engine, "before_cursor_execute", record)
        assert [(t.item_id, t.quantity, t.records) for t in totals] == [
            ("i0", Decimal(145), 10),
            ("i1", Decimal(155), 10),
            ("i2", Decimal(30), 10),
        ]
        # One query per aggregation, over the rows per item and day: the records stay in
        # the database, and are not even read again.
        assert len([s for s in statements if "usage_days" in s]) == 2
        assert not any("usage_records" in s for s in statements)
        with store.engine.connect() as conn:
            days = conn.execute(sa.text("SELECT count(*), sum(records) FROM usage_days"))
            assert days.one() == (3, 30)  # three items, one day
    finally:
        store.close()


ADD_USAGE = """
import sys
from datetime import UTC, date, datetime, timedelta
import juston
from juston.model.usage import StoredUsage, UsageRecord

store = juston.open_store(sys.argv[1])
origin = datetime(2026, 1, 1, tzinfo=UTC)
rows = [
    StoredUsage(
        record=UsageRecord(id=f"u{n}", item="S-1/api", timestamp=origin + timedelta(minutes=n)),
        account_id="C1", subscription="S-1", item_id="api",
        day=date(2026, 1, 1), period_start=date(2026, 1, 1),
    )
    for n in range(3000)
]
if sys.argv[2] == "backwards":
    rows.reverse()
added = 0
for start in range(0, len(rows), 250):
    with store.transaction() as tx:
        added += tx.add_usage(rows[start : start + 750])
print(added)
"""


def test_two_processes_adding_the_same_usage_store_each_record_once(url: str) -> None:
    store = SqlStore.open(url)
    try:
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", ADD_USAGE, url, direction],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for direction in ("forwards", "backwards")
        ]
        counts = []
        for proc in procs:
            out, err = proc.communicate(timeout=180)
            assert proc.returncode == 0, err
            counts.append(int(out))
        # Each record counted by exactly one of them, however their batches interleaved.
        assert sum(counts) == 3000
        (total,) = store.usage_totals([UsageQuery("C1", "S-1", "api", Aggregation.COUNT)])
        assert total.quantity == 3000
    finally:
        store.close()


def test_database_failures_in_usage_and_charges_are_storage_errors(url: str) -> None:
    store = SqlStore.open(url)
    try:
        with store.transaction() as tx:
            tx.add_usage([_row(_record("u1"))])
        with store.engine.begin() as conn:
            for table in ("usage_records", "usage_days", "usage_values", "usage_items", "charges"):
                conn.execute(sa.text(f"DROP TABLE {table}"))
        with pytest.raises(StorageError, match="usage_records"):
            store.known_usage(["u1"])
        with pytest.raises(StorageError, match="usage_items"), store.transaction() as tx:
            tx.add_usage([_row(_record("u2"))])
        with pytest.raises(StorageError, match="usage_items"):
            store.usage_totals([UsageQuery("C1", "S-1", "api", Aggregation.SUM)])
        with pytest.raises(StorageError, match="charges"):
            store.charges_of(["C1"])
    finally:
        store.close()


def _usage_state(store: SqlStore) -> tuple[list[Any], set[str]]:
    """Every total of the conformance kit's usage rows, and which of their ids are stored."""
    queries = [
        UsageQuery(*item, aggregation, "user" if aggregation is Aggregation.UNIQUE_COUNT else None)
        for item in (*conformance._ASKED, *conformance._NOT_ASKED)
        for aggregation in Aggregation
    ]
    ids = [row.id for row in conformance._usage_rows()] + ["never"]
    return fingerprint(store.usage_totals(queries)), store.known_usage(ids)


def test_version_5_moves_usage_records_over_exactly_and_back(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    version_5 = ScriptDirectory.from_config(migrate_config()).get_revision("0005")
    assert version_5 is not None
    monkeypatch.setattr(version_5.module, "PAGE", 7)  # many pages
    rows = [*conformance._usage_rows(), *(_row(r) for r in RICH_RECORDS)]
    store = SqlStore.open(url)
    with store.transaction() as tx:
        assert tx.add_usage(rows) == len(rows)
    before = _usage_state(store)
    assert before[0] and before[1] == {row.id for row in conformance._usage_rows()}
    with store.engine.begin() as conn:
        command.downgrade(migrate_config(conn), "0004")
        assert current_version(conn) == "0004"
        # Version 2's table: each record whole as the codec's JSON, with its columns.
        bodies = dict(conn.execute(sa.text("SELECT id, body FROM usage_records")).all())
        tables = sa.inspect(conn).get_table_names()
        assert {"usage_days", "usage_items", "usage_values"}.isdisjoint(tables)
        # A record as juston before version 5 wrote it.
        old = _record("old", quantity="2.50", criterion="EU")
        conn.execute(
            sa.text(
                "INSERT INTO usage_records (id, account_id, subscription, item_id, "
                "period_start, day, at, quantity, unit_price, currency, criterion, "
                "invoice_criterion, properties, body) VALUES ('old', 'C7', 'S-1', 'x', "
                ":day, :day, :at, 2500000, NULL, NULL, 'EU', NULL, NULL, :body)"
            ).bindparams(sa.bindparam("day", type_=sa.Date)),
            {
                "day": date(2026, 1, 5),
                "at": (old.timestamp - datetime(1970, 1, 1, tzinfo=UTC))
                // timedelta(microseconds=1),
                "body": codec.dumps_usage_record(old),
            },
        )
    for row in rows:
        back = codec.loads(bodies[row.id], UsageRecord)
        assert fingerprint(back) == fingerprint(row.record)
    url = store.share()
    store.close()

    upgraded = SqlStore.open(url)
    try:
        with upgraded.engine.connect() as conn:
            assert current_version(conn) == head_version()
        assert _usage_state(upgraded) == before
        with upgraded.transaction() as tx:
            assert tx.add_usage([_row(old), *rows]) == 0  # every id is known
        (total,) = upgraded.usage_totals([UsageQuery("C7", "S-1", "x", Aggregation.SUM)])
        assert (total.criterion, str(total.quantity), total.records) == ("EU", "2.5", 1)
        with upgraded.engine.connect() as conn:
            # Stored whole: the item reference, which is not "S-1/x", and the exponent.
            rest = conn.execute(sa.text("SELECT rest FROM usage_records WHERE id = 'old'"))
            assert json.loads(rest.scalar_one()) == {"item": "S-1/api", "quantity": "2.50"}
    finally:
        upgraded.close()


def test_text_order_does_not_depend_on_the_database_collation(juston_postgres_url: str) -> None:
    # A database whose default collation sorts "a" before "B" (Python sorts "B" first).
    name = f"juston_icu_{os.getpid()}"
    admin = sa.create_engine(juston_postgres_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            try:
                conn.execute(
                    sa.text(
                        f"CREATE DATABASE {name} TEMPLATE template0 LOCALE_PROVIDER icu "
                        "ICU_LOCALE 'en-US' LOCALE 'C'"
                    )
                )
            except sa.exc.DBAPIError as exc:  # before PostgreSQL 15, or without ICU
                pytest.skip(f"no ICU database: {exc.orig}")
        store = SqlStore.open(with_database(juston_postgres_url, name))
        try:
            with store.engine.connect() as conn:
                assert conn.execute(sa.text("SELECT 'a' < 'B'")).scalar() is True
            copy_sample(store, accounts=1)
            (account,) = store.accounts()
            at = datetime(2026, 1, 5, tzinfo=UTC)
            rows = [
                _row(_record(i, timestamp=at, quantity=n)) for n, i in enumerate(["a-1", "B-1"])
            ]
            charges = [
                Billable(
                    source=source,
                    key=key,
                    account_id=account.id,
                    description="x",
                    unit_price=juston.money("1", "EUR"),
                    service_date=date(2026, 1, 5),
                )
                for source, key in [("time", "k"), ("Time", "k"), ("time", "K")]
            ]
            with store.transaction() as tx:
                tx.add_usage(rows)
                for charge in charges:
                    tx.put_charge(charge)
            queries = [UsageQuery("C1", "S-1", "api", Aggregation.LATEST)]
            assert store.usage_totals(queries) == aggregate(rows, Aggregation.LATEST)
            got = store.charges_of([account.id])[account.id]
            assert [(c.source, c.key) for c in got] == [("Time", "k"), ("time", "K"), ("time", "k")]
        finally:
            store.close()
    finally:
        drop_database(juston_postgres_url, name)
        admin.dispose()
