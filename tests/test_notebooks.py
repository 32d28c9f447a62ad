"""Every notebook in notebooks/ runs top to bottom without an error, and is committed without outputs.

Each notebook runs in a fresh kernel of this interpreter (a ``python3`` kernelspec written to a temporary
``JUPYTER_PATH`` folder, so a user-level kernelspec can never pick another Python), with the matplotlib backend
Agg and the repository root as working directory. New notebooks are picked up by the glob; an empty folder is a
failure, not a pass on nothing.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from matcher.config import REPO_ROOT

NOTEBOOK_DIR = REPO_ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
CELL_TIMEOUT_S = 180
"""Per cell. The notebooks are sized to run in seconds; this only stops a hung kernel from hanging the suite."""
EXPECTED = {"evaluation.ipynb", "policy_what_if.ipynb"}


@pytest.fixture
def kernel_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A python3 kernelspec for ``sys.executable`` first on the Jupyter path; the kernel's environment."""
    spec = tmp_path / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (matcher venv)",
        "language": "python",
    }))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))
    return {**os.environ, "MPLBACKEND": "Agg", "PYDEVD_DISABLE_FILE_VALIDATION": "1"}


def test_the_notebooks_folder_is_not_empty() -> None:
    names = {path.name for path in NOTEBOOKS}
    assert names, f"no notebooks in {NOTEBOOK_DIR}: the notebook tests would pass on nothing"
    assert names >= EXPECTED, f"missing notebooks: {sorted(EXPECTED - names)}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_is_committed_without_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    dirty = [i for i, cell in enumerate(nb.cells)
             if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)]
    assert not dirty, f"{path.name}: cells {dirty} carry outputs or execution counts; clear them before committing"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs_without_errors(path: Path, kernel_env: dict[str, str]) -> None:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        kernel_name="python3",
        timeout=CELL_TIMEOUT_S,
        startup_timeout=120,
        allow_errors=False,
        resources={"metadata": {"path": str(REPO_ROOT)}},
    )
    started = time.perf_counter()
    client.execute(env=kernel_env)  # raises CellExecutionError naming the cell on the first error
    assert any(cell.get("outputs") for cell in nb.cells if cell.cell_type == "code"), f"{path.name} printed nothing"
    print(f"{path.name}: {time.perf_counter() - started:.1f} s")
