"""Billing time entries and expenses of a consulting app, next to a subscription, in one run.

A tiny consulting app keeps time entries, expenses and projects as its own dataclasses.
A juston plugin turns them into billables; one invoice run bills them together with
the customer's ordinary subscription and an ad-hoc setup fee. Run it with
``python docs/examples/consulting.py``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import juston
from juston import (
    Account,
    Address,
    Billable,
    BillableMapping,
    Flat,
    Item,
    MemoryStore,
    ParentMapping,
    Product,
    Subscription,
    money,
)
from juston.testing import sample_company

# --- the consulting app's own records ---------------------------------------------------


@dataclass
class TimeEntry:
    id: int
    client: str  # the juston account id of the client
    consultant: str
    day: date
    hours: Decimal
    rate: Decimal  # EUR per hour


@dataclass
class Expense:
    id: int
    client: str
    day: date
    text: str
    amount: Decimal  # EUR, net
    tax_class: str = "standard"  # from the receipt


@dataclass
class Project:
    id: str
    client: str
    name: str
    entries: list[TimeEntry] = field(default_factory=list)


class ConsultingApp:
    """The app's data: projects with their time entries, loose entries, expenses."""

    def __init__(self) -> None:
        self.projects: list[Project] = []
        self.entries: list[TimeEntry] = []  # time entries outside any project
        self.expenses: list[Expense] = []


# --- how its records become billables -----------------------------------------------------

TIME = BillableMapping(
    source="time",
    key="id",  # stable: this is how juston knows an entry was billed
    account_id="client",
    description=lambda e: f"Consulting {e.day:%d.%m.} ({e.consultant})",
    quantity="hours",
    unit_price=lambda e: money(e.rate, "EUR"),
    service_date="day",
    unit_code="HUR",  # hours (UN/ECE recommendation 20)
)
# One document per project: its entries are the lines.
PROJECTS = ParentMapping(
    source="project", key="id", account_id="client", lines="entries", line=TIME
)


def expense_billable(expense: Expense) -> Billable:
    # A Billable can also be built directly (a mapping could give tax_class=lambda e: ...).
    return Billable(
        source="expense",
        key=str(expense.id),
        account_id=expense.client,
        description=f"Expense: {expense.text}",
        unit_price=money(expense.amount, "EUR"),
        service_date=expense.day,
        tax_class=expense.tax_class,
    )


class ConsultingPlugin:
    """Answers the invoice run's ``juston_billables`` hook from the app's records."""

    def __init__(self, app: ConsultingApp) -> None:
        self.app = app

    @juston.hookimpl
    def juston_billables(
        self, account_ids: Sequence[str], billing_date: date
    ) -> Iterator[Billable]:
        # Return every record of these accounts, billed or not: the run bills each
        # (source, key) once and skips records whose service date is after billing_date.
        wanted = set(account_ids)
        yield from PROJECTS.billables(p for p in self.app.projects if p.client in wanted)
        yield from TIME.billables(e for e in self.app.entries if e.client in wanted)
        for expense in self.app.expenses:
            if expense.client in wanted:
                yield expense_billable(expense)


# --- printing ------------------------------------------------------------------------------


def show(result: juston.RunResult) -> None:
    count = len(result.documents)
    print(f"{result.billing_date} run: {count} document{'' if count == 1 else 's'}")
    for document in result.documents:
        print(
            f"  {document.id} {document.kind.value} for {document.account_id}: "
            f"net {document.net_total.amount} + VAT {document.tax_total.amount} "
            f"= {document.total.amount}"
        )
        for line in document.lines:
            print(
                f"    {line.description:<34} {line.period!s:<22} "
                f"{line.quantity:>4} × {line.unit_price.amount:>6.2f} = {line.net.amount:>7}"
            )


def main() -> list[juston.RunResult]:
    """Set up, run, print; return the runs (for the tests)."""
    store = MemoryStore()
    store.put_company(sample_company())  # Nordwind Software GmbH, Hamburg
    store.put_account(
        Account(
            id="C-1",
            name="Kunde AG",
            currency="EUR",
            billing_address=Address(
                street="Ring 2", postcode="80331", city="München", country="DE"
            ),
        )
    )
    # The ordinary subscription: a support retainer, 400.00 a month in advance.
    store.put_subscription(
        Subscription(
            number="S-1",
            account_id="C-1",
            start=date(2026, 4, 1),
            items=[
                Item(
                    id="retainer",
                    product=Product(code="RETAINER", name="Support retainer"),
                    price=Flat(money("400.00", "EUR")),
                    billing_type="recurring",
                )
            ],
        )
    )
    # An ad-hoc charge, kept in the store until a run bills it.
    juston.add_charge(
        store, "C-1", "Onboarding workshop", money("350.00", "EUR"), date(2026, 3, 2), key="setup"
    )

    app = ConsultingApp()
    app.projects.append(
        Project(
            id="P-7",
            client="C-1",
            name="ERP migration",
            entries=[
                TimeEntry(1, "C-1", "Anna", date(2026, 3, 3), Decimal("6"), Decimal("120")),
                TimeEntry(2, "C-1", "Ben", date(2026, 3, 4), Decimal("7.5"), Decimal("95")),
                TimeEntry(3, "C-1", "Anna", date(2026, 3, 5), Decimal("4"), Decimal("120")),
            ],
        )
    )
    app.entries.append(
        TimeEntry(4, "C-1", "Anna", date(2026, 3, 10), Decimal("1.5"), Decimal("120"))
    )
    app.expenses += [
        Expense(1, "C-1", date(2026, 3, 3), "Hotel Munich, 2 nights", Decimal("240.00")),
        Expense(2, "C-1", date(2026, 3, 4), "Train Munich-Hamburg", Decimal("89.90")),
        # Not yet due on April 1: billed by the first run on or after its day.
        Expense(3, "C-1", date(2026, 4, 8), "Train Hamburg-Munich", Decimal("89.90")),
    ]

    plugins = juston.Plugins.load()
    plugins.register(ConsultingPlugin(app))

    print("1. The April run bills the subscription, the setup fee, entries and expenses")
    first = juston.invoice_run(store, date(2026, 4, 1), plugins=plugins)
    show(first)
    finalized = juston.finalize(store, first.documents)
    print("  finalized:", ", ".join(f"{d.id} = {d.number}" for d in finalized))

    print("2. Running again bills nothing twice")
    again = juston.invoice_run(store, date(2026, 4, 1), plugins=plugins)
    show(again)

    print("3. Cancelling the project invoice releases its entries; the next run bills them")
    project_invoice = finalized[1]  # D00000002, the project's own document
    mirror = juston.cancel(store, project_invoice, cancellation_date=date(2026, 4, 10))
    print(f"  {project_invoice.number} cancelled by {mirror.number} ({mirror.total.amount})")
    rebill = juston.invoice_run(store, date(2026, 4, 10), plugins=plugins)
    show(rebill)
    juston.finalize(store, rebill.documents)

    print("4. An entry corrected after billing gives a correction line of the difference")
    app.projects[0].entries[2].hours = Decimal("4.5")
    correction = juston.invoice_run(store, date(2026, 4, 15), plugins=plugins)
    show(correction)
    return [first, again, rebill, correction]


if __name__ == "__main__":
    main()
