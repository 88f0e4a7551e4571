"""How the ``juston`` command shows things on a terminal: the output helpers (a console, a
table style, amounts and numbers as text, printing without cutting columns, the progress bar),
the totals of documents per currency, and the rich tables and panels for documents, accounts
and subscriptions. Nothing here opens a store or knows the commands.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import click
from rich import box
from rich.console import Console, Group, RenderableType
from rich.measure import Measurement
from rich.panel import Panel
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from ..model.documents import Invoice
from ..model.parties import Account, Address
from ..model.status import DocumentKind
from ..model.subscriptions import ItemChange, Subscription
from ..pricing.discounts import Discount
from ..pricing.models import (
    Flat,
    Graduated,
    MinimumFee,
    Package,
    Percentage,
    PerUnit,
    PriceSchedule,
    Tier,
    Volume,
)
from ..pricing.proration import BillingType
from ..receivables.ledger import PaymentState
from ..rounding import round_places

__all__ = [
    "PROGRESS_MIN_ACCOUNTS",
    "Totals",
    "account_fields",
    "accounts_table",
    "amount_text",
    "describe_price",
    "documents_table",
    "echo_json",
    "fixed_column",
    "output_console",
    "plain",
    "progress_bar",
    "render_document",
    "show",
    "styled_table",
    "subscription_table",
    "totals_by_currency",
    "totals_cells",
    "totals_columns",
    "totals_table",
]

#: ``invoice_run`` reports progress once per batch of 500 accounts, so a bar for a smaller
#: run would jump from empty to full; below this many accounts no bar is shown.
PROGRESS_MIN_ACCOUNTS = 1000

# Piped output has no terminal width to fit; rich would assume 80 columns and fold the
# document tables, so redirected output gets this width unless COLUMNS says otherwise.
_PIPE_WIDTH = 120

_BILLING_TYPES = {
    BillingType.ONE_TIME: "one-time",
    BillingType.RECURRING: "recurring",
    BillingType.RECURRING_PRORATED: "prorated",
    BillingType.RECURRING_PRORATED_AVERAGE: "prorated (average month)",
}


# UN/ECE Recommendation 20 codes the sample data uses, as a reader knows them.
_UNITS = {"C62": "pc", "MON": "month", "E34": "GB", "HUR": "hour", "DAY": "day", "KWH": "kWh"}


# --- output helpers --------------------------------------------------------------------------


def output_console() -> Console:
    # Names and paths are data: a "[" in them must print as is, not start rich markup.
    console = Console(highlight=False, markup=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = _PIPE_WIDTH
    return console


def echo_json(data: object) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def plain(value: Decimal) -> str:
    """A Decimal as text without an exponent (``1E+2`` → ``100``)."""
    return f"{value:f}"


def amount_text(value: Decimal) -> Text:
    """An already rounded amount with thousands separators; negative amounts in red."""
    if not value:
        value = abs(value)  # no "-0.00" for a credit's zero tax
    return Text(f"{value:,}", style="red" if value < 0 else "")


def _number(value: Decimal) -> str:
    """A quantity, rate or factor without trailing zeros (``2.50`` → ``2.5``)."""
    return f"{value.normalize():f}"


def _rate(value: Decimal) -> str:
    return f"{value.normalize():f} %"


def styled_table(title: str | Text | None = None, **options: Any) -> Table:
    """A table in the command's one style: a rule under the header, no boxes around cells.

    Cells need no borders to be read, and without them the summary fits 80 columns.
    """
    return Table(
        title=title,
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        collapse_padding=True,
        padding=(0, 1),
        **{"title_style": "bold", **options},
    )


def show(console: Console, renderable: RenderableType) -> None:
    """Print *renderable*, wider than the terminal if that is the only way to show it whole.

    When a table does not fit, rich cuts its columns, digits included; an amount must never
    be shown cut, so the lines are made as long as they must be and the terminal wraps them.
    """
    needed = _needed_width(console, renderable)
    if needed <= console.width:
        console.print(renderable)
        return
    width = console.width
    console.width = needed
    try:
        console.print(renderable)
    finally:
        console.width = width


def _needed_width(console: Console, renderable: RenderableType) -> int:
    """The fewest columns *renderable* takes without cutting anything."""
    if isinstance(renderable, Panel):
        # A panel measures as wide as its widest line, though its content can wrap.
        return _needed_width(console, renderable.renderable) + 4
    unlimited = console.options.update_width(10_000)
    return Measurement.get(console, unlimited, renderable).minimum


def fixed_column(table: Table, header: str, *, right: bool = False) -> None:
    """A column for amounts, dates and ids: never wrapped, squeezed only after the text columns."""
    table.add_column(header, justify="right" if right else "left", no_wrap=True, overflow="fold")


def _unit(code: str) -> str:
    return _UNITS.get(code, code)


@contextmanager
def progress_bar(total: int, label: str) -> Iterator[Callable[[int], None] | None]:
    """A progress callback for ``invoice_run``, or ``None`` where no bar is wanted.

    The bar goes to stderr, so ``--json`` and piped output stay clean; it is shown only
    when stderr is a terminal and *total* reaches :data:`PROGRESS_MIN_ACCOUNTS`.
    """
    console = Console(stderr=True)
    if total < PROGRESS_MIN_ACCOUNTS or not console.is_terminal:
        yield None
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("accounts"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(label, total=total)
        yield lambda count: progress.advance(task, count)


# --- totals ----------------------------------------------------------------------------------


class Totals:
    """Counts and sums of documents in one currency."""

    def __init__(self) -> None:
        self.documents = 0
        self.kinds: dict[DocumentKind, int] = {}
        self.net = Decimal(0)
        self.tax = Decimal(0)
        self.gross = Decimal(0)

    def add(self, document: Invoice) -> None:
        self.documents += 1
        self.kinds[document.kind] = self.kinds.get(document.kind, 0) + 1
        # The documents' own rounded totals: the sums match what customers were sent.
        self.net += document.net_total.amount
        self.tax += document.tax_total.amount
        self.gross += document.total.amount

    @property
    def invoices(self) -> int:
        return self.kinds.get(DocumentKind.INVOICE, 0)

    @property
    def credits(self) -> int:
        return self.kinds.get(DocumentKind.CREDIT, 0) + self.kinds.get(DocumentKind.CANCELLATION, 0)

    def json(self) -> dict[str, object]:
        return {
            "documents": self.documents,
            "invoices": self.invoices,
            "credits": self.credits,
            "net": plain(self.net),
            "tax": plain(self.tax),
            "gross": plain(self.gross),
        }


def totals_by_currency(documents: Iterable[Invoice]) -> dict[str, Totals]:
    totals: dict[str, Totals] = {}
    for document in documents:
        totals.setdefault(document.currency.code, Totals()).add(document)
    return dict(sorted(totals.items()))


def totals_columns(table: Table) -> None:
    fixed_column(table, "Cur")
    for name in ("Documents", "Invoices", "Credits", "Net", "Tax", "Gross"):
        fixed_column(table, name, right=True)


def totals_cells(code: str, totals: Totals) -> list[str | Text]:
    return [
        code,
        str(totals.documents),
        str(totals.invoices),
        str(totals.credits),
        amount_text(totals.net),
        amount_text(totals.tax),
        amount_text(totals.gross),
    ]


def totals_table(documents: Iterable[Invoice], title: str | None = None) -> Table:
    table = styled_table(title)
    totals_columns(table)
    for code, totals in totals_by_currency(documents).items():
        table.add_row(*totals_cells(code, totals))
    return table


# --- rendering documents and accounts --------------------------------------------------------


def _tiers_text(tiers: Sequence[Tier]) -> str:
    parts = []
    for tier in tiers:
        bound = "more" if tier.up_to is None else f"≤{_number(tier.up_to)}"
        price = "" if tier.unit_price is None else f"{tier.unit_price.amount:f}"
        fee = "" if tier.flat is None else f" + {tier.flat.amount:f} once"
        parts.append(f"{bound}: {price}{fee}")
    return " · ".join(parts)


def describe_price(pricing: object) -> str:
    """A price model as a reader would quote it (``12.50 EUR per unit``)."""
    if isinstance(pricing, Flat):
        return f"{pricing.amount.amount:f} {pricing.currency.code} flat"
    if isinstance(pricing, PerUnit):
        return f"{pricing.unit_price.amount:f} {pricing.currency.code} per unit"
    if isinstance(pricing, Graduated):
        return f"graduated {_tiers_text(pricing.tiers)} {pricing.currency.code}"
    if isinstance(pricing, Volume):
        return f"volume {_tiers_text(pricing.tiers)} {pricing.currency.code}"
    if isinstance(pricing, Package):
        return f"{pricing.block_price.amount:f} {pricing.currency.code} per {_number(pricing.size)}"
    if isinstance(pricing, Percentage):
        return f"{_number(pricing.rate)} % of the other charges"
    if isinstance(pricing, MinimumFee):
        return f"minimum {pricing.minimum.amount:f} {pricing.currency.code}"
    if isinstance(pricing, PriceSchedule):
        return "; ".join(f"from {d}: {describe_price(m)}" for d, m in pricing.entries)
    return type(pricing).__name__


def _last_day(end: date) -> str:
    # Ends are half-open (the first day not served); people read the last day served.
    return (end - timedelta(days=1)).isoformat()


def _describe_discount(discount: Discount) -> str:
    text = discount.describe().removeprefix("discount ")
    start, end = discount.start, discount.end
    if start is not None and end is not None:
        return f"{text} {start}..{_last_day(end)}"
    if start is not None:
        return f"{text} from {start}"
    if end is not None:
        return f"{text} until {_last_day(end)}"
    return text


def _describe_change(change: ItemChange) -> str:
    parts = []
    if change.quantity is not None:
        parts.append(f"qty {_number(change.quantity)}")
    if change.price is not None:
        parts.append(describe_price(change.price))
    return f"{change.effective}: {', '.join(parts)}"


def _document_title(document: Invoice, state: PaymentState | None) -> str:
    name = document.number or f"draft {document.id}"
    status = (state.status if state else document.status).value
    return f"{document.kind.value.capitalize()} {name} · {status}"


def _party(title: str, name: str, address: Address, extra: Iterable[str]) -> Text:
    text = Text()
    text.append(f"{title}\n", style="dim")
    text.append(f"{name}\n", style="bold")
    text.append("\n".join((*address.lines(), *extra)))
    return text


def _document_header(document: Invoice, state: PaymentState | None) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim")
    grid.add_column()
    grid.add_column(style="dim")
    grid.add_column()
    period = document.service_period
    grid.add_row(
        "Invoice date",
        document.invoice_date.isoformat(),
        "Due",
        f"{document.due_date} ({document.payment_terms.pattern})",
    )
    grid.add_row(
        "Service period",
        "" if period is None else str(period),
        "Billed on",
        document.billing_date.isoformat(),
    )
    grid.add_row("Document id", document.id or "", "Run", document.run_id or "")
    if state is not None:
        paid = f" on {state.paid_on}" if state.paid_on else ""
        grid.add_row("Status", f"{state.status.value}{paid}", "Open", f"{state.open.amount:,}")
    if document.cancels or document.cancelled_by:
        grid.add_row("Cancels", document.cancels or "", "Cancelled by", document.cancelled_by or "")
    return grid


def _parties(document: Invoice) -> Table:
    seller, buyer = document.seller, document.buyer
    seller_extra = [f"VAT id {seller.vat_id}"] if seller.vat_id else []
    if seller.tax_number:
        seller_extra.append(f"Tax number {seller.tax_number}")
    buyer_extra = [f"Account {buyer.id}"]
    if buyer.vat_id:
        buyer_extra.append(f"VAT id {buyer.vat_id}")
    grid = Table.grid(padding=(0, 6))
    grid.add_column()
    grid.add_column()
    grid.add_row(
        _party("From", seller.name, seller.address, seller_extra),
        _party("To", buyer.name, buyer.recipient_address, buyer_extra),
    )
    return grid


def _lines_table(document: Invoice) -> Table:
    lines = document.lines
    factors = any(line.billing_factor != 1 for line in lines)
    discounts = any(line.discount_amount for line in lines)
    table = styled_table()
    table.add_column("#", justify="right", style="dim")
    table.add_column("Description / period", min_width=20)
    fixed_column(table, "Qty", right=True)
    table.add_column("Unit")
    fixed_column(table, "Unit price", right=True)
    if factors:
        fixed_column(table, "Factor", right=True)
    if discounts:
        fixed_column(table, "Discount", right=True)
    fixed_column(table, "Net", right=True)
    fixed_column(table, "VAT", right=True)
    for number, line in enumerate(lines, start=1):
        # The period goes under the description: a column of its own would not fit 80 columns.
        described = Text(line.description)
        if line.period is not None:
            described.append(f"\n{line.period}", style="dim")
        cells: list[str | Text] = [
            str(number),
            described,
            _number(line.quantity),
            _unit(line.unit_code),
            amount_text(line.unit_price_amount),
        ]
        if factors:
            cells.append(_number(round_places(line.billing_factor, 4)))
        if discounts:
            cells.append(amount_text(line.discount_amount))
        cells += [amount_text(line.net_amount), f"{_rate(line.vat.rate)} {line.vat.category}"]
        table.add_row(*cells)
    return table


def _breakdown_and_totals(document: Invoice) -> Table:
    breakdown = Table(title="VAT breakdown", title_justify="left", box=None, padding=(0, 1))
    breakdown.add_column("Category", style="dim")
    fixed_column(breakdown, "Rate", right=True)
    fixed_column(breakdown, "Basis", right=True)
    fixed_column(breakdown, "VAT", right=True)
    exemptions = any(s.exemption_reason for s in document.tax_breakdown)
    if exemptions:
        breakdown.add_column("Exemption")
    for subtotal in document.tax_breakdown:
        cells: list[str | Text] = [
            subtotal.category,
            _rate(subtotal.rate),
            amount_text(subtotal.basis.amount),
            amount_text(subtotal.tax.amount),
        ]
        if exemptions:
            cells.append(Text(subtotal.exemption_reason or ""))
        breakdown.add_row(*cells)

    code = document.currency.code
    totals = Table.grid(padding=(0, 2))
    totals.add_column(style="dim")
    totals.add_column(justify="right", no_wrap=True, overflow="fold")
    totals.add_row("Net total", amount_text(document.net_total.amount))
    totals.add_row("VAT", amount_text(document.tax_total.amount))
    if document.tax_delta.amount:
        totals.add_row("of which rounding of line VAT", amount_text(document.tax_delta.amount))
    total = amount_text(document.total.amount)
    total.stylize("bold")
    totals.add_row(Text(f"Total {code}", style="bold"), total)

    layout = Table.grid(padding=(0, 6))
    layout.add_column()
    layout.add_column(vertical="bottom")
    layout.add_row(breakdown, totals)
    return layout


def render_document(
    document: Invoice, *, explain: bool = False, state: PaymentState | None = None
) -> Panel:
    """The document as a panel; with its *state*, also the derived status and open amount."""
    parts: list[RenderableType] = [
        _document_header(document, state),
        Text(),
        _parties(document),
        Text(),
        _lines_table(document),
        Text(),
        _breakdown_and_totals(document),
    ]
    if document.notices:
        parts.append(Text())
        parts.extend(Text(notice, style="italic") for notice in document.notices)
    if explain:
        parts.append(Text())
        for number, line in enumerate(document.lines, start=1):
            parts.append(Text(f"{number}. {line.explanation}", style="dim"))
    return Panel(
        Group(*parts),
        title=Text(_document_title(document, state), style="bold"),
        title_align="left",
        expand=False,
    )


def documents_table(
    documents: Iterable[Invoice],
    *,
    wide: bool,
    title: str | None = None,
    states: Mapping[str, PaymentState] | None = None,
) -> Table:
    """One row per document; *wide* (a terminal of 110 columns or more) adds due date and
    VAT; with *states* (by document id) the status is the derived one (paid …) and an
    Open column shows what is open."""
    table = styled_table(title)
    fixed_column(table, "Document")
    table.add_column("Kind")
    table.add_column("Status")
    fixed_column(table, "Date")
    if wide:
        fixed_column(table, "Due")
    fixed_column(table, "Account")
    table.add_column("Buyer")
    fixed_column(table, "Net", right=True)
    if wide:
        fixed_column(table, "VAT", right=True)
    fixed_column(table, "Total", right=True)
    if states is not None:
        fixed_column(table, "Open", right=True)
    fixed_column(table, "Cur")
    for d in documents:
        state = None if states is None or d.id is None else states.get(d.id)
        cells: list[str | Text] = [
            d.number or Text(f"draft {d.id}", style="dim"),
            d.kind.value,
            (state.status if state else d.status).value,
            d.invoice_date.isoformat(),
        ]
        if wide:
            cells.append(d.due_date.isoformat())
        cells += [d.account_id, Text(d.buyer.name), amount_text(d.net_total.amount)]
        if wide:
            cells.append(amount_text(d.tax_total.amount))
        cells.append(amount_text(d.total.amount))
        if states is not None:
            cells.append(amount_text(state.open.amount) if state else "")
        cells.append(d.currency.code)
        table.add_row(*cells)
    return table


def account_fields(account: Account, company_terms: str) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim")
    grid.add_column()
    grid.add_row("Name", Text(account.name, style="bold"))
    # juston taxes an account with a VAT id as a business, any other as a consumer.
    grid.add_row("VAT id", account.vat_id or "none (taxed as a consumer)")
    grid.add_row("Billing address", Text(", ".join(account.billing_address.lines())))
    if account.legal_address is not None:
        grid.add_row("Legal address", Text(", ".join(account.legal_address.lines())))
    if account.shipping_address is not None:
        grid.add_row("Shipping address", Text(", ".join(account.shipping_address.lines())))
    grid.add_row("Currency", account.currency.code)
    grid.add_row("Language", account.language)
    grid.add_row("Email", Text(account.email or ""))
    terms = account.payment_terms.pattern if account.payment_terms else f"{company_terms} (default)"
    grid.add_row("Payment terms", terms)
    return grid


def subscription_table(subscription: Subscription) -> Table:
    until = f", last day {_last_day(subscription.end)}" if subscription.end else ""
    title = (
        f"Subscription {subscription.number} · {subscription.status.value} · every "
        f"{subscription.billing_period}, {subscription.alignment.value} · "
        f"from {subscription.start}{until}"
    )
    table = styled_table(Text(title))
    table.add_column("Item")
    table.add_column("Product")
    table.add_column("Price")
    fixed_column(table, "Qty", right=True)
    table.add_column("Billed")
    table.add_column("Discount")
    table.add_column("Changes", no_wrap=True, overflow="fold")
    for item in subscription.items:
        # An item's own start and end are changes in its life like the others.
        history = [f"starts {item.start}"] if item.start else []
        history += [_describe_change(c) for c in item.changes]
        history += [f"last day {_last_day(item.end)}"] if item.end else []
        table.add_row(
            item.id,
            Text(item.description or item.product.name),
            Text(describe_price(item.price)),
            _number(item.quantity),
            f"{_BILLING_TYPES[item.billing_type]}, {item.practice.value}",
            Text("" if item.discount is None else _describe_discount(item.discount)),
            Text("\n".join(history)),
        )
    return table


def accounts_table(accounts: Iterable[Account]) -> Table:
    table = styled_table()
    fixed_column(table, "Account")
    table.add_column("Name")
    table.add_column("Country")
    table.add_column("City")
    table.add_column("Cur")
    fixed_column(table, "VAT id")
    table.add_column("Terms")
    for account in accounts:
        table.add_row(
            account.id,
            Text(account.name),
            account.country,
            Text(account.billing_address.city),
            account.currency.code,
            account.vat_id or "",
            account.payment_terms.pattern if account.payment_terms else "",
        )
    return table
