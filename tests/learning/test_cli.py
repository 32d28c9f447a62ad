"""`matcher models build` writes a loadable artefact and a model card with the evaluation table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from matcher.cli import app
from matcher.taxonomy._similarity import SkillSimilarity

runner = CliRunner()


def test_build_writes_artefact_and_model_card(tmp_path: Path) -> None:
    out = tmp_path / "skill_similarity"
    args = ["models", "build", "--out", str(out), "--n-components", "16", "--eval-cases", "10", "--eval-pool", "100"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert {p.name for p in out.iterdir()} == {"embeddings.npy", "skill_uris.json", "meta.json", "MODEL_CARD.md"}
    model = SkillSimilarity.load(out)
    assert model.embeddings_.shape[1] == 16
    np.testing.assert_allclose(np.linalg.norm(model.embeddings_, axis=1), 1.0, atol=1e-5)
    card = (out / "MODEL_CARD.md").read_text()
    assert "ESCO v1.1.1" in card and "| half_essential | exact | 0 |" in card and "n_components" in card


def test_build_fails_clearly_without_esco(tmp_path: Path) -> None:
    result = runner.invoke(app, ["models", "build", "--out", str(tmp_path / "m"), "--data-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "occupations_en.csv.gz" in result.output and not (tmp_path / "m").exists()


def test_build_rejects_bad_credits_before_writing(tmp_path: Path) -> None:
    result = runner.invoke(app, ["models", "build", "--out", str(tmp_path / "m"), "--credits", "half"])
    assert result.exit_code == 1
    assert "--credits" in result.output and not (tmp_path / "m").exists()
