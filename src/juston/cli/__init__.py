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

from collections.abc import Callable, Iterable, Sequence
from datetime import date
from decimal import Decimal
from itertools import islice
from pathlib import Path
from typing import IO, Any

import click
from dateutil.relativedelta import relativedelta
from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from .. import open_store
from ..billing.run import AccountFailure, RunResult, finalize, invoice_run
from ..errors import JustonError, NotFound
from ..model.documents import Invoice
from ..model.parties import Account
from ..model.status import DocumentKind, DocumentStatus
from ..plugins import Plugins
from ..receivables.ledger import PaymentState
from ..receivables.movements import document_states
from ..receivables.payments import Registered, register_payments
from ..storage.base import Reader, Store
from ..testing.sample import populate, sample_changes, sample_payments
from ..usage.ingest import IngestResult, ingest_usage, read_usage_csv
from .json_shapes import account_json, document_json, document_summary_json, subscription_json
from .render import (
    account_fields,
    accounts_table,
    documents_table,
    echo_json,
    fixed_column,
    output_console,
    plain,
    progress_bar,
    render_document,
    show,
    styled_table,
    subscription_table,
    totals_by_currency,
    totals_cells,
    totals_columns,
    totals_table,
)

__all__ = ["main"]

DEFAULT_DB = "juston.db"
DEMO_DB = "juston-demo.db"

# From this terminal width on, document lists also show due dates and VAT.
_WIDE = 110

_SQLITE_HEADER = b"SQLite format 3\x00"


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


def _day(ctx: click.Context, param: click.Parameter, value: str | None) -> date | None:
    """:func:`_iso_date` for dates a document is about: a bad one is one line of error,
    not a usage text."""
    try:
        return _iso_date(ctx, param, value)
    except click.BadParameter as exc:
        raise CliError(f"{param.opts[0]}: {exc.message}") from None


def _write_file(target: Path, content: bytes) -> None:
    try:
        target.write_bytes(content)
    except OSError as exc:
        raise CliError(f"cannot write {target}: {exc.strerror or exc}") from exc


def _db_option(default: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option(
        "--db",
        type=click.Path(dir_okay=False, path_type=Path),
        default=default,
        show_default=True,
        help="SQLite database file.",
    )


_json_option: Callable[[Callable[..., Any]], Callable[..., Any]] = click.option(
    "--json", "as_json", is_flag=True, help="Print JSON instead of tables."
)


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
    paid = Registered(0, 0, (), ())
    with progress_bar(accounts * months, "Billing") as progress:
        for month in range(months):
            billing_date = start + relativedelta(months=month)
            result = invoice_run(store, billing_date, progress=progress)
            finals = finalize(store, result.documents)
            results.append((result, finals))
            # Customers pay what the run asked for (some late, some more, some never).
            paid = paid + register_payments(store, sample_payments(finals, seed=seed))
            if month == 1 and months > 2:
                changed_on = billing_date + relativedelta(days=14)
                changes = sample_changes(store, changed_on, cancel_every=10, change_every=6)
    subscriptions = sum(len(store.subscriptions(a.id)) for a in store.accounts())
    receivables = _receivables(store, start + relativedelta(months=months), paid)
    if as_json:
        echo_json(
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
                "receivables": receivables,
            }
        )
        return
    console = output_console()
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
    show(console, _demo_table(results))
    failures = [f for result, _ in results for f in result.failures]
    if failures:
        show(console, _failures_table(failures))
    _print_receivables(console, receivables)
    documents = [d for _, docs in results for d in docs]
    examples = _examples(documents)
    if examples:
        console.print()
        console.print(Text("Example documents", style="bold"))
        for document in examples:
            show(console, render_document(document))
    console.print()
    console.print("Look around:", style="bold")
    first = documents[0].number if documents else "INV-2026-00001"
    for command in (
        f"juston invoices list --db {db}",
        f"juston invoices show {first} --db {db}",
        f"juston accounts show C0000001 --db {db}",
        f"juston render --db {db} --invoice {first} --format html",
        f"juston payments list --db {db} --status open",
        f"juston statement --db {db} --account C0000001 --from {start} "
        f"--to {start + relativedelta(months=months, days=-1)} --format html -o statement.html",
        f"juston run --db {db} --date {start + relativedelta(months=months)} --finalize",
    ):
        console.print(f"  {command}")


