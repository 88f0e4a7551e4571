"""Benchmark: N finalized documents rendered as EN 16931 XML, CII and UBL.

The documents come from :func:`juston.testing.sample_store` with ``realistic=True``
(businesses and consumers in DE, AT, FR, NL, CH and US: categories S at several rates, AE
and O; discounts; prorated lines; EUR, CHF and USD), one invoice run on the billing date
and :func:`juston.finalize`, all before the clock starts. One document in ten is a
cancellation of one of the invoices, so credit notes (``381``) are part of the mix.

The timed section renders every document with the ``cii`` renderer and then with the
``ubl`` renderer (rules checked, tree built, bytes serialized: exactly what
``Renderer.render`` does). The script exits with status 1 if a document is refused, since
the rate would then not mean what it says.

The process is pinned to one CPU and runs single-process. ``xml_documents_per_second`` is
the number of XML documents made (N × 2) over the time both passes took; the lines above
it give each syntax's own rate. The last two lines are::

    xml_documents_per_second: <value> 1/s
    peak_rss_mb: <value> MB

Project goal: at least 5,000 XML documents/s on one core.

    python benchmarks/xml_render.py                     # N = 10,000
    python benchmarks/xml_render.py --documents 2000
    python benchmarks/xml_render.py --cprofile xml.prof
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from datetime import date

from _common import add_run_options, announce, peak_rss_mb

import juston
from juston.model.documents import Invoice
from juston.render.einvoice import EInvoiceRenderer
from juston.testing import sample_store

GOAL = 5_000


def documents(n: int, seed: int, billing_date: date) -> list[Invoice]:
    """*n* finalized documents: 90 % invoices of one run, 10 % cancellations of some."""
    cancellations = n // 10
    invoices = n - cancellations
    accounts = invoices
    while True:
        store = sample_store(accounts, seed=seed, realistic=True)
        drafts = juston.invoice_run(store, billing_date).documents
        if len(drafts) >= invoices:
            break
        accounts += invoices - len(drafts) + 1  # some accounts start later and owe nothing
    finals = juston.finalize(store, drafts[:invoices])
    step = max(1, invoices // max(cancellations, 1))
    cancelled = [
        juston.cancel(store, doc, cancellation_date=billing_date)
        for doc in finals[::step][:cancellations]
    ]
    return finals + cancelled


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--documents", type=int, default=10_000, metavar="N", help="documents (default 10000)"
    )
    parser.add_argument(
        "--billing-date",
        type=date.fromisoformat,
        default=date(2026, 2, 1),
        help="billing date of the run (default 2026-02-01)",
    )
    add_run_options(parser)
    args = parser.parse_args(argv)
    if args.documents < 1:
        parser.error("--documents must be at least 1")

    announce(args)
    t0 = time.perf_counter()
    docs = documents(args.documents, args.seed, args.billing_date)
    credit_notes = sum(1 for d in docs if d.total.amount < 0)
    lines = sum(len(d.lines) for d in docs)
    print(
        f"documents: {len(docs)} ({credit_notes} credit notes), lines: {lines} "
        f"({lines / max(len(docs), 1):.2f} per document), "
        f"built in {time.perf_counter() - t0:.2f} s (not timed)"
    )

    renderers = [EInvoiceRenderer("cii"), EInvoiceRenderer("ubl")]
    gc.collect()
    profiler = None
    if args.cprofile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    timings = []
    sizes = []
    failures = 0
    for renderer in renderers:
        t0 = time.perf_counter()
        size = 0
        try:
            for xml in renderer.render_many(docs):
                size += len(xml)
        except juston.JustonError as exc:
            print(f"ERROR: {renderer.name}: {exc}", file=sys.stderr)
            failures += 1
        timings.append(time.perf_counter() - t0)
        sizes.append(size)
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(args.cprofile)

    for renderer, seconds, size in zip(renderers, timings, sizes, strict=True):
        print(
            f"{renderer.name}: {seconds:.3f} s, {len(docs) / seconds:,.0f} documents/s, "
            f"{seconds / len(docs) * 1e6:.1f} µs per document, {size / len(docs):,.0f} bytes each"
        )
    if args.cprofile:
        print(f"cProfile stats written to {args.cprofile} (rate below includes profiler overhead)")
    rate = len(docs) * len(renderers) / sum(timings)
    print(f"goal >= {GOAL:,}/s: {'meets the goal' if rate >= GOAL else 'below the goal'}")
    print(f"xml_documents_per_second: {rate:.1f} 1/s")
    print(f"peak_rss_mb: {peak_rss_mb():.1f} MB")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
