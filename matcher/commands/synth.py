"""`matcher synth`: write a seeded synthetic world (employers, vacancies, citizens) as JSON lines."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from typing import Annotated

import typer

from matcher.commands._common import friendly_errors
from matcher.synthetic import SyntheticData, generate

FILES = ("employers.jsonl", "citizens.jsonl", "vacancies.jsonl", "protected.jsonl")


def write_jsonl(data: SyntheticData, out: Path) -> dict[str, int]:
    """Write the four files into ``out`` (created if missing); return lines written per file.

    Each line is ``model_dump_json()`` of a domain model: the same JSON as ``model_dump(mode="json")``, None
    fields included, serialised by pydantic-core instead of ``json.dumps``. ``protected.jsonl`` is line-aligned
    with ``citizens.jsonl``.
    """
    out.mkdir(parents=True, exist_ok=True)
    groups = {
        "employers.jsonl": [m.model_dump_json() for m in data.employers],
        "citizens.jsonl": [m.model_dump_json() for m in data.citizens],
        "vacancies.jsonl": [m.model_dump_json() for m in data.vacancies],
        "protected.jsonl": [json.dumps(p, ensure_ascii=False) for p in data.protected],
    }
    for name, lines in groups.items():
        (out / name).write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return {name: len(lines) for name, lines in groups.items()}


def synth(
    out: Annotated[Path, typer.Option("--out", help="folder to write the .jsonl files into (created if missing)")],
    citizens: Annotated[int, typer.Option("--citizens", help="number of citizens")] = 2000,
    vacancies: Annotated[int, typer.Option("--vacancies", help="number of vacancies")] = 400,
    seed: Annotated[int, typer.Option("--seed", help="random seed; the same seed gives the same files")] = 0,
    region: Annotated[str, typer.Option("--region", help="slagelse (Slagelse and neighbours) or national")] = (
        "slagelse"
    ),
    employers: Annotated[
        int | None, typer.Option("--employers", help="number of employers (default: vacancies / 3, at least 8)")
    ] = None,
    today: Annotated[
        str | None, typer.Option("--today", help="reference date YYYY-MM-DD for start/expiry/availability")
    ] = None,
    labels_share: Annotated[
        float, typer.Option("--labels-share", help="share of skills given as Danish free text (needs the lexicon)")
    ] = 0.0,
) -> None:
    """Generate synthetic employers, vacancies and citizens and write them as JSON lines."""
    with friendly_errors():
        if out.exists() and not out.is_dir():
            raise ValueError(f"--out {out} exists and is not a folder")
        try:
            day = dt.date.fromisoformat(today) if today is not None else None
        except ValueError:
            raise ValueError(f"--today '{today}' is not a date YYYY-MM-DD") from None
        started = time.perf_counter()
        data = generate(citizens, vacancies, seed=seed, n_employers=employers, region=region, today=day,
                        labels_share=labels_share)
        counts = write_jsonl(data, out)
    summary = ", ".join(f"{n} {name.removesuffix('.jsonl')}" for name, n in counts.items())
    typer.echo(f"wrote {summary} to {out} in {time.perf_counter() - started:.1f} s")