def _receivables(store: Store, as_of: date, paid: Registered) -> dict[str, Any]:
    """What the demo's customers still owe on *as_of*, for the summary."""
    opens = [o for o in store.open_documents() if o.amount.amount > 0]
    overdue = sum(1 for o in opens if store.document(o.document_id).due_date < as_of)
    owed: dict[str, Decimal] = {}
    for item in opens:
        code = item.amount.currency.code
        owed[code] = owed.get(code, Decimal(0)) + item.amount.amount
    return {
        "as_of": as_of.isoformat(),
        "payments": paid.new,
        "assigned": len(paid.assigned),
        "waiting": len(paid.queued),
        "open_documents": len(opens),
        "overdue_documents": overdue,
        "open": {code: plain(amount) for code, amount in sorted(owed.items())},
    }


def _print_receivables(console: Console, receivables: dict[str, Any]) -> None:
    owed = ", ".join(f"{code} {Decimal(a):,}" for code, a in receivables["open"].items())
    console.print(
        f"Customers paid by bank transfer: {receivables['payments']} payments, "
        f"{receivables['assigned']} matched to invoices or accounts, "
        f"{receivables['waiting']} waiting. On {receivables['as_of']}, "
        f"{receivables['open_documents']} documents are open "
        f"({receivables['overdue_documents']} overdue): {owed or 'nothing'}."
    )


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
    table = styled_table(f"Invoice runs {first} to {last}, finalized")
    fixed_column(table, "Billing date")
    totals_columns(table)
    for result, documents in results:
        totals = totals_by_currency(documents)
        if not totals:
            table.add_row(result.billing_date.isoformat(), "", "0", "0", "0", "", "", "")
        for n, (code, sums) in enumerate(totals.items()):
            label = result.billing_date.isoformat() if n == 0 else ""
            table.add_row(label, *totals_cells(code, sums))
    table.add_section()
    for n, (code, sums) in enumerate(
        totals_by_currency([d for _, docs in results for d in docs]).items()
    ):
        table.add_row("All runs" if n == 0 else "", *totals_cells(code, sums), style="bold")
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
    table = styled_table("Accounts not billed", title_style="bold red")
    fixed_column(table, "Account")
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
        "totals": {code: t.json() for code, t in totals_by_currency(documents).items()},
        "failures": [{"account_id": f.account_id, "error": str(f.error)} for f in result.failures],
        "documents": [document_summary_json(d) for d in documents],
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
    with progress_bar(store.count_accounts(), "Billing") as progress:
        result = invoice_run(store, billing_date, dry_run=dry_run, progress=progress)
    documents = finalize(store, result.documents) if finalize_drafts else list(result.documents)
    if as_json:
        echo_json(_run_json(result, documents, finalized=finalize_drafts))
    else:
        _print_run(output_console(), result, documents, finalized=finalize_drafts)
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
        show(console, totals_table(documents))
    if result.failures:
        show(console, _failures_table(result.failures))


@main.group()
def invoices() -> None:
    """List and show invoices, credits and cancellations."""


