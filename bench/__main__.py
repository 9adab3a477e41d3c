"""``python -m bench``: one benchmark report on a generated world (see bench/report.py)."""

from bench.report import main

main()
