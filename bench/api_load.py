"""Benchmark: the API's business mix under wrk against ``safetwin api --workers N`` over PostgreSQL.

Started as production starts it (``python -m api.cli api --workers N``, a process of its own,
registers on PostgreSQL, no plant runtime inside; the Kafka broker is left unreachable, which
the replica tolerates, so live push is idle), seeded with realistic data: the demo plant's
registers (``registers.demo``), thousands of certificates and of unacknowledged alarms, and 24 h
of 1 Hz readings of every demo tag in the time-series store (DuckDB, opened read-only by the
workers; production reads ClickHouse).

The load generator is Debian's ``wrk`` (C, event loop; ``apt-get install wrk``) with a Lua
script drawing each request from a weighted business mix:

=====  =================================================================================
  %    request
=====  =================================================================================
  25   list page of certificates with a filter, sort and page number
  15   list page of alarm records with priority/scope filters
  15   one certificate record
  15   latest value of one tag
  10   24 h history of one tag (500 buckets)
   8   create a certificate
   7   update a certificate (PATCH)
   5   acknowledge an alarm (each alarm once)
=====  =================================================================================

Then ``/api/v1/health`` alone: the framework's ceiling on this box (routing, a sync route in
the thread pool, JSON, no database). Prints human lines, then as the LAST line one JSON
object: {"tps", "p50_s", "p95_s", "p99_s", "errors", "requests", "health_tps", "health_p95_s",
"health_p99_s", "api_cpu_ms_per_req", "db_cpu_ms_per_req", "per_core_tps", "workers", "connections",
"duration_s", "load_avg_1m", "rss_start_mb", "rss_mid_mb", "rss_end_mb", "rss_growth_second_half_mb",
...}; ``errors`` counts non-2xx answers and socket errors/timeouts. The full run's 5 minutes of
mix double as the memory check: the replica's resident memory (supervisor + workers) is sampled
every 5 s, and a leak shows as growth over the second half, once pools and caches are full.

Usage: .venv/bin/python bench/api_load.py [--quick] [--workers N] [--connections C] [--duration S]
       [--profile]   (py-spy a worker during the mix; the top functions go to stderr)
       [--only KIND] (one request kind alone, e.g. certificate-list: its CPU per request;
                      signed-in: GET /auth/me, the fixed cost of a signed-in request)
Needs PostgreSQL (``SAFETWIN_TEST_POSTGRES``, default the CI server; ``.ci/services.sh``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pyarrow as pa
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.schema import CreateSchema, DropSchema

REPO = Path(__file__).resolve().parent.parent
DEFAULT_PG = "postgresql+psycopg://safetwin:safetwin@127.0.0.1:5432/safetwin"
DAY_S = 86_400
HISTORY_TAG = "PT-101"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- data ------------------------------------------------------------------------------------


def seed_store(path: Path, tags: list[str], *, interval_s: int, now_ms: int) -> int:
    """24 h of readings of every tag (sine + noise), written in columnar batches."""
    from connectors.store.duckdb import READINGS_SCHEMA, DuckDBStore

    store = DuckDBStore(path)
    store.init_schema()
    rng = np.random.default_rng(7)
    ts = np.arange(now_ms - DAY_S * 1000, now_ms, interval_s * 1000, dtype=np.int64)
    rows = 0
    try:
        for i, tag in enumerate(tags):
            values = 50 + 10 * np.sin(ts / 3.6e6 + i) + rng.normal(0, 0.3, ts.size)
            table = pa.table(
                {
                    "tag": pa.array([tag] * ts.size, pa.string()),
                    "ts": ts,
                    "value": values,
                    "quality": pa.array(["good"] * ts.size, pa.string()),
                    "source": pa.array(["bench"] * ts.size, pa.string()),
                },
                schema=READINGS_SCHEMA,
            )
            store.write_readings_arrow(table)
            rows += ts.size
    finally:
        store.close()
    return rows


def seed_registers(url: str, plant_file: Path, *, certificates: int, alarms: int) -> tuple[list[int], list[int]]:
    """Demo registers plus ``certificates`` certificates and ``alarms`` unacknowledged alarms."""
    from models.contracts import AlarmEvent, AlarmPriority, AlarmState
    from registers.alarms import service as alarm_service
    from registers.certificates.models import Certificate, CertificateKind, CertificateStatus
    from registers.db import make_engine, make_session_factory, migrate
    from registers.demo import load_demo
    from twin.plant import load_plant

    migrate(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    plant = load_plant(plant_file)
    kinds = list(CertificateKind)
    statuses = list(CertificateStatus)
    try:
        with factory.begin() as session:
            load_demo(session=session, plant=plant)
        with factory.begin() as session:
            today = datetime.now(UTC).date()
            session.add_all(
                Certificate(
                    kind=kinds[i % len(kinds)],
                    number=f"BENCH-{i:06d}",
                    name=f"压测证照 {i}",
                    holder="演示化工有限公司",
                    issuer="应急管理局",
                    issue_date=today - timedelta(days=400 + i % 300),
                    expiry_date=today + timedelta(days=30 + i % 900),
                    status=statuses[i % len(statuses)],
                    responsible_person="张三",
                )
                for i in range(certificates)
            )
        tags = [t.tag for t in plant.tags]
        t0 = int(time.time() * 1000) - 3_600_000
        priorities = list(AlarmPriority)
        with factory.begin() as session:
            for i in range(alarms):
                event = AlarmEvent(
                    alarm_id=f"bench-{i}",
                    source_kind="tag",
                    source_id=tags[i % len(tags)],
                    kind="H",
                    priority=priorities[i % len(priorities)],
                    state=AlarmState.ACTIVE,
                    ts=t0 + i,
                    value=1.0,
                    limit=0.9,
                    message="压测报警",
                )
                alarm_service.record_event(session=session, event=event)
        with factory() as session:
            cert_ids = [int(i) for i in session.scalars(text("SELECT id FROM certificates ORDER BY id"))]
            alarm_ids = [int(i) for i in session.scalars(text("SELECT id FROM alarms ORDER BY id"))]
    finally:
        engine.dispose()
    return cert_ids, alarm_ids


# --- the server ------------------------------------------------------------------------------


def start_replica(data_dir: Path, url: str, port: int, workers: int, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "SAFETWIN_ENVIRONMENT": "development",  # a shared key file; accounts usable without a change
        "SAFETWIN_DATA_DIR": str(data_dir),
        "SAFETWIN_DATABASE_URL": url,
    }
    cmd = [sys.executable, "-m", "api.cli", "api", "--port", str(port), "--workers", str(workers)]
    cmd += ["--brokers", f"127.0.0.1:{free_port()}"]
    with log.open("wb") as out:
        return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def wait_ready(proc: subprocess.Popen[bytes], base: str, workers: int, log: Path, timeout_s: float) -> None:
    import psutil

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("the replica exited:\n" + log.read_text(errors="replace"))
        kids = [p for p in psutil.Process(proc.pid).children(recursive=True) if "spawn_main" in " ".join(p.cmdline())]
        ready = log.read_text(errors="replace").count("Application startup complete")
        if (workers == 1 or len(kids) == workers) and ready >= workers:  # one worker: the process itself serves
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
        time.sleep(0.3)
    raise SystemExit(f"the replica was not ready within {timeout_s:.0f} s:\n" + log.read_text(errors="replace"))


def stop_replica(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


# --- wrk -------------------------------------------------------------------------------------

LUA = (REPO / "bench" / "api_load_mix.lua").read_text(encoding="utf-8")
"""wrk script of the business mix; bench/api_load.py fills in its ``__PLACEHOLDERS__``."""

_DONE = "function done" + LUA.split("function done", 1)[1]
HEALTH_LUA = (
    """
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) codes = {} end
function request() return wrk.format("GET", "/api/v1/health") end
function response(status, hdrs, body) codes[status] = (codes[status] or 0) + 1 end
"""
    + _DONE
)


def lua_list(values: list[Any]) -> str:
    return ", ".join(json.dumps(v) for v in values)


def run_wrk(
    script: Path,
    base: str,
    *,
    threads: int,
    connections: int,
    duration_s: int,
    ack_start: int = 0,
    ack_end: int = 1 << 30,
) -> dict[str, Any]:
    """One wrk run; its Lua ``done`` prints the figures as one ``WRKJSON`` line.

    The run acknowledges alarms ``ack_start + 1 .. ack_end`` of the list (each once), then
    updates certificates in their place: an alarm acknowledged twice is a 409.
    """
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration_s}s", "--timeout", "10s", "-s", str(script)]
    cmd += [base, "--", str(threads), str(ack_start), str(time.time_ns()), str(ack_end)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=duration_s + 120).stdout
    line = next(line for line in out.splitlines() if line.startswith("WRKJSON "))
    result: dict[str, Any] = json.loads(line.removeprefix("WRKJSON "))
    result["tps"] = result["requests"] / (result["duration_us"] / 1e6)
    result["errors"] = result["non2xx"] + result["connect"] + result["read"] + result["write"] + result["timeout"]
    return result


def cpu_seconds(replica_pid: int) -> tuple[float, float]:
    """CPU seconds (user + system) used so far by the replica's processes and by PostgreSQL's."""
    import psutil

    def used(p: psutil.Process) -> float:
        try:
            t = p.cpu_times()
        except psutil.Error:
            return 0.0
        return float(t.user + t.system)

    parent = psutil.Process(replica_pid)
    api = used(parent) + sum(used(p) for p in parent.children(recursive=True))
    db = sum(used(p) for p in psutil.process_iter(["name"]) if p.info["name"] in ("postgres", "postgresql"))
    return api, db


def replica_rss_mb(replica_pid: int) -> float:
    """Resident memory of the replica: its supervisor and every worker, in MiB."""
    import psutil

    total = 0
    parent = psutil.Process(replica_pid)
    for p in [parent, *parent.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            continue
    return total / 2**20


class MemoryWatch:
    """Samples the replica's resident memory every ``every_s`` while the mix runs (a leak shows as a slope)."""

    def __init__(self, replica_pid: int, every_s: float = 5.0) -> None:
        self.pid = replica_pid
        self.every_s = every_s
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> MemoryWatch:
        self._started = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)
        self.samples.append((time.monotonic() - self._started, replica_rss_mb(self.pid)))

    def _run(self) -> None:
        while True:
            self.samples.append((time.monotonic() - self._started, replica_rss_mb(self.pid)))
            if self._stop.wait(self.every_s):
                return

    def figures(self) -> dict[str, float]:
        """Memory at the start, the middle and the end of the mix, and the growth over its second half."""
        mb = [m for _, m in self.samples]
        middle = mb[len(mb) // 2]
        return {
            "rss_start_mb": round(mb[0], 1),
            "rss_mid_mb": round(middle, 1),
            "rss_end_mb": round(mb[-1], 1),
            "rss_max_mb": round(max(mb), 1),
            # the first half includes pools, caches and plan caches filling; a leak keeps growing after
            "rss_growth_second_half_mb": round(mb[-1] - middle, 1),
        }


def profile_worker(pid: int, seconds: int, out: Path) -> subprocess.Popen[bytes]:
    spy = REPO / ".venv" / "bin" / "py-spy"
    cmd = [str(spy), "record", "--pid", str(pid), "--duration", str(seconds), "--format", "raw", "-o", str(out)]
    # --gil: only samples that hold the GIL, i.e. the worker's Python CPU, not threads waiting
    # on PostgreSQL or for work (what a request costs the core, which is what limits TPS)
    cmd += ["--nonblocking", "--rate", "100", "--gil"]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


_IDLE = ("Condition.wait", "Queue.get", "select (selectors", "EpollSelector.select", "Event.wait", "sleep")


def top_of_profile(raw: Path, n: int = 25) -> list[tuple[str, float]]:
    """Inclusive share of the hottest frames of a py-spy raw (collapsed) file, then the top self shares."""
    inclusive: dict[str, int] = {}
    own: dict[str, int] = {}
    total = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit() or stack.rsplit(";", 1)[-1].startswith(_IDLE):
            continue  # a thread-pool thread waiting for work, the event loop waiting for sockets
        k = int(count)
        total += k
        frames = stack.split(";")
        for frame in set(frames):
            inclusive[frame] = inclusive.get(frame, 0) + k
        own[frames[-1]] = own.get(frames[-1], 0) + k
    if not total:
        return []
    ranked = sorted(inclusive.items(), key=lambda kv: -kv[1])[:n]
    ranked += [(f"self: {frame}", v) for frame, v in sorted(own.items(), key=lambda kv: -kv[1])[: n // 2]]
    return [(frame, v / total) for frame, v in ranked]


# the mix's draw (1..100) that selects each request kind in bench/api_load_mix.lua
ONLY = {
    "certificate-list": 1,
    "alarm-list": 26,
    "certificate": 41,
    "latest": 56,
    "history": 71,
    "create": 81,
    "update": 89,
    "ack": 96,
    # not in the mix: a signed-in request with no work of its own (who am I), the fixed cost
    # every request of the mix pays for authentication, the session and the middlewares
    "signed-in": 101,
}


# --- main ------------------------------------------------------------------------------------


def main() -> None:  # noqa: PLR0915 - one linear script
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument(
        "--quick", action="store_true", help="small data, 8 s of mix and 3 s of /health (< 45 s on a quiet box)"
    )
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2, help="wrk threads")
    ap.add_argument("--duration", type=int, default=None, help="seconds of business mix (default 300; quick 8)")
    ap.add_argument("--profile", action="store_true", help="py-spy one worker during the mix")
    ap.add_argument(
        "--only",
        choices=sorted(ONLY),
        default=None,
        help="one request kind of the mix alone, for its CPU per request (not the benchmark's figure)",
    )
    ap.add_argument("--keep", action="store_true", help="keep the data dir and schema (debugging)")
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        msg = "wrk not found: apt-get install wrk (Debian)"
        raise SystemExit(msg)
    duration = args.duration or (8 if args.quick else 300)
    health_duration = 3 if args.quick else 20
    base_url = os.environ.get("SAFETWIN_TEST_POSTGRES", DEFAULT_PG)

    from registers.db import make_engine
    from twin.plant import load_plant

    plant_file = REPO / "twin" / "plants" / "demo.yaml"
    tags = [t.tag for t in load_plant(plant_file).tags]
    tmp = Path(tempfile.mkdtemp(prefix="safetwin-api-load-"))
    data_dir = tmp / "data"
    data_dir.mkdir()
    schema = f"api_load_{uuid.uuid4().hex[:10]}"
    admin = make_engine(base_url)
    with admin.begin() as conn:
        conn.execute(CreateSchema(schema))
    url = make_url(base_url).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(False)
    proc = None
    t_all = time.monotonic()
    try:
        t0 = time.monotonic()
        now_ms = int(time.time() * 1000)
        rows = seed_store(data_dir / "safetwin.duckdb", tags, interval_s=10 if args.quick else 1, now_ms=now_ms)
        n_certs, n_alarms = (1_000, 500) if args.quick else (20_000, 20_000)
        if args.quick and duration > 8:  # noqa: PLR2004 - the quick run's default duration
            # each alarm is acknowledged once: the warm-up takes the second half, the mix the
            # first, so a longer quick run needs more of them (else 409s on alarms the warm-up
            # acknowledged, counted as errors; seen at --duration 120). 20 per second: enough
            # for ~200 TPS of mix (5 % acknowledgements, half the list) and seeded in ~1 min.
            # Past that the mix updates a certificate instead (ack_end), so a faster server is
            # never charged a 409 (seen at 440 TPS, --duration 15), only fewer acknowledgements.
            n_alarms = max(n_alarms, 20 * duration)
        cert_ids, alarm_ids = seed_registers(url, plant_file, certificates=n_certs, alarms=n_alarms)
        print(f"seeded {rows:,} readings, {len(cert_ids):,} certificates, {len(alarm_ids):,} alarms "
              f"in {time.monotonic() - t0:.1f} s", flush=True)  # fmt: skip

        port = free_port()
        base = f"http://127.0.0.1:{port}"
        log = tmp / "api.log"
        t0 = time.monotonic()
        proc = start_replica(data_dir, url, port, args.workers, log)
        wait_ready(proc, base, args.workers, log, timeout_s=300)
        print(f"safetwin api --workers {args.workers} ready in {time.monotonic() - t0:.1f} s", flush=True)
        password = next(
            line.split(": ", 1)[1]
            for line in (data_dir / "initial-passwords.txt").read_text(encoding="utf-8").splitlines()
            if line.startswith("admin: ")
        )
        r = httpx.post(f"{base}/api/v1/auth/login", json={"username": "admin", "password": password}, timeout=30)
        r.raise_for_status()
        token = r.json()["access_token"]
        history_qs = f"start={now_ms - DAY_S * 1000}&end={now_ms}&points=500"
        script = (
            LUA.replace("__TOKEN__", token)
            .replace("__CERTS__", lua_list(cert_ids))
            .replace("__ALARMS__", lua_list(alarm_ids))
            .replace("__TAGS__", lua_list(tags))
            .replace("__HISTORY_QS__", history_qs)
            .replace("__HISTORY_TAG__", HISTORY_TAG)
            .replace("__ONLY__", str(ONLY[args.only]) if args.only else "0")
        )
        mix_lua = tmp / "mix.lua"
        mix_lua.write_text(script, encoding="utf-8")
        health_lua = tmp / "health.lua"
        health_lua.write_text(HEALTH_LUA, encoding="utf-8")

        # one short warm-up so first-request costs (imports, plan caches) are not measured
        run_wrk(mix_lua, base, threads=1, connections=4, duration_s=2, ack_start=len(alarm_ids) // 2)
        spy = None
        if args.profile:
            import psutil

            kids = [
                p for p in psutil.Process(proc.pid).children(recursive=True) if "spawn_main" in " ".join(p.cmdline())
            ]
            spy = profile_worker(kids[0].pid if kids else proc.pid, duration, tmp / "profile.txt")
        load_before = os.getloadavg()[0]
        cpu_before = cpu_seconds(proc.pid)
        with MemoryWatch(proc.pid) as memory:
            mix = run_wrk(
                mix_lua,
                base,
                threads=args.threads,
                connections=args.connections,
                duration_s=duration,
                ack_end=len(alarm_ids) // 2,  # the warm-up acknowledged the second half
            )
        cpu_after = cpu_seconds(proc.pid)
        load_after = os.getloadavg()[0]
        api_cpu_ms = (cpu_after[0] - cpu_before[0]) * 1000 / max(mix["requests"], 1)
        db_cpu_ms = (cpu_after[1] - cpu_before[1]) * 1000 / max(mix["requests"], 1)
        if spy is not None:
            spy.wait(60)
            print(f"py-spy profile (raw, --gil): {tmp / 'profile.txt'}", file=sys.stderr)
            for frame, share in top_of_profile(tmp / "profile.txt"):
                print(f"  {share:6.1%}  {frame}", file=sys.stderr)
        health = run_wrk(
            health_lua, base, threads=args.threads, connections=args.connections, duration_s=health_duration
        )
        print(f"business mix: {mix['tps']:.0f} req/s, p95 {mix['p95_us'] / 1e6:.3f} s, codes {mix['codes']}")
        mem = memory.figures()
        print(
            f"memory:       {mem['rss_start_mb']:.0f} -> {mem['rss_mid_mb']:.0f} -> {mem['rss_end_mb']:.0f} MiB "
            f"over {duration} s (second half {mem['rss_growth_second_half_mb']:+.1f} MiB)"
        )
        print(f"/health:      {health['tps']:.0f} req/s, p95 {health['p95_us'] / 1e6:.3f} s, codes {health['codes']}")
        result = {
            "tps": round(mix["tps"], 1),
            "p50_s": mix["p50_us"] / 1e6,
            "p95_s": mix["p95_us"] / 1e6,
            "p99_s": mix["p99_us"] / 1e6,
            "errors": mix["errors"],
            "requests": mix["requests"],
            "codes": mix["codes"],
            # CPU per request of the mix (all workers / all PostgreSQL processes): what a core
            # buys, whatever else the box was doing meanwhile
            "api_cpu_ms_per_req": round(api_cpu_ms, 2),
            "db_cpu_ms_per_req": round(db_cpu_ms, 2),
            "per_core_tps": round(1000 / (api_cpu_ms + db_cpu_ms), 1),
            "api_per_core_tps": round(1000 / api_cpu_ms, 1),
            "health_tps": round(health["tps"], 1),
            "health_p95_s": health["p95_us"] / 1e6,
            "health_p99_s": health["p99_us"] / 1e6,
            "health_errors": health["errors"],
            **mem,
            "workers": args.workers,
            "only": args.only,  # None: the business mix (the benchmark's figure)
            "connections": args.connections,
            "duration_s": duration,
            "cores": os.cpu_count(),
            "load_avg_1m": [round(load_before, 2), round(load_after, 2)],
            "total_s": round(time.monotonic() - t_all, 1),
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
    finally:
        if proc is not None:
            stop_replica(proc)
        if not args.keep:
            with admin.begin() as conn:
                conn.execute(DropSchema(schema, cascade=True))
            shutil.rmtree(tmp, ignore_errors=True)
        admin.dispose()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
