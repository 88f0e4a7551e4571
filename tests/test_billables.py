"""Billables: records of the host application billed once, and the pages that document them.

Figures are worked by hand in the comments. The sample company is German and the
accounts are German consumers, so every line carries 19 % VAT ("standard"), rounded
half up to the cent; a document's VAT is 19 % of its net.
"""

from __future__ import annotations

import contextlib
import io
import re
import runpy
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal as D
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import attrs
import pytest

import juston
from juston import (
    Account,
    Address,
    Billable,
    BillableMapping,
    DocumentKind,
    Flat,
    Invoice,
    Item,
    MemoryStore,
    NotFound,
    ParentMapping,
    PluginError,
    Plugins,
    Product,
    RunResult,
    Subscription,
    ValidationError,
    add_charge,
    cancel,
    delete_draft,
    finalize,
    forecast,
    hookimpl,
    invoice_run,
    money,
)
from juston.testing import sample_company

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
EXAMPLE = DOCS / "examples" / "consulting.py"
MARCH_3 = date(2026, 3, 3)
APRIL_1 = date(2026, 4, 1)


def eur(amount: object) -> Any:
    return money(amount, "EUR")


def make_store(*account_ids: str) -> MemoryStore:
    store = MemoryStore()
    store.put_company(sample_company())
    for account_id in account_ids or ("C-1",):
        store.put_account(
            Account(
                id=account_id,
                name=f"Kunde {account_id}",
                currency="EUR",
                billing_address=Address(
                    street="Ring 2", postcode="80331", city="München", country="DE"
                ),
            )
        )
    return store


def work(key: str = "1", **fields: object) -> Billable:
    """4 hours at 120.00 on 3 March for C-1: 480.00 net."""
    values: dict[str, Any] = {
        "source": "time",
        "key": key,
        "account_id": "C-1",
        "description": f"Work {key}",
        "unit_price": eur("120.00"),
        "quantity": D(4),
        "service_date": MARCH_3,
    } | fields
    return Billable(**values)


class Source:
    """A plugin answering ``juston_billables`` with a fixed list, recording the calls."""

    def __init__(self, billables: Iterable[object] = ()) -> None:
        self.billables = list(billables)
        self.calls: list[tuple[list[str], date]] = []

    @hookimpl
    def juston_billables(self, account_ids: Sequence[str], billing_date: date) -> list[object]:
        self.calls.append((list(account_ids), billing_date))
        return self.billables


def plugins_with(*plugins: object) -> Plugins:
    loaded = Plugins.load(entry_points=False)
    for plugin in plugins:
        loaded.register(plugin)
    return loaded


def run(
    store: MemoryStore, billables: Iterable[object], day: date = APRIL_1, **options: Any
) -> RunResult:
    result = invoice_run(store, day, plugins=plugins_with(Source(billables)), **options)
    assert not result.failures, result.failures
    return result


def lines(result: RunResult) -> list[tuple[str, str, D, D]]:
    """(description, period, quantity, net) of every line of the run."""
    return [
        (line.description, str(line.period), line.quantity, line.net.amount)
        for document in result.documents
        for line in document.lines
    ]


def net_billed(store: MemoryStore, key: str, source: str = "time") -> D:
    """What the stored documents bill for (source, key), cancellations included."""
    return sum(
        (
            line.net.amount
            for document in store.documents()
            for line in document.lines
            if line.subscription == f"@{source}" and line.item_id == key
        ),
        D(0),
    )


# --- mapping records ----------------------------------------------------------------------


@dataclass
class Entry:
    id: int
    client: str
    task: str
    day: date
    hours: D


HOURS = BillableMapping(
    source="time",
    key="id",
    account_id="client",
    description="task",
    quantity="hours",
    service_date="day",
    unit_price=lambda record: eur("120.00"),
    unit_code="HUR",
)


def test_a_mapping_reads_names_as_keys_of_a_dict() -> None:
    record = {"id": 7, "client": "C-1", "task": "Workshop", "day": MARCH_3, "hours": "3.5"}
    [billable] = HOURS.billables([record])
    # 3.5 h × 120.00 = 420.00
    assert (billable.source, billable.key, billable.account_id) == ("time", "7", "C-1")
    assert (billable.description, billable.quantity, billable.unit_code) == (
        "Workshop",
        D("3.5"),
        "HUR",
    )
    assert billable.service_date == MARCH_3 and billable.total == eur("420.00")


