"""The exchange: the export validates against the JSON Schema; the outbox delivers every record exactly once
to a real local HTTP receiver that fails 30 % of calls (half of the failures after it applied the record)."""

from __future__ import annotations

import json
import random
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.exchange import ExchangeClient, ExchangeResult
from models.investigation_schedule import LOCAL_TZ, CycleUnit
from registers.db import make_engine, make_session_factory
from registers.dual_prevention import exchange
from registers.dual_prevention import service as dp
from registers.dual_prevention.models import CheckTask, DeliveryAttempt, OutboxMessage
from registers.dual_prevention.schemas import CheckStatus
from registers.hidden_hazards import service as hh
from registers.hidden_hazards.schemas import HazardCreate, HazardLevel, ManagementClass, Origin
from tests.db_fixtures import migrate_registers
from tests.registers.dual_prevention.factories import hierarchy, schedule

SCHEMA = json.loads((Path(__file__).parents[2] / "docs" / "dual-prevention-exchange.schema.json").read_text("utf-8"))
COMPANY = "330100123"
START = datetime(2026, 12, 1, tzinfo=LOCAL_TZ)


class FlakyReceiver:
    """A real HTTP server that applies each record once per idempotency key and fails 30 % of calls:
    15 % with 503 before applying, 15 % with 500 after applying (the answer is lost to the sender)."""

    def __init__(self, seed: int = 7, failure_rate: float = 0.3) -> None:
        self.rng = random.Random(seed)
        self.failure_rate = failure_rate
        self.applied: dict[str, dict[str, Any]] = {}
        self.kinds: dict[str, str] = {}
        self.calls: Counter[str] = Counter()
        self.after_ok: Counter[str] = Counter()  # calls for a key after it was answered 200
        self.answered_ok: set[str] = set()
        self.failures = 0
        self.lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> FlakyReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
                key = self.headers["Idempotency-Key"]
                with receiver.lock:
                    receiver.calls[key] += 1
                    if key in receiver.answered_ok:
                        receiver.after_ok[key] += 1
                    roll = receiver.rng.random()
                    if roll < receiver.failure_rate / 2:
                        status = 503
                        receiver.failures += 1
                    else:
                        if key not in receiver.applied:  # the idempotent apply
                            receiver.applied[key] = body
                            receiver.kinds[key] = self.path.strip("/")
                        status = 500 if roll < receiver.failure_rate else 200
                        receiver.failures += status == 500
                        if status == 200:
                            receiver.answered_ok.add(key)
                data = b'{"code": 0}' if status == 200 else b'{"code": 1, "msg": "busy"}'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_args: object) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    url = f"sqlite:///{tmp_path / 'exchange.db'}"
    migrate_registers(url)
    engine = make_engine(url)
    with make_session_factory(engine)() as s:
        yield s
    engine.dispose()


@pytest.fixture
def receiver() -> Iterator[FlakyReceiver]:
    server = FlakyReceiver().start()
    yield server
    server.stop()


def fill(session: Session) -> None:
    """Two hazard sources' worth of dual-prevention data: units, events, measures, schedules, records, hazards."""
    for code, area in (("MHS-01", "tank_farm"), ("MHS-02", "reaction_unit")):
        _, measure = hierarchy(session, code=code, area=area)
        schedule(session, measure, cycle=4, unit=CycleUnit.HOUR, anchor=START, work_start=time(8), work_end=time(20))
        schedule(session, measure, cycle=1, unit=CycleUnit.WEEK, anchor=START, work_start=time(9), work_end=time(17))
        hh.report(
            session=session,
            data=HazardCreate(
                name=f"{code} 安全阀未校验",
                level=HazardLevel.MAJOR,
                origin=Origin.CHECK_TASK,
                measure_id=measure.id,
                management_class=ManagementClass.THINGS,
                control_measures="送检并更换备用阀",
                cost=1.5,
                liable_person="li",
                deadline=date(2026, 12, 20),
            ),
            actor="reporter",
        )
    dp.generate_tasks(session=session, until=START + timedelta(days=3))
    tasks = session.scalars(select(CheckTask).order_by(CheckTask.id)).all()
    for task in tasks[:5]:
        dp.complete_task(
            session=session, task_id=task.id, actor="inspector1", check_status=CheckStatus.NORMAL, now=task.slot_start
        )
    dp.expire_tasks(session=session, now=START + timedelta(days=1))
    closed = hh.report(
        session=session,
        data=HazardCreate(name="巡检通道照明损坏", liable_person="li", deadline=date(2026, 12, 5)),
        actor="reporter",
    )
    hh.submit(session=session, hazard_id=closed.id, note="已更换灯具", actor="li")
    hh.accept(session=session, hazard_id=closed.id, comment="照明恢复，同意销号", actor="manager")
    session.commit()


