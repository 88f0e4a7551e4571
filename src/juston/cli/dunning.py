"""``juston dunning``: dunning runs with their notices, the dunnings made, cancelling one.

The group is registered on the ``juston`` command by :mod:`juston.cli` and uses its
helpers (the ``--db`` option, opening the store, dates, one-line errors). Dates are always
arguments: nothing here reads the clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import NamedTuple

import attrs
import click
from rich.text import Text

from ..dunning import DunningConfig, cancel_dunning, dunning_run, finalize_dunnings
from ..errors import NotFound
from ..model.dunning import Dunning, DunningStatus
from ..render.dunning import FORMATS, render_dunning
from ..storage.base import Reader
from . import DEFAULT_DB, CliError, _day, _db_option, _json_option, _open, _write_file
from .render import amount_text, echo_json, fixed_column, output_console, plain, show, styled_table

__all__ = ["dunning"]

#: What the Notice column says of a closed dunning whose level is not sent.
NOT_SENT = "not sent"
# The tables list this many dunnings; --json lists them all.
_SHOWN = 50


class _Row(NamedTuple):
    """What the tables and the JSON say of one dunning."""

    id: str
    number: str | None
    status: str
    date: str
    account: str
    currency: str
    level: int
    invoices: tuple[str, ...]
    overdue: Decimal
    fee: Decimal
    interest: Decimal
    total: Decimal
    #: The notice written (a path), NOT_SENT, or None (none written).
    notice: str | None = None

    @classmethod
    def of(cls, made: Dunning, notice: str | None = None) -> _Row:
        return cls(
            made.id or "",
            made.number,
            made.status.value,
            made.dunning_date.isoformat(),
            made.account_id,
            made.currency.code,
            made.level,
            tuple(d.number for d in made.details),
            made.overdue.amount,
            (made.fee + made.flat_fees).amount,
            made.interest.amount,
            made.total.amount,
            notice,
        )

    def json(self) -> dict[str, object]:
        amounts = {"overdue", "fee", "interest", "total"}
        return {
            k: plain(v) if k in amounts else list(v) if k == "invoices" else v
            for k, v in self._asdict().items()
        }


def _print(headline: str, rows: Sequence[_Row], *, dated: bool, notices: bool) -> None:
    console = output_console()
    console.print(headline)
    if not rows:
        return
    table = styled_table()
    for header in ("Id", "Date", "Account", "Cur") if dated else ("Id", "Account", "Cur"):
        fixed_column(table, header)
    for header in ("Level", "Invoices", "Overdue", "Fee", "Interest", "Total"):
        fixed_column(table, header, right=True)
    for header in ("Number", "Status"):
        fixed_column(table, header)
    if notices:
        table.add_column("Notice", overflow="fold")
    for row in rows[:_SHOWN]:
        cells: list[str | Text] = [row.id, row.date] if dated else [row.id]
        cells += [row.account, row.currency, str(row.level), str(len(row.invoices))]
        cells += [amount_text(v) for v in (row.overdue, row.fee, row.interest, row.total)]
        cells += [row.number or "", row.status]
        if notices:
            cells.append(Text(_notice_name(row.notice)))
        table.add_row(*cells)
    show(console, table)
    if len(rows) > _SHOWN:
        console.print(f"… and {len(rows) - _SHOWN} more (--json lists all).")


def _notice_name(notice: str | None) -> str:
    if notice is None or notice == NOT_SENT:
        return notice or ""
    return Path(notice).name


def _write(directory: Path, made: Dunning, format_name: str) -> str:
    if made.do_not_send:
        return NOT_SENT
    target = directory / f"{made.number}{FORMATS[format_name]}"
    _write_file(target, render_dunning(made, format_name))
    return str(target)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


@click.group("dunning")
def dunning() -> None:
    """Dunning: runs that remind and dun overdue invoices, their notices, cancelling."""


@dunning.command("run")
@_db_option(DEFAULT_DB)
@click.option(
    "--date", "on", callback=_day, metavar="YYYY-MM-DD", required=True, help="Date of the run."
)
@click.option(
    "--minimum",
    metavar="AMOUNT",
    default="0",
    show_default=True,
    help="Dun no account whose overdue amount, less its credits, is below this.",
)
@click.option("--finalize", "close", is_flag=True, help="Close the drafts: number and book them.")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    help="With --finalize: the directory to write a notice per closed dunning into "
    "(<number> and the format's suffix).",
)
@click.option(
    "--format",
    "format_name",
    type=click.Choice(list(FORMATS)),
    default="pdf",
    show_default=True,
    help="The notices' format (with -o).",
)
@_json_option
def dunning_run_command(
    db: Path,
    on: date,
    minimum: str,
    close: bool,
    output: Path | None,
    format_name: str,
    as_json: bool,
) -> None:
    """Make or refresh the draft dunning of every account with invoices overdue on --date
    (JustOn's default ladder: a reminder after 30 days, a 1st notice after 60 with a fee of
    5.00, a 2nd notice after 90 with 10.00). Running again on the same day changes nothing.

    --finalize closes the drafts: numbers them (DUN-<year>-<n>) and books their fees and
    interest on the invoices; with -o DIR each closed dunning's notice is written there,
    unless its level is not sent.
    """
    if output is not None and not close:
        raise CliError("-o needs --finalize: only closed dunnings have notices")
    if output is not None and not output.is_dir():
        raise CliError(f"{output} is not a directory; notices are written one file each")
    store = _open(db, must_exist=True)
    config = attrs.evolve(DunningConfig.default(), minimum=minimum)
    result = dunning_run(store, on, config)
    drafts = sorted(result.drafts, key=lambda d: d.account_id)
    made = finalize_dunnings(store, drafts, config) if close else drafts
    rows = [_Row.of(d, None if output is None else _write(output, d, format_name)) for d in made]
    if as_json:
        echo_json(
            {
                "date": on.isoformat(),
                "created": len(result.created),
                "refreshed": len(result.refreshed),
                "unchanged": len(result.unchanged),
                "removed": list(result.removed),
                "finalized": close,
                "dunnings": [r.json() for r in rows],
            }
        )
        return
    headline = f"Dunning run on {on}: {result}."
    if not made:
        headline += "\nNothing closed." if close else "\nNothing new to dun."
    elif close:
        numbers = [d.number or "" for d in made]
        span = numbers[0] if len(numbers) == 1 else f"{numbers[0]} … {numbers[-1]}"
        headline += f"\n{_plural(len(made), 'dunning')} closed ({span})"
        if output is not None:
            skipped = sum(1 for r in rows if r.notice == NOT_SENT)
            headline += f"; {_plural(len(rows) - skipped, 'notice')} written to {output}"
            headline += f", {skipped} not sent" if skipped else ""
        headline += "."
    else:
        headline += f"\n{_plural(len(made), 'draft')}; --finalize closes them."
    _print(headline, rows, dated=False, notices=output is not None)


@dunning.command("list")
@_db_option(DEFAULT_DB)
@click.option(
    "--status",
    type=click.Choice([s.value for s in DunningStatus], case_sensitive=False),
    help="Only dunnings with this status.",
)
@_json_option
def dunning_list(db: Path, status: str | None, as_json: bool) -> None:
    """List dunnings in the order they were made."""
    store = _open(db, must_exist=True)
    wanted = None if status is None else DunningStatus(status.lower())
    rows = [_Row.of(d) for d in store.dunnings(status=wanted)]
    if as_json:
        echo_json([r.json() for r in rows])
        return
    headline = _plural(len(rows), "dunning") if rows else "No dunnings match."
    _print(headline, rows, dated=True, notices=False)


def _find(store: Reader, key: str, db: Path) -> Dunning:
    """The dunning with id *key*, else the one numbered *key* (or *key* in upper case)."""
    try:
        return store.dunning(key)
    except NotFound:
        pass
    for made in store.dunnings():
        if made.number in (key, key.upper()):
            return made
    raise CliError(f"no dunning with number or id {key!r} in {db}")


@dunning.command("cancel")
@click.argument("key", metavar="NUMBER_OR_ID")
@_db_option(DEFAULT_DB)
@click.option(
    "--date",
    "on",
    callback=_day,
    metavar="YYYY-MM-DD",
    required=True,
    help="Date the fee and interest are reversed on.",
)
@_json_option
def dunning_cancel(key: str, db: Path, on: date, as_json: bool) -> None:
    """Cancel a dunning: a draft is deleted; a closed one has its fee and interest reversed
    on --date, and its invoices fall back to the levels they had without it."""
    store = _open(db, must_exist=True)
    found = _find(store, key, db)
    cancelled = cancel_dunning(store, found, on=on)
    name = found.number or found.id
    if as_json:
        echo_json({"id": found.id, "number": found.number, "deleted": cancelled is None})
        return
    if cancelled is None:
        output_console().print(f"Draft {name} of {found.account_id} deleted.")
        return
    charged = found.fee + found.flat_fees + found.interest
    done = f"Dunning {name} of {found.account_id} cancelled on {on}"
    if charged.amount:
        done += f"; {plain(charged.amount)} {found.currency.code} of fees and interest reversed."
    else:
        done += " (it booked no fees or interest)."
    output_console().print(done)
