"""Run the whole embedded app in a background thread (tests, benchmarks, notebooks)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import uvicorn
from fastapi import FastAPI

from api.app import create_app
from api.settings import Settings


@dataclass
class BackgroundServer:
    """uvicorn serving :func:`create_app` on ``settings.host:settings.port`` in a thread."""

    settings: Settings
    app: FastAPI = field(init=False)
    started_at: float = 0.0
    _server: uvicorn.Server | None = None
    _thread: threading.Thread | None = None

    def __post_init__(self) -> None:
        self.app = create_app(self.settings)

    @property
    def base_url(self) -> str:
        """``http://host:port`` of the running app."""
        return f"http://{self.settings.host}:{self.settings.port}"

    def start(self, timeout: float = 60.0) -> BackgroundServer:
        """Start and wait until the app (and its plant runtime) is up."""
        config = uvicorn.Config(
            self.app,
            host=self.settings.host,
            port=self.settings.port,
            log_level="warning",
            lifespan="on",
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        self.started_at = time.time()
        self._thread = threading.Thread(target=self._server.run, name="safetwin-api", daemon=True)
        self._thread.start()
        deadline = time.time() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.time() > deadline:
                msg = f"SafeTwin did not start on {self.base_url} within {timeout:.0f} s"
                raise RuntimeError(msg)
            time.sleep(0.05)
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Ask uvicorn to exit (runs the lifespan shutdown) and wait for the thread."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
