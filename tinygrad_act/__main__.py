"""`python -m tinygrad_act`: the `tinygrad-act` command (tinygrad_act/tools/cli.py)."""

from .tools.cli import main

raise SystemExit(main())