def test_the_export_validates_against_the_schema_written_from_domain(session: Session) -> None:
    fill(session)
    doc = exchange.export_document(session=session, company_code=COMPANY)
    validator = jsonschema_rs.validator_for(SCHEMA)
    errors = [f"{e.instance_path}: {e.message}" for e in validator.iter_errors(doc)]
    assert errors == []
    assert {k: len(doc[k]) for k in exchange.KINDS} == {
        "riskUnits": 2,
        "riskEvents": 2,
        "controlMeasures": 2,
        "checkTasks": 4,
        "checkRecords": 5 + 3,  # 5 done, and the 3 first-day slots of MHS-02 expired
        "hiddenDangers": 3,
    }
    assert doc["riskUnits"][0]["riskLevel"] == "0"  # LEC 540: 重大
    states = sorted(h["dangerState"] for h in doc["hiddenDangers"])
    assert states == ["0", "0", "9"]

    # the schema is not vacuous: a closed hazard without its acceptor, or a wrong code, is refused
    broken = json.loads(json.dumps(doc))
    accepted = next(h for h in broken["hiddenDangers"] if h["dangerState"] == "9")
    accepted["checkAcceptPerson"] = None
    broken["riskUnits"][0]["riskLevel"] = "4"
    messages = [e.message for e in validator.iter_errors(broken)]
    assert len(messages) == 2


def test_the_outbox_delivers_every_record_exactly_once_through_a_receiver_failing_30_percent(
    session: Session, receiver: FlakyReceiver
) -> None:
    fill(session)
    queued = exchange.enqueue_changes(session=session, company_code=COMPANY, now=START)
    assert queued == 21
    assert exchange.enqueue_changes(session=session, company_code=COMPANY, now=START) == 0  # nothing changed
    session.commit()
    client = ExchangeClient(receiver.url, timeout_s=5)
    now = START
    for _ in range(60):
        exchange.deliver_pending(session=session, sender=client, now=now)
        session.commit()
        if not session.scalar(select(OutboxMessage.id).where(OutboxMessage.state == exchange.PENDING).limit(1)):
            break
        now += timedelta(hours=2)  # past any back-off of the default policy's first attempts
    client.close()

    rows = session.scalars(select(OutboxMessage)).all()
    assert {r.state for r in rows} == {exchange.DELIVERED}
    keys = {r.idempotency_key for r in rows}
    assert set(receiver.applied) == keys  # every record arrived ...
    assert sum(receiver.after_ok.values()) == 0  # ... and none was sent again once acknowledged
    assert receiver.failures > 0.2 * sum(receiver.calls.values())  # the receiver really failed
    assert any(n > 1 for n in receiver.calls.values())  # retries with lost answers happened
    for row in rows:
        assert receiver.applied[row.idempotency_key] == row.payload
        assert receiver.kinds[row.idempotency_key] == row.kind
    attempts = session.scalars(select(DeliveryAttempt)).all()
    assert len(attempts) == sum(receiver.calls.values())  # one log row per HTTP call
    assert sum(a.ok for a in attempts) == len(rows)

    # a change queues the record again under a new key; the old delivery stays delivered
    hazard = hh.open_hazards(session=session)[0]
    hh.submit(session=session, hazard_id=hazard.id, note="已送检", actor="li")
    assert exchange.enqueue_changes(session=session, company_code=COMPANY, now=now) == 1


class Refusing:
    def send(self, *, kind: str, payload: Any, idempotency_key: str) -> ExchangeResult:
        return ExchangeResult.from_status(400, "字段缺失")


def test_a_record_the_platform_refuses_is_parked_not_retried_forever(session: Session) -> None:
    fill(session)
    exchange.enqueue_changes(session=session, company_code=COMPANY, now=START)
    delivered, failed = exchange.deliver_pending(session=session, sender=Refusing(), now=START)
    assert (delivered, failed) == (0, 21)
    assert {r.state for r in session.scalars(select(OutboxMessage))} == {exchange.FAILED}
    assert exchange.deliver_pending(session=session, sender=Refusing(), now=START + timedelta(days=1)) == (0, 0)
    assert "HTTP 400" in (session.scalars(select(OutboxMessage)).first().last_error or "")  # type: ignore[union-attr]


def test_a_connection_refused_is_a_retryable_failure() -> None:
    client = ExchangeClient("http://127.0.0.1:9", timeout_s=1)
    result = client.send(kind="riskUnits", payload={"id": "x"}, idempotency_key="k")
    client.close()
    assert (result.ok, result.retryable, result.status_code) == (False, True, None)
