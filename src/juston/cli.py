"""The ``juston`` command: a demo, invoice runs, and a look at documents and accounts.

Every command works on an SQLite database file (``--db``); see ``docs/cli.md`` for the
commands and their output. Dates are always arguments, never read from the clock, so a
command gives the same result on every machine and every day.

Errors a user can cause (a missing file, an unknown document, anything juston rejects)
end the command with one line ``error: …`` on stderr and exit status 1; click's usage
errors exit with status 2, and ``juston run`` exits with status 3 when some accounts
could not be billed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, timedelta
from decimal import Decimal
from itertools import islice
from pathlib import Path
from typing import IO, Any

import click
from dateutil.relativedelta import relativedelta
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

from . import open_store
from .billing.run import AccountFailure, RunResult, finalize, invoice_run
from .errors import JustonError, NotFound
from .model.documents import Invoice, Line
from .model.parties import Account, Address, Company
from .model.status import DocumentKind, DocumentStatus
from .model.subscriptions import Item, ItemChange, Subscription
from .periods import Period
from .pricing.discounts import Discount
from .pricing.models import (
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
from .pricing.proration import BillingType
from .rounding import round_places
from .storage.base import Reader, Store
from .testing.sample import populate, sample_changes

__all__ = ["main"]

DEFAULT_DB = "juston.db"
DEMO_DB = "juston-demo.db"

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

# From this terminal width on, document lists also show due dates and VAT.
_WIDE = 110

_SQLITE_HEADER = b"SQLite format 3\x00"

# UN/ECE Recommendation 20 codes the sample data uses, as a reader knows them.
_UNITS = {"C62": "pc", "MON": "month", "E34": "GB", "HUR": "hour", "DAY": "day", "KWH": "kWh"}


# --- errors ----------------------------------------------------------------------------------


class CliError(click.ClickException):
    """A problem the user can fix: shown as one line ``error: …``, exit status 1."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


