"""The ``safetwin`` command line (typer + rich)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from api.settings import Settings

app = typer.Typer(help="SafeTwin 安全风险智能化管控平台", no_args_is_help=True, add_completion=False)
console = Console()


@app.command()
def run(
    host: Annotated[str | None, typer.Option(help="bind address (default SAFETWIN_HOST or 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="HTTP port (default SAFETWIN_PORT or 8000)")] = None,
    ingest: Annotated[str | None, typer.Option(help="opcua or modbus")] = None,
    simulate: Annotated[bool, typer.Option(help="start the built-in plant simulator")] = True,
) -> None:
    """Start the embedded plant: simulator, pipeline, API and 3D twin."""
    import uvicorn

    from api.app import create_app

    overrides: dict[str, object] = {"simulate": simulate}
    if host:
        overrides["host"] = host
    if port:
        overrides["port"] = port
    if ingest:
        overrides["ingest"] = ingest
    settings = Settings(**overrides)  # type: ignore[arg-type]
    url = f"http://{settings.host}:{settings.port}"
    console.print(f"[bold green]SafeTwin[/] embedded plant starting → [link={url}]{url}[/link]  (API docs {url}/docs)")
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info")


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


@app.command()
def version() -> None:
    """Print the version."""
    from api import __version__

    console.print(f"safetwin {__version__}")


if __name__ == "__main__":
    app()
