"""`matcher synth`: files that parse back, readable errors."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from matcher.cli import app
from matcher.domain import Citizen, Employer, Vacancy

runner = CliRunner()


def test_synth_writes_files_that_parse_back(tmp_path: Path) -> None:
    out = tmp_path / "world"
    result = runner.invoke(app, ["synth", "--citizens", "120", "--vacancies", "30", "--seed", "2", "--out", str(out),
                                 "--today", "2026-11-23"])
    assert result.exit_code == 0, result.output
    assert "120 citizens" in result.output
    models: dict[str, type[Employer | Citizen | Vacancy]] = {
        "employers.jsonl": Employer, "citizens.jsonl": Citizen, "vacancies.jsonl": Vacancy
    }
    counts = {}
    for name, model in models.items():
        lines = (out / name).read_text(encoding="utf-8").splitlines()
        counts[name] = len(lines)
        for line in lines:
            raw = json.loads(line)
            assert model.model_validate(raw).model_dump(mode="json") == raw
    protected = [json.loads(line) for line in (out / "protected.jsonl").read_text(encoding="utf-8").splitlines()]
    assert counts["citizens.jsonl"] == len(protected) == 120
    assert counts["vacancies.jsonl"] == 30
    assert set(protected[0]) == {"gender", "birth_year", "origin_country"}
    again = tmp_path / "again"
    runner.invoke(app, ["synth", "--citizens", "120", "--vacancies", "30", "--seed", "2", "--out", str(again),
                        "--today", "2026-11-23"])
    assert (again / "citizens.jsonl").read_bytes() == (out / "citizens.jsonl").read_bytes()


def test_bad_arguments_give_one_line_and_exit_1(tmp_path: Path) -> None:
    cases = [
        (["--citizens", "-5"], "n_citizens"),
        (["--region", "fyn"], "region 'fyn' is unknown"),
        (["--today", "23/11/2026"], "--today"),
    ]
    for extra, message in cases:
        result = runner.invoke(app, ["synth", "--out", str(tmp_path / "x"), *extra])
        assert result.exit_code == 1
        assert message in result.output
        assert "Traceback" not in result.output
        assert len(result.output.strip().splitlines()) == 1
    afile = tmp_path / "afile"
    afile.write_text("", encoding="utf-8")
    result = runner.invoke(app, ["synth", "--out", str(afile)])
    assert result.exit_code == 1 and "not a folder" in result.output
