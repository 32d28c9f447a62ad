"""`matcher models ...`: build the fitted artefacts under ``models/`` with their model cards: the skill similarity
(from ESCO) and the learned re-ranker (from consultants' outcomes)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from matcher.commands._common import friendly_errors
from matcher.config import Settings, get_settings
from matcher.taxonomy._similarity import SkillSimilarity, evaluate_holdout, load_esco_skill_data, write_model_card

app = typer.Typer(
    help="Fitted models: build the skill-similarity artefact, train the re-ranker; each with its model card.",
    no_args_is_help=True,
)
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


def _outcomes_from_jsonl(path: Path) -> list[tuple[str, Mapping[str, Any] | None]]:
    """(kind, snapshot) per line of ``{"kind": "hired", "snapshot": {...}}``; one line per citizen–need pair."""
    rows: list[tuple[str, Mapping[str, Any] | None]] = []
    with path.open(encoding="utf-8") as lines:
        for n, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except ValueError as exc:
                raise ValueError(f"{path} line {n}: not JSON ({exc})") from None
            if not isinstance(item, dict) or not isinstance(item.get("kind"), str):
                raise ValueError(f"{path} line {n}: kind: expected an object with a feedback kind such as 'hired'")
            snapshot = item.get("snapshot")
            if snapshot is not None and not isinstance(snapshot, dict):
                raise ValueError(f"{path} line {n}: snapshot: expected an object or null")
            rows.append((item["kind"], snapshot))
    return rows


def _outcomes_from_database(url: str) -> list[tuple[str, Mapping[str, Any] | None]]:
    """The latest label and earliest snapshot of every labelled pair; the read is recorded in the audit log."""
    from matcher.ranking import LABELS
    from matcher.storage import (
        AuditEntry,
        AuditRepository,
        FeedbackRepository,
        make_engine,
        session_factory,
        transaction,
        upgrade,
    )

    engine = make_engine(url)
    try:
        upgrade(engine)
        with transaction(session_factory(engine)) as session:
            pairs = FeedbackRepository(session).labelled_pairs(LABELS)
            entry = AuditEntry("reranker.read_outcomes", "model", "reranker", {"pairs": len(pairs)})
            AuditRepository(session).record(None, "model training", [entry])
    finally:
        engine.dispose()
    return [(kind, snapshot) for _, _, kind, snapshot in pairs]


def _metrics_table(meta: Mapping[str, Any]) -> Table:
    metrics = meta["metrics"]
    table = Table(title=f"re-ranker {meta['version']}: held-out test split ({metrics['n']} pairs)")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, label in (
        ("auc", "AUC"),
        ("rule_auc", "AUC of the rule weights, same rows"),
        ("log_loss", "log-loss"),
        ("log_loss_uncalibrated", "log-loss before calibration"),
        ("brier", "Brier score"),
        ("ece", "expected calibration error"),
        ("base_rate", "share positive"),
    ):
        table.add_row(label, f"{metrics[key]:.4f}")
    return table


@app.command("train")
def train(
    database_url: Annotated[
        str | None, typer.Option(help="database to read outcomes from (default: MATCHER_DATABASE_URL)")
    ] = None,
    jsonl: Annotated[
        Path | None,
        typer.Option(help='read outcomes from JSON lines {"kind": "hired", "snapshot": {...}} instead'),
    ] = None,
    out: Annotated[Path | None, typer.Option(help="folder of versions (default: <models_dir>/reranker)")] = None,
    calibration: Annotated[str, typer.Option(help="sigmoid (Platt) or isotonic")] = "sigmoid",
    seed: Annotated[int, typer.Option(min=0, help="seed of the train / calibration / test split")] = 0,
) -> None:
    """Train the re-ranker on labelled outcomes (hired/interviewed vs rejected) and write a new version with its
    model card. Refuses when there are fewer outcomes than MATCHER_RERANKER_MIN_OUTCOMES (or fewer than
    MATCHER_RERANKER_MIN_PER_CLASS of each class)."""
    from matcher.ranking import TrainingSet, fit_reranker, reranker_root, save_model

    settings: Settings = get_settings()
    root = out if out is not None else reranker_root(settings)
    with friendly_errors(ValueError, OSError):
        if jsonl is not None:
            rows, source = _outcomes_from_jsonl(jsonl), f"JSON lines file {jsonl.name}"
        else:
            rows, source = _outcomes_from_database(database_url or settings.database_url), "the feedback database"
        data = TrainingSet.from_outcomes(rows, source=source)
        model = fit_reranker(
            data,
            settings.scoring,
            min_outcomes=settings.reranker_min_outcomes,
            min_per_class=settings.reranker_min_per_class,
            calibration=calibration,
            seed=seed,
        )
        folder = save_model(model, root)
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    skipped = ", ".join(f"{k} {v}" for k, v in data.skipped.items() if v) or "none"
    console.print(f"{data.n} labelled pairs ({data.positives} positive); left out: {skipped}", highlight=False)
    console.print(_metrics_table(meta), highlight=False)
    console.print(f"written to {folder} (MODEL_CARD.md included)", highlight=False, soft_wrap=True)