@pytest.mark.parametrize(
    "record",
    [
        Entry(id=8, client="C-1", task="Review", day=MARCH_3, hours=D(2)),
        SimpleNamespace(id=8, client="C-1", task="Review", day=MARCH_3, hours=D(2)),
    ],
    ids=["dataclass", "object"],
)
def test_a_mapping_reads_names_as_attributes_of_other_records(record: object) -> None:
    billable = HOURS.billable(record)
    # 2 h × 120.00 = 240.00; the key 8 becomes the text "8"
    assert (billable.key, billable.description, billable.total) == ("8", "Review", eur("240.00"))


def test_a_mapping_calls_functions_of_the_record() -> None:
    mapping = BillableMapping(
        source="expense",
        key=lambda e: f"E{e['no']}",
        account_id=lambda e: e["who"].upper(),
        description=lambda e: f"Expense: {e['text']}",
        unit_price=lambda e: eur(e["cents"]) / 100,
        service_date=lambda e: e["when"],
        quantity=lambda e: 2,
        invoice=lambda e: 17,
        tax_class="reduced",
    )
    billable = mapping.billable(
        {"no": 5, "who": "c-1", "text": "Taxi", "cents": "2390", "when": MARCH_3}
    )
    # 2 × 23.90 = 47.80; the invoice key 17 becomes the text "17"
    assert (billable.key, billable.account_id, billable.description) == (
        "E5",
        "C-1",
        "Expense: Taxi",
    )
    assert (billable.total, billable.invoice, billable.tax_class) == (eur("47.80"), "17", "reduced")


@pytest.mark.parametrize(
    "missing", ["id", "client", "task", "day", "hours"], ids=lambda name: f"without-{name}"
)
def test_a_field_the_record_lacks_raises_validation_error_naming_it(missing: str) -> None:
    record = {"id": 7, "client": "C-1", "task": "Workshop", "day": MARCH_3, "hours": "3.5"}
    del record[missing]
    field = {"id": "key", "client": "account_id", "task": "description", "day": "service_date"}
    name = field.get(missing, "quantity")
    with pytest.raises(ValidationError) as caught:
        HOURS.billable(record)
    assert caught.value.field == name
    assert str(caught.value).startswith(f"{name}: {missing!r} is not a field of the record")


def test_a_missing_attribute_raises_validation_error_too() -> None:
    with pytest.raises(ValidationError, match=r"^description: 'task' is not a field"):
        HOURS.billable(SimpleNamespace(id=1, client="C-1", day=MARCH_3, hours=D(1)))


def test_mapped_values_are_checked_like_any_billable() -> None:
    with pytest.raises(juston.FloatNotAllowed):
        HOURS.billable(Entry(id=1, client="C-1", task="x", day=MARCH_3, hours=0.5))  # type: ignore[arg-type]
    no_money = attrs.evolve(HOURS, unit_price=lambda record: "120.00")
    with pytest.raises(ValidationError, match=r"^unit_price: .* is not Money"):
        no_money.billable({"id": 1, "client": "C-1", "task": "x", "day": MARCH_3, "hours": 1})


def test_fixed_fields_replace_mapped_ones() -> None:
    record = {"id": 7, "client": "C-1", "task": "Workshop", "day": MARCH_3, "hours": "1"}
    billable = HOURS.billable(record, account_id="C-2", invoice="order:9")
    assert (billable.account_id, billable.invoice) == ("C-2", "order:9")


# --- billed once, and again when released -------------------------------------------------


def test_a_billable_is_billed_once() -> None:
    store = make_store()
    # 4 h × 120.00 = 480.00; VAT 91.20; 571.20
    [document] = run(store, [work()]).documents
    assert lines(run(store, [])) == []  # no documents when the hook has nothing
    assert (document.net_total, document.tax_total, document.total) == (
        eur("480.00"),
        eur("91.20"),
        eur("571.20"),
    )
    assert run(store, [work()]).documents == ()  # the same run again
    assert run(store, [work()], date(2026, 5, 1)).documents == ()  # and a later one
    assert net_billed(store, "1") == D("480.00")


