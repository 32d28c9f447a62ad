"""Typer command groups, one module per group. They translate errors into one readable line and exit code 1."""
