"""Benchmark: N finalized invoices rendered to PDF/A-3b, one per call and batched.

The documents come from an invoice run over ``sample_store(N, realistic=True)`` (accounts
in DE, AT, FR, NL, CH and US; reverse charge, OSS and export cases; German and English
templates), finalized so they carry numbers. Building them is not timed.

Timed, each producing one PDF file (bytes) per document:

* **one per call**: every document through a fresh :class:`~juston.render.pdf.PdfRenderer`
  with fresh :class:`~juston.render.templates.Templates`, so each pays the start-up cost
  (templates, font configuration, stylesheets);
* **batched**: all documents through one ``PdfRenderer().render_many(...)``, which shares
  that cost.

The script checks that every PDF is a PDF/A-3b file of its own (XMP ``pdfaid:part 3``,
conformance B) with its document's number on its first page and, on that page, its own
page count ("1 / <pages of this file>"; text extracted with pypdfium2, when installed), and
exits with status 1 otherwise. The process is pinned to one CPU; as other processes may
share that CPU, the batched run also prints its CPU time. The last two lines are::

    pdf_documents_per_second: <value> 1/s     # batched, one core, wall clock
    peak_rss_mb: <value> MB

Project goal: at least 40 documents/s on one core.

    python benchmarks/pdf_render.py                 # N = 200
    python benchmarks/pdf_render.py --documents 50
    python benchmarks/pdf_render.py --cprofile pdf.prof
"""

from __future__ import annotations

import argparse
import gc
import re
import sys
import time
import zlib
from datetime import date

from _common import add_run_options, announce, peak_rss_mb

import juston
from juston.render.pdf import PdfRenderer
from juston.render.templates import Templates
from juston.testing import sample_store

GOAL = 40


def documents(n: int, seed: int) -> list[juston.Invoice]:
    """At least *n* finalized sample invoices (the first *n*)."""
    accounts = n
    while True:
        store = sample_store(accounts, seed=seed, realistic=True)
        drafts = juston.invoice_run(store, date(2026, 2, 1)).documents
        if len(drafts) >= n:
            return juston.finalize(store, drafts[:n])
        accounts += n - len(drafts) + 5


def xmp(pdf: bytes) -> str:
    """The PDF's XMP metadata packet (inflated), or "" when it has none."""
    for match in re.finditer(rb"<<(.{0,400}?)>>\s*stream\r?\n", pdf, re.S):
        if b"/Type /Metadata" in match.group(1):
            data = pdf[match.end() : pdf.index(b"endstream", match.end())]
            if b"/FlateDecode" in match.group(1):
                data = zlib.decompress(data)
            return data.decode("utf-8", "replace")
    return ""


def check(batch: list[juston.Invoice], pdfs: list[bytes]) -> list[str]:
    """What is wrong with the PDFs (empty when each is a PDF/A-3b file with its number and
    its own page count on its first page)."""
    problems = []
    try:
        import pypdfium2
    except ImportError:  # pragma: no cover - optional
        pypdfium2 = None
    for document, pdf in zip(batch, pdfs, strict=True):
        if not pdf.startswith(b"%PDF-1.7"):
            problems.append(f"{document.number}: not a PDF 1.7 file")
            continue
        metadata = xmp(pdf)
        if 'pdfaid:part="3"' not in metadata or 'pdfaid:conformance="B"' not in metadata:
            problems.append(f"{document.number}: no PDF/A-3b metadata")
        if pypdfium2 is not None:
            with pypdfium2.PdfDocument(pdf) as reader:
                pages = len(reader)
                text = reader[0].get_textpage().get_text_range()
            if str(document.number) not in text:
                problems.append(f"{document.number}: number missing from page 1")
            if f"1 / {pages}" not in text.replace("\xa0", " "):
                problems.append(f"{document.number}: page 1 does not say 1 / {pages}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--documents", type=int, default=200, metavar="N", help="default 200")
    parser.add_argument(
        "--cold",
        type=int,
        default=None,
        metavar="M",
        help="documents rendered one per call with a fresh renderer (default: all N)",
    )
    add_run_options(parser)
    args = parser.parse_args(argv)
    if args.documents < 1:
        parser.error("--documents must be at least 1")

    announce(args)
    import weasyprint

    print(f"WeasyPrint {weasyprint.__version__}")

    t0 = time.perf_counter()
    batch = documents(args.documents, args.seed)
    n = len(batch)
    languages = sorted({d.buyer.language for d in batch})
    lines = sum(len(d.lines) for d in batch)
    print(
        f"documents: {n} ({lines / n:.1f} lines each, buyer languages {', '.join(languages)}), "
        f"built in {time.perf_counter() - t0:.2f} s (not timed)"
    )

    cold = batch[: args.cold if args.cold is not None else n]
    gc.collect()
    t0 = time.perf_counter()
    singles = [PdfRenderer(Templates()).render(document) for document in cold]
    single_seconds = time.perf_counter() - t0
    print(
        f"one per call (fresh renderer each): {len(cold)} in {single_seconds:.2f} s, "
        f"{len(cold) / single_seconds:.1f}/s, {single_seconds / len(cold) * 1000:.1f} ms each"
    )

    gc.collect()
    profiler = None
    if args.cprofile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    t0, c0 = time.perf_counter(), time.process_time()
    pdfs = list(PdfRenderer(Templates()).render_many(batch))
    batch_seconds, cpu_seconds = time.perf_counter() - t0, time.process_time() - c0
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(args.cprofile)
        print(f"cProfile stats written to {args.cprofile} (rate includes profiler overhead)")
    size = sum(len(p) for p in pdfs)
    print(
        f"batched (one render_many): {n} in {batch_seconds:.2f} s, "
        f"{batch_seconds / n * 1000:.1f} ms each ({cpu_seconds / n * 1000:.1f} ms CPU time, "
        f"{n / cpu_seconds:.1f}/s), {size / n / 1024:.0f} KB per PDF"
    )

    problems = check(batch, pdfs) + check(cold, singles)
    for problem in problems[:10]:
        print(f"ERROR: {problem}", file=sys.stderr)
    rate = n / batch_seconds
    print(f"goal >= {GOAL}/s: {'meets the goal' if rate >= GOAL else 'below the goal'}")
    print(f"pdf_documents_per_second: {rate:.1f} 1/s")
    print(f"peak_rss_mb: {peak_rss_mb():.1f} MB")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