def test_a_billable_is_billed_again_after_its_document_is_cancelled() -> None:
    store = make_store()
    [invoice] = finalize(store, run(store, [work()]).documents)
    mirror = cancel(store, invoice, cancellation_date=date(2026, 4, 5))
    assert mirror.kind is DocumentKind.CANCELLATION and mirror.total == eur("-571.20")
    assert net_billed(store, "1") == D(0)  # 480.00 − 480.00
    assert lines(run(store, [work()], date(2026, 4, 5))) == [
        ("Work 1", "2026-03-03..2026-03-03", D(4), D("480.00"))
    ]
    assert run(store, [work()], date(2026, 4, 6)).documents == ()
    assert net_billed(store, "1") == D("480.00")


def test_a_billable_is_billed_again_after_its_draft_is_deleted() -> None:
    store = make_store()
    [draft] = run(store, [work()]).documents
    delete_draft(store, draft)
    assert lines(run(store, [work()])) == [("Work 1", "2026-03-03..2026-03-03", D(4), D("480.00"))]


def test_a_changed_quantity_after_billing_bills_the_difference() -> None:
    store = make_store()
    finalize(store, run(store, [work()]).documents)
    # 4 h became 4.5 h: 0.5 × 120.00 = 60.00 more, for the same day
    [document] = run(store, [work(quantity="4.5")], date(2026, 4, 10)).documents
    [line] = document.lines
    assert (line.description, str(line.period), line.quantity, line.net) == (
        "Work 1",
        "2026-03-03..2026-03-03",
        D("0.5"),
        eur("60.00"),
    )
    assert "replaces 4 × 120 billed before" in line.explanation
    assert document.total == eur("71.40")  # 60.00 + 11.40
    assert net_billed(store, "1") == D("540.00")  # 4.5 × 120


def test_a_lower_price_after_billing_credits_the_difference() -> None:
    store = make_store()
    finalize(store, run(store, [work()]).documents)
    # 4 h at 100.00 instead of 120.00: 400.00 − 480.00 = −80.00, VAT −15.20: a credit
    [document] = run(store, [work(unit_price=eur("100.00"))], date(2026, 4, 10)).documents
    assert document.kind is DocumentKind.CREDIT
    assert (document.net_total, document.total) == (eur("-80.00"), eur("-95.20"))
    assert net_billed(store, "1") == D("400.00")


def test_a_billable_not_yet_due_waits() -> None:
    store = make_store()
    later = work(service_date=date(2026, 4, 8))
    assert run(store, [later]).documents == ()  # 8 April is after 1 April
    assert run(store, [later], date(2026, 4, 7)).documents == ()
    assert lines(run(store, [later], date(2026, 4, 8))) == [
        ("Work 1", "2026-04-08..2026-04-08", D(4), D("480.00"))
    ]


def test_a_service_over_several_days_is_one_line_for_its_period() -> None:
    store = make_store()
    week = work(service_end=date(2026, 3, 10), quantity=5, unit_price=eur("800.00"))
    # 5 days × 800.00 = 4000.00 for 3 to 9 March
    assert lines(run(store, [week])) == [("Work 1", "2026-03-03..2026-03-09", D(5), D("4000.00"))]


# --- documents --------------------------------------------------------------------------------


def test_billables_join_the_accounts_document_next_to_its_subscription() -> None:
    store = make_store()
    store.put_subscription(
        Subscription(
            number="S-1",
            account_id="C-1",
            start=APRIL_1,
            items=[
                Item(
                    id="retainer",
                    product=Product(code="RET", name="Retainer"),
                    price=Flat(eur("400.00")),
                    billing_type="recurring",
                )
            ],
        )
    )
    [document] = run(
        store, [work(), work("2", source="expense", unit_price=eur("10.00"))]
    ).documents
    # 400.00 + 4 × 120.00 + 4 × 10.00 = 920.00; VAT 174.80; 1094.80
    assert [line.description for line in document.lines] == ["Retainer", "Work 1", "Work 2"]
    assert (document.net_total, document.total) == (eur("920.00"), eur("1094.80"))
    assert document.subscriptions == ("S-1",)


def test_billables_with_an_invoice_key_get_a_document_of_their_own() -> None:
    store = make_store()
    result = run(
        store,
        [
            work("1"),
            work("2", invoice="order:7"),
            work("3", invoice="order:7"),
            work("4", invoice="x"),
        ],
    )
    by_document = sorted([line.item_id for line in d.lines] for d in result.documents)
    assert by_document == [["1"], ["2", "3"], ["4"]]


