"""The ``notelib`` command line."""

from __future__ import annotations

import argparse
import datetime as dt
import sys

from .reports import REPORTS, ReportError, main_report


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date written YYYY-MM-DD") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="notelib", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    rep = sub.add_parser("report", help="run the notebooks headless and publish dated reports")
    rep.add_argument("--params", nargs="*", default=[], metavar="FILE",
                     help="parameter files (default: every data/params/*.yaml)")
    rep.add_argument("--notebooks", nargs="*", default=[], metavar="NB",
                     help="notebooks to run (default: notebooks/NN-*.ipynb)")
    rep.add_argument("--as-of", type=_date, default=None, help="report date (default: today)")
    rep.add_argument("--out", default=str(REPORTS), help="reports folder (default: reports/)")
    b = sub.add_parser("bench", help="time GBM path generation against the engine")
    b.add_argument("--paths", type=int, default=100_000, help="number of paths (default 100,000)")
    b.add_argument("--chunk", type=int, default=25_000, help="paths per chunk (default 25,000)")
    b.add_argument("--holder", default="hold", help="'hold' or a conversion multiple, e.g. 1.5")
    args = parser.parse_args(argv)
    if args.command == "bench":
        from .bench import bench

        holder = args.holder if args.holder == "hold" else float(args.holder)
        r = bench(args.paths, chunk=args.chunk, holder=holder)
        print(f"{r['paths']:,} paths x {r['sessions']} sessions: generate {r['generate_s']:.2f}s, "
              f"engine {r['engine_s']:.2f}s, ratio engine/generate {r['ratio']:.2f}; "
              f"peak memory {r['peak_rss_mb']:,.0f} MB")
        return 0
    try:
        return main_report(args.params, args.notebooks, args.as_of, args.out)
    except ReportError as exc:
        print(f"notelib report: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
