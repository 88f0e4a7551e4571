"""What every benchmark script shares: pinning to one CPU and reading the peak RSS."""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys

import juston


def pin_to_one_cpu() -> str:
    """Restrict this process to a single CPU (Linux); return a description."""
    if not hasattr(os, "sched_setaffinity"):
        return "not pinned (no sched_setaffinity on this platform)"
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return f"pinned to CPU {cpu}"


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MB (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """``--seed``, ``--no-pin`` and ``--cprofile``, which the single-core benchmarks share."""
    parser.add_argument("--seed", type=int, default=7, help="sample data seed (default 7)")
    parser.add_argument("--no-pin", action="store_true", help="do not pin the process to one CPU")
    parser.add_argument(
        "--cprofile",
        metavar="FILE",
        help="run the timed section under cProfile and dump the stats to FILE "
        "(the reported rate then includes profiler overhead)",
    )


def announce(args: argparse.Namespace) -> None:
    """Pin to one CPU unless ``--no-pin``, and print the versions and the pinning."""
    pinning = "not pinned (--no-pin)" if args.no_pin else pin_to_one_cpu()
    print(
        f"juston {juston.__version__}, "
        f"Python {platform.python_version()} ({platform.python_implementation()}), {pinning}"
    )