def test_a_billable_in_another_currency_gets_a_document_in_it() -> None:
    store = make_store()
    result = run(store, [work("1"), work("2", unit_price=money("10.00", "USD"))])
    assert sorted(d.currency.code for d in result.documents) == ["EUR", "USD"]


# --- parent records -----------------------------------------------------------------------


@dataclass
class Project:
    id: str
    client: str
    entries: list[Entry]


PROJECTS = ParentMapping(
    source="project", key="id", account_id="client", lines="entries", line=HOURS
)


def test_a_parent_mapping_gives_one_document_per_parent() -> None:
    store = make_store()
    p7 = Project(
        "P-7",
        "C-1",
        [Entry(1, "C-1", "Analysis", MARCH_3, D(6)), Entry(2, "C-1", "Design", MARCH_3, D("7.5"))],
    )
    p8 = Project("P-8", "C-1", [Entry(3, "C-1", "Review", MARCH_3, D(1))])
    loose = Entry(4, "C-1", "Call", MARCH_3, D("0.5"))
    billables = [*PROJECTS.billables([p7, p8]), HOURS.billable(loose)]
    assert [b.invoice for b in billables] == ["project:P-7", "project:P-7", "project:P-8", None]
    result = run(store, billables)
    totals = sorted((len(d.lines), d.net_total.amount, d.total.amount) for d in result.documents)
    # P-7: 6 × 120 + 7.5 × 120 = 720.00 + 900.00 = 1620.00, VAT 307.80 → 1927.80
    # P-8: 1 × 120 = 120.00 → 142.80; the loose entry: 0.5 × 120 = 60.00 → 71.40
    assert totals == [
        (1, D("60.00"), D("71.40")),
        (1, D("120.00"), D("142.80")),
        (2, D("1620.00"), D("1927.80")),
    ]
    assert run(store, billables).documents == ()


def test_a_parent_mapping_takes_children_from_a_function_and_gives_them_its_account() -> None:
    mapping = ParentMapping(
        source="order",
        key=lambda order: order["no"],
        account_id="customer",
        lines=lambda order: order["positions"],
        line=HOURS,
    )
    order = {
        "no": 17,
        "customer": "C-2",
        "positions": [{"id": 1, "client": "ignored", "task": "Setup", "day": MARCH_3, "hours": 2}],
    }
    [billable] = mapping.billables([order])
    assert (billable.account_id, billable.invoice, billable.key) == ("C-2", "order:17", "1")


def test_a_parent_whose_lines_are_not_a_collection_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"^lines: "):
        list(PROJECTS.billables([Project("P-1", "C-1", 5)]))  # type: ignore[arg-type]


# --- ad-hoc charges -----------------------------------------------------------------------


def test_an_ad_hoc_charge_is_billed_once() -> None:
    store = make_store()
    add_charge(store, "C-1", "Setup fee", eur("99.00"), date(2026, 3, 1), key="setup")
    # no hook at all: the store's charges are billed anyway. 99.00 + 18.81 = 117.81
    [document] = invoice_run(store, date(2026, 3, 1)).documents
    assert [(ln.description, ln.net) for ln in document.lines] == [("Setup fee", eur("99.00"))]
    assert document.total == eur("117.81")
    assert invoice_run(store, date(2026, 3, 1)).documents == ()
    assert invoice_run(store, date(2026, 6, 1)).documents == ()


def test_an_ad_hoc_charge_waits_for_its_day_and_is_rebilled_after_a_cancel() -> None:
    store = make_store()
    add_charge(store, "C-1", "Service call", eur("80.00"), date(2026, 3, 20), key="call")
    assert invoice_run(store, date(2026, 3, 19)).documents == ()
    [invoice] = finalize(store, invoice_run(store, date(2026, 3, 20)).documents)
    cancel(store, invoice, cancellation_date=date(2026, 3, 25))
    [again] = invoice_run(store, date(2026, 3, 25)).documents
    assert again.net_total == eur("80.00")


def test_deleting_a_charge_before_billing_removes_it() -> None:
    store = make_store()
    add_charge(store, "C-1", "Setup fee", eur("99.00"), date(2026, 3, 1), key="setup")
    with store.transaction() as tx:
        tx.delete_charge("charge", "setup")
    assert store.charges_of(["C-1"]) == {"C-1": []}
    assert invoice_run(store, date(2026, 3, 1)).documents == ()


