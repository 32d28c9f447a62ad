"""`matcher models ...`: build the fitted artefacts under ``models/`` (skill similarity) with their model cards."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from matcher.commands._common import friendly_errors
from matcher.config import get_settings
from matcher.taxonomy._similarity import SkillSimilarity, evaluate_holdout, load_esco_skill_data, write_model_card

app = typer.Typer(help="Fitted models: build the skill-similarity artefact and its model card.", no_args_is_help=True)
console = Console()
logger = logging.getLogger(__name__)


def _credits(text: str) -> list[float]:
    try:
        return [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"--credits: expected comma-separated numbers such as 0.5,0.2,0.1, got {text!r}") from None


@app.command("build")
def build(
    out: Annotated[
        Path | None, typer.Option(help="folder for the artefact (default: <models_dir>/skill_similarity)")
    ] = None,
    data_dir: Annotated[Path | None, typer.Option(help="folder holding esco/ (default: MATCHER_DATA_DIR)")] = None,
    n_components: Annotated[int, typer.Option(min=1, help="embedding dimension")] = 128,
    min_cooccurrence: Annotated[int, typer.Option(min=1, help="occupations a skill needs to be embedded")] = 2,
    weighting: Annotated[str, typer.Option(help="ppmi or tfidf")] = "ppmi",
    n_neighbours: Annotated[int, typer.Option(min=1, help="neighbours per skill in the related matrix")] = 10,
    min_similarity: Annotated[float, typer.Option(help="cosine threshold for a neighbour, in (0, 1)")] = 0.75,
    random_state: Annotated[int, typer.Option(help="SVD seed")] = 0,
    eval_cases: Annotated[int, typer.Option(min=0, help="hold-out cases for the model card; 0 skips it")] = 500,
    eval_pool: Annotated[int, typer.Option(min=10, help="occupations hidden from the evaluation fit")] = 1000,
    credits: Annotated[str, typer.Option(help="related-skill credits to evaluate, comma-separated")] = "0.5,0.2,0.1",
) -> None:
    """Fit the skill-similarity model on all of ESCO, save it, evaluate it on a hold-out and write MODEL_CARD.md."""
    settings = get_settings()
    folder = out if out is not None else settings.models_dir / "skill_similarity"
    with friendly_errors(ValueError, OSError):
        start = time.perf_counter()
        eval_credits = _credits(credits)
        data = load_esco_skill_data(data_dir if data_dir is not None else settings.data_dir)
        params: dict[str, Any] = {
            "n_components": n_components,
            "min_cooccurrence": min_cooccurrence,
            "weighting": weighting,
            "n_neighbours": n_neighbours,
            "min_similarity": min_similarity,
            "random_state": random_state,
        }
        model = SkillSimilarity(**params).fit(data.skill_occupation(), data.skill_uris)
        model.save(folder)
        report = None
        if eval_cases > 0:
            report = evaluate_holdout(
                data, params, n_pool=eval_pool, n_cases=eval_cases, credits=eval_credits, seed=random_state
            )
            console.print(report.table(), highlight=False, soft_wrap=True)
        card = write_model_card(folder, model, data, report, time.perf_counter() - start)
    console.print(
        f"{len(model.skill_uris_)} skills × {model.embeddings_.shape[1]} dims written to {folder} "
        f"({card.name} included) in {time.perf_counter() - start:.1f} s",
        highlight=False,
    )
