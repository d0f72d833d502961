"""The ``safetwin`` command line, run in-process with typer's runner."""

from __future__ import annotations

import json
import shlex
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from api import cli
from api.cli import app, bytewax_command, recovery_partition_count
from connectors.kafka.admin import describe_partitions

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


# --- distributed mode ------------------------------------------------------------------------


def test_bytewax_command_single_process_with_recovery(tmp_path: Path) -> None:
    argv = bytewax_command(python="/py", workers=2, recovery_dir=tmp_path, snapshot_s=5)
    assert argv == [
        "/py",
        "-m",
        "bytewax.run",
        "api.flows:sensors",
        "-w",
        "2",
        "-s",
        "5",
        "-r",
        str(tmp_path),
        "-b",
        "0",
    ]


def test_bytewax_command_cluster_process() -> None:
    argv = bytewax_command(python="/py", workers=1, process_id=1, addresses="h1:2101; h2:2101", snapshot_s=10)
    assert argv == ["/py", "-m", "bytewax.run", "api.flows:sensors", "-w", "1", "-s", "10"] + [
        "-i",
        "1",
        "-a",
        "h1:2101;h2:2101",
    ]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"workers": 0}, "workers"),
        ({"snapshot_s": 0}, "snapshot"),
        ({"process_id": 0}, "go together"),
        ({"addresses": "h1:1;h2:2"}, "go together"),
        ({"process_id": 2, "addresses": "h1:1;h2:2"}, "not an index"),
        ({"process_id": 0, "addresses": "h1:1;h1:1"}, "twice"),
        ({"process_id": 0, "addresses": "h1;h2:2"}, "bad address 'h1'"),
        ({"process_id": 0, "addresses": "h1:70000"}, "bad address"),
        ({"process_id": 0, "addresses": "h1:1,h2:2"}, "bad address"),
    ],
)
def test_bytewax_command_rejects_bad_clusters(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        bytewax_command(python="/py", **kwargs)


@pytest.fixture
def exec_calls(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[tuple[list[str], dict[str, str]]]:
    """Record the flow command's exec instead of replacing the test process."""
    calls: list[tuple[list[str], dict[str, str]]] = []
    monkeypatch.setattr(cli, "_exec", lambda argv, env: calls.append((list(argv), env)))
    monkeypatch.setenv("SAFETWIN_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SAFETWIN_KAFKA_BROKERS", '["k1:9092"]')
    return calls


def test_flow_prints_and_execs_the_bytewax_command(exec_calls: list[Any], tmp_path: Path) -> None:
    recovery = tmp_path / "recovery"
    assert runner.invoke(app, ["recovery", "init", "--partitions", "2"]).exit_code == 0
    result = runner.invoke(app, ["flow", "-w", "2", "-i", "0", "-a", "a:2101;b:2101", "--brokers", "k2:9092,k3:9092"])
    assert result.exit_code == 0, result.output
    [(argv, env)] = exec_calls
    assert argv == [sys.executable, "-m", "bytewax.run", "api.flows:sensors", "-w", "2", "-s", "5"] + [
        "-i",
        "0",
        "-a",
        "a:2101;b:2101",
        "-r",
        str(recovery),
        "-b",
        "0",
    ]
    assert json.loads(env["SAFETWIN_KAFKA_BROKERS"]) == ["k2:9092", "k3:9092"]
    assert f"$ {shlex.join(argv)}\n" in result.output


def test_flow_runs_the_loader_with_its_own_recovery_dir(exec_calls: list[Any], tmp_path: Path) -> None:
    refused = runner.invoke(app, ["flow", "--loader"])
    assert refused.exit_code == 1 and "recovery-loader" in refused.output and not exec_calls
    assert (
        runner.invoke(
            app, ["recovery", "init", "--dir", str(tmp_path / "recovery-loader"), "--partitions", "1"]
        ).exit_code
        == 0
    )
    result = runner.invoke(app, ["flow", "--loader"])
    assert result.exit_code == 0, result.output
    [(argv, _env)] = exec_calls
    assert argv[3] == "api.flows:loader" and argv[-4:] == ["-r", str(tmp_path / "recovery-loader"), "-b", "0"]


def test_flow_without_recovery_and_brokers_from_environment(exec_calls: list[Any]) -> None:
    result = runner.invoke(app, ["flow", "--no-recovery", "--snapshot-s", "2"])
    assert result.exit_code == 0, result.output
    [(argv, env)] = exec_calls
    assert argv[3:] == ["api.flows:sensors", "-w", "1", "-s", "2"]
    assert json.loads(env["SAFETWIN_KAFKA_BROKERS"]) == ["k1:9092"]


def test_flow_refuses_an_uninitialised_recovery_dir(exec_calls: list[Any], tmp_path: Path) -> None:
    result = runner.invoke(app, ["flow", "--recovery-dir", str(tmp_path / "nope")])
    assert result.exit_code == 1
    assert "safetwin recovery init" in result.output and not exec_calls


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-i", "0"], "go together"),
        (["-i", "3", "-a", "a:1;b:2"], "not an index"),
        (["-w", "0"], "greater than or equal"),
    ],
)
def test_flow_rejects_bad_options(exec_calls: list[Any], args: list[str], message: str) -> None:
    result = runner.invoke(app, ["flow", "--no-recovery", *args])
    assert result.exit_code == 2
    assert message in " ".join(result.output.split()) and not exec_calls


