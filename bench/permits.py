"""Benchmark: special-work permits created, approved and closed through the real API by 50 users.

Measured: the API as production starts it — ``safetwin api`` (uvicorn serving the app factory,
one API replica of the distributed mode, live push from Kafka) on PostgreSQL, in its own
process with the production environment (generated secret, default thread pool and
connection pool) — driven over HTTP by 50 concurrent httpx clients. Each user runs the whole
life of a hot-work ticket, one request after the other, without think time: plan the job,
brief and confirm the measures, submit, sign every approval level the template asks, record a
passing gas analysis, start, complete, accept and close (9–11 requests, every guard of the
service evaluated, every change audited in the hash chain). Without a Kafka broker the same
app factory is served by uvicorn without the plant runtime; without PostgreSQL, on SQLite.

Baseline (same run, same server, same users): the same number of requests per "permit" against
a plain register CRUD route of the framework (certificates: one create, then updates) — what the
requests cost without the permit rules.

Prints human lines, then as the LAST line one JSON object:
{"permits_per_s", "p95_s", "p50_s", "baseline_permits_per_s", "baseline_p95_s", "ratio",
 "server_cpu_ms_per_request", "baseline_server_cpu_ms_per_request", "users", "permits",
 "requests", "failed_requests", "target_p95_s", "meets_target", "server", "database", "load_avg_1m"}
where ratio = permits_per_s / baseline_permits_per_s. Target: p95 ≤ 0.3 s per request. The
server's CPU per request (from /proc) is the figure to compare between runs on a busy machine;
latencies depend on whatever else runs on it.

Usage: .venv/bin/python bench/permits.py [--quick] [--users N] [--permits-per-user N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.engine import make_url
from sqlalchemy.schema import CreateSchema, DropSchema

from models.permit_rules import RULES, ApproverRole, WorkType
from registers.db import make_engine, make_session_factory, migrate
from registers.permits.demo import Crew, ensure_crew
from registers.users import service as users

TARGET_P95_S = 0.3
PASSWORD = "Bench-Permits-42"
# Without a Kafka broker: the production app factory served by uvicorn, no plant runtime
# (what ``safetwin api`` serves, minus the live push), with the same route warm-up.
FACTORY_SERVER = """
import sys, uvicorn
from api.app import create_app, _warm_routes
from api.settings import Settings
app = create_app(Settings(), start_runtime=False)
_warm_routes(app)
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _kafka_reachable(brokers: str) -> bool:
    host, _, port = brokers.split(",")[0].rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=2):
            return True
    except (OSError, ValueError):
        return False


def _server_command(port: int, brokers: str) -> tuple[list[str], str]:
    """``safetwin api`` (production replica) when Kafka answers, else the bare app factory."""
    if brokers and _kafka_reachable(brokers):
        cli = Path(sys.executable).with_name("safetwin")
        argv = [str(cli)] if cli.exists() else [sys.executable, "-m", "api.cli"]
        return [*argv, "api", "--host", "127.0.0.1", "--port", str(port), "--brokers", brokers], "safetwin api"
    return [sys.executable, "-c", FACTORY_SERVER, str(port)], "uvicorn app factory (no Kafka: no runtime)"


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _postgres_schema(base_url: str) -> str | None:
    """A fresh schema on the PostgreSQL server (production mode), or None when none answers."""
    try:
        engine = make_engine(base_url, connect_args={"connect_timeout": 3})
        schema = f"bench_permits_{os.getpid()}"
        with engine.begin() as conn:
            conn.execute(CreateSchema(schema))
        engine.dispose()
    except Exception:  # noqa: BLE001 - no server: the embedded SQLite mode is measured instead
        return None
    return make_url(base_url).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(False)


def _drop_schema(base_url: str, url: str) -> None:
    schema = make_url(url).query["options"].split("=", 1)[1]  # type: ignore[union-attr]
    engine = make_engine(base_url)
    with engine.begin() as conn:
        conn.execute(DropSchema(schema, cascade=True))
    engine.dispose()


def _prepare(data_dir: Path, url: str) -> tuple[dict[str, str], Crew]:
    """Migrate, seed the crew and one safety manager; return the server's environment."""
    env = {
        **os.environ,
        "SAFETWIN_DATA_DIR": str(data_dir),
        "SAFETWIN_DATABASE_URL": url,
        "SAFETWIN_ENVIRONMENT": "production",
        "SAFETWIN_KAFKA_TOPIC_PREFIX": f"benchpermits{os.getpid()}",
    }
    migrate(url)
    engine = make_engine(url)
    with make_session_factory(engine).begin() as session:
        users.create_user(session=session, username="bench_sm", password=PASSWORD, roles=["safety_manager"])
        crew = ensure_crew(session=session, today=datetime.now(UTC).date())
    engine.dispose()
    return env, crew


