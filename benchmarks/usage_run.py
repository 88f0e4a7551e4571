"""Benchmark: ingest and rate usage records end to end on SQLite (or in memory).

N subscriptions (default 10,000) from :func:`juston.testing.usage_accounts` are written to
a fresh database before the clock starts. The timed section ingests R usage records
(default 10,000,000 API calls spread over January 2026, every 1000th repeating the id
before it, made as the stream is read) with :func:`juston.ingest_usage_rows` as plain
rows ``(id, "S-<n>/api", epoch seconds, quantity)`` (``--input records``: as
:class:`juston.UsageRecord` values through :func:`juston.ingest_usage`), then runs one
:func:`juston.invoice_run` on 2026-02-01 that rates every subscription's January usage
(the aggregation runs in the database). The rate is records per second over both. The
last two lines are::

    usage_records_per_second: <value> 1/s
    peak_rss_mb: <value> MB

Project goal: 10,000,000 records across 10,000 subscriptions in at most 30 s.

    python benchmarks/usage_run.py --records 1000000
    python benchmarks/usage_run.py --backend memory --records 100000
"""

from __future__ import annotations

import argparse
import cProfile
import random
import resource
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from _common import peak_rss_mb

import juston
from juston.testing import usage_records, usage_store

#: 2026-01-01 00:00 UTC in seconds since 1970.
JANUARY = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp())


def usage_rows(
    accounts: int, count: int, *, days: int = 31, seed: int = 7
) -> Iterator[tuple[str, str, int, int]]:
    """*count* API-call rows ``(id, item, epoch seconds, quantity)`` spread over *accounts*
    subscriptions and *days* days of January 2026; every 1000th repeats the id before it."""
    rng = random.Random(seed)
    draw = rng.random
    items = [f"S-{n}/api" for n in range(1, accounts + 1)]
    seconds = days * 86400
    for n in range(count):
        number = n - 1 if n % 1000 == 999 else n
        yield (
            f"u{number}",
            items[int(draw() * accounts)],
            JANUARY + int(draw() * seconds),
            1 + int(draw() * 49),
        )


def _children_cpu() -> float:
    """CPU seconds (user and system) of this process's ended child processes."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "memory"], default="sqlite")
    parser.add_argument("--subscriptions", type=int, default=10_000, metavar="N")
    parser.add_argument("--records", type=int, default=10_000_000, metavar="R")
    parser.add_argument(
        "--input",
        choices=["rows", "records"],
        default="rows",
        help="plain rows through ingest_usage_rows (default), or UsageRecord values "
        "through ingest_usage",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="records per transaction (default: 1,000,000 rows, 50,000 records)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="W",
        help="worker processes that check rows while this one stores them (rows only)",
    )
    parser.add_argument("--cprofile", metavar="FILE", help="profile the timed section")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as directory:
        if args.backend == "sqlite":
            from juston.storage.sql import SqlStore

            store: juston.Store = SqlStore.open(f"sqlite:///{Path(directory) / 'usage.db'}")
        else:
            store = juston.MemoryStore()
        usage_store(args.subscriptions, store=store)

        profile = cProfile.Profile() if args.cprofile else None
        if profile:
            profile.enable()
        began = time.perf_counter()
        cpu_began = time.process_time()
        children_began = _children_cpu()
        if args.input == "rows":
            rows = usage_rows(args.subscriptions, args.records)
            batch = args.batch_size or 1_000_000
            ingested = juston.ingest_usage_rows(store, rows, batch_size=batch, workers=args.workers)
        else:
            records = usage_records(args.subscriptions, args.records)
            batch = args.batch_size or 50_000
            ingested = juston.ingest_usage(store, records, batch_size=batch)
        ingest_seconds = time.perf_counter() - began
        ingest_cpu = time.process_time() - cpu_began
        workers_cpu = _children_cpu() - children_began
        run_began = time.perf_counter()
        result = juston.invoice_run(store, date(2026, 2, 1), collect=False)
        run_seconds = time.perf_counter() - run_began
        seconds = time.perf_counter() - began
        if profile:
            profile.disable()
            profile.dump_stats(args.cprofile)

        duplicates = args.records // 1000
        print(
            f"backend: {args.backend}, subscriptions: {args.subscriptions:,}, input: {args.input}"
        )
        print(
            f"ingested: {ingested} in {ingest_seconds:.1f} s "
            f"({args.records / ingest_seconds:,.0f} records/s, making the records included; "
            f"{batch:,} per transaction, {args.workers} worker(s); CPU time of this "
            f"process {ingest_cpu:.1f} s, of the workers {workers_cpu:.1f} s)"
        )
        print(f"invoice run: {result.count:,} documents, {result.totals()} in {run_seconds:.1f} s")
        ok = (
            ingested.duplicates == duplicates
            and ingested.new == args.records - duplicates
            and not ingested.rejected
            and not result.failures
            and result.count == args.subscriptions
            and sum(result.totals().values(), Decimal(0)) > 0
        )
        print(f"end to end: {seconds:.1f} s; goal <= 30 s for 10,000,000 records")
        print(f"usage_records_per_second: {args.records / seconds:.1f} 1/s")
        print(f"peak_rss_mb: {peak_rss_mb():.1f} MB")
        if args.backend == "sqlite":
            store.close()  # type: ignore[attr-defined]
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
