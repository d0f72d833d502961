"""Benchmark: the distributed sensor flow from a Kafka topic to the store, 1 and 2 workers.

Measured: the production entry ``python -m bytewax.run api.flows:sensors -w W`` (the one
builder, configured by ``SAFETWIN_*`` variables as ``safetwin flow`` configures it), reading a
raw topic of 2 partitions that holds S seconds of a generated 10,000-tag plant at 1 Hz (each
gateway scan is one JSON array per partition, as the gateway message schema allows), judging
with 2 state shards, writing DuckDB and the output topics (readings, alarms, held alarms, dead
letters). readings/s = readings / (time of the last committed store write - time of the first),
read from the flow's ingest audit file (one line per committed write); start-up (imports,
Kafka connections) is printed separately and not counted.

Arms, same run, same topic: 1 worker and 2 workers (threads of one process, ``-w 2``); the
ratio is w2 / w1 and must not fall below 1 (more workers must not be slower).

Needs a Kafka broker: ``SAFETWIN_TEST_KAFKA`` (default 127.0.0.1:9092).
Last line: JSON {"w1_readings_per_s", "w2_readings_per_s", "ratio", "readings"}.

Usage: .venv/bin/python bench/ingest_kafka.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import zlib
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from kafka import KafkaProducer  # noqa: E402

from api.flows import dump_specs, read_audit, topics  # noqa: E402
from api.runtime import tag_limits  # noqa: E402
from api.settings import Settings  # noqa: E402
from connectors.kafka.admin import ensure_topics  # noqa: E402
from models.contracts import now_ms  # noqa: E402
from twin.generate import generate_plant  # noqa: E402

PARTITIONS = 2
N_TAGS = 10_000


def produce(brokers: list[str], topic: str, tags: list[str], lows: np.ndarray, highs: np.ndarray, seconds: int) -> int:
    """Gateway scans as JSON arrays, one record per partition per scan (partition = crc32(tag) % 2)."""
    rng = np.random.default_rng(7)
    part = np.array([zlib.crc32(t.encode()) % PARTITIONS for t in tags])
    producer = KafkaProducer(bootstrap_servers=brokers, acks="all", linger_ms=20, max_request_size=8 << 20)
    t0 = now_ms() - seconds * 1000
    mid, amp = (lows + highs) / 2, (highs - lows) / 3
    for s in range(seconds):
        v = np.round(mid + amp * np.sin(s / 30 + np.arange(len(tags))) + rng.normal(0, amp / 20), 3)
        for p in range(PARTITIONS):
            idx = np.flatnonzero(part == p).tolist()
            rows = [{"tag": tags[i], "ts": t0 + s * 1000, "value": float(v[i]), "source": "gw-1"} for i in idx]
            for start in range(0, len(rows), 2_500):  # records stay well under 1 MB
                producer.send(topic, partition=p, value=json.dumps(rows[start : start + 2_500]).encode())
    producer.flush()
    producer.close()
    return seconds * len(tags)


def run_arm(workers: int, env: dict[str, str], data_dir: Path, total: int) -> tuple[float, float]:
    audit = data_dir / "audit"
    env = {**env, "SAFETWIN_DATA_DIR": str(data_dir), "SAFETWIN_INGEST_AUDIT_FILE": str(audit)}
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bytewax.run", "api.flows:sensors", "-w", str(workers)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    first = last = None
    while True:
        done = read_audit(audit)[0]
        now = time.perf_counter()
        if done and first is None:
            first = (now, done)
        if done >= total:
            last = now
            break
        if proc.poll() is not None:
            out = proc.stdout.read().decode() if proc.stdout else ""
            msg = f"flow exited before storing everything ({done}/{total}):\n{out[-3000:]}"
            raise RuntimeError(msg)
        time.sleep(0.002)
    proc.wait(120)
    assert first is not None and last is not None
    rate = (total - first[1]) / max(last - first[0], 1e-6)
    return rate, first[0] - started


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="10 s of plant data per arm (< 45 s)")
    ap.add_argument("--repeats", type=int, default=None, help="runs per arm (median); default 3, 1 in --quick")
    args = ap.parse_args()
    repeats = args.repeats or (1 if args.quick else 3)
    seconds = 10 if args.quick else 30
    brokers = [os.environ.get("SAFETWIN_TEST_KAFKA", "127.0.0.1:9092")]
    plant = generate_plant(N_TAGS)
    specs = tag_limits(plant)
    tags = list(specs)
    lows = np.array([s.l if s.l is not None else s.lo for s in specs.values()])
    highs = np.array([s.h if s.h is not None else s.hi for s in specs.values()])
    with tempfile.TemporaryDirectory() as tmp_:
        tmp = Path(tmp_)
        prefix = f"bench{uuid.uuid4().hex[:8]}"
        names = topics(Settings(kafka_brokers=brokers, kafka_topic_prefix=prefix))
        ensure_topics(brokers, dict.fromkeys(names.values(), PARTITIONS))
        total = produce(brokers, names["raw"], tags, lows, highs, seconds)
        (tmp / "tags.json").write_bytes(dump_specs(specs))
        env = {
            **os.environ,
            "SAFETWIN_ENVIRONMENT": "test",
            "SAFETWIN_KAFKA_BROKERS": json.dumps(brokers),
            "SAFETWIN_KAFKA_TOPIC_PREFIX": prefix,
            "SAFETWIN_TAGS_FILE": str(tmp / "tags.json"),
            "SAFETWIN_FLOW_SHARDS": str(PARTITIONS),
            "SAFETWIN_FLOW_TAIL": "false",
        }
        rates: dict[int, list[float]] = {1: [], 2: []}
        for rep in range(repeats):
            for workers in (1, 2):
                rate, startup = run_arm(workers, env, tmp / f"w{workers}-{rep}", total)
                rates[workers].append(rate)
                print(f"  -w {workers}: {rate:,.0f} readings/s (start-up {startup:.1f} s, not counted)")
    w1, w2 = statistics.median(rates[1]), statistics.median(rates[2])
    print(f"{total:,} readings from a {PARTITIONS}-partition topic to DuckDB + output topics")
    print(f"1 worker: {w1:,.0f} readings/s; 2 workers: {w2:,.0f} readings/s (medians of {repeats})")
    print(
        json.dumps(
            {
                "w1_readings_per_s": round(w1),
                "w2_readings_per_s": round(w2),
                "ratio": round(w2 / w1, 2),
                "readings": total,
            }
        )
    )


if __name__ == "__main__":
    main()
