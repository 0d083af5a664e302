"""The `tinygrad-act` command (also `python -m tinygrad_act`).

    tinygrad-act report [--backend numpy|compiled|cupy] [--dtype float32|float64|float16]
                        [--size N|small|medium|large] [--only NAME,...]
                        [--format markdown|json|text] [--plot DIR] [--repeats R]
                        [--torch-threads N] [--no-progress]
    tinygrad-act report --update-docs   # rewrite the tables of README.md and docs/report.md
    tinygrad-act report --check-docs    # exit 1 if they differ from a fresh run
    tinygrad-act build [--jobs N]       # compile every kernel file for the compiled backend

Exit status: 0 when every check passes (and, with --check-docs, the documents are up to
date), 1 when one fails, 2 when the report cannot run (unknown activation, backend not
available, matplotlib missing for --plot, PyTorch missing for the documents).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from . import report


def parser() -> argparse.ArgumentParser:
    main_parser = argparse.ArgumentParser(
        prog="tinygrad-act", description="tinygrad_act tools")
    commands = main_parser.add_subparsers(dest="command", required=True)
    rep = commands.add_parser(
        "report", help="every activation and save policy against PyTorch: memory, error, time",
        description=report.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    rep.add_argument("--backend", choices=("numpy", "compiled", "cupy"),
                     help="where our kernels run (default numpy)")
    rep.add_argument("--dtype", choices=tuple(report.TOLERANCE),
                     help="the dtype measured (default float32)")
    rep.add_argument("--size", type=report.parse_size,
                     help="elements per input: a number or small (1024), medium (65536, the "
                          "default), large (2^20)")
    rep.add_argument("--only", type=report.comma_list, metavar="NAME,...",
                     help="only these activations")
    rep.add_argument("--format", choices=("markdown", "json", "text"), default="text")
    rep.add_argument("--plot", metavar="DIR", help="write the pictures (PNG) into DIR")
    rep.add_argument("--repeats", type=int, default=report.Config.repeats,
                     help="timing repeats (median); 0: no timing")
    rep.add_argument("--torch-threads", type=int, default=report.Config.torch_threads,
                     help="PyTorch CPU threads while timing (default 1, as NumPy)")
    rep.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    docs = rep.add_mutually_exclusive_group()
    docs.add_argument("--update-docs", action="store_true",
                      help="rewrite the generated tables of README.md and docs/report.md from "
                           "the documents' fixed run (NumPy, float32, 65536 elements, no "
                           "times; needs PyTorch); takes none of the options above but "
                           "--no-progress")
    docs.add_argument("--check-docs", action="store_true",
                      help="exit with 1 if those tables differ from a fresh run (as "
                           "--update-docs, without writing)")
    build = commands.add_parser(
        "build", help="build every kernel file for the compiled backend ahead of first use",
        description="Compile kernels/*.cu with the host C++ compiler ($CXX, else g++) into the "
                    "cache ($TINYGRAD_ACT_CACHE, else ~/.cache/tinygrad_act); files already "
                    "built and valid are not built again.")
    build.add_argument("--jobs", type=int, help="compilers run at once (default: CPUs)")
    return main_parser


def build(jobs: int | None) -> int:
    """`tinygrad-act build`: every kernel file built (or found) in the cache; 2 on failure."""
    from ..executors import compiled

    start = time.perf_counter()
    try:
        paths = compiled.build_all(jobs)
    except RuntimeError as error:
        print(f"tinygrad-act build: {error}", file=sys.stderr)
        return 2
    for path in sorted(paths):
        print(path)
    entry = compiled.entry_module()
    print(f"{len(paths)} kernel files ready in {time.perf_counter() - start:.1f} s; the C entry: "
          f"{entry.__file__ if entry is not None else compiled.entry_problem()}", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "build":
        return build(args.jobs)
    if args.update_docs or args.check_docs:
        return docs(args)
    config = report.Config(backend=args.backend or "numpy", dtype=args.dtype or "float32",
                           size=args.size or report.SIZES["medium"],
                           repeats=max(0, args.repeats), only=args.only,
                           torch_threads=max(1, args.torch_threads))
    try:
        if args.plot:
            from . import plots
            plots.require_matplotlib()
        rows, info = report.run_report(config, show_progress=not args.no_progress)
        print(report.render(rows, info, args.format))
        if args.plot:
            for path in plots.write_plots(rows, args.plot, dtype=config.dtype):
                print(f"wrote {path}", file=sys.stderr)
    except report.ReportError as error:
        print(f"tinygrad-act: error: {error}", file=sys.stderr)
        return 2
    return 1 if report.failed(rows) else 0


def docs(args: argparse.Namespace) -> int:
    """--update-docs / --check-docs: the documents' run, compared with (or written into) the
    generated blocks of README.md and docs/report.md."""
    flag = "--update-docs" if args.update_docs else "--check-docs"
    given = [f"--{name.replace('_', '-')}" for name in ("backend", "dtype", "size", "only", "plot")
             if getattr(args, name) is not None]
    try:
        if given:
            raise report.ReportError(f"{flag} runs the documents' fixed configuration; it takes "
                                     f"no {', '.join(given)}")
        root = report.docs_root()
        rows, info = report.docs_run(show_progress=not args.no_progress)
        stale = report.update_docs(rows, info, root, write=args.update_docs)
    except report.ReportError as error:
        print(f"tinygrad-act: error: {error}", file=sys.stderr)
        return 2
    if report.failed(rows):
        print("tinygrad-act: the documents' run has failing checks:", file=sys.stderr)
        for row in rows:
            for failure in row.failures:
                print(f"  {row.activation} {row.policy}: {failure}", file=sys.stderr)
    if args.update_docs:
        for line in stale:
            print(f"rewrote {line.split(',')[0]}", file=sys.stderr)
        if not stale:
            print("the documents are up to date", file=sys.stderr)
        return 1 if report.failed(rows) else 0
    for line in stale:
        print(f"stale: {line}; run `{report.DOCS_COMMAND}`", file=sys.stderr)
    return 1 if stale or report.failed(rows) else 0


if __name__ == "__main__":
    sys.exit(main())
