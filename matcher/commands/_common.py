"""Helpers shared by the command modules."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import typer
from rich.console import Console

err_console = Console(stderr=True)


@contextmanager
def friendly_errors(*kinds: type[BaseException]) -> Iterator[None]:
    """Turn the expected errors into one red line on stderr and exit code 1: no traceback for a user's mistake."""
    expected: tuple[type[BaseException], ...] = kinds or (ValueError, OSError)
    try:
        yield
    except expected as exc:
        err_console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(code=1) from None


def run_friendly(fn: Callable[[], None]) -> None:
    with friendly_errors():
        fn()