class _Juston(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        # Every subcommand runs inside this call, so library errors surface here once.
        try:
            return super().invoke(ctx)
        except JustonError as exc:
            raise CliError(str(exc)) from exc


# --- opening stores ----------------------------------------------------------------------------


def _store_url(path: Path | str) -> str:
    """The storage URL of an SQLite file (relative paths stay relative to the working directory)."""
    return f"sqlite:///{path}"


def _open(path: Path, *, must_exist: bool) -> Store:
    """Open the database at *path*; commands that read or bill need an existing file."""
    if path.is_dir():
        raise CliError(f"{path} is a directory, not a database file")
    if must_exist and not path.exists():
        raise CliError(
            f"no database at {path}; pass --db PATH, or create a demo database with "
            f"'juston demo --db {path}'"
        )
    if not path.parent.is_dir():
        raise CliError(f"cannot create {path}: the directory {path.parent} does not exist")
    return open_store(_store_url(path))


def _replace_database(path: Path) -> bool:
    """Delete the database at *path* (and SQLite's side files); True if there was one."""
    if path.is_dir():
        raise CliError(f"{path} is a directory, not a database file")
    if not path.exists():
        return False
    try:
        with path.open("rb") as file:
            header = file.read(len(_SQLITE_HEADER))
        # A mistyped --db must not destroy a document that happens to sit there.
        if header and header != _SQLITE_HEADER:
            raise CliError(f"{path} exists and is not an SQLite database; not replacing it")
        for side in ("-journal", "-wal", "-shm"):
            Path(f"{path}{side}").unlink(missing_ok=True)
        path.unlink()
    except OSError as exc:
        raise CliError(f"cannot replace {path}: {exc.strerror or exc}") from exc
    return True


# --- parameters ------------------------------------------------------------------------------


def _iso_date(ctx: click.Context, param: click.Parameter, value: str | None) -> date | None:
    # A callback, not a ParamType subclass: ParamType is generic only in newer click releases,
    # and a callback type-checks against every release the project allows.
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date like 2026-01-01") from None


def _db_option(default: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option(
        "--db",
        type=click.Path(dir_okay=False, path_type=Path),
        default=default,
        show_default=True,
        help="SQLite database file.",
    )


_json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")


# --- output helpers --------------------------------------------------------------------------


def _console() -> Console:
    # Names and paths are data: a "[" in them must print as is, not start rich markup.
    console = Console(highlight=False, markup=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = _PIPE_WIDTH
    return console


def _echo_json(data: object) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def _plain(value: Decimal) -> str:
    """A Decimal as text without an exponent (``1E+2`` → ``100``)."""
    return f"{value:f}"


def _amount(value: Decimal) -> Text:
    """An already rounded amount with thousands separators; negative amounts in red."""
    if not value:
        value = abs(value)  # no "-0.00" for a credit's zero tax
    return Text(f"{value:,}", style="red" if value < 0 else "")


def _number(value: Decimal) -> str:
    """A quantity, rate or factor without trailing zeros (``2.50`` → ``2.5``)."""
    return f"{value.normalize():f}"


def _rate(value: Decimal) -> str:
    return f"{value.normalize():f} %"


def _table(title: str | Text | None = None, **options: Any) -> Table:
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


def _show(console: Console, renderable: RenderableType) -> None:
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


def _fixed(table: Table, header: str, *, right: bool = False) -> None:
    """A column for amounts, dates and ids: never wrapped, squeezed only after the text columns."""
    table.add_column(header, justify="right" if right else "left", no_wrap=True, overflow="fold")


def _unit(code: str) -> str:
    return _UNITS.get(code, code)


def _date(value: date | None) -> str:
    return "" if value is None else value.isoformat()


@contextmanager
def _progress(total: int, label: str) -> Iterator[Callable[[int], None] | None]:
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


# --- JSON shapes -----------------------------------------------------------------------------


def _period_json(period: Period | None) -> dict[str, str] | None:
    if period is None:
        return None
    return {
        "start": period.start.isoformat(),
        "end": period.end.isoformat(),
        "last_day": period.last_day.isoformat(),
    }


def _address_json(address: Address | None) -> dict[str, str | None] | None:
    if address is None:
        return None
    return {
        "street": address.street,
        "line2": address.line2,
        "postcode": address.postcode,
        "city": address.city,
        "region": address.region,
        "country": address.country,
    }


def _company_json(company: Company) -> dict[str, object]:
    return {
        "id": company.id,
        "name": company.name,
        "address": _address_json(company.address),
        "vat_id": company.vat_id,
        "tax_number": company.tax_number,
    }


def _account_json(account: Account) -> dict[str, object]:
    return {
        "id": account.id,
        "name": account.name,
        "vat_id": account.vat_id,
        "country": account.country,
        "currency": account.currency.code,
        "language": account.language,
        "email": account.email,
        "payment_terms": None if account.payment_terms is None else account.payment_terms.pattern,
        "billing_address": _address_json(account.billing_address),
        "legal_address": _address_json(account.legal_address),
        "shipping_address": _address_json(account.shipping_address),
    }


def _document_summary_json(document: Invoice) -> dict[str, object]:
    return {
        "id": document.id,
        "number": document.number,
        "kind": document.kind.value,
        "status": document.status.value,
        "account_id": document.account_id,
        "account_name": document.buyer.name,
        "currency": document.currency.code,
        "invoice_date": document.invoice_date.isoformat(),
        "due_date": document.due_date.isoformat(),
        "billing_date": document.billing_date.isoformat(),
        "service_period": _period_json(document.service_period),
        "net": _plain(document.net_total.amount),
        "tax": _plain(document.tax_total.amount),
        "total": _plain(document.total.amount),
        "run_id": document.run_id,
        "cancels": document.cancels,
        "cancelled_by": document.cancelled_by,
    }


def _line_json(line: Line) -> dict[str, object]:
    return {
        "description": line.description,
        "period": _period_json(line.period),
        "quantity": _plain(line.quantity),
        "unit_code": line.unit_code,
        "unit_price": _plain(line.unit_price_amount),
        "billing_factor": _plain(line.billing_factor),
        "discount": _plain(line.discount_amount),
        "net": _plain(line.net_amount),
        "tax_category": line.vat.category,
        "tax_rate": _plain(line.vat.rate),
        "tax": _plain(line.tax_amount),
        "explanation": line.explanation,
        "subscription": line.subscription,
        "item_id": line.item_id,
        "product_code": line.product_code,
    }


def _document_json(document: Invoice) -> dict[str, object]:
    return {
        **_document_summary_json(document),
        "seller": _company_json(document.seller),
        "buyer": _account_json(document.buyer),
        "payment_terms": document.payment_terms.pattern,
        "subscriptions": list(document.subscriptions),
        "lines": [_line_json(line) for line in document.lines],
        "tax_breakdown": [
            {
                "category": s.category,
                "rate": _plain(s.rate),
                "basis": _plain(s.basis.amount),
                "tax": _plain(s.tax.amount),
                "exemption_code": s.exemption_code,
                "exemption_reason": s.exemption_reason,
            }
            for s in document.tax_breakdown
        ],
        "tax_delta": _plain(document.tax_delta.amount),
        "notices": list(document.notices),
    }


def _tiers_json(tiers: Sequence[Tier]) -> list[dict[str, str | None]]:
    return [
        {
            "up_to": None if t.up_to is None else _plain(t.up_to),
            "unit_price": None if t.unit_price is None else _plain(t.unit_price.amount),
            "flat": None if t.flat is None else _plain(t.flat.amount),
        }
        for t in tiers
    ]


def _price_json(pricing: object) -> dict[str, object]:
    text = _describe_price(pricing)
    if isinstance(pricing, Flat):
        return {"model": "flat", "amount": _plain(pricing.amount.amount), "text": text}
    if isinstance(pricing, PerUnit):
        return {"model": "per_unit", "unit_price": _plain(pricing.unit_price.amount), "text": text}
    if isinstance(pricing, Graduated | Volume):
        model = "graduated" if isinstance(pricing, Graduated) else "volume"
        return {"model": model, "tiers": _tiers_json(pricing.tiers), "text": text}
    if isinstance(pricing, Package):
        return {
            "model": "package",
            "block_price": _plain(pricing.block_price.amount),
            "size": _plain(pricing.size),
            "text": text,
        }
    if isinstance(pricing, Percentage):
        return {"model": "percentage", "rate": _plain(pricing.rate), "text": text}
    if isinstance(pricing, MinimumFee):
        return {"model": "minimum_fee", "minimum": _plain(pricing.minimum.amount), "text": text}
    if isinstance(pricing, PriceSchedule):
        entries = [{"from": d.isoformat(), "price": _price_json(m)} for d, m in pricing.entries]
        return {"model": "schedule", "entries": entries, "text": text}
    return {"model": type(pricing).__name__, "text": text}


def _discount_json(discount: Discount | None) -> dict[str, str | None] | None:
    if discount is None:
        return None
    return {
        "percent": None if discount.percent is None else _plain(discount.percent),
        "amount": None if discount.amount is None else _plain(discount.amount.amount),
        "start": None if discount.start is None else discount.start.isoformat(),
        "end": None if discount.end is None else discount.end.isoformat(),
    }


def _change_json(change: ItemChange) -> dict[str, object]:
    return {
        "effective": change.effective.isoformat(),
        "quantity": None if change.quantity is None else _plain(change.quantity),
        "price": None if change.price is None else _price_json(change.price),
    }


def _item_json(item: Item) -> dict[str, object]:
    return {
        "id": item.id,
        "product": {
            "code": item.product.code,
            "name": item.product.name,
            "unit_code": item.product.unit_code,
            "tax_class": item.product.tax_class,
            "supply": item.product.supply.value,
        },
        "description": item.description,
        "price": _price_json(item.price),
        "currency": item.price.currency.code,
        "quantity": _plain(item.quantity),
        "billing_type": item.billing_type.value,
        "practice": item.practice.value,
        "start": None if item.start is None else item.start.isoformat(),
        "end": None if item.end is None else item.end.isoformat(),
        "discount": _discount_json(item.discount),
        "changes": [_change_json(c) for c in item.changes],
    }


def _subscription_json(subscription: Subscription) -> dict[str, object]:
    return {
        "number": subscription.number,
        "account_id": subscription.account_id,
        "status": subscription.status.value,
        "start": subscription.start.isoformat(),
        "end": None if subscription.end is None else subscription.end.isoformat(),
        "billing_period": str(subscription.billing_period),
        "alignment": subscription.alignment.value,
        "currency": None if subscription.currency is None else subscription.currency.code,
        "payment_terms": (
            None if subscription.payment_terms is None else subscription.payment_terms.pattern
        ),
        "items": [_item_json(item) for item in subscription.items],
    }


# --- totals ----------------------------------------------------------------------------------


class _Totals:
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
            "net": _plain(self.net),
            "tax": _plain(self.tax),
            "gross": _plain(self.gross),
        }


def _totals(documents: Iterable[Invoice]) -> dict[str, _Totals]:
    totals: dict[str, _Totals] = {}
    for document in documents:
        totals.setdefault(document.currency.code, _Totals()).add(document)
    return dict(sorted(totals.items()))


def _totals_columns(table: Table) -> None:
    _fixed(table, "Cur")
    for name in ("Documents", "Invoices", "Credits", "Net", "Tax", "Gross"):
        _fixed(table, name, right=True)


def _totals_cells(code: str, totals: _Totals) -> list[str | Text]:
    return [
        code,
        str(totals.documents),
        str(totals.invoices),
        str(totals.credits),
        _amount(totals.net),
        _amount(totals.tax),
        _amount(totals.gross),
    ]


def _totals_table(documents: Iterable[Invoice], title: str | None = None) -> Table:
    table = _table(title)
    _totals_columns(table)
    for code, totals in _totals(documents).items():
        table.add_row(*_totals_cells(code, totals))
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


def _describe_price(pricing: object) -> str:
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
        return "; ".join(f"from {d}: {_describe_price(m)}" for d, m in pricing.entries)
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
        parts.append(_describe_price(change.price))
    return f"{change.effective}: {', '.join(parts)}"


def _document_title(document: Invoice) -> str:
    name = document.number or f"draft {document.id}"
    return f"{document.kind.value.capitalize()} {name} · {document.status.value}"


def _party(title: str, name: str, address: Address, extra: Iterable[str]) -> Text:
    text = Text()
    text.append(f"{title}\n", style="dim")
    text.append(f"{name}\n", style="bold")
    text.append("\n".join((*address.lines(), *extra)))
    return text


def _document_header(document: Invoice) -> Table:
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
    table = _table()
    table.add_column("#", justify="right", style="dim")
    table.add_column("Description / period", min_width=20)
    _fixed(table, "Qty", right=True)
    table.add_column("Unit")
    _fixed(table, "Unit price", right=True)
    if factors:
        _fixed(table, "Factor", right=True)
    if discounts:
        _fixed(table, "Discount", right=True)
    _fixed(table, "Net", right=True)
    _fixed(table, "VAT", right=True)
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
            _amount(line.unit_price_amount),
        ]
        if factors:
            cells.append(_number(round_places(line.billing_factor, 4)))
        if discounts:
            cells.append(_amount(line.discount_amount))
        cells += [_amount(line.net_amount), f"{_rate(line.vat.rate)} {line.vat.category}"]
        table.add_row(*cells)
    return table


def _breakdown_and_totals(document: Invoice) -> Table:
    breakdown = Table(title="VAT breakdown", title_justify="left", box=None, padding=(0, 1))
    breakdown.add_column("Category", style="dim")
    _fixed(breakdown, "Rate", right=True)
    _fixed(breakdown, "Basis", right=True)
    _fixed(breakdown, "VAT", right=True)
    exemptions = any(s.exemption_reason for s in document.tax_breakdown)
    if exemptions:
        breakdown.add_column("Exemption")
    for subtotal in document.tax_breakdown:
        cells: list[str | Text] = [
            subtotal.category,
            _rate(subtotal.rate),
            _amount(subtotal.basis.amount),
            _amount(subtotal.tax.amount),
        ]
        if exemptions:
            cells.append(Text(subtotal.exemption_reason or ""))
        breakdown.add_row(*cells)

    code = document.currency.code
    totals = Table.grid(padding=(0, 2))
    totals.add_column(style="dim")
    totals.add_column(justify="right", no_wrap=True, overflow="fold")
    totals.add_row("Net total", _amount(document.net_total.amount))
    totals.add_row("VAT", _amount(document.tax_total.amount))
    if document.tax_delta.amount:
        totals.add_row("of which rounding of line VAT", _amount(document.tax_delta.amount))
    total = _amount(document.total.amount)
    total.stylize("bold")
    totals.add_row(Text(f"Total {code}", style="bold"), total)

    layout = Table.grid(padding=(0, 6))
    layout.add_column()
    layout.add_column(vertical="bottom")
    layout.add_row(breakdown, totals)
    return layout


def _render_document(document: Invoice, *, explain: bool = False) -> Panel:
    parts: list[RenderableType] = [
        _document_header(document),
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
        title=Text(_document_title(document), style="bold"),
        title_align="left",
        expand=False,
    )


def _documents_table(
    documents: Iterable[Invoice], *, wide: bool, title: str | None = None
) -> Table:
    """One row per document; *wide* (a terminal of 110 columns or more) adds due date and VAT."""
    table = _table(title)
    _fixed(table, "Document")
    table.add_column("Kind")
    table.add_column("Status")
    _fixed(table, "Date")
    if wide:
        _fixed(table, "Due")
    _fixed(table, "Account")
    table.add_column("Buyer")
    _fixed(table, "Net", right=True)
    if wide:
        _fixed(table, "VAT", right=True)
    _fixed(table, "Total", right=True)
    _fixed(table, "Cur")
    for d in documents:
        cells: list[str | Text] = [
            d.number or Text(f"draft {d.id}", style="dim"),
            d.kind.value,
            d.status.value,
            d.invoice_date.isoformat(),
        ]
        if wide:
            cells.append(d.due_date.isoformat())
        cells += [d.account_id, Text(d.buyer.name), _amount(d.net_total.amount)]
        if wide:
            cells.append(_amount(d.tax_total.amount))
        cells += [_amount(d.total.amount), d.currency.code]
        table.add_row(*cells)
    return table


def _account_fields(account: Account, company_terms: str) -> Table:
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


def _subscription_table(subscription: Subscription) -> Table:
    until = f", last day {_last_day(subscription.end)}" if subscription.end else ""
    title = (
        f"Subscription {subscription.number} · {subscription.status.value} · every "
        f"{subscription.billing_period}, {subscription.alignment.value} · "
        f"from {subscription.start}{until}"
    )
    table = _table(Text(title))
    table.add_column("Item")
    table.add_column("Product")
    table.add_column("Price")
    _fixed(table, "Qty", right=True)
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
            Text(_describe_price(item.price)),
            _number(item.quantity),
            f"{_BILLING_TYPES[item.billing_type]}, {item.practice.value}",
            Text("" if item.discount is None else _describe_discount(item.discount)),
            Text("\n".join(history)),
        )
    return table


