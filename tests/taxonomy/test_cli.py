"""`matcher taxonomy ...` through Typer's CliRunner: tables, JSON, and one-line errors without tracebacks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from matcher.cli import app

runner = CliRunner()
OPERATE_FORKLIFT = "http://data.europa.eu/esco/skill/28cb374e-6261-4133-8371-f9a5470145da"


def test_normalize_table() -> None:
    result = runner.invoke(app, ["taxonomy", "normalize", "lagerarbejder", "--limit", "3"])
    assert result.exit_code == 0, result.output
    assert "lagerarbejder" in result.output and "1.00" in result.output


def test_normalize_json() -> None:
    result = runner.invoke(app, ["taxonomy", "normalize", "forklift driver", "--json", "-n", "2", "--lang", "en"])
    assert result.exit_code == 0, result.output
    results = json.loads(result.output)["results"]
    assert len(results) == 2 and set(results[0]) == {"uri", "label", "score"}
    assert results[0]["score"] >= results[1]["score"]


def test_skills_json() -> None:
    result = runner.invoke(app, ["taxonomy", "skills", "gaffeltruck", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["results"][0]["uri"] == OPERATE_FORKLIFT


def test_extract_file_and_stdin(tmp_path: Path) -> None:
    ad = "Vi søger en lagermedarbejder med truckcertifikat og erfaring med gaffeltruck."
    path = tmp_path / "ad.txt"
    path.write_text(ad, encoding="utf-8")
    from_file = runner.invoke(app, ["taxonomy", "extract", str(path), "--json"])
    assert from_file.exit_code == 0, from_file.output
    skills = json.loads(from_file.output)["skills"]
    assert {ad[s["start"] : s["end"]] for s in skills} >= {"truckcertifikat", "gaffeltruck"}
    from_stdin = runner.invoke(app, ["taxonomy", "extract", "-", "--json"], input=ad)
    assert json.loads(from_stdin.output) == json.loads(from_file.output)
    table = runner.invoke(app, ["taxonomy", "extract", str(path)])
    assert table.exit_code == 0 and "truckcertifikat" in table.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["normalize", "   "], "text is empty"),
        (["skills", "x" * 20_001], "the limit is 20000"),
        (["normalize", "kok", "--lang", "xx"], "unknown language code 'xx'"),
        (["extract", "/no/such/ad.txt"], "no such file"),
    ],
)
def test_bad_input_is_one_line_without_traceback(args: list[str], message: str) -> None:
    result = runner.invoke(app, ["taxonomy", *args])
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output
    assert result.output.strip().count("\n") == 0


def test_non_utf8_file(tmp_path: Path) -> None:
    path = tmp_path / "ad.txt"
    path.write_bytes("Rengøring".encode("latin-1"))
    result = runner.invoke(app, ["taxonomy", "extract", str(path)])
    assert result.exit_code == 1
    assert "not UTF-8" in result.output and "Traceback" not in result.output