def test_deleting_a_charge_after_billing_keeps_what_was_billed() -> None:
    store = make_store()
    add_charge(store, "C-1", "Setup fee", eur("99.00"), date(2026, 3, 1), key="setup")
    invoice_run(store, date(2026, 3, 1))
    with store.transaction() as tx:
        tx.delete_charge("charge", "setup")
        with pytest.raises(NotFound):
            tx.delete_charge("charge", "setup")
    assert invoice_run(store, date(2026, 3, 2)).documents == ()  # no credit either
    assert net_billed(store, "setup", source="charge") == D("99.00")


def test_the_same_charge_key_replaces_and_no_key_adds() -> None:
    store = make_store()
    add_charge(store, "C-1", "Setup fee", eur("99.00"), date(2026, 3, 1), key="setup")
    add_charge(store, "C-1", "Setup fee", eur("129.00"), date(2026, 3, 1), key="setup")
    add_charge(store, "C-1", "Call", eur("10.00"), date(2026, 3, 1))
    add_charge(store, "C-1", "Call", eur("10.00"), date(2026, 3, 1))
    charges = store.charges_of(["C-1"])["C-1"]
    assert sorted(c.total.amount for c in charges) == [D("10.00"), D("10.00"), D("129.00")]
    assert {c.source for c in charges} == {"charge"}


def test_a_charge_changed_after_billing_gives_a_correction_line() -> None:
    store = make_store()
    add_charge(store, "C-1", "Setup fee", eur("99.00"), date(2026, 3, 1), key="setup")
    invoice_run(store, date(2026, 3, 1))
    add_charge(store, "C-1", "Setup fee", eur("129.00"), date(2026, 3, 1), key="setup")
    # 129.00 − 99.00 = 30.00
    [document] = invoice_run(store, date(2026, 3, 2)).documents
    assert [ln.net for ln in document.lines] == [eur("30.00")]


def test_a_charge_needs_an_existing_account() -> None:
    with pytest.raises(NotFound):
        add_charge(make_store(), "C-404", "Setup fee", eur("99.00"), date(2026, 3, 1))


# --- the hook -------------------------------------------------------------------------------


def test_the_hook_is_asked_only_for_the_accounts_of_each_batch() -> None:
    store = make_store("C-1", "C-2", "C-3")
    source = Source([work("1"), work("2", account_id="C-2"), work("9", account_id="C-9")])
    result = invoice_run(
        store, APRIL_1, accounts=["C-1", "C-2"], batch_size=1, plugins=plugins_with(source)
    )
    assert source.calls == [(["C-1"], APRIL_1), (["C-2"], APRIL_1)]
    # C-9 is no account of the run (and of the store): its billable is ignored
    assert sorted(d.account_id for d in result.documents) == ["C-1", "C-2"]


def test_billables_of_other_accounts_than_the_batchs_are_ignored() -> None:
    store = make_store("C-1", "C-2")
    source = Source([work("1"), work("2", account_id="C-2")])
    result = invoice_run(store, APRIL_1, accounts=["C-1"], plugins=plugins_with(source))
    assert [d.account_id for d in result.documents] == ["C-1"]
    assert net_billed(store, "2") == D(0)


def test_every_implementation_is_asked_and_none_is_fine() -> None:
    store = make_store()

    class Nothing:
        @hookimpl
        def juston_billables(self, account_ids: Sequence[str]) -> None:  # fewer arguments
            return None

    result = invoice_run(store, APRIL_1, plugins=plugins_with(Nothing(), Source([work()])))
    assert [ln.net for d in result.documents for ln in d.lines] == [eur("480.00")]


def test_a_dry_run_asks_the_hook_and_stores_nothing() -> None:
    store = make_store()
    source = Source([work()])
    result = invoice_run(store, APRIL_1, dry_run=True, plugins=plugins_with(source))
    assert source.calls and result.documents[0].total == eur("571.20")
    assert list(store.documents()) == []


@pytest.mark.parametrize("answer", ["not a billable", {"key": "1"}, None], ids=repr)
def test_a_hook_returning_something_else_than_billables_raises_plugin_error(answer: object) -> None:
    store = make_store()
    with pytest.raises(PluginError, match=r"juston_billables: .* is not a Billable"):
        invoice_run(store, APRIL_1, plugins=plugins_with(Source([work(), answer])))
    assert list(store.documents()) == []