def _accounts_table(accounts: Iterable[Account]) -> Table:
    table = _table()
    _fixed(table, "Account")
    table.add_column("Name")
    table.add_column("Country")
    table.add_column("City")
    table.add_column("Cur")
    _fixed(table, "VAT id")
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


def _find_document(store: Reader, key: str, db: Path) -> Invoice:
    """The document with id *key*, else the one numbered *key* (case-insensitively)."""
    try:
        return store.document(key)
    except NotFound:
        pass
    # The store protocol looks documents up by id only; numbers need a scan.
    wanted = key.casefold()
    for document in store.documents():
        if document.number is not None and document.number.casefold() == wanted:
            return document
    raise CliError(f"no document with number or id {key!r} in {db}")


# --- the commands ----------------------------------------------------------------------------


@click.group(cls=_Juston, name="juston", context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="juston")
def main() -> None:
    """Subscription billing and invoicing: a demo, invoice runs, documents and accounts.

    Every command works on an SQLite database file given with --db.
    """


@main.command()
@_db_option(DEMO_DB)
@click.option(
    "--accounts",
    type=click.IntRange(min=1),
    default=25,
    show_default=True,
    help="Number of sample accounts.",
)
@click.option(
    "--months",
    type=click.IntRange(min=1),
    default=12,
    show_default=True,
    help="Monthly invoice runs to make.",
)
@click.option(
    "--start",
    callback=_iso_date,
    metavar="YYYY-MM-DD",
    default="2026-01-01",
    show_default=True,
    help="First billing date.",
)
@click.option("--seed", type=int, default=7, show_default=True, help="Seed of the sample data.")
@_json_option
def demo(db: Path, accounts: int, months: int, start: date, seed: int, as_json: bool) -> None:
    """Create a fresh database with sample data and bill it month by month.

    The database at --db is replaced if it exists. The sample company bills accounts in
    several countries (businesses and consumers, in EUR, CHF and USD) with every price
    model, discounts, mid-period changes and cancellations. After the second run some
    customers change their subscriptions retroactively, so later runs make corrections
    and credits. Each run's drafts are finalized.
    """
    replaced = _replace_database(db)
    store = _open(db, must_exist=False)
    populate(store, accounts=accounts, seed=seed, start=start, realistic=True)
    results: list[tuple[RunResult, list[Invoice]]] = []
    changes: list[str] = []
    changed_on: date | None = None
    with _progress(accounts * months, "Billing") as progress:
        for month in range(months):
            billing_date = start + relativedelta(months=month)
            result = invoice_run(store, billing_date, progress=progress)
            results.append((result, finalize(store, result.documents)))
            if month == 1 and months > 2:
                changed_on = billing_date + relativedelta(days=14)
                changes = sample_changes(store, changed_on, cancel_every=10, change_every=6)
    subscriptions = sum(len(store.subscriptions(a.id)) for a in store.accounts())
    if as_json:
        _echo_json(
            {
                "database": str(db),
                "replaced": replaced,
                "accounts": store.count_accounts(),
                "subscriptions": subscriptions,
                "changes": {
                    "effective": None if changed_on is None else changed_on.isoformat(),
                    "what": changes,
                },
                "runs": [_run_json(result, docs, finalized=True) for result, docs in results],
            }
        )
        return
    console = _console()
    verb = "Replaced the existing database" if replaced else "Created the database"
    console.print(Text.assemble(f"{verb} ", (str(db), "bold"), "."))
    _print_sample(console, store, subscriptions)
    if changed_on is not None:
        console.print(
            f"After the {start + relativedelta(months=1)} run, customers changed "
            f"{len(changes)} things from {changed_on} (later runs correct what was billed):"
        )
        for change in changes[:5]:
            console.print(f"  • {change}")
        if len(changes) > 5:
            console.print(f"  … and {len(changes) - 5} more")
    console.print()
    _show(console, _demo_table(results))
    failures = [f for result, _ in results for f in result.failures]
    if failures:
        _show(console, _failures_table(failures))
    documents = [d for _, docs in results for d in docs]
    examples = _examples(documents)
    if examples:
        console.print()
        console.print(Text("Example documents", style="bold"))
        for document in examples:
            _show(console, _render_document(document))
    console.print()
    console.print("Look around:", style="bold")
    first = documents[0].number if documents else "INV-2026-00001"
    for command in (
        f"juston invoices list --db {db}",
        f"juston invoices show {first} --db {db}",
        f"juston accounts show C0000001 --db {db}",
        f"juston run --db {db} --date {start + relativedelta(months=months)} --finalize",
    ):
        console.print(f"  {command}")


