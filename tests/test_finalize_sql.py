"""Finalizing in the database (``juston.storage.sql.finalizing``) gives exactly what
finalizing document by document gives on the memory store: the same numbers, dates, due
dates, pre-notifications, documents, balances (ids, amounts, order, and the JSON the
codec writes), settlements, errors, and ``collect=True`` results.

Scenarios are made from a seed: accounts in several currencies (two, none and three
decimals), some paying by direct debit with or without a mandate, some with open credits,
open invoices or money on the account; drafts of two seller versions whose counters have
prefixes, suffixes, account numbers, yearly and monthly resets and start values; dated
across a month and a year end. They are finalized all at once or by id in another order,
re-dated or not, settled or not, in chunks of a few documents (so that chunks mix
accounts, counters and days).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date
from typing import Any, Protocol, runtime_checkable

import attrs
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import juston
from juston import Account, Address, DocumentStatus, MemoryStore, money
from juston.billing import run
from juston.model.numbering import Counter, Numbering, Reset
from juston.model.receivables import Balance
from juston.receivables.movements import prepay
from juston.storage import codec
from juston.storage.sql import SqlStore
from juston.storage.sql import statements as sql
from juston.storage.sql.finalizing import _plain
from juston.testing import issue, sample_company
from juston.testing.conformance import _comparable, _comparable_receivables, fingerprint
from test_direct_debit_documents import CREDITOR_ID, SEPA, mandate

#: Counters of the two seller versions: prefixes and suffixes, the account number (with
#: characters JSON escapes), monthly and yearly resets, a start value, literal braces and
#: digits; the credit counter of the second has the same series as the first's.
COUNTERS = [
    Numbering(),
    Numbering(
        invoice=Counter(series="invoice", pattern="R-[Year]/[Month]-{0000}.x", start=1000),
        credit=Counter(series="credit", pattern="{cr}-[AccountNo]-[Year][Month]{000}-[AccountNo]", reset=Reset.MONTHLY),
    ),
    Numbering(
        invoice=Counter(series="invoice", pattern="7777-[Day].[Month].[Year]-{00}", reset=Reset.NEVER),
        credit=Counter(series="invoice", pattern="G[Year]{0}"),
    ),
]  # fmt: skip
#: A counter whose numbers the database is taken not to be able to write (see
#: ``_unsplit``): chunks with it are finalized by header.
UNSPLIT = Numbering(invoice=Counter(series="invoice", pattern="P-[Year]-{00000}"))


def _unsplit(counter: Counter, day: date) -> tuple[str, int, str, str] | None:
    return None if counter == UNSPLIT.invoice else _number_parts(counter, day)


_number_parts = run._number_parts

DAYS = [date(2025, 12, 31), date(2026, 1, 1), date(2026, 1, 15), date(2026, 2, 1)]
CURRENCIES = {"EUR": ["119.00", "-23.80", "0.00", "1000.01"], "JPY": ["500", "-120"]}
CURRENCIES["KWD"] = ["12.345", "-1.500"]


def _account(account_id: str, code: str, method: str | None, terms: str) -> Account:
    return Account(
        id=account_id,
        name=f"Kunde {account_id}",
        currency=code,
        payment_terms=terms,
        billing_address=Address(street="Ring 2", postcode="80331", city="München", country="DE"),
        payment_method=method,
    )


def build(store: juston.Store, seed: int, *, unsplit: bool = False) -> None:
    """Put the scenario of *seed* into *store*: the same operations for every store."""
    rng = random.Random(seed)
    company = attrs.evolve(sample_company(), creditor_id=CREDITOR_ID)
    numberings = [rng.choice(COUNTERS), rng.choice(COUNTERS)]
    if unsplit:
        numberings[rng.randrange(2)] = UNSPLIT
    store.put_company(attrs.evolve(company, numbering=numberings[0]))
    accounts = []
    ids = ["C-1", "C-2", 'C-"3"\\', "C-ü4", "C-5", "C-6"]
    # The first account pays by direct debit under a mandate.
    for n, account_id in enumerate(ids[: rng.randint(3, 6)]):
        code = "EUR" if n == 0 else rng.choice(["EUR", "EUR", "JPY", "KWD"])
        method = SEPA if n == 0 else rng.choice([None, SEPA]) if code == "EUR" else None
        with store.transaction() as tx:
            tx.put_account(
                _account(account_id, code, method, rng.choice(["14d", "30d", "14d eom"]))
            )
            if method and (n == 0 or rng.random() < 0.5):
                tx.put_mandate(mandate(account_id, f"M-{len(accounts)}"))
        accounts.append((account_id, code))
    # What the accounts have before: open invoices and credits, money on the account.
    for account_id, code in accounts:
        for _ in range(rng.choice([0, 0, 1, 2])):
            issue(store, account_id, rng.choice(CURRENCIES[code]), on=date(2025, 11, 3))
        if rng.random() < 0.3:
            prepay(store, account_id, money(CURRENCIES[code][0], code), on=date(2025, 11, 5))
    # Drafts of both seller versions, interleaved.
    for n in range(rng.randint(4, 14)):
        if n == 3:
            store.put_company(attrs.evolve(company, numbering=numberings[1]))
        account_id, code = accounts[0] if n == 0 else rng.choice(accounts)
        total = "119.00" if n == 0 else rng.choice(CURRENCIES[code])
        issue(store, account_id, total, on=rng.choice(DAYS), finalize_it=False)


def _finalize(store: juston.Store, seed: int, **kw: Any) -> list[juston.Invoice]:
    """Finalize the drafts of the scenario as its seed says: all, or some by id in another
    order; re-dated or not."""
    rng = random.Random(seed * 7 + 1)
    drafts = [d.id or "" for d in store.documents(status=DocumentStatus.DRAFT)]
    options: dict[str, Any] = {"invoice_date": rng.choice([None, None, date(2026, 1, 20)])}
    if rng.random() < 0.5:
        return juston.finalize(store, **options, **kw)
    chosen = rng.sample(drafts, rng.randint(1, len(drafts)))
    first = juston.finalize(store, chosen, **options, **kw)
    return first + juston.finalize(store, **kw)  # and the rest


def _held(store: juston.Store) -> dict[str, Any]:
    documents = list(store.documents())
    return {
        "documents": fingerprint(_comparable(documents)),
        "receivables": _comparable_receivables(store, documents),
    }


def _balance_bodies(store: SqlStore) -> list[tuple[str, str]]:
    with store.engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT id, body FROM balances ORDER BY seq").all()
    return [(balance_id, body) for balance_id, body in rows]


@pytest.fixture(autouse=True)
def _small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(run, "FINALIZE_CHUNK", 4)


def _compare(url: str, seed: int, *, unsplit: bool = False, **kw: Any) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(run, "_number_parts", _unsplit)
        _compare_stores(url, seed, unsplit=unsplit, **kw)


def _compare_stores(url: str, seed: int, *, unsplit: bool = False, **kw: Any) -> None:
    memory = MemoryStore()
    store = SqlStore.open(url)
    try:
        build(memory, seed, unsplit=unsplit)
        build(store, seed, unsplit=unsplit)
        assert _held(store) == _held(memory)  # the same start
        got = _finalize(store, seed, **kw)
        expected = _finalize(memory, seed, **kw)
        assert fingerprint(_comparable(got)) == fingerprint(_comparable(expected))
        assert _held(store) == _held(memory)
        assert not list(store.documents(status=DocumentStatus.DRAFT))
        # The balances' JSON is the codec's.
        for balance_id, body in _balance_bodies(store):
            balance = codec.loads(body, Balance)
            assert (balance.id, body) == (balance_id, codec.dumps(balance, Balance))
    finally:
        store.close()


@pytest.mark.parametrize("seed", range(6))
def test_finalizing_in_the_database_gives_what_finalizing_documents_gives(
    url: str, seed: int
) -> None:
    _compare(url, seed, collect=seed % 2 == 0, settle=seed != 3)


def test_chunks_the_database_cannot_number_are_finalized_by_header(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    by_header: list[int] = []
    finalize_headers = run._finalize_headers

    def counted(tx: Any, chunk: Any, *args: Any, **kw: Any) -> Any:
        by_header.append(len(chunk))
        return finalize_headers(tx, chunk, *args, **kw)

    monkeypatch.setattr(run, "_finalize_headers", counted)
    _compare(url, 11, unsplit=True)
    assert by_header  # (and the other chunks in the database)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    seed=st.integers(0, 2**32), unsplit=st.booleans(), collect=st.booleans(), settle=st.booleans()
)
def test_finalizing_on_sqlite_is_finalizing_on_the_memory_store(
    seed: int, unsplit: bool, collect: bool, settle: bool
) -> None:
    _compare("sqlite://", seed, unsplit=unsplit, collect=collect, settle=settle)


def test_the_scenarios_cover_what_they_are_meant_to() -> None:
    """Among the scenarios: direct debits, settlements, money on the account taken, several
    counters in a chunk, and every currency."""
    seen: set[str] = set()
    for seed in range(6):
        store = MemoryStore()
        build(store, seed)
        _finalize(store, seed)
        documents = list(store.documents())
        seen |= {d.currency.code for d in documents}
        if any(d.direct_debit for d in documents):
            seen.add("debit")
        types = {b.type.value for b in store.balances()}
        seen |= types & {"settlement", "prepayment"}
        if len({(d.seller.numbering, d.kind) for d in documents}) > 2:
            seen.add("counters")
    assert seen >= {"EUR", "JPY", "KWD", "debit", "settlement", "prepayment", "counters"}


# ------------------------------------------------------------------ errors


def _snapshot(store: SqlStore) -> list[tuple[str, str]]:
    with store.engine.connect() as conn:
        counters = conn.exec_driver_sql("SELECT sequence, value FROM counters ORDER BY 1").all()
    return fingerprint({"held": _held(store), "counters": [tuple(row) for row in counters]})


@pytest.mark.parametrize("where", [0, 5])  # in the first chunk, or a later one
def test_a_document_that_is_not_a_draft_finalizes_nothing(url: str, where: int) -> None:
    memory = MemoryStore()
    store = SqlStore.open(url)
    try:
        errors = []
        for each in (memory, store):
            build(each, 2)
            drafts = [d.id or "" for d in each.documents(status=DocumentStatus.DRAFT)]
            done = next(d.id or "" for d in each.documents(status=DocumentStatus.OPEN))
            before = _snapshot(store) if each is store else None
            with pytest.raises(juston.NotADraft) as caught:
                juston.finalize(each, [*drafts[:where], done, *drafts[where:]])
            errors.append(str(caught.value).replace(done, "<id>"))
            if each is store:
                assert _snapshot(store) == before  # nothing numbered, nothing booked
        assert errors[0] == errors[1]
    finally:
        store.close()


def test_a_document_that_does_not_exist_finalizes_nothing(url: str) -> None:
    store = SqlStore.open(url)
    try:
        build(store, 2)
        drafts = [d.id or "" for d in store.documents(status=DocumentStatus.DRAFT)]
        before = _snapshot(store)
        for missing in ("D99999999", "no such id"):
            with pytest.raises(juston.NotFound, match="does not exist"):
                juston.finalize(store, [*drafts[:5], missing])
        assert _snapshot(store) == before
    finally:
        store.close()


def test_an_invoice_balance_stored_before_is_refused_and_nothing_is_finalized(url: str) -> None:
    store = SqlStore.open(url)
    try:
        build(store, 4)
        draft = next(store.documents(status=DocumentStatus.DRAFT))
        with store.transaction() as tx:
            tx.add_balances(
                [
                    Balance(
                        id=f"invoice:{draft.id}",
                        account_id=draft.account_id,
                        document_id=draft.id,
                        type=juston.BalanceType.INVOICE,
                        amount=draft.total,
                        date=draft.invoice_date,
                    )
                ]
            )
        before = _snapshot(store)
        with pytest.raises(juston.StateError, match=f"balance invoice:{draft.id}: is stored"):
            juston.finalize(store)
        assert _snapshot(store) == before
    finally:
        store.close()


# ------------------------------------------------------------------ the parts


@pytest.mark.parametrize(
    "counter",
    [
        Counter(series="x"),
        Counter(series="x", pattern="INV-[Year]-{00000}"),
        Counter(series="x", pattern="{0}[AccountNo]"),
        Counter(series="x", pattern="{{00}}-[Day][AccountNo]-[AccountNo]"),
        Counter(series="x", pattern="7[Year]7{000}7", reset=Reset.MONTHLY),
        Counter(series="x", pattern="1{0}2-[AccountNo]2", reset=Reset.NEVER),
        Counter(series="x", pattern=f"{{{'0' * 41}}}-[Year]"),
    ],
)
def test_numbers_are_split_as_the_counter_formats_them(counter: Counter) -> None:
    day = date(2026, 3, 5)
    parts = run._number_parts(counter, day)
    assert parts is not None
    prefix, width, suffix, mark = parts
    for value in (0, 7, 12345, 10**12, 2**63 - 1):
        for account_id in ("C-1", 'C-"2"'):
            padded = f"{value:0{width}d}"
            made = (prefix + padded + suffix).replace(mark, account_id) if mark else None
            expected = counter.format(value, day, account_id=account_id)
            assert (made or prefix + padded + suffix) == expected


@pytest.mark.parametrize(
    "text", ["C-1", 'a "quoted" \\ text', "tab\there\nnew\x01\x1f", "ü ✓ 😀 \u2028"]
)
def test_the_database_writes_json_text_as_the_codec_does(url: str, text: str) -> None:
    """The invoice balance's body is put together by the database: its JSON strings must
    be orjson's (``codec.dumps_balance``)."""
    store = SqlStore.open(url)
    try:
        quoted = sql._JSON[store.engine.dialect.name].format(sql._mark(store.engine.dialect.name))
        with store.engine.connect() as conn:
            made = conn.exec_driver_sql(f"SELECT {quoted}", (text,)).scalar()
        assert made == orjson.dumps(text).decode()
    finally:
        store.close()


