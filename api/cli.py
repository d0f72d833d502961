"""The ``safetwin`` command line (typer + rich).

Embedded mode is one command (``safetwin run``). Distributed mode is a few, run in order by an
operator (README, "Distributed mode")::

    safetwin topics create --partitions 4          # raw + output topics, partitions = total workers
    safetwin recovery init --partitions 4          # Bytewax recovery store (shared disk)
    safetwin flow -w 2 -i 0 -a "h1:2101;h2:2101"   # on each flow machine, -i 1 on the second
    safetwin api --port 8000                       # each API replica; live push from Kafka
"""

from __future__ import annotations

import json
import logging
import os
import re
import shlex
import sqlite3
import sys
from collections.abc import Sequence
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.table import Table

from api.cli_audit import audit_app
from api.cli_console import console
from api.cli_console import fail as _fail
from api.settings import Settings

if TYPE_CHECKING:
    from twin.field_process import FieldProcess

app = typer.Typer(help="SafeTwin 安全风险智能化管控平台", no_args_is_help=True, add_completion=False)
topics_app = typer.Typer(help="Kafka topics of the distributed mode.", no_args_is_help=True)
recovery_app = typer.Typer(help="Bytewax recovery store of the distributed flow.", no_args_is_help=True)
pdm_app = typer.Typer(help="Predictive maintenance models: train and evaluate.", no_args_is_help=True)
app.add_typer(topics_app, name="topics")
app.add_typer(recovery_app, name="recovery")
app.add_typer(pdm_app, name="pdm")
app.add_typer(audit_app, name="audit")
SHUTDOWN_GRACE_S = 2
"""Seconds open connections (e.g. /ws/live) get on SIGTERM before they are closed."""

SENSOR_FLOW = "api.flows:sensors"
"""Import string of the distributed sensor flow, as ``python -m bytewax.run`` takes it."""
LOADER_FLOW = "api.flows:loader"
"""The store loader: output topics -> the one store (when several flow processes run)."""
_ADDRESS = re.compile(r"[^\s:;]+:(\d{1,5})")


def _settings(**overrides: Any) -> Settings:
    """Settings from the environment plus command-line overrides; a bad value exits cleanly."""
    from pydantic import ValidationError
    from pydantic_settings import SettingsError

    try:
        return Settings(**overrides)
    except (ValidationError, SettingsError) as err:
        _fail(f"invalid settings (SAFETWIN_* environment or options): {err}", code=2)


def _brokers(option: str | None, settings: Settings) -> list[str]:
    """Brokers from ``--brokers a:9092,b:9092`` or else ``SAFETWIN_KAFKA_BROKERS``; none is an error."""
    brokers = [b.strip() for b in option.split(",") if b.strip()] if option else list(settings.kafka_brokers)
    if not brokers:
        _fail(
            "no Kafka brokers configured: pass --brokers host:9092 or set "
            "SAFETWIN_KAFKA_BROKERS='[\"host:9092\"]' (a JSON list)",
            code=2,
        )
    return brokers


BrokersOption = Annotated[
    str | None,
    typer.Option(help="Kafka bootstrap servers, comma-separated (default SAFETWIN_KAFKA_BROKERS)"),
]