def _print_sample(console: Console, store: Store, subscriptions: int) -> None:
    accounts = list(store.accounts())
    countries = sorted({a.country for a in accounts})
    businesses = sum(1 for a in accounts if a.vat_id)
    currencies = sorted({a.currency.code for a in accounts})
    console.print(
        f"{store.company().name} bills {len(accounts)} sample accounts in "
        f"{', '.join(countries)} ({businesses} with a VAT id, {len(accounts) - businesses} "
        f"without) in {', '.join(currencies)}, with {subscriptions} subscriptions."
    )


def _demo_table(results: Sequence[tuple[RunResult, Sequence[Invoice]]]) -> Table:
    first, last = results[0][0].billing_date, results[-1][0].billing_date
    table = _table(f"Invoice runs {first} to {last}, finalized")
    _fixed(table, "Billing date")
    _totals_columns(table)
    for result, documents in results:
        totals = _totals(documents)
        if not totals:
            table.add_row(result.billing_date.isoformat(), "", "0", "0", "0", "", "", "")
        for n, (code, sums) in enumerate(totals.items()):
            label = result.billing_date.isoformat() if n == 0 else ""
            table.add_row(label, *_totals_cells(code, sums))
    table.add_section()
    for n, (code, sums) in enumerate(_totals([d for _, docs in results for d in docs]).items()):
        table.add_row("All runs" if n == 0 else "", *_totals_cells(code, sums), style="bold")
    return table


