"""The notelib command line: the convertible-note workbook from the shell."""

from __future__ import annotations

import sys  # the rest is imported inside main(), where a Ctrl-C is one line
TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (2 ms at start-up)

if TYPE_CHECKING:
    import argparse
    import datetime as dt


def _date(text: str) -> dt.date:
    import argparse

    from ..contract.dates import iso_date  # imports pandas: inside main()'s Ctrl-C handler

    day = iso_date(text)
    if day is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date written YYYY-MM-DD")
    return day


def _count(text: str) -> int:
    import argparse

    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return n


def _holder(text: str) -> str | float:
    import argparse

    if text == "hold":
        return text
    try:
        m = float(text)
    except ValueError:
        m = 0.0
    if not 0 < m < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r}: 'hold' or a multiple greater than 0")
    return m


def _given(text: str) -> str:
    import argparse

    if not text.strip():  # "" would mean the default, silently
        raise argparse.ArgumentTypeError(f"{text!r} is empty: give a value or leave it out")
    return text


DESCRIPTION = ("The convertible-note workbook from the shell: publish the dated board reports, "
               "see where the note stands on a date, export a case as an Excel workbook, run a "
               "sensitivity grid, time the engine. `notelib COMMAND --help` says more.")
REPORT = ("Run every notebook headless for each case (one data/params file each) and publish "
          "reports/<as-of>-<case>/ (-2, -3... for another run the same day): the notebooks' HTML, "
          "the board PDF and deck, report.xlsx, index.html, metrics.json and manifest.json. A "
          "case whose notebook fails, or whose pages disagree, is kept in reports/failed/ and "
          "earlier reports are never touched. At the end each case's key numbers are printed "
          "with what changed since its previous report.")


def _parser() -> argparse.ArgumentParser:
    import argparse

    class Parser(argparse.ArgumentParser):  # the commands' parsers are of this class too
        def error(self, message: str):
            """A wrong argument in one line, naming it (--help shows the usage)."""
            self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")

    parser = Parser(prog="notelib", description=DESCRIPTION)
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", required=True)
    for add in (_report_args, _bench_args, _status_args, _sweep_args, _export_args):
        add(sub)
    return parser


def _report_args(sub) -> None:
    rep = sub.add_parser("report", help="run the notebooks headless and publish dated reports",
                         description=REPORT)
    rep.add_argument("--params", nargs="*", default=[], metavar="FILE",
                     help="parameter files (default: every data/params/*.yaml)")
    rep.add_argument("--notebooks", nargs="*", default=[], metavar="NB",
                     help="notebooks to run (default: notebooks/NN-*.ipynb)")
    rep.add_argument("--as-of", type=_date, default=None, help="report date (default: today)")
    rep.add_argument("--out", type=_given, default=None,
                     help="reports folder (default: reports/)")
    rep.add_argument("--no-workbook", dest="workbook", action="store_false",
                     help="leave report.xlsx out: its sheets value the case again, so a run "
                          "for the pages alone is quicker")


def _bench_args(sub) -> None:
    b = sub.add_parser("bench", help="time GBM path generation against the engine",
                       description="Time GBM path generation against the engine (or the fair "
                                   "value, or a sweep on one and two Dask workers) and print "
                                   "the times, their ratio and the peak memory.")
    b.add_argument("--paths", type=_count, default=100_000,
                   help="number of paths (default 100,000)")
    b.add_argument("--chunk", type=_count, default=25_000, help="paths per chunk (default 25,000)")
    b.add_argument("--holder", type=_holder, default="hold",
                   help="'hold' or a conversion multiple, e.g. 1.5")
    b.add_argument("--valuation", action="store_true",
                   help="time the fair value (data/market/dyntek-2005-11.yaml) instead")
    b.add_argument("--pilot-paths", type=_count, default=None, dest="pilot_paths",
                   help="with --valuation: pilot paths each rule is fitted on (default, as "
                        "fair_value: a tenth of the paths, from 10,000 to 50,000)")
    b.add_argument("--sweep", action="store_true",
                   help="time data/sweeps/example.yaml on 1 and 2 Dask workers instead")


