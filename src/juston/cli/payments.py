"""``juston payments``: import bank files, retry the queue, list payment entries.

The group is registered on the ``juston`` command by :mod:`juston.cli` and uses its
helpers (the ``--db`` option, opening the store, one-line errors).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import cast

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..model.receivables import EntryStatus, PaymentEntry
from ..receivables.bankfiles import CsvColumns, CsvFormat, Format, import_bank_file
from ..receivables.payments import Registered, match_payments
from ..storage.base import Reader
from . import DEFAULT_DB, _account, _columns, _db_option, _iso_date, _json_option, _open
from .render import amount_text, echo_json, fixed_column, output_console, plain, show, styled_table

__all__ = ["payments"]


@click.group()
def payments() -> None:
    """Payment entries: import bank files, match the queue, list entries."""


@payments.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_db_option(DEFAULT_DB)
@click.option(
    "--date",
    "on",
    callback=_iso_date,
    metavar="YYYY-MM-DD",
    required=True,
    help="The import date recorded for the file.",
)
@click.option(
    "--format",
    "file_format",
    type=click.Choice(["auto", "csv", "camt"]),
    default="auto",
    show_default=True,
    help="The file's format; auto reads XML as camt.053/.054, anything else as CSV.",
)
@click.option(
    "--columns",
    multiple=True,
    callback=_columns,
    metavar="FIELD=COLUMN",
    help="CSV: the file's column for an entry field (booking_date, amount, credit, debit, "
    "currency, id, reference, payer_name, payer_iban, value_date, mandate_reference, "
    "end_to_end_id, method), where the names differ. Repeatable.",
)
@click.option("--currency", metavar="CODE", help="CSV: the currency, if no column has it.")
@click.option("--delimiter", help="CSV: the column separator (default: guessed from the header).")
@click.option("--decimal-comma", is_flag=True, help="CSV: amounts are written 1.234,56.")
@click.option(
    "--date-format",
    metavar="FORMAT",
    help="CSV: a strptime format such as %d/%m/%Y (default: YYYY-MM-DD or DD.MM.YYYY).",
)
@click.option("--encoding", default="utf-8-sig", show_default=True, help="CSV: the encoding.")
@click.option("--no-assign", is_flag=True, help="Only register the entries; match them later.")
@_json_option
def payments_import(
    file: Path,
    db: Path,
    on: date,
    file_format: str,
    columns: dict[str, str],
    currency: str | None,
    delimiter: str | None,
    decimal_comma: bool,
    date_format: str | None,
    encoding: str,
    no_assign: bool,
    as_json: bool,
) -> None:
    """Import the payment entries of a bank file (CSV, camt.053 or camt.054).

    Entries are matched to open documents and accounts and assigned (unless --no-assign);
    what matches nothing waits in the queue with the reason. A file already imported (by
    name or content) is refused, and a file with a bad row or entry stores nothing.
    """
    store = _open(db, must_exist=True)
    csv_format = CsvFormat(
        columns=CsvColumns.of(columns),
        currency=currency,
        delimiter=delimiter,
        decimal_comma=decimal_comma,
        date_format=date_format,
        encoding=encoding,
    )
    result = import_bank_file(
        store,
        file,
        on=on,
        format=cast(Format, file_format),  # click.Choice checked it
        csv_format=csv_format,
        assign=not no_assign,
    )
    _report(store, result, f"{file.name}: {result}.", as_json, {"file": file.name})


@payments.command("match")
@_db_option(DEFAULT_DB)
@_json_option
def payments_match(db: Path, as_json: bool) -> None:
    """Try the waiting entries again (after new invoices, accounts or mandates)."""
    store = _open(db, must_exist=True)
    result = match_payments(store)
    head = f"{len(result.assigned)} assigned, {len(result.queued)} still waiting."
    _report(store, result, head, as_json, {})


@payments.command("list")
@_db_option(DEFAULT_DB)
@click.option(
    "--status",
    type=click.Choice([s.value for s in EntryStatus], case_sensitive=False),
    help="Only entries with this status.",
)
@click.option("--account", "account_id", metavar="ID", help="Only entries assigned to it.")
@_json_option
def payments_list(db: Path, status: str | None, account_id: str | None, as_json: bool) -> None:
    """List payment entries by booking date."""
    store = _open(db, must_exist=True)
    if account_id is not None:
        _account(store, account_id, db)
    wanted = None if status is None else EntryStatus(status.lower())
    entries = list(store.payment_entries(status=wanted, account_id=account_id))
    if as_json:
        echo_json([entry_json(store, e) for e in entries])
        return
    console = output_console()
    if not entries:
        console.print("No payment entries match.")
        return
    show(console, entries_table(store, entries, width=console.width))
    console.print(f"{len(entries)} entries")


def _report(
    store: Reader, result: Registered, head: str, as_json: bool, extra: dict[str, object]
) -> None:
    if as_json:
        echo_json(
            {
                **extra,
                "new": result.new,
                "duplicate": result.duplicate,
                "assigned": [entry_json(store, e) for e in result.assigned],
                "waiting": [entry_json(store, e) for e in result.queued],
            }
        )
        return
    console = output_console()
    console.print(head)
    _section(console, store, result.assigned, "Assigned")
    _section(console, store, result.queued, "Waiting")


def _section(console: Console, store: Reader, entries: Sequence[PaymentEntry], title: str) -> None:
    if entries:
        console.print()
        # The title says the status; assigned entries need no reason, waiting ones no account.
        columns = _ASSIGNED if title == "Assigned" else _WAITING
        show(
            console,
            entries_table(store, entries, width=console.width, title=title, columns=columns),
        )


def _numbers(store: Reader, entry: PaymentEntry) -> list[str]:
    """The numbers of the documents an entry paid (ids of documents without one)."""
    return [store.document(d).number or d for d in entry.document_ids]


_COLUMNS = (
    "Id", "Date", "Amount", "Cur", "Payer", "Reference", "Status", "Account", "Documents", "Reason"
)  # fmt: skip
_ASSIGNED = ("Id", "Date", "Amount", "Cur", "Payer", "Reference", "Account", "Documents")
_WAITING = ("Id", "Date", "Amount", "Cur", "Payer", "Reference", "Reason")
_FIXED = {"Id", "Date", "Amount", "Cur", "Account"}
# What separates two columns of a styled table.
_GAP = 2


def _text_widths(
    columns: Sequence[str], rows: Sequence[dict[str, str]], width: int
) -> dict[str, int]:
    """Widths for the wrapping columns that fill *width*: each at least its longest word,
    at most its longest text, the room left shared out evenly. Fixed widths, because
    rich squeezes wrapping columns below their longest word (cutting it) when a table is
    wider than the console; a table that cannot fit is made wider instead (``show``)."""
    longest = {n: max([len(n), *(len(row[n]) for row in rows)]) for n in columns}
    wrapping = [n for n in columns if n not in _FIXED]
    widths = {n: max([len(n), *(len(w) for row in rows for w in row[n].split())]) for n in wrapping}
    fixed = sum(longest[n] for n in columns if n in _FIXED) + _GAP * (len(columns) - 1)
    room = width - fixed - sum(widths.values())
    while room > 0 and any(widths[n] < longest[n] for n in wrapping):
        for name in wrapping:
            if room > 0 and widths[name] < longest[name]:
                widths[name] += 1
                room -= 1
    return widths


def entries_table(
    store: Reader,
    entries: Sequence[PaymentEntry],
    *,
    width: int,
    title: str | None = None,
    columns: Sequence[str] = _COLUMNS,
) -> Table:
    """One row per entry: what came in, from whom, and where it went or why it waits;
    as wide as *width* (the console's) where the texts need it."""
    rows = [_cells(store, e) for e in entries]
    widths = _text_widths(columns, [{n: str(row[n]) for n in columns} for row in rows], width)
    table = styled_table(title)
    for name in columns:
        if name in _FIXED:
            fixed_column(table, name, right=name == "Amount")
        else:
            table.add_column(name, width=widths[name])
    for row in rows:
        table.add_row(*(row[name] for name in columns))
    return table


def _cells(store: Reader, e: PaymentEntry) -> dict[str, str | Text]:
    return {
        "Id": e.id,
        "Date": e.booking_date.isoformat(),
        "Amount": amount_text(e.amount.amount),
        "Cur": e.amount.currency.code,
        "Payer": Text(e.payer_name or ""),
        "Reference": Text(e.reference),
        "Status": e.status.value,
        "Account": e.account_id or "",
        "Documents": ", ".join(_numbers(store, e)),
        "Reason": Text(e.reason or ""),
    }


def entry_json(store: Reader, entry: PaymentEntry) -> dict[str, object]:
    """A payment entry as ``--json`` prints it (amounts as exact decimal strings)."""
    foreign = entry.foreign_amount
    return {
        "id": entry.id,
        "booking_date": entry.booking_date.isoformat(),
        "value_date": None if entry.value_date is None else entry.value_date.isoformat(),
        "amount": plain(entry.amount.amount),
        "currency": entry.amount.currency.code,
        "foreign_amount": None if foreign is None else plain(foreign.amount),
        "foreign_currency": None if foreign is None else foreign.currency.code,
        "payer_name": entry.payer_name,
        "payer_iban": entry.payer_iban,
        "reference": entry.reference,
        "method": entry.method,
        "mandate_reference": entry.mandate_reference,
        "end_to_end_id": entry.end_to_end_id,
        "return_reason": entry.return_reason,
        "source": entry.source,
        "status": entry.status.value,
        "reason": entry.reason,
        "account_id": entry.account_id,
        "document_ids": list(entry.document_ids),
        "document_numbers": _numbers(store, entry),
    }