def _examples(documents: Sequence[Invoice]) -> list[Invoice]:
    """A few documents that show the most: many lines, a credit, a foreign buyer."""
    picks: list[Invoice] = []
    domestic = [d for d in documents if d.buyer.country == d.seller.address.country]
    if domestic:
        picks.append(max(domestic, key=lambda d: len(d.lines)))
    credit = next((d for d in documents if d.kind is not DocumentKind.INVOICE), None)
    if credit is not None:
        picks.append(credit)
    home = documents[0].seller.address.country if documents else ""
    foreign = next(
        (d for d in documents if d.buyer.country != home and d.currency.code != "EUR"), None
    ) or next((d for d in documents if d.notices and d not in picks), None)
    if foreign is not None:
        picks.append(foreign)
    return picks


def _failures_table(failures: Iterable[AccountFailure]) -> Table:
    table = _table("Accounts not billed", title_style="bold red")
    _fixed(table, "Account")
    table.add_column("Why")
    for failure in failures:
        table.add_row(failure.account_id, Text(str(failure.error)))
    return table


def _run_json(
    result: RunResult, documents: Sequence[Invoice], *, finalized: bool
) -> dict[str, object]:
    return {
        "run_id": result.run_id,
        "billing_date": result.billing_date.isoformat(),
        "dry_run": result.dry_run,
        "finalized": finalized,
        "totals": {code: t.json() for code, t in _totals(documents).items()},
        "failures": [{"account_id": f.account_id, "error": str(f.error)} for f in result.failures],
        "documents": [_document_summary_json(d) for d in documents],
    }


