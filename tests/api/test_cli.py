"""The ``safetwin`` command line, run in-process with typer's runner."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app

runner = CliRunner()


def test_check_plant_lists_every_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "plant: {id: x, name: y}\nareas: []\n"
        "equipment: [{id: E1, name: e, kind: pump, area: nowhere, position: [0,0,0], size: [1,1,1]}]\n"
        "tags: []\n"
    )
    result = runner.invoke(app, ["check-plant", str(bad)])
    assert result.exit_code == 1
    assert "unknown area 'nowhere'" in result.output


def test_check_plant_reports_yaml_syntax_with_line(tmp_path: Path) -> None:
    bad = tmp_path / "broken.yaml"
    bad.write_text("plant:\n  id: [unclosed\n")
    result = runner.invoke(app, ["check-plant", str(bad)])
    assert result.exit_code == 1 and "line" in result.output


def test_check_plant_accepts_the_demo() -> None:
    result = runner.invoke(app, ["check-plant", "twin/plants/demo.yaml"])
    assert result.exit_code == 0 and "valid" in result.output


def test_demo_loads_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAFETWIN_DATA_DIR", str(tmp_path))
    first = runner.invoke(app, ["demo"])
    assert first.exit_code == 0, first.output
    assert "hazard_source" in first.output
    second = runner.invoke(app, ["demo"])
    assert second.exit_code == 0
    # every register reports 0 rows added the second time
    rows = [
        line
        for line in second.output.splitlines()
        if "│" in line and line.strip("│ ").split("│")[0].strip().isidentifier()
    ]
    assert rows and all(line.rstrip(" │").split("│")[-1].strip() == "0" for line in rows)