def _status_args(sub) -> None:
    import argparse

    st = sub.add_parser("status", help="where the note stands on a date (one screen, or JSON)",
                        description="Where the note stands on a date, from a case's ledger "
                                    "and closes (the notebooks' own files, each replaceable): "
                                    "principal, interest, arrears, the Conversion Price, the "
                                    "next payment and whether it may be made in shares, the "
                                    "Mandatory Redemption Events.")
    st.add_argument("--as-of", type=_date, default=None,
                    help="the date (default: today, or after maturity the last date the ledger "
                         "or the closes know)")
    st.add_argument("--params", type=_given, default="base", metavar="CASE",
                    help="the case whose files are used: a data/params file by name or path "
                         "(default: base)")
    st.add_argument("--case", type=_given, dest="params", default=argparse.SUPPRESS,
                    help=argparse.SUPPRESS)  # the old spelling, still read
    st.add_argument("--ledger", type=_given, default=None, help="ledger file (default: the case's)")
    st.add_argument("--prices", type=_given, default=None,
                    help="closes CSV (date,close) for the share test (default: the case's, the "
                         "same closes the notebooks use)")
    st.add_argument("--terms", type=_given, default=None, help="terms file (default: the case's)")
    st.add_argument("--json", action="store_true", help="print JSON for scripts")


def _sweep_args(sub) -> None:
    sw = sub.add_parser("sweep", help="run a sensitivity grid (data/sweeps/*.yaml) on Dask",
                        description="Run a sensitivity grid (data/sweeps/*.yaml) on a Dask "
                                    "cluster; finished cells are cached, so a rerun computes "
                                    "only the rest. Writes Parquet and CSV.")
    sw.add_argument("grid", help="grid file, or the name of one in data/sweeps/")
    sw.add_argument("--scheduler", default=None,
                    help="address of a running Dask scheduler, e.g. tcp://10.0.0.5:8786 "
                         "(default: a LocalCluster on this machine)")
    sw.add_argument("--workers", type=_count, default=None,
                    help="LocalCluster worker processes (default: the cores)")
    sw.add_argument("--out", default=None, help="results folder (default: reports/sweeps/<name>)")
    sw.add_argument("--cache", default=None,
                    help="finished cells (default: reports/sweeps/cache); a rerun skips them")
    sw.add_argument("--force", action="store_true",
                    help="run a grid past the limits of notelib.limits.LIMITS (cells, paths)")


def _export_args(sub) -> None:
    ex = sub.add_parser("export", help="write a case as an Excel workbook with live formulas",
                        description="Write a case as an Excel workbook (report.xlsx's sheets: "
                                    "terms, schedule and redemption with live formulas, "
                                    "ledger, status, paths and value). What it computes is "
                                    "said on stderr as it goes; the file's path is printed.")
    ex.add_argument("--xlsx", action="store_true",
                    help="an Excel workbook (.xlsx): the one format there is, the default")
    ex.add_argument("--params", type=_given, default="base", metavar="CASE",
                    help="the case: a data/params file by name or path (default: base)")
    ex.add_argument("--as-of", type=_date, default=None, help="the date (default: today)")
    ex.add_argument("--out", type=_given, default=None,
                    help="the file (default: reports/<as-of>-<case>.xlsx)")


class Progress:
    """What a long command is computing, one whole line on stderr as each step starts, after
    the seconds so far: "notelib export: [2.9s] the fair value (20,000 paths)" (a whole
    line, so an error or a Ctrl-C after it reads on a line of its own)."""

    def __init__(self, command: str, stream=None) -> None:
        import time

        self.command, self.stream, self.clock = command, stream, time.perf_counter
        self.started = self.clock()

    def __call__(self, step: str) -> None:
        print(f"notelib {self.command}: [{self.clock() - self.started:.1f}s] {step}",
              file=self.stream or sys.stderr, flush=True)