def _number_ranges(documents: Sequence[Invoice]) -> str:
    ranges = []
    for kind in DocumentKind:
        numbers = [d.number for d in documents if d.kind is kind and d.number]
        if numbers:
            ranges.append(numbers[0] if len(numbers) == 1 else f"{numbers[0]} … {numbers[-1]}")
    return ", ".join(ranges)


@main.command("run")
@_db_option(DEFAULT_DB)
@click.option(
    "--date",
    "billing_date",
    callback=_iso_date,
    metavar="YYYY-MM-DD",
    required=True,
    help="Billing date of the run.",
)
@click.option("--dry-run", is_flag=True, help="Compute the documents but store nothing.")
@click.option("--finalize", "finalize_drafts", is_flag=True, help="Finalize the new drafts.")
@_json_option
@click.pass_context
def run_command(
    ctx: click.Context,
    db: Path,
    billing_date: date,
    dry_run: bool,
    finalize_drafts: bool,
    as_json: bool,
) -> None:
    """Make one invoice run on an existing database.

    Bills everything due on --date as drafts (nothing twice, however often it runs);
    --finalize numbers them at once. Exits with status 3 when some accounts could not
    be billed; they are listed with the reason. A progress bar is shown on stderr for
    runs over 1000 accounts when stderr is a terminal.
    """
    if dry_run and finalize_drafts:
        raise click.UsageError(
            "--finalize cannot be combined with --dry-run: a dry run stores nothing"
        )
    store = _open(db, must_exist=True)
    with _progress(store.count_accounts(), "Billing") as progress:
        result = invoice_run(store, billing_date, dry_run=dry_run, progress=progress)
    documents = finalize(store, result.documents) if finalize_drafts else list(result.documents)
    if as_json:
        _echo_json(_run_json(result, documents, finalized=finalize_drafts))
    else:
        _print_run(_console(), result, documents, finalized=finalize_drafts)
    if result.failures:
        ctx.exit(3)