@app.command()
def run(
    host: Annotated[str | None, typer.Option(help="bind address (default SAFETWIN_HOST or 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="HTTP port (default SAFETWIN_PORT or 8000)")] = None,
    ingest: Annotated[str | None, typer.Option(help="opcua or modbus")] = None,
    simulate: Annotated[bool, typer.Option(help="start the built-in plant simulator")] = True,
) -> None:
    """Start the embedded plant: simulator, pipeline, API and 3D twin."""
    # The plant runtime owns this process: interpreter tuned for it (see Settings.own_process).
    overrides = _address(host, port, simulate=simulate, own_process=True)
    if ingest:
        overrides["ingest"] = ingest
    settings = _settings(**overrides)
    from api.field_devices import launch_devices

    devices = launch_devices(settings)  # they boot (~3 s) while the platform loads (~5 s)
    url = f"http://{settings.host}:{settings.port}"
    _serve(
        settings,
        f"[bold green]SafeTwin[/] embedded plant starting → [link={url}]{url}[/link]  (API docs {url}/docs)",
        devices=devices,
    )


def _address(host: str | None, port: int | None, **overrides: object) -> dict[str, object]:
    """Settings overrides of the serving commands: the address given on the command line, if any."""
    if host:
        overrides["host"] = host
    if port:
        overrides["port"] = port
    return overrides


def _serve(settings: Settings, banner: str, *, devices: FieldProcess | None = None) -> None:
    """Build the app for ``settings`` and serve it until SIGTERM/Ctrl-C (``run`` and ``api``)."""
    import uvicorn

    from api.access_log import log_config
    from api.app import create_app

    console.print(banner)
    uvicorn.run(
        create_app(settings, devices=devices),
        host=settings.host,
        port=settings.port,
        log_config=log_config(),
        log_level="info",
        timeout_graceful_shutdown=SHUTDOWN_GRACE_S,  # open WebSockets must not hold a shutdown
    )


@app.command("check-plant")
def check_plant(path: Annotated[Path, typer.Argument(help="plant YAML file")]) -> None:
    """Validate a plant file and summarise it; every problem is listed with its location."""
    from twin.plant import PlantFileError, load_plant

    try:
        plant = load_plant(path)
    except PlantFileError as err:
        console.print(f"[bold red]✗ {err.path}[/]")
        for problem in err.problems:
            console.print(f"  [red]-[/] {problem}")
        raise typer.Exit(code=1) from err
    table = Table(title=f"{plant.plant.name} ({plant.plant.id})")
    for col in ("what", "count"):
        table.add_column(col)
    for what in ("areas", "hazard_sources", "equipment", "tags", "anchors", "cameras", "zones"):
        table.add_row(what, str(len(getattr(plant, what))))
    console.print(table)
    console.print("[green]✓ plant file is valid[/]")


@app.command()
def scene(
    path: Annotated[Path, typer.Option(help="plant YAML")] = Path("twin/plants/demo.yaml"),
    out: Annotated[Path, typer.Option("-o", "--out", help="GLB file to write")] = Path("plant.glb"),
) -> None:
    """Export the plant's 3D scene as a GLB file."""
    from twin.plant import load_plant
    from twin.scene import export_glb

    data = export_glb(load_plant(path))
    out.write_bytes(data)
    console.print(f"wrote {out} ({len(data) / 1024:.0f} KiB)")


@app.command()
def demo() -> None:
    """Fill every register with the demo plant's data (idempotent: a second run adds nothing)."""
    from registers.db import make_engine, make_session_factory, migrate
    from registers.demo import load_demo
    from twin.plant import load_plant

    settings = Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    url = settings.resolved_database_url
    with console.status("迁移数据库 / migrating the registers database…"):
        migrate(url)
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session, console.status("载入演示数据 / loading demo data…"):
            counts = load_demo(session=session, plant=load_plant(settings.plant_file))
            session.commit()
    finally:
        engine.dispose()
    table = Table(title="演示数据 / demo data")
    table.add_column("register")
    table.add_column("rows added", justify="right")
    for name, n in counts.items():
        table.add_row(name, str(n))
    console.print(table)


# --------------------------------------------------------------------------------------------
# Distributed mode
# --------------------------------------------------------------------------------------------


def distributed_topics(settings: Settings) -> list[str]:
    """The topics of the distributed sensor flow: raw readings in first, then what it writes."""
    from api.flows import topics

    names = topics(settings)
    return [names["raw"], *(topic for role, topic in names.items() if role != "raw")]


@topics_app.command("create")
def topics_create(
    partitions: Annotated[
        int, typer.Option(min=1, help="partitions per topic: the total number of Bytewax workers (all processes)")
    ],
    replication: Annotated[int, typer.Option(min=1, help="copies of each partition (≤ number of brokers)")] = 1,
    brokers: BrokersOption = None,
    timeout_s: Annotated[float, typer.Option("--timeout", min=1, help="seconds to wait for the cluster")] = 30.0,
) -> None:
    """Create the raw-reading topic and the flow's output topics (idempotent)."""
    from connectors.kafka.admin import KafkaAdminError, describe_partitions, ensure_topics

    settings = _settings()
    addresses = _brokers(brokers, settings)
    names = distributed_topics(settings)
    logging.getLogger("connectors.kafka.admin").setLevel(logging.ERROR)  # the table says it
    admin_config = {"bootstrap_timeout_ms": int(timeout_s * 1000)}
    try:
        created = ensure_topics(
            addresses,
            dict.fromkeys(names, partitions),
            replication_factor=replication,
            timeout_s=timeout_s,
            admin_config=admin_config,
        )
        counts = describe_partitions(addresses, names, admin_config=admin_config)
    except KafkaAdminError as err:
        cause = f" ({err.__cause__})" if err.__cause__ else ""
        _fail(f"{err}{cause}")
    table = Table(title=f"Kafka topics at {', '.join(addresses)}")
    table.add_column("topic")
    table.add_column("partitions", justify="right")
    table.add_column("")
    mismatched = []
    for name in names:
        n = counts.get(name, 0)
        if name in created:
            note = "[green]created[/]"
        elif n == partitions:
            note = "exists"
        else:
            note = f"[yellow]exists with {n}, wanted {partitions}: left unchanged[/]"
            mismatched.append(name)
        table.add_row(name, str(n), note)
    console.print(table)
    if mismatched:
        console.print(
            "[yellow]![/] partition counts are never changed by this command (it would move keys between "
            "partitions); a raw topic with fewer partitions than workers leaves workers idle.",
            highlight=False,
        )


def recovery_partition_count(directory: Path) -> int | None:
    """Partition count a Bytewax recovery directory was initialised with (None if not initialised)."""
    parts = sorted(directory.glob("part-*.sqlite3")) if directory.is_dir() else []
    if not parts:
        return None
    try:
        # A plain (not read-only) connection, closed at once: SQLite then removes the -wal/-shm
        # files it needs to read a WAL database, as Bytewax's own connections do.
        with closing(sqlite3.connect(parts[0])) as db:
            row = db.execute("SELECT part_count FROM parts LIMIT 1").fetchone()
    except sqlite3.Error as err:
        msg = f"{parts[0]} is not a Bytewax recovery partition: {err}"
        raise ValueError(msg) from err
    if row is None:
        msg = f"{parts[0]} is not a Bytewax recovery partition: no partition record"
        raise ValueError(msg)
    return int(row[0])


@recovery_app.command("init")
def recovery_init(
    partitions: Annotated[int, typer.Option(min=1, help="recovery partitions, fixed forever (e.g. total workers)")],
    directory: Annotated[
        Path | None, typer.Option("--dir", help="recovery directory (default <data_dir>/recovery)")
    ] = None,
) -> None:
    """Create and initialise the flow's recovery directory (idempotent for the same count)."""
    from bytewax.recovery import init_db_dir

    directory = directory or _settings().data_dir / "recovery"
    try:
        existing = recovery_partition_count(directory)
    except ValueError as err:
        _fail(str(err))
    if existing == partitions:
        console.print(f"[green]✓[/] {directory} is already initialised with {partitions} partitions", highlight=False)
        return
    if existing is not None:
        _fail(
            f"{directory} is already initialised with {existing} partitions, not {partitions}; the count is fixed "
            "for the life of a recovery store (the number of workers may differ from it). Use that count, or "
            "another --dir for a fresh start (which forgets the Kafka offsets and alarm state kept here)."
        )
    directory.mkdir(parents=True, exist_ok=True)
    init_db_dir(directory, partitions)  # type: ignore[no-untyped-call]
    console.print(f"[green]✓[/] initialised {directory} with {partitions} recovery partitions", highlight=False)


def bytewax_command(
    *,
    python: str,
    workers: int = 1,
    process_id: int | None = None,
    addresses: str | None = None,
    recovery_dir: Path | None = None,
    snapshot_s: int = 5,
    flow: str = SENSOR_FLOW,
) -> list[str]:
    """The ``python -m bytewax.run`` command line of one flow process.

    Args:
        python: Interpreter to run (``sys.executable`` in production).
        workers: Worker threads in this process (``-w``).
        process_id: This process's index in ``addresses`` (``-i``); None for a single process.
        addresses: ``host:port`` of every process, semicolon-separated, the same on each (``-a``).
        recovery_dir: Initialised recovery directory (``-r`` with ``-b 0``); None runs without.
        snapshot_s: Seconds between state snapshots (``-s``): at most this much is replayed.
        flow: Dataflow import string.

    Returns:
        The argument vector, interpreter first.

    Raises:
        ValueError: If the options do not describe a valid cluster.

    Example:
        >>> bytewax_command(python="python", workers=2, process_id=1, addresses="a:2101;b:2101")
        ['python', '-m', 'bytewax.run', 'api.flows:sensors', '-w', '2', '-s', '5', '-i', '1', '-a', 'a:2101;b:2101']
    """
    if workers < 1:
        msg = f"workers must be at least 1, got {workers}"
        raise ValueError(msg)
    if snapshot_s < 1:
        msg = f"the snapshot interval must be at least 1 s, got {snapshot_s}"
        raise ValueError(msg)
    argv = [python, "-m", "bytewax.run", flow, "-w", str(workers), "-s", str(snapshot_s)]
    if (process_id is None) != (addresses is None):
        msg = "--process-id and --addresses go together (every process gets the same address list)"
        raise ValueError(msg)
    if process_id is not None and addresses is not None:
        hosts = [a.strip() for a in addresses.split(";")]
        for address in hosts:
            match = _ADDRESS.fullmatch(address)
            if match is None or not 0 < int(match.group(1)) < 65536:
                msg = f"bad address {address!r} in --addresses: expected host:port, separated by ';'"
                raise ValueError(msg)
        if len(set(hosts)) != len(hosts):
            msg = f"--addresses lists a process twice: {addresses!r}"
            raise ValueError(msg)
        if not 0 <= process_id < len(hosts):
            msg = f"--process-id {process_id} is not an index into the {len(hosts)} addresses (0..{len(hosts) - 1})"
            raise ValueError(msg)
        argv += ["-i", str(process_id), "-a", ";".join(hosts)]
    if recovery_dir is not None:
        argv += ["-r", str(recovery_dir), "-b", "0"]
    return argv


def _exec(argv: Sequence[str], env: dict[str, str]) -> NoReturn:
    """Replace this process with ``argv`` (signals then reach Bytewax directly)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(argv[0], list(argv), env)


@app.command()
def flow(
    workers: Annotated[int, typer.Option("--workers", "-w", min=1, help="worker threads in this process")] = 1,
    process_id: Annotated[
        int | None, typer.Option("--process-id", "-i", min=0, help="this process's index in --addresses")
    ] = None,
    addresses: Annotated[
        str | None, typer.Option("--addresses", "-a", help='every flow process, "h1:p1;h2:p2", same on each')
    ] = None,
    recovery_dir: Annotated[
        Path | None, typer.Option(help="initialised recovery directory (default <data_dir>/recovery)")
    ] = None,
    recovery: Annotated[bool, typer.Option(help="keep offsets and alarm state across restarts")] = True,
    snapshot_s: Annotated[int, typer.Option(min=1, help="seconds between recovery snapshots")] = 5,
    loader: Annotated[
        bool, typer.Option("--loader", help="run the store loader (output topics → store) instead of the flow")
    ] = False,
    name: Annotated[
        str, typer.Option("--flow", help="which flow: sensors, risk, pdm, positioning or video (api.flows)")
    ] = "sensors",
    brokers: BrokersOption = None,
) -> None:
    """Run one process of a distributed flow (default: the sensor flow, Kafka raw readings → store + topics)."""
    if name not in ("sensors", "risk", "pdm", "positioning", "video"):
        _fail(f"unknown flow {name!r}: pick sensors, risk, pdm, positioning or video", code=2)
    settings = _settings()
    addresses_list = _brokers(brokers, settings)
    default_dir = settings.data_dir / (
        "recovery-loader" if loader else "recovery" if name == "sensors" else f"recovery-{name}"
    )
    directory = (recovery_dir or default_dir) if recovery else None
    try:
        argv = bytewax_command(
            python=sys.executable,
            workers=workers,
            process_id=process_id,
            addresses=addresses,
            recovery_dir=directory,
            snapshot_s=snapshot_s,
            flow=LOADER_FLOW if loader else f"api.flows:{name}",
        )
    except ValueError as err:
        _fail(str(err), code=2)
    if directory is not None:
        try:
            count = recovery_partition_count(directory)
        except ValueError as err:
            _fail(str(err))
        if count is None:
            _fail(
                f"{directory} is not an initialised recovery directory: run "
                f"`safetwin recovery init --dir {directory} --partitions N` first (or pass --no-recovery)"
            )
    env = dict(os.environ)
    env["SAFETWIN_KAFKA_BROKERS"] = json.dumps(addresses_list)
    console.print(f"$ {shlex.join(argv)}", markup=False, highlight=False, soft_wrap=True)  # copyable
    _exec(argv, env)


@app.command("api")
def api_replica(
    host: Annotated[str | None, typer.Option(help="bind address (default SAFETWIN_HOST or 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="HTTP port (default SAFETWIN_PORT or 8000)")] = None,
    brokers: BrokersOption = None,
    workers: Annotated[
        int, typer.Option("--workers", "-w", min=1, help="worker processes (about one per core); >1 needs PostgreSQL")
    ] = 1,
    db_connections: Annotated[
        int | None,
        typer.Option(
            min=1, help="database connections all workers may open together (default: what PostgreSQL has free)"
        ),
    ] = None,
) -> None:
    """Start one API replica of the distributed mode: no simulator, live push from Kafka."""
    settings = _settings(**_address(host, port, simulate=False, kafka_brokers=_brokers(brokers, _settings())))
    url = f"http://{settings.host}:{settings.port}"
    banner = (
        f"[bold green]SafeTwin[/] API replica starting → [link={url}]{url}[/link]  "
        f"(Kafka {', '.join(settings.kafka_brokers)})"
    )
    if workers == 1:
        _serve(settings, banner)
        return
    _serve_workers(settings, banner, workers=workers, db_connections=db_connections)


WORKER_HEALTHCHECK_S = 60
"""Seconds a worker may take to answer the supervisor's liveness ping (start-up included)."""


def _serve_workers(settings: Settings, banner: str, *, workers: int, db_connections: int | None) -> None:
    """First-start work once here, then ``workers`` uvicorn processes (see :mod:`api.workers`)."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from api.access_log import log_config
    from api.workers import (
        WORKER_APP,
        WorkerListener,
        WorkerSetupError,
        listening_socket,
        prepare,
        reuse_port_supported,
        worker_env,
    )

    try:
        with console.status("迁移数据库 / migrating, first-start checks…"):
            prepared = prepare(settings, workers=workers, db_connections=db_connections)
    except WorkerSetupError as err:
        _fail(str(err), code=2)
    size, overflow = prepared.pool
    os.environ.update(worker_env(settings, prepared.pool, workers=workers))
    console.print(
        f"{banner}\n  {workers} workers, database pool {size} + {overflow} overflow each "
        f"(≤ {workers * (size + overflow + int(settings.auth_cache))} connections, account-change listeners included)",
        highlight=False,
    )
    config = uvicorn.Config(
        WORKER_APP,
        factory=True,
        workers=workers,
        host=settings.host,
        port=settings.port,
        log_config=log_config(),
        log_level="info",
        timeout_graceful_shutdown=round(SHUTDOWN_GRACE_S),
        # The supervisor kills a worker that does not answer its ping within this; uvicorn's 5 s
        # killed workers still importing the app on a busy box, and busy serving ones.
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_S,
    )
    # What uvicorn.run does for several workers, with a listening socket per worker where the
    # kernel balances connections over them (api.workers.listening_socket says why).
    if reuse_port_supported():
        try:  # a port another server holds is refused here, once, not by every worker in turn
            listening_socket(settings.host, settings.port).close()
        except OSError as err:
            _fail(f"cannot listen on {settings.host}:{settings.port}: {err}", code=3)
        sockets: list[Any] = [WorkerListener(settings.host, settings.port)]
        logging.getLogger("uvicorn.error").info(
            "Uvicorn running on http://%s:%d, a listening socket per worker", settings.host, settings.port
        )
    else:
        sockets = [config.bind_socket()]
    Multiprocess(config, sockets=sockets).run()


# Checks the contract makes in code (models.contracts) that msgspec cannot put in the schema.
_GATEWAY_FIELDS: dict[str, dict[str, Any]] = {
    "tag": {"minLength": 1, "description": "Tag id as in the plant file, e.g. PT-101. Also the Kafka message key."},
    "ts": {"exclusiveMinimum": 0, "description": "Sample time, UTC epoch milliseconds."},
    "value": {"description": "Engineering value in the tag's unit; must be finite."},
    "quality": {"description": "The device's or gateway's own verdict; the flow refines it."},
    "source": {"description": "Gateway or device that read the value, e.g. modbus://10.0.0.5/1."},
}


def gateway_schema() -> dict[str, Any]:
    """JSON Schema of a message on the raw-readings topic: one SensorReading or an array of them.

    Generated from the msgspec contract (``models.contracts.SensorReading``), so the published
    file (``docs/gateway-message.schema.json``) cannot drift from what the flow decodes.
    """
    import msgspec

    from models.contracts import SensorReading

    generated = msgspec.json.schema(SensorReading | list[SensorReading])
    for name, extra in _GATEWAY_FIELDS.items():
        generated["$defs"]["SensorReading"]["properties"][name].update(extra)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "SafeTwin gateway message",
        "description": (
            "A message a field gateway publishes to the Kafka topic safetwin.sensor.reading.raw, keyed by tag "
            "(UTF-8 JSON): one reading, or an array of readings (one scan). Unknown fields are ignored; a "
            "message that does not match becomes a dead letter on safetwin.deadletter."
        ),
        **generated,
    }


def render_gateway_schema() -> str:
    """The schema as committed: 2-space JSON, UTF-8, newline at the end."""
    return json.dumps(gateway_schema(), indent=2, ensure_ascii=False) + "\n"


@app.command("gateway-schema")
def gateway_schema_command(
    out: Annotated[Path | None, typer.Option("-o", "--out", help="file to write (default: print)")] = None,
) -> None:
    """Print (or write) the JSON Schema of the gateway message on the raw-readings topic."""
    text = render_gateway_schema()
    if out is None:
        sys.stdout.write(text)
        return
    out.write_text(text, encoding="utf-8")
    console.print(f"wrote {out}", highlight=False)


# --------------------------------------------------------------------------------------------
# Predictive maintenance
# --------------------------------------------------------------------------------------------

ModelDirOption = Annotated[
    Path | None, typer.Option("--dir", help="model directory (default <SAFETWIN_DATA_DIR>/models/pdm)")
]


def _model_dir(option: Path | None) -> Path:
    return option if option is not None else _settings().data_dir / "models" / "pdm"


def _metrics_table(title: str, metrics: dict[str, Any]) -> Table:
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_column("target", justify="right")
    targets = {"rmse_gain": "≥ 0.30", "recall": "≥ 0.90", "false_alarms_per_asset_30d": "≤ 1.0"}
    for key, value in metrics.items():
        table.add_row(key, f"{value:g}" if isinstance(value, float) else str(value), targets.get(key, ""))
    return table


def _simulate(progress: Any, label: str, n: int, seed: int) -> Any:
    from api.pdm_models import stack_with_progress
    from twin.degradation import FS, simulate_fleet

    task = progress.add_task(f"{label}: simulate {n} run-to-failure histories", total=None)
    assets = simulate_fleet(n, seed=seed)
    progress.update(task, total=1, completed=1)
    task = progress.add_task(f"{label}: window features", total=n)
    return stack_with_progress(assets, FS, lambda: progress.advance(task))


@pdm_app.command("train")
def pdm_train(
    assets: Annotated[int, typer.Option(min=6, max=2000, help="training assets (pumps, compressors, agitators)")] = 90,
    test_assets: Annotated[int, typer.Option(min=3, max=2000, help="held-out assets for the metrics")] = 30,
    seed: Annotated[int, typer.Option(help="simulation seed of the training fleet (held-out: seed + 1)")] = 101,
    model_dir: ModelDirOption = None,
) -> None:
    """Train the anomaly detectors and the RUL regressor, evaluate on held-out assets, save a versioned model."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from threadpoolctl import threadpool_limits

    from api.pdm_models import evaluate, mean_lives, save
    from models.pdm.model import train

    directory = _model_dir(model_dir)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress, threadpool_limits(limits=1):
        fleet = _simulate(progress, "train", assets, seed)
        # one detector per asset class, then the regressor, the threshold and the final refit
        stages = progress.add_task("train: fit models", total=len(set(fleet.asset_class.tolist())) + 3)

        def stage(message: str) -> None:
            progress.update(stages, description=f"train: {message}")
            progress.advance(stages)

        model = train(fleet, seed=0, progress=stage)
        held_out = _simulate(progress, "held-out", test_assets, seed + 1)
        task = progress.add_task("held-out: evaluate", total=1)
        lives = mean_lives(fleet)
        metrics = evaluate(model, held_out, lives)
        progress.advance(task)
    meta = {
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "train_assets": assets,
        "train_seed": seed,
        "test_seed": seed + 1,
        "classes": list(model.classes),
        "mean_life_h": lives,
        "metrics": metrics,
    }
    saved = save(model, directory, meta)
    console.print(_metrics_table(f"PdM {model.version} on {test_assets} held-out assets", metrics))
    console.print(f"[green]✓[/] saved {saved.path}", highlight=False)


@pdm_app.command("evaluate")
def pdm_evaluate(
    model_file: Annotated[Path | None, typer.Option("--model", help="model file (default: the newest)")] = None,
    test_assets: Annotated[int, typer.Option(min=3, max=2000, help="held-out assets to score")] = 30,
    seed: Annotated[int, typer.Option(help="simulation seed of the held-out fleet")] = 202,
    model_dir: ModelDirOption = None,
) -> None:
    """Score a saved model on freshly simulated held-out assets against the constant-life baseline."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from threadpoolctl import threadpool_limits

    from api.pdm_models import evaluate, latest, load

    path = model_file or latest(_model_dir(model_dir))
    if path is None or not path.is_file():
        _fail(f"no PdM model at {path or _model_dir(model_dir)}: run `safetwin pdm train` first", code=2)
    try:
        saved = load(path)
    except Exception as err:  # noqa: BLE001 - a broken or foreign file is reported, not traced
        _fail(f"cannot load {path}: {type(err).__name__}: {err}")
    if seed == saved.meta.get("train_seed"):
        _fail(f"seed {seed} is the training fleet's: pick another for an honest evaluation", code=2)
    lives = saved.meta.get("mean_life_h") or {}
    if not lives:
        _fail(f"{path} has no metadata (.json with mean_life_h) for the baseline", code=2)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress, threadpool_limits(limits=1):
        fleet = _simulate(progress, "held-out", test_assets, seed)
        task = progress.add_task("held-out: evaluate", total=1)
        metrics = evaluate(saved.meta["model"], fleet, lives)
        progress.advance(task)
    console.print(_metrics_table(f"{path.name} on {test_assets} held-out assets (seed {seed})", metrics))
    print(json.dumps(metrics))  # noqa: T201 - the machine-readable last line


@app.command()
def version() -> None:
    """Print the version."""
    from api import __version__

    console.print(f"safetwin {__version__}")


if __name__ == "__main__":
    app()
