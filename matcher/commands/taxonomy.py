"""`matcher taxonomy ...`: normalise titles and skills, extract skills from an ad text."""

from __future__ import annotations

import json
import shutil
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from matcher.commands._common import friendly_errors
from matcher.config import get_settings
from matcher.taxonomy import Candidate, Normalizer, get_normalizer, load_taxonomy
from matcher.taxonomy._normalize import index_folder

app = typer.Typer(help="ESCO taxonomy: normalise titles and skills, extract skills from text.", no_args_is_help=True)
console = Console()

Limit = Annotated[int, typer.Option("--limit", "-n", min=1, max=100, help="how many candidates to show")]
Lang = Annotated[str | None, typer.Option("--lang", help="language of the text: da, en (default: any)")]
AsJson = Annotated[bool, typer.Option("--json", help="print JSON instead of a table")]


def _show_candidates(text: str, candidates: list[Candidate], as_json: bool, what: str) -> None:
    if as_json:
        typer.echo(json.dumps({"results": [asdict(c) for c in candidates]}, ensure_ascii=False))
        return
    table = Table(title=f"ESCO {what} for '{text}'")
    table.add_column("#", justify="right")
    table.add_column("score", justify="right")
    table.add_column("label")
    table.add_column("uri", style="dim")
    for rank, c in enumerate(candidates, start=1):
        table.add_row(str(rank), f"{c.score:.2f}", c.label, c.uri)
    console.print(table)


@app.command()
def normalize(text: str, limit: Limit = 10, lang: Lang = None, as_json: AsJson = False) -> None:
    """Normalise a job title (Danish or English) to ranked ESCO occupations."""
    with friendly_errors():
        candidates = get_normalizer().normalize_occupation(text, limit=limit, lang=lang)
    _show_candidates(text, candidates, as_json, "occupations")


@app.command()
def skills(text: str, limit: Limit = 10, lang: Lang = None, as_json: AsJson = False) -> None:
    """Normalise a skill phrase (Danish or English) to ranked ESCO skills."""
    with friendly_errors():
        candidates = get_normalizer().normalize_skill(text, limit=limit, lang=lang)
    _show_candidates(text, candidates, as_json, "skills")


@app.command()
def extract(
    file: Annotated[str, typer.Argument(help="a UTF-8 text file with the ad, or '-' for stdin")],
    lang: Lang = None,
    as_json: AsJson = False,
) -> None:
    """Extract ESCO skills, with character spans, from a job ad."""
    with friendly_errors(ValueError, OSError, UnicodeDecodeError):
        text = _read_text(file)
        spans = get_normalizer().extract_skills(text, lang=lang)
    if as_json:
        typer.echo(json.dumps({"skills": [asdict(s) for s in spans]}, ensure_ascii=False))
        return
    table = Table(title=f"ESCO skills in {'stdin' if file == '-' else file}")
    for col in ("start", "end"):
        table.add_column(col, justify="right")
    table.add_column("text")
    table.add_column("skill")
    table.add_column("score", justify="right")
    for s in spans:
        table.add_row(str(s.start), str(s.end), text[s.start : s.end], s.label, f"{s.score:.2f}")
    console.print(table)


def _read_text(file: str) -> str:
    if file == "-":
        raw = sys.stdin.buffer.read()
        name = "stdin"
    else:
        path = Path(file)
        if not path.is_file():
            raise FileNotFoundError(f"{file}: no such file")
        raw = path.read_bytes()
        name = file
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{name}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


@app.command()
def build() -> None:
    """(Re)build the taxonomy and label-index cache from data/ (normally done automatically on first use)."""
    with friendly_errors():
        started = time.perf_counter()
        taxonomy = load_taxonomy(rebuild=True)
        cache_dir = get_settings().cache_dir
        shutil.rmtree(index_folder(cache_dir, taxonomy.version), ignore_errors=True)
        Normalizer(taxonomy, cache_dir=cache_dir).indexes_  # noqa: B018 - fit and cache the label indexes now
    console.print(
        f"taxonomy {taxonomy.version}: {taxonomy.n_occupations} occupations "
        f"({int(taxonomy.occupation_regulated.sum())} regulated), {taxonomy.n_skills} skills, "
        f"{len(taxonomy.occupation_label_table)} occupation labels, {len(taxonomy.skill_label_table)} skill labels, "
        f"skill_related nnz {taxonomy.skill_related.nnz}; built in {time.perf_counter() - started:.1f} s"
    )
