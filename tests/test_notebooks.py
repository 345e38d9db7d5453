"""Every notebook runs top to bottom (small settings via JAXGEN_QUICK=1) and is stored stripped."""

import os
from pathlib import Path

import hang_guard
import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_stored_without_outputs(path):
  notebook = nbformat.read(path, as_version=4)
  for cell in notebook.cells:
    if cell.cell_type == "code":
      assert not cell.outputs and cell.execution_count is None, f"{path.name}: strip outputs"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes(path, monkeypatch):
  monkeypatch.setenv("JAXGEN_QUICK", "1")
  monkeypatch.setenv("MPLBACKEND", "Agg")
  notebook = nbformat.read(path, as_version=4)
  client = NotebookClient(
    notebook,
    timeout=hang_guard.HANG_GUARD_S,  # per cell
    kernel_name="python3",
    resources={"metadata": {"path": str(path.parent)}},
  )
  try:
    client.execute(env=dict(os.environ))
  except CellTimeoutError as error:
    raise AssertionError(hang_guard.message(f"a cell of {path.name}")) from error
  errors = [o for c in notebook.cells for o in c.get("outputs", []) if o.output_type == "error"]
  assert not errors