def _find_document(store: Reader, key: str, db: Path) -> Invoice:
    """The document with id *key*, else the one numbered *key* (or *key* in upper case)."""
    try:
        return store.document(key)
    except NotFound:
        pass
    # Numbers are stored as issued (patterns are usually upper case); try both spellings.
    for number in dict.fromkeys((key, key.upper())):
        for document in store.documents(number=number):
            return document
    raise CliError(f"no document with number or id {key!r} in {db}")


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
    found = store.documents(account_id=account_id, run_id=run_id)
    # Paid and settled are derived from the balances, so the filter runs on the states.
    wanted = None if status is None else DocumentStatus(status.lower())
    documents: list[Invoice] = []
    states: dict[str, PaymentState] = {}
    while chunk := list(islice(found, 500)):
        chunk_states = document_states(store, chunk)
        for document in chunk:
            state = chunk_states[document.id or ""]
            if wanted is None or state.status is wanted:
                documents.append(document)
                states[document.id or ""] = state
        if limit is not None and len(documents) >= limit:
            break
    documents = documents[:limit]
    if as_json:
        echo_json([document_summary_json(d, states[d.id or ""]) for d in documents])
        return
    console = output_console()
    if not documents:
        console.print("No documents match.")
        return
    show(console, documents_table(documents, wide=console.width >= _WIDE, states=states))
    sums = ", ".join(f"{t.gross:,} {code}" for code, t in totals_by_currency(documents).items())
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
    state = document_states(store, [found])[found.id or ""]
    if as_json:
        echo_json(document_json(found, state))
        return
    show(output_console(), render_document(found, explain=explain, state=state))


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
        echo_json([account_json(a) for a in found])
        return
    console = output_console()
    if not found:
        console.print("No accounts.")
        return
    show(console, accounts_table(found))
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
        echo_json(
            {
                **account_json(account),
                "subscriptions": [subscription_json(s) for s in subscriptions],
                "documents": [document_summary_json(d) for d in documents],
            }
        )
        return
    console = output_console()
    terms = store.company().payment_terms.pattern
    console.print(
        Panel(
            account_fields(account, terms),
            title=Text(f"Account {account.id}", style="bold"),
            title_align="left",
            expand=False,
        )
    )
    if not subscriptions:
        console.print("No subscriptions.")
    for subscription in subscriptions:
        console.print()
        show(console, subscription_table(subscription))
    console.print()
    if documents:
        show(
            console,
            documents_table(documents, wide=console.width >= _WIDE, title="Documents"),
        )
    else:
        console.print("No documents yet.")


@main.group()
def usage() -> None:
    """Usage records."""


def _columns(ctx: click.Context, param: click.Parameter, values: Sequence[str]) -> dict[str, str]:
    columns = {}
    for value in values:
        field, sep, column = value.partition("=")
        if not sep or not field or not column:
            raise click.BadParameter(f"{value!r} is not FIELD=COLUMN", ctx=ctx, param=param)
        columns[field] = column
    return columns


@usage.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_db_option(DEFAULT_DB)
@click.option(
    "--column",
    "columns",
    multiple=True,
    callback=_columns,
    metavar="FIELD=COLUMN",
    help="The file's column for a record field (id, item, timestamp, quantity, unit_price, "
    "currency, criterion, invoice_criterion), where the names differ. Repeatable.",
)
@click.option(
    "--property", "properties", multiple=True, metavar="COLUMN", help="A property column."
)
@click.option("--currency", metavar="CODE", help="Currency of unit prices (no currency column).")
@click.option("--delimiter", default=",", show_default=True, help="The column separator.")
@_json_option
@click.pass_context
def usage_import(
    ctx: click.Context,
    file: Path,
    db: Path,
    columns: dict[str, str],
    properties: tuple[str, ...],
    currency: str | None,
    delimiter: str,
    as_json: bool,
) -> None:
    """Import usage records from a CSV file.

    Records already stored (by id) are counted as duplicates, so importing the same file
    again adds nothing. Rejected rows are listed with the reason (row 1 is the first row
    after the header); the others are stored. Exits with status 3 when rows were rejected.
    """
    store = _open(db, must_exist=True)
    rows = read_usage_csv(
        file, columns=columns, properties=properties, currency=currency, delimiter=delimiter
    )
    result = ingest_usage(store, rows)
    if as_json:
        echo_json(_ingest_json(result))
    else:
        _print_ingest(output_console(), file, result)
    if result.rejected:
        ctx.exit(3)


def _ingest_json(result: IngestResult) -> dict[str, object]:
    return {
        "new": result.new,
        "duplicates": result.duplicates,
        "rejected": [
            {
                "row": r.position + 1,
                "id": r.record_id,
                "field": r.field,
                "value": None if r.value is None else str(r.value),
                "reason": r.reason,
            }
            for r in result.rejected
        ],
    }


