"""The request's database session: what a route did is committed before the answer, or nothing is kept.

``api.auth.get_session`` opens the session and pushes its end onto FastAPI's exit stack of the
route's function-scoped dependencies. These tests hold it to what a user of the API relies on,
on SQLite and on PostgreSQL: a 2xx answer means the change is in the database already; a route
that fails, or a commit that fails, keeps nothing and answers with the error (a failed commit is
a 500, never a 200); every request gives its connection and its place among the capped sessions
back, also after errors, so the API never stalls after a run of failures.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI, HTTPException
from fastapi.testclient import TestClient
from sqlalchemy import Engine, Integer, String, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from api.auth import SessionDep, _SessionEnd
from registers.db import REQUEST_SESSIONS, make_engine, make_session_factory


class _Base(DeclarativeBase):
    pass


class Probe(_Base):
    """A row a route writes; ``name`` is unique so a second one fails at the commit."""

    __tablename__ = "session_probe"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    _Base.metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    app = FastAPI()
    app.state.session_factory = make_session_factory(engine)

    @app.post("/probes/{name}")
    async def create(name: str, session: SessionDep) -> dict[str, str]:
        session.add(Probe(name=name))  # flushed by the commit at the end of the request
        return {"name": name}

    @app.post("/probes/{name}/then-fail")
    async def create_then_fail(name: str, session: SessionDep) -> None:
        session.add(Probe(name=name))
        session.flush()  # sent inside the request's transaction
        raise HTTPException(409, detail="refused after writing")

    @app.get("/probes")
    def count(session: SessionDep) -> int:
        return int(session.scalar(text("SELECT count(*) FROM session_probe")) or 0)

    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def _names(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return sorted(conn.scalars(text("SELECT name FROM session_probe")))


def test_a_created_row_is_in_the_database_when_the_answer_arrives(client: TestClient, engine: Engine) -> None:
    assert client.post("/probes/pump-1").status_code == 200
    assert _names(engine) == ["pump-1"]  # read on another connection: committed before the answer
    assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]  # the connection went back


def test_a_route_that_fails_after_writing_keeps_nothing(client: TestClient, engine: Engine) -> None:
    answer = client.post("/probes/valve-2/then-fail")
    assert answer.status_code == 409
    assert answer.json() == {"detail": "refused after writing"}
    assert _names(engine) == []
    assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]


def test_a_commit_that_fails_is_a_500_and_keeps_nothing_more(client: TestClient, engine: Engine) -> None:
    assert client.post("/probes/tank-3").status_code == 200
    assert client.post("/probes/tank-3").status_code == 500  # the duplicate fails at the commit
    assert _names(engine) == ["tank-3"]
    assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]


@pytest.mark.timeout(60)
def test_a_run_of_failures_never_uses_up_the_sessions(client: TestClient, engine: Engine) -> None:
    """Each request gives its place back: more failures in a row than there are places, then a success."""
    for i in range(REQUEST_SESSIONS * 3):
        assert client.post(f"/probes/f{i}/then-fail").status_code == 409
        assert client.post("/probes/dup").status_code == (200 if i == 0 else 500)
    assert client.post("/probes/after").status_code == 200
    assert client.get("/probes").json() == 2  # "dup" and "after"


def test_a_cancelled_request_still_ends_its_session() -> None:
    """Cancelled while its commit runs, the request waits for the commit and then gives its place back."""
    committing, release = threading.Event(), threading.Event()
    ended: list[str] = []

    class SlowSession:
        """A test fake of a ``Session`` whose rollback is under way: a real one cannot be held mid-rollback on cue."""

        new: Any = ()
        dirty: Any = ()
        deleted: Any = ()

        def in_transaction(self) -> bool:
            return False

        def commit(self) -> None:
            committing.set()
            release.wait(10)
            ended.append("commit")

        def rollback(self) -> None:
            committing.set()
            release.wait(10)
            ended.append("rollback")

        def close(self) -> None:
            ended.append("close")

    async def scenario() -> bool:
        limit = asyncio.Semaphore(1)
        await limit.acquire()
        end = _SessionEnd(SlowSession(), limit)  # type: ignore[arg-type]
        task = asyncio.create_task(end(RuntimeError, RuntimeError("route failed"), None))
        await asyncio.to_thread(committing.wait, 10)
        task.cancel()
        await asyncio.sleep(0.05)
        assert not task.done()  # waits for the rollback under way
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await task
        return not limit.locked()

    assert asyncio.run(scenario())
    assert ended == ["rollback", "close"]


def test_the_session_is_what_the_route_sees(client: TestClient) -> None:
    """A read-only request answers from the session it was given (nothing to commit)."""
    assert client.get("/probes").json() == 0
    client.post("/probes/a")
    assert client.get("/probes").json() == 1
