"""The teaching notebooks: stored without outputs, and they run top to bottom."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))
IDS = [p.name for p in NOTEBOOKS]


def test_the_teaching_notebooks_are_there():
    names = {p.name for p in NOTEBOOKS}
    assert {"01_queues_and_waiting.ipynb", "02_the_fas3_trap.ipynb", "03_who_pays_who_saves.ipynb",
            "04_calibration.ipynb"} <= names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_a_stored_notebook_has_no_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name}, cell {i}: strip the outputs before saving"
            assert cell.execution_count is None, f"{path.name}, cell {i}: strip the execution count"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_a_notebook_runs_top_to_bottom(path):
    nb = nbformat.read(path, as_version=4)
    # Run in the notebooks folder, as a teacher opening it in Jupyter would; the file is not changed.
    client = NotebookClient(nb, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOKS_DIR)}})
    client.execute()
    images = sum("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert images >= 3, f"{path.name}: expected figures"