def _print_ingest(console: Console, file: Path, result: IngestResult) -> None:
    console.print(
        f"{file.name}: {result.new} new, {result.duplicates} duplicates, "
        f"{len(result.rejected)} rejected."
    )
    if result.rejected:
        table = Table(title="Rejected rows", title_justify="left")
        for name in ("Row", "Id", "Field", "Value", "Reason"):
            table.add_column(name)
        for r in result.rejected[:50]:
            table.add_row(str(r.position + 1), r.record_id or "", r.field, repr(r.value), r.reason)
        show(console, table)
        if len(result.rejected) > 50:
            console.print(f"… and {len(result.rejected) - 50} more (--json lists all).")


# --- render ------------------------------------------------------------------------------------

FORMATS = ("html", "pdf", "cii", "ubl", "xrechnung-cii", "xrechnung-ubl", "peppol", "facturx")


def _file_name(document: Invoice, suffix: str) -> str:
    # Drafts have no number yet; their files say so (as JustOn's do).
    name = document.number or f"DRAFT_{document.id}"
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) + suffix


@main.command("render")
@_db_option(DEFAULT_DB)
@click.option("--invoice", "key", metavar="NUMBER_OR_ID", help="The document to render.")
@click.option("--run", "run_id", metavar="RUN_ID", help="Render every document of this run.")
@click.option(
    "--format",
    "format_name",
    default="pdf",
    show_default=True,
    metavar="|".join(FORMATS),
    help="What to make; plugins may add formats.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    help="The file to write (one document; '-' for stdout) or the directory (a run). "
    "Default: the document number and the format's suffix, in the current directory.",
)
@click.pass_context
def render_command(
    ctx: click.Context,
    db: Path,
    key: str | None,
    run_id: str | None,
    format_name: str,
    output: Path | None,
) -> None:
    """Render a document, or every document of a run, as HTML, PDF or an e-invoice.

    E-invoices are checked against the EN 16931 rules (and XRechnung's or Peppol's) first;
    a document that breaks one is not written and the rule is named. A run's documents
    are written one file each; those that fail are listed, and the exit status is 3.
    """
    if (key is None) == (run_id is None):
        raise click.UsageError("give either --invoice NUMBER_OR_ID or --run RUN_ID")
    store = _open(db, must_exist=True)
    renderer = Plugins.load().renderer(format_name)
    if key is not None:
        document = _find_document(store, key, db)
        content = renderer.render(document)
        if output is not None and str(output) == "-":
            click.echo(content, nl=False)
            return
        target = output or Path(_file_name(document, renderer.suffix))
        target.write_bytes(content)
        output_console().print(
            f"{document.number or document.id}: {target} ({len(content):,} bytes)"
        )
        return
    documents = list(store.documents(run_id=run_id))
    if not documents:
        raise CliError(f"no documents of run {run_id!r} in {db}")
    directory = output or Path()
    if not directory.is_dir():
        raise CliError(f"{directory} is not a directory; a run is written one file per document")
    failed: list[tuple[Invoice, JustonError]] = []
    written = 0
    try:
        contents = list(renderer.render_many(documents))
        rendered = list(zip(documents, contents, strict=True))
    except JustonError:
        # One document broke a rule: render one by one to find which.
        rendered = []
        for document in documents:
            try:
                rendered.append((document, renderer.render(document)))
            except JustonError as exc:
                failed.append((document, exc))
    for document, content in rendered:
        (directory / _file_name(document, renderer.suffix)).write_bytes(content)
        written += 1
    console = output_console()
    console.print(f"Run {run_id}: {written} {format_name} files written to {directory}.")
    if failed:
        table = Table(title="Not rendered", title_justify="left")
        table.add_column("Document")
        table.add_column("Reason")
        for document, error in failed:
            table.add_row(document.number or document.id or "", str(error))
        show(console, table)
        ctx.exit(3)


# Commands in modules of their own use the helpers above, so they are imported last.
from .dunning import dunning  # noqa: E402
from .payments import payments  # noqa: E402
from .statement import statement_command  # noqa: E402

main.add_command(statement_command)
main.add_command(payments)
main.add_command(dunning)
