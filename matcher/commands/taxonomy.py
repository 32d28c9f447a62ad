"""`matcher taxonomy ...`: normalise titles and skills, extract skills from an ad text."""

from __future__ import annotations

import typer

app = typer.Typer(help="ESCO taxonomy: normalise titles and skills, extract skills from text.", no_args_is_help=True)
