"""What only the SQL store has to prove: schema versions, exact amounts, atomic batches
across a crash, concurrent numbering, and an exact storage format.

The shared contract of every store is checked by the conformance kit
(``test_storage_conformance.py``); these tests run on SQLite and on a real PostgreSQL.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from hypothesis import HealthCheck, given, settings

import juston
from juston.errors import StorageError
from juston.model.subscriptions import Subscription
from juston.pricing import Flat
from juston.storage import codec
from juston.storage.sql import SqlStore
from juston.storage.sql import store as sql_store
from juston.storage.sql.migrate import SchemaError, head_version
from juston.storage.sql.schema import metadata
from juston.testing import sample_store
from juston.testing.conformance import copy_master_data
from strategies import subscriptions

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/juston.db"
    return str(request.getfixturevalue("juston_postgres_database"))


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
from juston.storage.sql import store as sql_store

rows = 0
original = sql_store._Documents.row

def row_then_crash(self, document):
    global rows
    rows += 1
    if rows == 5:  # the second batch of three accounts is half written
        os._exit(17)
    return original(self, document)

sql_store._Documents.row = row_then_crash
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

        def body() -> str:
            with store.engine.connect() as conn:
                query = sa.text("SELECT body FROM documents WHERE seq = :s")
                return str(conn.execute(query, {"s": seq}).scalar_one())

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
