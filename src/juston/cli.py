"""The ``juston`` command.

``juston demo`` bills generated sample accounts month by month in the memory store,
finalizes the drafts and prints the documents. Dates are arguments (``--start``), so
the output is the same on every machine and every day.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import date

from dateutil.relativedelta import relativedelta

from .billing.run import finalize, invoice_run
from .errors import JustonError
from .model.documents import Invoice
from .testing.sample import sample_changes, sample_store


def _print_document(document: Invoice) -> None:
    period = document.service_period
    print(
        f"{document.number or '(draft)':<16} {document.kind.value:<12} {document.buyer.id} "
        f"{document.buyer.name:<22} {document.invoice_date} due {document.due_date} "
        f"period {period}  net {document.net_total.amount:>10} tax {document.tax_total.amount:>8} "
        f"total {document.total.amount:>10} {document.currency.code}"
    )
    for line in document.lines:
        factor = "" if line.billing_factor == 1 else f" × {line.billing_factor.normalize():f}"
        amount = f"{line.quantity.normalize():f} × {line.unit_price.amount}{factor}"
        print(f"    {line.description:<34} {line.period!s:<24} {amount:>22} = {line.net.amount:>9}")
        print(f"        {line.explanation}")


def _demo(args: argparse.Namespace) -> int:
    start = date.fromisoformat(args.start)
    store = sample_store(accounts=args.accounts, start=start)
    for month in range(args.months):
        billing_date = start + relativedelta(months=month)
        result = invoice_run(store, billing_date)
        documents = finalize(store, result.documents)
        print(f"\n== Invoice run {billing_date}: {result}")
        for failure in result.failures:
            print(f"   failed: {failure}")
        for document in documents[: args.show]:
            _print_document(document)
        if len(documents) > args.show:
            print(f"   … and {len(documents) - args.show} more")
        if month == 1 and args.months > 2:
            changes = sample_changes(store, billing_date + relativedelta(days=14))
            print(f"\n== After this run, customers changed {len(changes)} things:")
            for change in changes[: args.show]:
                print(f"   {change}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="juston", description="Subscription billing and invoicing."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="bill generated sample accounts in the memory store")
    demo.add_argument(
        "--accounts", type=int, default=5, help="number of sample accounts (default 5)"
    )
    demo.add_argument("--months", type=int, default=3, help="monthly runs to make (default 3)")
    demo.add_argument(
        "--start", default="2026-01-01", help="first billing date (default 2026-01-01)"
    )
    demo.add_argument(
        "--show", type=int, default=10, help="documents to print per run (default 10)"
    )
    args = parser.parse_args(argv)
    try:
        return _demo(args)
    except (JustonError, ValueError) as exc:
        print(f"juston: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