def _export(args: argparse.Namespace) -> int:
    """The case as report.xlsx-style workbook (notelib.present.workbook), saying on stderr
    what it computes as it goes."""
    from pathlib import Path

    from ..case import Case
    from ..io.outputs import guard
    from ..params import ROOT, params_file
    from ..present.workbook import write_workbook

    progress = Progress("export")
    progress(f"reading case {args.params}")
    case = Case.from_params(args.params, as_of=args.as_of)
    out = Path(args.out or ROOT / "reports" / f"{case.as_of}-{case.name}.xlsx")
    guard([out], reads=[*case.files.values(), params_file(args.params)])  # before the work
    written = write_workbook(case, out, progress=progress)
    progress(f"written: case {case.label}, as of {case.as_of:%d %b %Y}")
    print(written)
    return 0


def _sweep(args: argparse.Namespace) -> int:
    import os
    from pathlib import Path

    from .sweep import ROOT, check_limits, failures, parse_grid, sweep, targets, write

    grid = parse_grid(args.grid)
    check_limits(grid, args.workers, args.force)  # before a cluster starts
    out = Path(args.out or ROOT / "reports" / "sweeps" / grid.name)
    targets(out, grid.name, grid.reads)  # never over a tracked file or an input: before any work
    print(f"{grid.name}: {len(grid.cells)} cells x {grid.paths:,} paths on "
          f"{args.scheduler or f'a LocalCluster of {args.workers or os.cpu_count()} workers'}",
          file=sys.stderr)
    cache = args.cache or ROOT / "reports" / "sweeps" / "cache"
    try:
        results = sweep(grid, scheduler=args.scheduler, workers=args.workers, cache=cache,
                        force=args.force)
    except KeyboardInterrupt:
        kept = len(list(Path(cache).glob("*.json")))
        print(f"notelib sweep: interrupted; the finished cells are kept in {cache} ({kept} "
              "cells there); run it again to compute the rest", file=sys.stderr)
        return 130
    for path in write(results, out, grid.name):
        print(path)
    failed = failures(results, grid.varied)
    for line in failed:
        print(f"failed: {line}", file=sys.stderr)
    counts = results["status"].value_counts().to_dict()
    print(", ".join(f"{v} {k}" for k, v in sorted(counts.items())), file=sys.stderr)
    return 1 if failed else 0


def _status(args: argparse.Namespace) -> int:
    """The note on a date from a case's files (the notebooks' own), each replaceable."""
    import json

    from ..case import Case

    changes = {k: v for k, v in (("LEDGER_FILE", args.ledger), ("PRICES_FILE", args.prices),
                                 ("TERMS_FILE", args.terms)) if v}
    case = Case.from_params(args.params, as_of=args.as_of, **changes)
    day, said = case.as_of, ""
    if args.as_of is None:  # today, inside the note's life; else the last day the files know
        t = case.terms
        known = max([e.date for e in case.ledger.entries] + [case.closes.index.max().date()])
        if not t.issue_date <= day <= max(known, t.maturity_date):
            day = max(known, t.issue_date)
            said = (f"; as of {day}, the last date the ledger or the closes know (today is "
                    f"past them and the note's life, {t.issue_date} to {t.maturity_date}; give "
                    "--as-of for another date)")
    state = case.state_on(day)
    if args.json:
        print(json.dumps({**state.as_dict(), "case": case.name, "closes": case.prices_label,
                          "as_of_chosen": said.removeprefix("; ") or None}, indent=2))
    else:
        print(f"{state!r}\n(case {case.name}; {case.prices_label}{said})")
    return 0