# --- the worked example ---------------------------------------------------------------------


def _text_block_after(page: str, marker: str) -> str:
    """The first ```text block after *marker* on a docs page."""
    text = (DOCS / page).read_text(encoding="utf-8")
    rest = text[text.index(marker) :]
    match = re.search(r"^```text\n(.*?)^```$", rest, re.S | re.M)
    assert match, f"no text block after {marker!r} in {page}"
    return match.group(1)


def test_the_consulting_example_bills_the_hand_computed_figures() -> None:
    example = runpy.run_path(str(EXAMPLE))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        first, again, rebill, correction = example["main"]()

    def figures(document: Invoice) -> tuple[D, D, D]:
        return (document.net_total.amount, document.tax_total.amount, document.total.amount)

    account, project = first.documents
    # The client's document, 1 April:
    #   retainer (Flat, April in advance)          400.00
    #   setup fee (add_charge)                     350.00
    #   entry 4: 1.5 h × 120.00                    180.00
    #   hotel 240.00 + train 89.90                 329.90
    #   net 1259.90; VAT 19 % = 239.381 → 239.38; total 1499.28
    assert figures(account) == (D("1259.90"), D("239.38"), D("1499.28"))
    assert [ln.net.amount for ln in account.lines] == [
        D("400.00"),
        D("350.00"),
        D("180.00"),
        D("240.00"),
        D("89.90"),
    ]
    # The project P-7 on its own document:
    #   6 h × 120.00 = 720.00; 7.5 h × 95.00 = 712.50; 4 h × 120.00 = 480.00
    #   net 1912.50; VAT 19 % = 363.375 → 363.38; total 2275.88
    assert figures(project) == (D("1912.50"), D("363.38"), D("2275.88"))
    assert [(ln.quantity, ln.unit_price.amount) for ln in project.lines] == [
        (D(6), D(120)),
        (D("7.5"), D(95)),
        (D(4), D(120)),
    ]
    # Running again: nothing.
    assert again.documents == ()
    # After cancelling the project invoice: the project again (2275.88), and the train
    # ticket of 8 April, now due: 89.90 + VAT 17.081 → 17.08 = 106.98.
    assert [figures(d) for d in rebill.documents] == [
        (D("1912.50"), D("363.38"), D("2275.88")),
        (D("89.90"), D("17.08"), D("106.98")),
    ]
    # Entry 3 corrected from 4 h to 4.5 h: 0.5 h × 120.00 = 60.00 + VAT 11.40 = 71.40.
    [fix] = correction.documents
    assert figures(fix) == (D("60.00"), D("11.40"), D("71.40"))
    # The page shows exactly what the script prints.
    assert out.getvalue() == _text_block_after(
        "billables.md", '--8<-- "docs/examples/consulting.py"'
    )


def test_the_billables_page_includes_the_example_script() -> None:
    page = (DOCS / "billables.md").read_text(encoding="utf-8")
    assert '```python\n--8<-- "docs/examples/consulting.py"\n```' in page
    assert "pymdownx.snippets" in (ROOT / "mkdocs.yml").read_text(encoding="utf-8")


@pytest.mark.parametrize("page", ["usage.md", "billables.md"])
def test_the_code_on_a_docs_page_prints_what_the_page_shows(page: str) -> None:
    """Each page's Python blocks run in order as one script; a ```text block right after a
    block is its output. Blocks that include a file (--8<--) are checked above."""
    text = (DOCS / page).read_text(encoding="utf-8")
    blocks = re.findall(r"^```(\w+)\n(.*?)^```$", text, re.S | re.M)
    namespace: dict[str, Any] = {"__name__": f"docs_{page.replace('.', '_')}"}
    printed: str | None = None
    checked = 0
    for number, (language, body) in enumerate(blocks):
        if language == "python" and "--8<--" not in body:
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                exec(compile(body, f"{page} block {number}", "exec", dont_inherit=True), namespace)
            printed = out.getvalue()
        elif language == "text" and printed is not None:
            assert printed == body, f"{page}, block {number}"
            checked += 1
            printed = None
        else:
            printed = None
    assert checked >= 3


# --- bugs found while writing the docs, fixed ------------------------------------------------