def _signers(crew: Crew) -> dict[ApproverRole, int]:
    return {
        ApproverRole.UNIT_HEAD: crew.unit_head,
        ApproverRole.SAFETY_DEPT: crew.safety,
        ApproverRole.PRINCIPAL: crew.principal,
    }


class Recorder:
    """Latency of every request, and failures."""

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.failures: list[str] = []

    async def call(self, client: httpx.AsyncClient, method: str, url: str, body: Any = None) -> Any:
        started = time.perf_counter()
        try:
            response = await client.request(method, url, json=body)
        except httpx.TransportError as err:  # a dropped connection is a failed request, not a crash
            self.latencies.append(time.perf_counter() - started)
            self.failures.append(f"{method} {url} {type(err).__name__}")
            return None
        self.latencies.append(time.perf_counter() - started)
        if response.status_code >= 300:
            self.failures.append(f"{method} {url} {response.status_code} {response.text[:200]}")
            return None
        return response.json()

    def quantile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[max(0, int(len(ordered) * q) - 1)] if ordered else 0.0

    def p95(self) -> float:
        return self.quantile(0.95)


async def _permit_life(client: httpx.AsyncClient, rec: Recorder, crew: Crew, n: int) -> bool:
    """One hot-work ticket from planning to closure; False if any step was refused."""
    now = datetime.now(UTC)
    plan = {
        "title": f"压力管线补焊 #{n}",
        "content": "管廊 P-201 支架补焊",
        "area": f"area-{n % 7}",
        "planned_start": now.isoformat(),
        "planned_end": (now + timedelta(hours=4)).isoformat(),
        "chemicals": ["甲烷"],
        "guardian_id": crew.guardian,
        "worker_ids": [crew.welder],
        "tickets": [{"work_type": "动火作业", "grade": "二级", "hot_work_method": "电焊"}],
    }
    job = await rec.call(client, "POST", "/api/v1/permits/jobs", plan)
    if job is None:
        return False
    permit = job["permits"][0]
    base = f"/api/v1/permits/{permit['id']}"
    if await rec.call(client, "POST", f"{base}/brief", {}) is None:
        return False
    if await rec.call(client, "POST", f"{base}/submit") is None:
        return False
    signers = _signers(crew)
    for level in RULES.approval_template(WorkType.HOT, permit["managed_grade"]):  # 二级, or 一级 at night
        if await rec.call(client, "POST", f"{base}/sign", {"approver_id": signers[level.roles[0]]}) is None:
            return False
    analysis = {
        "analyst": "化验员",
        "sampled_at": datetime.now(UTC).isoformat(),
        "point": "动火点 10 m 内",
        "readings": [{"kind": "可燃气体", "substance": "甲烷", "value": 0.1, "unit": "%VOL"}],
    }
    for method, url, body in (
        ("POST", f"{base}/gas-analyses", analysis),
        ("POST", f"{base}/start", None),
        ("POST", f"{base}/complete", None),
        ("POST", f"{base}/accept", {"acceptor_id": crew.unit_head}),
    ):
        if await rec.call(client, method, url, body) is None:
            return False
    return True


async def _crud_life(client: httpx.AsyncClient, rec: Recorder, n: int, requests: int) -> bool:
    """The baseline: as many plain register CRUD requests (1 create, then updates)."""
    created = await rec.call(client, "POST", "/api/v1/certificates", {"kind": "安全评价报告", "number": f"B-{n}"})
    if created is None:
        return False
    for i in range(requests - 1):
        if await rec.call(client, "PATCH", f"/api/v1/certificates/{created['id']}", {"remarks": f"第 {i} 次"}) is None:
            return False
    return True


