"""Benchmark: invoice run and finalization end to end on SQLite or PostgreSQL.

N accounts with one subscription of three items of mixed price models each (from
:func:`juston.testing.sample_accounts`) are written to a fresh database before the clock
starts. The timed section is one :func:`juston.invoice_run` (drafts stored, default batch
size, ``--workers`` processes) followed by one :func:`juston.finalize` of all drafts, both
with ``collect=False`` so nothing grows with N but the database. The rate is documents per
second over both.

For PostgreSQL without ``--url``, a throwaway cluster is started (initdb + pg_ctl, see
:mod:`juston.testing.postgres`) and removed afterwards. The last two lines are::

    invoices_per_second: <value> 1/s
    peak_rss_mb: <value> MB      # the largest of this process and its workers

Project goal: 1,000,000 subscriptions in at most 60 s, peak RSS at most 1 GiB and the same
at 100,000 as at 1,000,000.

    python benchmarks/sql_run.py                                 # SQLite, N = 100,000
    python benchmarks/sql_run.py --subscriptions 1000000
    python benchmarks/sql_run.py --backend postgresql
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import date
from itertools import islice
from pathlib import Path

from _common import peak_rss_mb

import juston
from juston.storage.sql import SqlStore
from juston.testing import sample_accounts, sample_company


@contextlib.contextmanager
def database(backend: str, url: str | None) -> Iterator[str]:
    if url is not None:
        yield url
    elif backend == "sqlite":
        with tempfile.TemporaryDirectory() as directory:
            yield f"sqlite:///{Path(directory) / 'bench.db'}"
    else:
        from juston.testing.postgres import temporary_cluster

        with temporary_cluster() as cluster:
            yield cluster.url


def database_size(url: str) -> int | None:
    """The size of a SQLite database file (with its write-ahead log), else None."""
    if not url.startswith("sqlite:///"):
        return None
    path = Path(url.removeprefix("sqlite:///"))
    return sum(p.stat().st_size for p in (path, path.with_name(path.name + "-wal")) if p.exists())


def cpu_seconds() -> float:
    """CPU time (user and system) of this process and of its children that have ended:
    the run's worker processes once the run returns."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    ended = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + ended.ru_utime + ended.ru_stime


def populate(store: SqlStore, count: int, start: date, chunk: int = 10_000) -> None:
    with store.transaction() as tx:
        tx.put_company(sample_company())
    pairs = sample_accounts(count, start=start)
    while block := list(islice(pairs, chunk)):
        with store.transaction() as tx:
            for account, subscription in block:
                tx.put_account(account)
                tx.put_subscription(subscription)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--url", help="an existing, empty database instead of a new one")
    parser.add_argument("--subscriptions", type=int, default=100_000, metavar="N")
    parser.add_argument("--billing-date", type=date.fromisoformat, default=date(2026, 2, 1))
    parser.add_argument("--start", type=date.fromisoformat, default=date(2026, 1, 1))
    parser.add_argument(
        "--workers", type=int, default=1, help="worker processes for the run (default 1)"
    )
    args = parser.parse_args(argv)

    load_before = ", ".join(f"{load:.1f}" for load in os.getloadavg())
    with database(args.backend, args.url) as url:
        store = SqlStore.open(url)
        began = time.perf_counter()
        populate(store, args.subscriptions, args.start)
        print(
            f"populated {args.subscriptions} subscriptions in {time.perf_counter() - began:.1f} s"
        )

        began, cpu_began = time.perf_counter(), cpu_seconds()
        result = juston.invoice_run(store, args.billing_date, collect=False, workers=args.workers)
        ran, cpu_ran = time.perf_counter(), cpu_seconds()
        juston.finalize(store, collect=False)
        done, cpu_done = time.perf_counter(), cpu_seconds()
        store.close()
        size = database_size(url)

    if result.count != args.subscriptions or result.failures:
        print(f"expected {args.subscriptions} documents and no failures: {result}")
        return 1
    print(f"backend: {args.backend}, workers: {args.workers}")
    if size is not None:
        print(f"database: {size / 1e6:,.0f} MB")
    # CPU per document, this process and its workers together: steadier than the wall
    # clock on a shared machine.
    run_cpu = (cpu_ran - cpu_began) / result.count * 1e6
    finalize_cpu = (cpu_done - cpu_ran) / result.count * 1e6
    print(
        f"run: {ran - began:.1f} s ({result.count / (ran - began):,.0f} documents/s), "
        f"CPU {run_cpu:.0f} µs per document"
    )
    print(
        f"finalize: {done - ran:.1f} s ({result.count / (done - ran):,.0f} documents/s), "
        f"CPU {finalize_cpu:.0f} µs per document"
    )
    print(f"load average before: {load_before}")
    # Worker processes (ended and waited for by now) count as the process itself does.
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    if args.workers > 1:
        print(f"peak RSS: this process {peak_rss_mb():.0f} MB, largest worker {workers:.0f} MB")
    print(f"invoices_per_second: {result.count / (done - began):.0f} 1/s")
    print(f"peak_rss_mb: {max(peak_rss_mb(), workers if args.workers > 1 else 0):.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
