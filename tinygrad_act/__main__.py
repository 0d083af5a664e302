"""The `tinygrad-act` command (also `python -m tinygrad_act`).

    tinygrad-act report [--backend numpy|compiled|cupy] [--dtype float32|float64|float16]
                        [--size N|small|medium|large] [--only NAME,...]
                        [--format markdown|json|text] [--plot DIR] [--repeats R]
                        [--torch-threads N] [--no-progress]

Exit status: 0 when every check passes, 1 when one fails, 2 when the report cannot run
(unknown activation, backend not available, matplotlib missing for --plot).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import report


def parser() -> argparse.ArgumentParser:
    main_parser = argparse.ArgumentParser(
        prog="tinygrad-act", description="tinygrad_act tools")
    commands = main_parser.add_subparsers(dest="command", required=True)
    rep = commands.add_parser(
        "report", help="every activation and save policy against PyTorch: memory, error, time",
        description=report.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    rep.add_argument("--backend", choices=("numpy", "compiled", "cupy"), default="numpy")
    rep.add_argument("--dtype", choices=tuple(report.TOLERANCE), default="float32")
    rep.add_argument("--size", type=report.parse_size, default=report.SIZES["medium"],
                     help="elements per input: a number or small, medium (default), large")
    rep.add_argument("--only", type=report.comma_list, metavar="NAME,...",
                     help="only these activations")
    rep.add_argument("--format", choices=("markdown", "json", "text"), default="text")
    rep.add_argument("--plot", metavar="DIR", help="write the pictures (PNG) into DIR")
    rep.add_argument("--repeats", type=int, default=report.Config.repeats,
                     help="timing repeats (median)")
    rep.add_argument("--torch-threads", type=int, default=report.Config.torch_threads,
                     help="PyTorch CPU threads while timing (default 1, as NumPy)")
    rep.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    return main_parser


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    config = report.Config(backend=args.backend, dtype=args.dtype, size=args.size,
                           repeats=max(1, args.repeats), only=args.only,
                           torch_threads=max(1, args.torch_threads))
    try:
        if args.plot:
            from . import plots
            plots.require_matplotlib()
        rows, info = report.run_report(config, show_progress=not args.no_progress)
        print(report.render(rows, info, args.format))
        if args.plot:
            for path in plots.write_plots(rows, args.plot, dtype=args.dtype):
                print(f"wrote {path}", file=sys.stderr)
    except report.ReportError as error:
        print(f"tinygrad-act: error: {error}", file=sys.stderr)
        return 2
    return 1 if report.failed(rows) else 0


if __name__ == "__main__":
    sys.exit(main())