def _ctrl_c():
    """Ctrl-C raises KeyboardInterrupt, except inside the import machinery, whose lock
    callbacks swallow it ("Exception ignored", and the command would go on): there the
    signal is sent again 10 ms later, out of that frame. Main thread only; returns the
    handler it replaced (None: none replaced)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return None

    main = threading.main_thread().ident

    def handler(signum, frame) -> None:
        if frame is not None and frame.f_code.co_filename.startswith("<frozen importlib"):
            # to the main thread itself: raise_signal from the timer's thread was delivered
            # to that thread, and the main thread saw it only when its blocking call ended
            threading.Timer(0.01, signal.pthread_kill, (main, signal.SIGINT)).start()
            return
        raise KeyboardInterrupt

    return signal.signal(signal.SIGINT, handler)


def main(argv: list[str] | None = None) -> int:
    """Run a command; an error prints one line on stderr and exits 2 (``--debug``: traceback);
    Ctrl-C at any moment (while the libraries load, while the arguments are read, e.g.
    ``--as-of``, which loads pandas) one line and 130."""
    argv = sys.argv[1:] if argv is None else list(argv)
    before = _ctrl_c()
    try:
        args = _parser().parse_args(argv)
        return _main(args)
    except KeyboardInterrupt:
        if "--debug" in argv:
            raise
        command = next((a for a in argv if not a.startswith("-")), None)
        print(f"{'notelib ' + command if command else 'notelib'}: interrupted (Ctrl-C)",
              file=sys.stderr)
        return 130
    finally:
        if before is not None:
            import signal

            signal.signal(signal.SIGINT, before)


def _main(args: argparse.Namespace) -> int:
    from .reports import REPORTS, ReportError, main_report  # after parsing: --help stays fast

    try:
        if args.command == "bench":
            from ..io.display import seconds
            from .bench import WARM_UP, bench, bench_valuation

            if args.pilot_paths is not None and not args.valuation:
                raise ValueError("--pilot-paths: only with --valuation (no other bench fits "
                                 "a rule)")
            if args.sweep:
                from .bench import bench_sweep

                r = bench_sweep()
                print(f"{r['cells']} cells x {r['paths']:,} paths: 1 worker "
                      f"{seconds(r['wall_1_s'])}, 2 workers {seconds(r['wall_2_s'])}, speed-up "
                      f"{r['speedup']:.2f}x; scheduling "
                      f"overhead per cell {r['overhead_1_ms']:.0f} ms (1 worker), "
                      f"{r['overhead_2_ms']:.0f} ms (2 workers)")
                return 0
            if args.valuation:
                r = bench_valuation(args.paths, chunk=args.chunk, pilot_paths=args.pilot_paths)
                print(f"fair value {r['value']:,.2f} +/- {r['std_error']:,.2f} "
                      f"({r['relative_error']:.3%}; one standard error, of the paths "
                      f"{r['paths_error']:,.2f} and of the rule's fit {r['fit_error']:,.2f}) "
                      f"on {r['paths']:,} paths x {r['sessions']} "
                      f"sessions ({r['pilot_paths']:,} pilot): generate "
                      f"{seconds(r['generate_s'])}, valuation {seconds(r['valuation_s'])}, "
                      f"ratio valuation/generate {r['ratio']:.2f}; the float32 generation floor "
                      f"{seconds(r['float32_s'])}, ratio valuation/floor "
                      f"{r['float32_ratio']:.2f} (fastest of {r['rounds']} rounds each, the "
                      f"slowest {seconds(r['generate_max_s'])} and "
                      f"{seconds(r['valuation_max_s'])}; after a "
                      f"{WARM_UP:,}-path warm-up of {seconds(r['warm_up_s'])}, not counted); peak "
                      f"memory {r['peak_rss_mb']:,.0f} MB")
                return 0
            r = bench(args.paths, chunk=args.chunk, holder=args.holder)
            print(f"{r['paths']:,} paths x {r['sessions']} sessions: generate "
                  f"{seconds(r['generate_s'])}, engine {seconds(r['engine_s'])}, ratio "
                  f"engine/generate {r['ratio']:.2f}; peak memory {r['peak_rss_mb']:,.0f} MB")
            return 0
        if args.command == "status":
            return _status(args)
        if args.command == "sweep":
            return _sweep(args)
        if args.command == "export":
            return _export(args)
        return main_report(args.params, args.notebooks, args.as_of, args.out or REPORTS,
                           workbook=args.workbook)
    except (ReportError, ValueError, OSError) as exc:
        if args.debug:
            raise
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"notelib {args.command}: {first}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
