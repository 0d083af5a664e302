"""Tools around the engine: the `tinygrad-act` command (cli.py), the report of every activation
against PyTorch (report.py) with its plots (plots.py), and what PyTorch knows about each
activation (torch_oracle.py), shared by the report and the tests. The engine never imports
them; they need PyTorch (or, for the report, run without it) and matplotlib for the plots.
"""
