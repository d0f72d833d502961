"""End-to-end latency of a reading: simulator timestamp -> WebSocket frame (embedded mode).

Starts the whole embedded plant (simulator, OPC UA server + subscriber, Bytewax flow,
DuckDB, FastAPI) on free ports, listens on /ws/live and, for every reading frame, records
``receive time - reading.ts``. Baseline, same run: the latency of the connector alone
(simulator timestamp -> reading handed to the bus by the OPC UA subscriber), so the ratio
shows what the flow, the store and the WebSocket add on top of the field protocol.

Target (issue: foundation): p99 <= 0.5 s. Last line: JSON with p50_s, p99_s, ratio.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from websockets.sync.client import connect

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from api.runtime import INGEST_STREAM  # noqa: E402
from api.server import BackgroundServer  # noqa: E402
from api.settings import Settings  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="15 s of samples instead of 60 s")
    ap.add_argument("--seconds", type=float, default=None)
    ap.add_argument("--interval", type=float, default=0.25, help="simulator sample period (s)")
    args = ap.parse_args()
    seconds = args.seconds or (15.0 if args.quick else 60.0)

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            environment="test",
            data_dir=Path(tmp),
            port=free_port(),
            modbus_port=free_port(),
            opcua_port=free_port(),
            sim_interval_s=args.interval,
        )
        server = BackgroundServer(settings).start()
        try:
            runtime = server.app.state.runtime
            baseline: list[float] = []
            ingest = runtime.bus.subscribe(INGEST_STREAM)
            stop = threading.Event()

            def watch_ingest() -> None:
                while not stop.is_set():
                    batch = ingest.get_batch(timeout=0.2)
                    now = time.time() * 1000
                    baseline.extend((now - r.ts) / 1000 for r in batch if hasattr(r, "ts"))

            watcher = threading.Thread(target=watch_ingest, daemon=True)
            watcher.start()
            token = httpx.post(
                f"{server.base_url}/api/v1/auth/login",
                json={"username": "admin", "password": server.app.state.demo_admin_password},
            ).json()["access_token"]
            ws_url = server.base_url.replace("http", "ws") + f"/ws/live?token={token}"
            latencies: list[float] = []
            with connect(ws_url, open_timeout=10) as ws:
                warm = time.time() + 1.0  # settle first: read and discard, never let frames queue up
                while time.time() < warm:
                    try:
                        ws.recv(timeout=max(0.01, warm - time.time()))
                    except TimeoutError:
                        break
                end = time.time() + seconds
                while time.time() < end:
                    try:
                        frame = ws.recv(timeout=max(0.05, end - time.time()))
                    except TimeoutError:
                        break
                    now = time.time() * 1000
                    msg = json.loads(frame)
                    if msg["stream"] == "sensor.reading":
                        latencies.extend((now - r["ts"]) / 1000 for r in msg["data"])
            stop.set()
            watcher.join(2)
        finally:
            server.stop()

    if not latencies or not baseline:
        print(json.dumps({"error": "no readings received", "p50_s": None, "p99_s": None}))
        sys.exit(1)
    p50, p99 = statistics.median(latencies), pct(latencies, 0.99)
    b50, b99 = statistics.median(baseline), pct(baseline, 0.99)
    print(f"readings measured: {len(latencies)} over {seconds:.0f} s (simulator period {args.interval} s)")
    print(f"end to end  simulator -> WebSocket: p50 {p50 * 1000:.1f} ms  p99 {p99 * 1000:.1f} ms")
    print(f"baseline    simulator -> connector: p50 {b50 * 1000:.1f} ms  p99 {b99 * 1000:.1f} ms")
    print(f"target p99 <= 500 ms: {'met' if p99 <= 0.5 else 'NOT met'}")
    print(
        json.dumps(
            {
                "p50_s": round(p50, 4),
                "p99_s": round(p99, 4),
                "baseline_p50_s": round(b50, 4),
                "baseline_p99_s": round(b99, 4),
                "ratio": round(p50 / b50, 2) if b50 > 0 else None,
                "samples": len(latencies),
                "target_p99_s": 0.5,
            }
        )
    )


if __name__ == "__main__":
    main()
