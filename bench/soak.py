"""Benchmark (soak): ``safetwin run`` with a generated 10,000-tag plant keeps up at 1 Hz and stays usable.

Measured: the real command (``python -m api.cli run``, as ``make run`` starts it) on a plant
file written by ``twin.generate`` (10,000 tags), with its simulator, OPC UA server and
subscriber, the sensor flow, DuckDB and the alarm worker, for ``--duration`` seconds (default
600, ``--quick`` 25) after it is healthy. Every 5 s the bench reads ``/api/v1/health``
(readings stored so far) and, as a user would, logs in and opens the alarm page
(``/api/v1/alarm-records``) and the active alarms (``/api/v1/alarms/active``).

Ingest: ``SAFETWIN_INGEST`` or Modbus polling by default; ``--ingest opcua`` is what a plain
``safetwin run`` reads. Either connector runs in its own process (api.connector_process);
before that, the pure-Python asyncua client decoding in the platform process reached 73-80 %
of the plant's rate at 10,000 tags on 2 cores.

Baseline: the plant's own rate, 10,000 readings/s (1 Hz x 10,000 tags); ``ratio`` = stored per
second / 10,000, target 1.00 +- 0.01 after a 30 s warm-up (``--quick`` has none).
Last line: JSON {"tags", "stored_per_s", "ratio", "min_window_per_s", "login_p99_s",
"alarm_page_p99_s", "startup_s", "duration_s"}.

Usage: .venv/bin/python bench/soak.py [--quick] [--tags 10000] [--duration 600]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from twin.generate import generate_plant, write_plant  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="25 s after start-up, no warm-up")
    ap.add_argument("--tags", type=int, default=10_000)
    ap.add_argument("--duration", type=float, default=None, help="seconds after healthy (default 600)")
    ap.add_argument(
        "--ingest",
        choices=("modbus", "opcua"),
        default=os.environ.get("SAFETWIN_INGEST", "modbus"),
        help="how the platform reads the simulated devices (default modbus; see the module docstring)",
    )
    args = ap.parse_args()
    duration = args.duration or (25.0 if args.quick else 600.0)
    warmup = 0.0 if args.quick else 30.0
    with tempfile.TemporaryDirectory() as tmp_:
        tmp = Path(tmp_)
        plant_file = write_plant(generate_plant(args.tags), tmp / "plant.yaml")
        port = free_port()
        env = {
            **os.environ,
            "SAFETWIN_ENVIRONMENT": "test",
            "SAFETWIN_DATA_DIR": str(tmp / "data"),
            "SAFETWIN_PLANT_FILE": str(plant_file),
            "SAFETWIN_OPCUA_PORT": str(free_port()),
            "SAFETWIN_MODBUS_PORT": str(free_port()),
            "SAFETWIN_INGEST": args.ingest,
        }
        log = tmp / "log"
        base = f"http://127.0.0.1:{port}"
        started = time.monotonic()
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "api.cli", "run", "--port", str(port)],
                cwd=REPO,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            client = httpx.Client(base_url=base, timeout=30)
            while True:
                if proc.poll() is not None:
                    msg = f"safetwin run exited:\n{log.read_text()[-3000:]}"
                    raise SystemExit(msg)
                try:
                    health = client.get("/api/v1/health").json()
                    if health.get("readings_stored", 0) > 0:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.2)
            startup = time.monotonic() - started
            # first passwords are in the 0600 file of the data dir, never in the log
            password = re.search(r"^admin: (\S+)$", (tmp / "data" / "initial-passwords.txt").read_text(), re.M)
            assert password, "no admin password in initial-passwords.txt"
            login = {"username": "admin", "password": password.group(1)}
            print(f"{args.tags:,} tags over {args.ingest}: healthy and storing after {startup:.1f} s")
            samples: list[tuple[float, int]] = []
            login_s: list[float] = []
            page_s: list[float] = []
            t_end = time.monotonic() + duration
            while time.monotonic() < t_end:
                now = time.monotonic()
                samples.append((now, int(client.get("/api/v1/health").json()["readings_stored"])))
                t = time.perf_counter()
                r = client.post("/api/v1/auth/login", json=login)
                login_s.append(time.perf_counter() - t)
                if r.status_code != 200:
                    msg = f"login answered {r.status_code}: {r.text[:500]}"
                    raise SystemExit(msg)
                headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
                t = time.perf_counter()
                client.get("/api/v1/alarm-records", params={"page_size": 50}, headers=headers).raise_for_status()
                client.get("/api/v1/alarms/active", headers=headers).raise_for_status()
                page_s.append(time.perf_counter() - t)
                time.sleep(max(0.0, 5.0 - (time.monotonic() - now)))
            samples.append((time.monotonic(), int(client.get("/api/v1/health").json()["readings_stored"])))
            health = client.get("/api/v1/health").json()
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
            if os.environ.get("SAFETWIN_SOAK_LOG"):  # keep the server's log for a look
                Path(os.environ["SAFETWIN_SOAK_LOG"]).write_bytes(log.read_bytes())
    t0 = samples[0][0]
    steady = [(t, n) for t, n in samples if t - t0 >= warmup]
    windows = [(n1 - n0) / (t1 - t0_) for (t0_, n0), (t1, n1) in zip(steady, steady[1:], strict=False)]
    rate = (steady[-1][1] - steady[0][1]) / (steady[-1][0] - steady[0][0])
    print(f"stored {rate:,.0f} readings/s over {steady[-1][0] - steady[0][0]:.0f} s (plant rate {args.tags:,}/s)")
    print(f"  5 s windows: min {min(windows):,.0f}, median {statistics.median(windows):,.0f}, max {max(windows):,.0f}")
    print(
        f"  login p99 {pct(login_s, 0.99):.3f} s, alarm page p99 {pct(page_s, 0.99):.3f} s; health {health['status']}"
    )
    if health["problems"]:
        print(f"  problems: {health['problems']}")
    print(
        json.dumps(
            {
                "tags": args.tags,
                "ingest": args.ingest,
                "stored_per_s": round(rate),
                "ratio": round(rate / args.tags, 3),
                "min_window_per_s": round(min(windows)),
                "login_p99_s": round(pct(login_s, 0.99), 3),
                "alarm_page_p99_s": round(pct(page_s, 0.99), 3),
                "startup_s": round(startup, 1),
                "duration_s": round(steady[-1][0] - steady[0][0]),
            }
        )
    )


if __name__ == "__main__":
    main()