def _print_run(
    console: Console, result: RunResult, documents: Sequence[Invoice], *, finalized: bool
) -> None:
    count = f"{len(documents)} document{'s' if len(documents) != 1 else ''}"
    head = f"Run {result.run_id} on {result.billing_date}"
    if result.dry_run:
        console.print(
            f"Dry run on {result.billing_date}: {count} would be made; nothing was stored."
        )
    elif not documents:
        console.print(f"{head}: nothing was due.")
    elif finalized:
        console.print(f"{head}: {count} finalized ({_number_ranges(documents)}).")
    else:
        console.print(f"{head}: {count} stored as drafts.")
    if documents:
        _show(console, _totals_table(documents))
    if result.failures:
        _show(console, _failures_table(result.failures))


@main.group()
def invoices() -> None:
    """List and show invoices, credits and cancellations."""


@invoices.command("list")
@_db_option(DEFAULT_DB)
@click.option(
    "--status",
    type=click.Choice([s.value for s in DocumentStatus], case_sensitive=False),
    help="Only documents with this status.",
)
@click.option("--account", "account_id", metavar="ID", help="Only documents of this account.")
@click.option("--run", "run_id", metavar="RUN_ID", help="Only documents of this invoice run.")
@click.option("--limit", type=click.IntRange(min=1), help="Show at most N documents.")
@_json_option
def invoices_list(
    db: Path,
    status: str | None,
    account_id: str | None,
    run_id: str | None,
    limit: int | None,
    as_json: bool,
) -> None:
    """List documents in the order they were made (all unless --limit)."""
    store = _open(db, must_exist=True)
    if account_id is not None:
        _account(store, account_id, db)
    found = store.documents(
        account_id=account_id,
        status=None if status is None else DocumentStatus(status.lower()),
        run_id=run_id,
    )
    documents = list(islice(found, limit))
    if as_json:
        _echo_json([_document_summary_json(d) for d in documents])
        return
    console = _console()
    if not documents:
        console.print("No documents match.")
        return
    _show(console, _documents_table(documents, wide=console.width >= _WIDE))
    sums = ", ".join(f"{t.gross:,} {code}" for code, t in _totals(documents).items())
    console.print(f"{len(documents)} documents, gross {sums}")