def _chunks_of(store: SqlStore, ids: list[str] | None, size: int) -> Iterator[list[str]]:
    with store.transaction() as tx:
        for chunk in tx.draft_chunks(ids, size):
            yield list(chunk.ids)


def test_drafts_are_chunked_in_the_order_added_or_given(url: str) -> None:
    store = SqlStore.open(url)
    try:
        build(store, 5)
        drafts = [d.id or "" for d in store.documents(status=DocumentStatus.DRAFT)]
        assert [i for c in _chunks_of(store, None, 3) for i in c] == drafts
        assert all(len(c) <= 3 for c in _chunks_of(store, None, 3))
        given = drafts[::-1]
        assert [i for c in _chunks_of(store, given, 2) for i in c] == given
    finally:
        store.close()


def test_totals_out_of_the_minor_unit_are_not_booked_in_the_database(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A total stored with fewer decimals than its currency has (not as a run writes it)
    is finalized by header: the same as finalizing by header everywhere."""
    held = []
    for name, by_header in (("database", False), ("header", True)):
        store = SqlStore.open(f"sqlite:///{tmp_path}/{name}.db")
        try:
            build(store, 1)
            with store.engine.begin() as conn:
                conn.exec_driver_sql(
                    "UPDATE documents SET total = '119.0' WHERE total = '119.00' AND status = 'draft'"
                )
            if by_header:
                monkeypatch.setattr(run, "_FinalizesInDatabase", _Nothing)
            juston.finalize(store)
            held.append((_held(store), _balance_bodies(store)))
            assert any('"amount":"119.0 EUR"' in body for _, body in held[-1][1])
        finally:
            store.close()
    assert held[0] == held[1]
    assert _plain("EUR", 2, 2, 0) and _plain("JPY", 0, 0, 0)
    assert not (_plain("EUR", 1, 2, 0) or _plain("EUR", 2, 2, 1) or _plain("XXX?", 2, 2, 0))


@runtime_checkable
class _Nothing(Protocol):
    """A protocol no transaction has."""

    def no_such_method(self) -> None: ...
