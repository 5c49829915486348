"""``python -m range_control.cli``: the same as ``rangectl``."""

from range_control.cli import run

run()
