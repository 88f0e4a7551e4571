"""Benchmark: one invoice run over N generated subscriptions in the memory store.

Each of the N accounts has one subscription of three items of mixed price models (Flat,
PerUnit, Graduated, Volume, Package, one-time), from :func:`juston.testing.sample_accounts`.
The store is built before the clock starts; the timed section is exactly one
:func:`juston.invoice_run` (drafts stored, default tax table, default batch size).

The default billing date, 2026-02-01 for data starting 2026-01-01, makes every subscription
due: calendar-aligned ones (starting 1 January) owe January and February, anniversary-aligned
ones (starting on a day from 1 to 28 January) owe the period that began on that day. The
script checks that the run made exactly one document per subscription and no failures, and
exits with status 1 otherwise, since the rate would then not mean what it says.

The process is pinned to one CPU and runs single-process. The last two lines are::

    invoices_per_second: <value> 1/s
    peak_rss_mb: <value> MB

Project goal: at least 50,000 invoices/s on one core; below 20,000 is a defect.

    python benchmarks/invoice_run.py                      # N = 100,000
    python benchmarks/invoice_run.py --subscriptions 10000
    python benchmarks/invoice_run.py --subscriptions 20000 --cprofile run.prof
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from datetime import date

from _common import add_run_options, announce, peak_rss_mb

from juston.billing.run import invoice_run
from juston.testing import sample_store

GOAL = 50_000
DEFECT = 20_000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--subscriptions",
        type=int,
        default=100_000,
        metavar="N",
        help="number of accounts, one subscription each (default 100000)",
    )
    parser.add_argument(
        "--billing-date",
        type=date.fromisoformat,
        default=date(2026, 2, 1),
        help="billing date of the run (default 2026-02-01)",
    )
    parser.add_argument(
        "--start",
        type=date.fromisoformat,
        default=date(2026, 1, 1),
        help="start date passed to sample_accounts (default 2026-01-01)",
    )
    add_run_options(parser)
    args = parser.parse_args(argv)
    if args.subscriptions < 1:
        parser.error("--subscriptions must be at least 1")

    announce(args)

    n = args.subscriptions
    t0 = time.perf_counter()
    store = sample_store(n, seed=args.seed, start=args.start)
    build_seconds = time.perf_counter() - t0
    subscriptions = sum(len(store.subscriptions(a.id)) for a in store.accounts())
    print(
        f"subscriptions: {subscriptions} (3 items each), data start {args.start}, seed {args.seed}"
    )
    print(f"store build: {build_seconds:.2f} s (not timed)")

    gc.collect()
    profiler = None
    if args.cprofile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    t0 = time.perf_counter()
    result = invoice_run(store, args.billing_date)
    elapsed = time.perf_counter() - t0
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(args.cprofile)

    documents = len(result.documents)
    lines = sum(len(d.lines) for d in result.documents)
    stored = sum(1 for _ in store.documents())
    print(f"billing date: {args.billing_date}")
    print(
        f"documents: {documents} (stored {stored}), lines: {lines} "
        f"({lines / max(documents, 1):.2f} per document), failures: {len(result.failures)}"
    )
    print(
        f"invoice run: {elapsed:.3f} s, {lines / elapsed:,.0f} lines/s, "
        f"{elapsed / max(documents, 1) * 1e6:.1f} µs per document"
    )
    if args.cprofile:
        print(f"cProfile stats written to {args.cprofile} (rate below includes profiler overhead)")

    ok = documents == subscriptions == n and stored == n and not result.failures
    if not ok:
        print(
            f"ERROR: expected exactly {n} documents and no failures; "
            "adjust --billing-date/--start so every subscription is due",
            file=sys.stderr,
        )
    rate = documents / elapsed
    verdict = (
        "meets the goal" if rate >= GOAL else ("DEFECT" if rate < DEFECT else "below the goal")
    )
    print(f"goal >= {GOAL:,}/s, defect < {DEFECT:,}/s: {verdict}")
    print(f"invoices_per_second: {rate:.1f} 1/s")
    print(f"peak_rss_mb: {peak_rss_mb():.1f} MB")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