def test_the_same_key_twice_in_one_run_is_billed_once() -> None:
    store = make_store()
    result = invoice_run(store, APRIL_1, plugins=plugins_with(Source([work(), work()])))
    billed = net_billed(store, "1")
    assert result.failures or billed == D("480.00")
    invoice_run(store, date(2026, 4, 2), plugins=plugins_with(Source([work(), work()])))
    assert net_billed(store, "1") == billed


def test_moving_a_billed_billable_to_another_day_does_not_bill_it_twice() -> None:
    store = make_store()
    finalize(store, run(store, [work()]).documents)
    run(store, [work(service_date=date(2026, 3, 4))], date(2026, 4, 10))
    # expected: a credit of 480.00 for 3 March and 480.00 for 4 March, 480.00 in all
    assert net_billed(store, "1") == D("480.00")


def test_a_bad_record_in_the_hook_fails_its_accounts_not_the_run() -> None:
    store = make_store("C-1", "C-2")
    records = [
        {"id": 1, "client": "C-1", "task": "Work", "day": MARCH_3, "hours": 1},
        {"id": 2, "client": "C-2", "day": MARCH_3, "hours": 1},  # no "task"
    ]

    class Mapped:
        @hookimpl
        def juston_billables(self, account_ids: Sequence[str]) -> Iterable[Billable]:
            return HOURS.billables(r for r in records if r["client"] in account_ids)

    result = invoice_run(store, APRIL_1, batch_size=1, plugins=plugins_with(Mapped()))
    assert [f.account_id for f in result.failures] == ["C-2"]
    assert [d.account_id for d in result.documents] == ["C-1"]


def test_a_parent_mappings_children_need_no_account_field() -> None:
    mapping = ParentMapping(
        source="order", key="no", account_id="customer", lines="positions", line=HOURS
    )
    order = {
        "no": 1,
        "customer": "C-1",
        "positions": [{"id": 1, "task": "x", "day": MARCH_3, "hours": 1}],
    }
    [billable] = mapping.billables([order])
    assert billable.account_id == "C-1"


def test_a_forecast_includes_ad_hoc_charges() -> None:
    store = make_store()
    add_charge(store, "C-1", "Setup fee", eur("99.00"), date(2026, 3, 1), key="setup")
    [document] = forecast(store, date(2026, 3, 1), 1)
    assert document.total == eur("117.81")  # what invoice_run on 1 March bills


def test_a_time_weighted_gauge_is_prorated_alike_at_start_and_end() -> None:
    from juston import Metric, PerUnit, ingest_usage

    store = make_store("C-7")
    seats = Item(
        id="seats",
        product=Product(code="SEATS", name="Seats"),
        price=PerUnit(eur("8.00")),
        billing_type="usage",
        metric=Metric(aggregation="time_weighted"),
    )
    store.put_subscription(
        Subscription(
            number="S-7",
            account_id="C-7",
            start=date(2026, 1, 15),
            end=date(2026, 3, 10),
            alignment="calendar",
            items=[seats],
        )
    )
    ingest_usage(
        store,
        [{"id": "r", "item": "S-7/seats", "quantity": "10", "timestamp": "2026-01-15T10:00:00Z"}],
    )
    first, _, last = invoice_run(store, date(2026, 4, 1)).documents[0].lines
    # January, served 15–31: 10 seats × 17/31 days = 5.483871 × 8.00 = 43.87
    assert (first.quantity, first.net) == (D("5.483871"), eur("43.87"))
    # March, served 1–9: likewise 10 × 9/31 = 2.903226 × 8.00 = 23.23 (actual: 10, 80.00)
    assert (last.quantity, last.net) == (D("2.903226"), eur("23.23"))


def test_an_ambiguous_order_number_within_one_account_is_explained_rightly() -> None:
    from juston import PerUnit, ingest_usage

    store = make_store("C-7")
    items = [
        Item(
            id=item_id,
            product=Product(code=item_id.upper(), name=item_id),
            price=PerUnit(eur("1.00")),
            billing_type="usage",
            order_number="ORD-1",
        )
        for item_id in ("a", "b")
    ]
    store.put_subscription(
        Subscription(number="S-7", account_id="C-7", start=date(2026, 1, 1), items=items)
    )
    result = ingest_usage(
        store, [{"id": "r", "item": "ORD-1", "quantity": "1", "timestamp": "2026-01-05T10:00:00Z"}]
    )
    [rejection] = result.rejected
    assert "accounts" not in rejection.reason