@invoices.command("show")
@click.argument("document", metavar="NUMBER_OR_ID")
@_db_option(DEFAULT_DB)
@click.option("--explain", is_flag=True, help="Also say how each line's amount came about.")
@_json_option
def invoices_show(document: str, db: Path, explain: bool, as_json: bool) -> None:
    """Show one document by its number (INV-2026-00001) or id."""
    store = _open(db, must_exist=True)
    found = _find_document(store, document, db)
    if as_json:
        _echo_json(_document_json(found))
        return
    _show(_console(), _render_document(found, explain=explain))


@main.group()
def accounts() -> None:
    """List and show customer accounts."""


def _account(store: Reader, account_id: str, db: Path) -> Account:
    try:
        return store.account(account_id)
    except NotFound:
        raise CliError(f"no account {account_id!r} in {db}") from None


@accounts.command("list")
@_db_option(DEFAULT_DB)
@click.option("--limit", type=click.IntRange(min=1), help="Show at most N accounts.")
@_json_option
def accounts_list(db: Path, limit: int | None, as_json: bool) -> None:
    """List accounts by id."""
    store = _open(db, must_exist=True)
    found = list(islice(store.accounts(), limit))
    if as_json:
        _echo_json([_account_json(a) for a in found])
        return
    console = _console()
    if not found:
        console.print("No accounts.")
        return
    _show(console, _accounts_table(found))
    console.print(f"{len(found)} of {store.count_accounts()} accounts")


@accounts.command("show")
@click.argument("account_id", metavar="ID")
@_db_option(DEFAULT_DB)
@_json_option
def accounts_show(account_id: str, db: Path, as_json: bool) -> None:
    """Show an account, its subscriptions with their items, and its documents."""
    store = _open(db, must_exist=True)
    account = _account(store, account_id, db)
    subscriptions = store.subscriptions(account.id)
    documents = list(store.documents(account_id=account.id))
    if as_json:
        _echo_json(
            {
                **_account_json(account),
                "subscriptions": [_subscription_json(s) for s in subscriptions],
                "documents": [_document_summary_json(d) for d in documents],
            }
        )
        return
    console = _console()
    terms = store.company().payment_terms.pattern
    console.print(
        Panel(
            _account_fields(account, terms),
            title=Text(f"Account {account.id}", style="bold"),
            title_align="left",
            expand=False,
        )
    )
    if not subscriptions:
        console.print("No subscriptions.")
    for subscription in subscriptions:
        console.print()
        _show(console, _subscription_table(subscription))
    console.print()
    if documents:
        _show(
            console,
            _documents_table(documents, wide=console.width >= _WIDE, title="Documents"),
        )
    else:
        console.print("No documents yet.")
