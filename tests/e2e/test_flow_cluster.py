"""Scale-out proof: the distributed sensor flow as a Bytewax cluster of 2 processes.

Readings of 400 tags (10 s, limits crossed, poison records among them) go to a raw topic of 2
partitions. Two processes (``python -m bytewax.run api.flows:sensors -i 0/1 -a ...``) judge
them with 2 state shards and write the output topics; the store loader (``api.flows:loader``),
the one process owning the DuckDB file, stores what they wrote. The same topic run through
ONE in-process flow writing its own store must give the same readings (with the same
quality), the same alarm events and the same dead letters.
"""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import duckdb
import pytest
from bytewax.testing import run_main
from kafka import KafkaProducer

from api import flows
from api.settings import Settings
from connectors.kafka.admin import ensure_topics
from models.contracts import SensorReading, encode, now_ms
from models.limits import TagLimits

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
TAGS = 400
STEPS = 10


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stored(db: Path) -> tuple[list, list, int]:
    with duckdb.connect(str(db), read_only=True) as con:
        readings = con.execute("SELECT tag, ts, value, quality FROM readings ORDER BY ALL").fetchall()
        alarms = con.execute(
            "SELECT alarm_id, ts, state, value FROM alarm_events WHERE kind NOT IN ('FLOOD', 'COMM') ORDER BY ALL"
        ).fetchall()
        dead = con.execute("SELECT count(*) FROM deadletters").fetchone()
    return readings, alarms, int(dead[0]) if dead else 0


def test_two_flow_processes_store_the_same_readings_and_alarms_as_one(kafka_brokers, tmp_path):
    prefix = f"c{uuid.uuid4().hex[:8]}"
    specs = {f"FT-{i:04d}": TagLimits(tag=f"FT-{i:04d}", lo=0, hi=100, ll=5, l=10, h=80, hh=90) for i in range(TAGS)}
    tags_file = tmp_path / "tags.json"
    tags_file.write_bytes(flows.dump_specs(specs))
    base = {
        "environment": "test",
        "kafka_brokers": kafka_brokers,
        "kafka_topic_prefix": prefix,
        "tags_file": tags_file,
        "flow_shards": 2,
    }
    names = flows.topics(Settings(**base))
    ensure_topics(kafka_brokers, {names["raw"]: 2} | {t: 2 for k, t in names.items() if k != "raw"})

    rng = random.Random(7)
    t0 = now_ms() - 60_000
    producer = KafkaProducer(bootstrap_servers=kafka_brokers, acks="all")
    level = {t: rng.uniform(20, 70) for t in specs}
    for step in range(STEPS):
        for tag in specs:
            level[tag] = min(100.0, max(0.0, level[tag] + rng.gauss(0, 12)))
            r = SensorReading(tag=tag, ts=t0 + step * 1000, value=round(level[tag], 2), source="gw-1")
            producer.send(names["raw"], key=tag.encode(), value=encode(r))
        producer.send(names["raw"], key=b"poison", value=b'{"tag": "FT-0001", "ts": 18446744073709551616}')
        producer.send(names["raw"], key=b"poison", value=b"[" * 100_000)
    producer.flush()
    producer.close()

    env = {
        **os.environ,
        "SAFETWIN_KAFKA_BROKERS": f'["{kafka_brokers[0]}"]',
        "SAFETWIN_KAFKA_TOPIC_PREFIX": prefix,
        "SAFETWIN_TAGS_FILE": str(tags_file),
        "SAFETWIN_FLOW_SHARDS": "2",
        "SAFETWIN_FLOW_TAIL": "false",
        "SAFETWIN_FLOW_WRITES_STORE": "false",
        "SAFETWIN_ENVIRONMENT": "test",
    }
    addresses = f"127.0.0.1:{free_port()};127.0.0.1:{free_port()}"
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "bytewax.run", "api.flows:sensors", "-i", str(i), "-a", addresses],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for i in range(2)
    ]
    for p in procs:
        out, _ = p.communicate(timeout=180)
        assert p.returncode == 0, out.decode()[-3000:]

    cluster_db = tmp_path / "cluster"
    loader = Settings(**base, data_dir=cluster_db)
    run_main(flows.loader_flow(loader, tail=False))

    one_db = tmp_path / "one"
    run_main(flows.sensors_flow(Settings(**base, data_dir=one_db), tail=False))

    cluster, one = stored(cluster_db / "safetwin.duckdb"), stored(one_db / "safetwin.duckdb")
    assert len(one[0]) == TAGS * STEPS
    assert cluster[0] == one[0]  # every reading once, same quality
    assert len(one[1]) > 200 and cluster[1] == one[1]  # the same alarm events
    # the poison is dead-lettered (stamped with the record time: repeats within a ms collapse)
    assert cluster[2] == one[2] >= 2