async def _run(base_url: str, token: str, users_n: int, per_user: int, work: Any) -> tuple[float, int, Recorder]:
    rec = Recorder()
    headers = {"Authorization": f"Bearer {token}"}
    # Idle connections closed by the client before uvicorn's 5 s keep-alive timeout: else a
    # request sent as the server closes an idle connection fails (ReadError), a race of the
    # client, not a fault of the server.
    limits = httpx.Limits(max_connections=users_n, max_keepalive_connections=users_n, keepalive_expiry=2.0)

    async def user(index: int, client: httpx.AsyncClient) -> int:
        done = 0
        for k in range(per_user):
            done += await work(client, rec, index * 1000 + k)
        return done

    async with httpx.AsyncClient(base_url=base_url, headers=headers, limits=limits, timeout=120) as client:
        started = time.perf_counter()
        counts = await asyncio.gather(*(user(i, client) for i in range(users_n)))
        wall = time.perf_counter() - started
    return wall, sum(counts), rec


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="2 permits per user (under 45 s of load)")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--permits-per-user", type=int, default=None)
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "SAFETWIN_TEST_POSTGRES", "postgresql+psycopg://safetwin:safetwin@127.0.0.1:5432/safetwin"
        ),
        help="PostgreSQL URL (production mode); '' or an unreachable server: embedded SQLite",
    )
    parser.add_argument(
        "--kafka",
        default=os.environ.get("SAFETWIN_TEST_KAFKA", "127.0.0.1:9092"),
        help="brokers of the production replica (safetwin api); '' or unreachable: the bare app factory",
    )
    args = parser.parse_args()
    per_user = args.permits_per_user or (2 if args.quick else 6)
    pg_url = _postgres_schema(args.postgres) if args.postgres else None
    with tempfile.TemporaryDirectory(prefix="safetwin-bench-permits-") as tmp:
        data_dir = Path(tmp)
        url = pg_url or f"sqlite:///{data_dir / 'bench.db'}"
        env, crew = _prepare(data_dir, url)
        port = _free_port()
        command, serving = _server_command(port, args.kafka)
        print(f"server: {serving}; registers database: {'PostgreSQL' if pg_url else 'SQLite'}")  # noqa: T201
        log = (data_dir / "server.log").open("w")
        server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
        base_url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.time() + 180
            while True:
                try:
                    if httpx.get(f"{base_url}/api/v1/health", timeout=1).status_code < 500:  # noqa: PLR2004
                        break
                except httpx.HTTPError:
                    pass
                if time.time() > deadline or server.poll() is not None:
                    log.flush()
                    print((data_dir / "server.log").read_text()[-3000:])  # noqa: T201
                    msg = "server did not start"
                    raise SystemExit(msg)
                time.sleep(0.2)
            login = {"username": "bench_sm", "password": PASSWORD}  # the real login, as a browser does
            token = httpx.post(f"{base_url}/api/v1/auth/login", json=login, timeout=30).json()["access_token"]
            cpu = _cpu_s(server.pid)
            wall, permits, rec = asyncio.run(
                _run(base_url, token, args.users, per_user, lambda c, r, n: _permit_life(c, r, crew, n))
            )
            cpu_permits = _cpu_s(server.pid) - cpu
            per_permit = max(1, round(len(rec.latencies) / max(permits, 1)))
            cpu = _cpu_s(server.pid)
            base_wall, base_done, base_rec = asyncio.run(
                _run(base_url, token, args.users, per_user, lambda c, r, n: _crud_life(c, r, n, per_permit))
            )
            cpu_base = _cpu_s(server.pid) - cpu
        except BaseException:
            log.flush()
            print("server log (tail):", (data_dir / "server.log").read_text()[-4000:])  # noqa: T201
            raise
        finally:
            server.terminate()
            try:
                server.wait(20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(10)
            log.close()
            if pg_url and args.postgres:
                _drop_schema(args.postgres, pg_url)
    if rec.failures:
        print(f"{len(rec.failures)} refused/failed permit requests, first: {rec.failures[0]}")  # noqa: T201
    if base_rec.failures:
        print(f"{len(base_rec.failures)} failed baseline requests, first: {base_rec.failures[0]}")  # noqa: T201
    permits_per_s = permits / wall
    baseline = base_done / base_wall
    cpu_ms = 1000 * cpu_permits / max(1, len(rec.latencies))
    base_cpu_ms = 1000 * cpu_base / max(1, len(base_rec.latencies))
    print(  # noqa: T201
        f"permits: {permits} closed by {args.users} users in {wall:.2f} s = {permits_per_s:.1f}/s, "
        f"{len(rec.latencies)} requests, p50 {rec.quantile(0.5) * 1000:.0f} ms, p95 {rec.p95() * 1000:.0f} ms, "
        f"server CPU {cpu_ms:.1f} ms/request"
    )
    print(  # noqa: T201
        f"baseline (plain CRUD, {per_permit} requests per permit): {base_done} in {base_wall:.2f} s = "
        f"{baseline:.1f}/s, p50 {base_rec.quantile(0.5) * 1000:.0f} ms, p95 {base_rec.p95() * 1000:.0f} ms, "
        f"server CPU {base_cpu_ms:.1f} ms/request"
    )
    result = {
        "permits_per_s": round(permits_per_s, 2),
        "p95_s": round(rec.p95(), 4),
        "p50_s": round(rec.quantile(0.5), 4),
        "baseline_permits_per_s": round(baseline, 2),
        "baseline_p95_s": round(base_rec.p95(), 4),
        "ratio": round(permits_per_s / baseline, 3) if baseline else None,
        "server_cpu_ms_per_request": round(cpu_ms, 2),
        "baseline_server_cpu_ms_per_request": round(base_cpu_ms, 2),
        "users": args.users,
        "server": serving,
        "database": "postgresql" if pg_url else "sqlite",
        "permits": permits,
        "requests": len(rec.latencies),
        "failed_requests": len(rec.failures),
        "target_p95_s": TARGET_P95_S,
        "meets_target": rec.p95() <= TARGET_P95_S and not rec.failures,
        # latencies depend on what else runs on the machine: quote them with its load
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(result))  # noqa: T201


if __name__ == "__main__":
    main()
