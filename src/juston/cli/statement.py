"""``juston statement``: account statements as HTML or PDF files, one account or a run.

The command uses the helpers of :mod:`juston.cli` (opening the database, dates, errors);
it is registered there after they are defined.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import NamedTuple

import click
from rich.text import Text

from ..receivables.statements import Statement, statement, statement_run
from ..render.statement import FORMATS, render_statement
from . import DEFAULT_DB, CliError, _account, _day, _db_option, _open, _write_file
from .render import (
    amount_text,
    echo_json,
    fixed_column,
    output_console,
    plain,
    progress_bar,
    show,
    styled_table,
)

__all__ = ["statement_command"]

# A run's summary table lists this many accounts; --json lists them all.
_SHOWN = 50


class _Row(NamedTuple):
    """What the summary says of one statement (the statement itself is not kept)."""

    account: str
    currency: str
    opening: Decimal
    movements: int
    closing: Decimal
    open_items: int
    overdue: Decimal
    file: str

    @classmethod
    def of(cls, made: Statement, file: Path) -> _Row:
        overdue = made.open_total - made.ageing.current
        return cls(
            made.account.id,
            made.currency.code,
            made.opening_balance.amount,
            len(made.movements),
            made.closing_balance.amount,
            len(made.open_items),
            overdue.amount,
            str(file),
        )

    def json(self) -> dict[str, object]:
        amounts = {"opening", "closing", "overdue"}
        return {k: plain(v) if k in amounts else v for k, v in self._asdict().items()}


def _file_name(made: Statement, suffix: str) -> str:
    name = f"statement-{made.account.id}-{made.start}-{made.end}"
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) + suffix


def _print(rows: Sequence[_Row], headline: str) -> None:
    console = output_console()
    console.print(headline)
    if not rows:
        return
    table = styled_table()
    for header in ("Account", "Cur"):
        fixed_column(table, header)
    for header in ("Opening", "Movements", "Closing", "Open items", "Overdue"):
        fixed_column(table, header, right=True)
    # File names are long and never cut: they fold onto a second line instead.
    table.add_column("File", overflow="fold")
    for row in rows[:_SHOWN]:
        table.add_row(
            row.account,
            row.currency,
            amount_text(row.opening),
            str(row.movements),
            amount_text(row.closing),
            str(row.open_items),
            amount_text(row.overdue),
            Text(Path(row.file).name),
        )
    show(console, table)
    if len(rows) > _SHOWN:
        console.print(f"… and {len(rows) - _SHOWN} more (--json lists all).")


@click.command("statement")
@_db_option(DEFAULT_DB)
@click.option("--account", "account_id", metavar="ID", help="The account to make a statement of.")
@click.option(
    "--all", "every", is_flag=True, help="Every account with balances dated in the period."
)
@click.option(
    "--from", "start", callback=_day, metavar="YYYY-MM-DD", required=True, help="First day."
)
@click.option(
    "--to", "end", callback=_day, metavar="YYYY-MM-DD", required=True, help="Last day (included)."
)
@click.option(
    "--date",
    "on",
    callback=_day,
    metavar="YYYY-MM-DD",
    help="Date of the statement [default: --to].",
)
@click.option(
    "--format", "format_name", type=click.Choice(list(FORMATS)), default="pdf", show_default=True
)
@click.option(
    "--language", type=click.Choice(["de", "en"]), help="Language [default: the account's]."
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    help="The file to write (one account; '-' for stdout) or the directory (--all). "
    "Default: statement-<account>-<from>-<to> and the format's suffix, in the current directory.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
def statement_command(
    db: Path,
    account_id: str | None,
    every: bool,
    start: date,
    end: date,
    on: date | None,
    format_name: str,
    language: str | None,
    output: Path | None,
    as_json: bool,
) -> None:
    """Write account statements: opening balance, the movements from --from to --to with
    the running balance, the closing balance, open items and their ageing.

    With --account one statement is written to -o FILE; with --all one file per account
    with balances dated in the period is written into the directory -o DIR.
    """
    if (account_id is None) == (not every):
        raise click.UsageError("give either --account ID or --all")
    store = _open(db, must_exist=True)
    suffix = FORMATS[format_name]
    if account_id is not None:
        _account(store, account_id, db)
        made = statement(store, account_id, start=start, end=end, on=on)
        content = render_statement(made, format_name, language=language)
        if output is not None and str(output) == "-":
            click.echo(content, nl=False)
            return
        target = output or Path(_file_name(made, suffix))
        if target.is_dir():
            target = target / _file_name(made, suffix)
        _write_file(target, content)
        rows = [_Row.of(made, target)]
        headline = f"{made.account.id}: {target} ({len(content):,} bytes)"
    else:
        directory = output or Path()
        if not directory.is_dir():
            raise CliError(f"{directory} is not a directory; --all writes one file per account")
        rows = []
        with progress_bar(store.count_accounts(), "Statements") as progress:
            for made in statement_run(store, start=start, end=end, on=on, progress=progress):
                target = directory / _file_name(made, suffix)
                _write_file(target, render_statement(made, format_name, language=language))
                rows.append(_Row.of(made, target))
        count = f"{len(rows)} statement{'s' if len(rows) != 1 else ''}"
        headline = f"{count} for {start} to {end} written to {directory}."
        if not rows:
            headline = f"No account has balances dated from {start} to {end}; nothing written."
    if as_json:
        echo_json(
            {
                "from": start.isoformat(),
                "to": end.isoformat(),
                "statements": [r.json() for r in rows],
            }
        )
        return
    _print(rows, headline)
