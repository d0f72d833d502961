"""The analyst and PdM notebooks run clean, top to bottom, against the demo data.

Executed with nbclient in a real kernel (the venv's Python), from the repository root, so a
notebook breaks the suite the moment the public API it uses changes.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["pdm.ipynb"])
def test_notebook_runs_clean(name: str) -> None:
    nb = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    NotebookClient(nb, timeout=240, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    last = nb.cells[-1].outputs
    assert last and "warned_h_before_failure" in str(last[0].get("data", {}))