def test_flow_needs_brokers(exec_calls: list[Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SAFETWIN_KAFKA_BROKERS")
    result = runner.invoke(app, ["flow", "--no-recovery"])
    assert result.exit_code == 2 and "no Kafka brokers configured" in result.output and not exec_calls


def test_recovery_init_is_idempotent_and_refuses_another_count(tmp_path: Path) -> None:
    directory = tmp_path / "shared" / "recovery"
    first = runner.invoke(app, ["recovery", "init", "--dir", str(directory), "--partitions", "3"])
    assert first.exit_code == 0, first.output
    assert sorted(p.name for p in directory.iterdir()) == [f"part-{i}.sqlite3" for i in range(3)]
    assert recovery_partition_count(directory) == 3
    again = runner.invoke(app, ["recovery", "init", "--dir", str(directory), "--partitions", "3"])
    assert again.exit_code == 0 and "already initialised" in again.output
    other = runner.invoke(app, ["recovery", "init", "--dir", str(directory), "--partitions", "4"])
    assert other.exit_code == 1
    assert "already initialised with 3 partitions, not 4" in " ".join(other.output.split())
    assert len(list(directory.iterdir())) == 3


def test_recovery_init_defaults_to_the_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAFETWIN_DATA_DIR", str(tmp_path / "var"))
    result = runner.invoke(app, ["recovery", "init", "--partitions", "1"])
    assert result.exit_code == 0, result.output
    assert recovery_partition_count(tmp_path / "var" / "recovery") == 1


def test_topics_create_needs_brokers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SAFETWIN_KAFKA_BROKERS", raising=False)
    result = runner.invoke(app, ["topics", "create", "--partitions", "2"])
    assert result.exit_code == 2 and "no Kafka brokers configured" in result.output


def test_topics_create_reports_an_unreachable_cluster() -> None:
    result = runner.invoke(app, ["topics", "create", "--partitions", "2", "--brokers", "127.0.0.1:9", "--timeout", "1"])
    assert result.exit_code == 1 and "cannot reach Kafka at 127.0.0.1:9" in result.output


def test_distributed_topics_are_the_flows() -> None:
    from api.flows import RAW_READINGS_TOPIC
    from api.settings import Settings

    names = cli.distributed_topics(Settings())
    assert names[0] == RAW_READINGS_TOPIC
    assert {"safetwin.sensor.reading", "safetwin.alarm.event", "safetwin.deadletter"} <= set(names[1:])


def test_topics_create_against_kafka(kafka_brokers: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    prefix = f"clitest{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("SAFETWIN_KAFKA_TOPIC_PREFIX", prefix)
    monkeypatch.setenv("SAFETWIN_KAFKA_BROKERS", json.dumps(kafka_brokers))
    from api.settings import Settings

    names = cli.distributed_topics(Settings())
    assert names[0] == f"{prefix}.sensor.reading.raw" and all(n.startswith(f"{prefix}.") for n in names)
    first = runner.invoke(app, ["topics", "create", "--partitions", "3"])
    assert first.exit_code == 0, first.output
    assert describe_partitions(kafka_brokers, names) == dict.fromkeys(names, 3)
    rows = {line.split("│")[1].strip(): line.split("│")[2:] for line in first.output.splitlines() if prefix in line}
    assert rows.keys() == set(names)
    assert all(cells[0].strip() == "3" and "created" in cells[1] for cells in rows.values())
    # idempotent: a second run creates nothing; another count changes nothing and says so
    again = runner.invoke(app, ["topics", "create", "--partitions", "3", "--brokers", ",".join(kafka_brokers)])
    assert again.exit_code == 0 and "created" not in again.output and again.output.count("exists") == len(names)
    other = runner.invoke(app, ["topics", "create", "--partitions", "5"])
    assert other.exit_code == 0 and "wanted 5" in other.output
    assert describe_partitions(kafka_brokers, names) == dict.fromkeys(names, 3)
