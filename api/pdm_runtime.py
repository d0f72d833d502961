"""The PdM flow inside ``safetwin run`` (embedded mode): model, window feed, work orders.

The model is the newest one ``safetwin pdm train`` saved under ``<data_dir>/models/pdm``. While
there is none the flow does not run: the log says so once (``no PdM model``) and the folder is
looked at again every :data:`MODEL_POLL_S` seconds, so a model trained while the platform runs
is picked up without a restart. Once loaded, :func:`pipelines.pdm.flow.build_flow` (the builder
the distributed entry ``api.flows:pdm`` runs too) reads ``pdm.window`` from the bus and writes
``pdm_features`` / ``pdm_predictions`` to the store; its failure warnings open maintenance work
orders through :mod:`api.pdm_orders` (one open order per asset and failure mode).

Why windows and not the sensor flow's readings: the model's inputs are vibration *snapshots*
(256 samples at 2.56 kHz: crest factor, kurtosis and band energies come from the waveform) plus
temperature, current and counters, one window per hour, which is what a condition-monitoring
gateway publishes. A 1 Hz overall-vibration tag such as the demo's ``VT-401`` carries none of
that, so the PdM flow costs the sensor flow nothing: no reading is expanded or re-read for it.

The simulated plant has no such gateway, so while simulating, :class:`SimulatedVibrationGateway`
plays one: each rotating asset of the plant (equipment kind ``pump``, ``compressor``,
``agitator``) runs one seeded run-to-failure history of :mod:`twin.degradation`, time-lapsed at
one hour of running per :data:`GATEWAY_EVERY_S` seconds and started at
:data:`GATEWAY_START_FRACTION` of its life, so a demo sees a warning and its work order within
minutes. A failed asset is replaced by a new one (running hours back to 0, a new life).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
from bytewax.testing import run_main
from threadpoolctl import threadpool_limits

from api.background import BackgroundLoop
from api.pdm_models import latest, load
from api.pdm_orders import PdmWorkOrderRecorder, PdmWorkOrderSink
from api.settings import Settings
from connectors.bus.bytewax_io import BusSource
from connectors.bus.memory import Bus
from models.pdm.features import BASELINE_WINDOWS, TREND_WINDOWS
from models.pdm.model import PdmModel
from models.pdm.stream import PDM_WINDOW, PdmWindow
from pipelines.pdm.flow import StorePdmSink, build_flow
from registers.db import make_engine, make_session_factory
from twin.degradation import CLASSES, FS, AssetClass, AssetHistory, simulate_asset
from twin.plant import Plant

log = logging.getLogger(__name__)

MODEL_POLL_S: Final = 10.0
"""How often the model folder is looked at again while it holds no model."""
GATEWAY_EVERY_S: Final = 5.0
"""Simulated gateway: wall seconds per window (one hour of the asset's running)."""
GATEWAY_START_FRACTION: Final = 0.85
"""Simulated gateway: where in its life each asset starts (0 new … 1 failed)."""
HOUR_MS: Final = 3_600_000


def model_dir(settings: Settings) -> Path:
    """Where ``safetwin pdm train`` saves models by default (``<data_dir>/models/pdm``)."""
    return settings.data_dir / "models" / "pdm"


def window_of(asset_id: str, history: AssetHistory, i: int, ts: int) -> PdmWindow:
    """Window ``i`` of a simulated history as the gateway publishes it, stamped ``ts``."""
    return PdmWindow(
        asset_id=asset_id,
        asset_class=history.asset_class,
        ts=ts,
        vibration=history.vibration[i].tolist(),
        fs=FS,
        temperature=float(history.temperature[i]),
        current=float(history.current[i]),
        running_hours=float(history.hours[i]),
        starts=int(history.starts[i]),
    )


@dataclass(eq=False)
class _Asset:
    asset_id: str
    asset_class: AssetClass
    history: AssetHistory
    index: int


class SimulatedVibrationGateway:
    """The simulated plant's condition-monitoring gateway: one window per rotating asset per tick.

    The first tick sends, per asset, the windows the streaming features need to be exactly
    those of the whole history so far (the first :data:`~models.pdm.features.BASELINE_WINDOWS`
    of its life and the last :data:`~models.pdm.features.TREND_WINDOWS` before the start
    point), so the flow need not replay a thousand hours of windows at start-up.
    """

    def __init__(
        self,
        publish: Callable[[list[PdmWindow]], None],
        assets: Sequence[tuple[str, AssetClass]],
        *,
        seed: int = 0,
        every_s: float = GATEWAY_EVERY_S,
        start_fraction: float = GATEWAY_START_FRACTION,
        clock: Callable[[], int] = lambda: int(time.time() * 1000),
    ) -> None:
        self.publish = publish
        self.every_s = every_s
        self.clock = clock
        self._rng = np.random.default_rng([seed, 10])  # the PdM stream of the plant seed
        self._assets: list[_Asset] = []
        for asset_id, cls in assets:
            history = simulate_asset(cls, self._rng, asset_id)
            start = min(history.life_h - 1, round(history.life_h * start_fraction))
            self._assets.append(_Asset(asset_id, cls, history, start))
        self.sent = 0
        self.replaced = 0
        self._loop = BackgroundLoop("pdm-gateway", self._run)

    @classmethod
    def for_plant(
        cls, plant: Plant, publish: Callable[[list[PdmWindow]], None], **kwargs: Any
    ) -> SimulatedVibrationGateway:
        """One simulated asset per rotating equipment of the plant, named by its equipment id."""
        kinds: dict[str, AssetClass] = {c: c for c in CLASSES}
        assets = [(e.id, kinds[e.kind]) for e in plant.equipment if e.kind in kinds]
        return cls(publish, assets, **kwargs)

    @property
    def asset_ids(self) -> list[str]:
        """The assets it publishes windows of."""
        return [a.asset_id for a in self._assets]

    def first(self) -> list[PdmWindow]:
        """The start-up windows (see the class docstring), older ones stamped earlier."""
        now = self.clock()
        out: list[PdmWindow] = []
        step_ms = max(1, round(self.every_s * 1000))
        for a in self._assets:
            hours = sorted({*range(min(BASELINE_WINDOWS, a.index)), *range(max(0, a.index - TREND_WINDOWS), a.index)})
            hours.append(a.index)
            out.extend(window_of(a.asset_id, a.history, h, now - (a.index - h) * step_ms) for h in hours)
        return out

    def tick(self) -> list[PdmWindow]:
        """The next window of every asset; a failed asset is replaced by a new one of its class."""
        now = self.clock()
        out: list[PdmWindow] = []
        for a in self._assets:
            a.index += 1
            if a.index >= a.history.life_h:
                a.history = simulate_asset(a.asset_class, self._rng, a.asset_id)
                a.index = 0
                self.replaced += 1
            out.append(window_of(a.asset_id, a.history, a.index, now))
        return out

    def start(self, ready: Callable[[], bool]) -> SimulatedVibrationGateway:
        """Publish in a daemon thread once ``ready()`` (the flow subscribed; earlier windows would be lost)."""
        self._loop.start(ready)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop publishing."""
        self._loop.stop(timeout)

    def _run(self, ready: Callable[[], bool]) -> None:
        if not self._loop.wait_until(ready):
            return
        batch = self.first()
        while not self._loop.stopping:
            self.publish(batch)
            self.sent += len(batch)
            if self._loop.wait(self.every_s):
                return
            batch = self.tick()


@dataclass(eq=False)
class PdmService:
    """The embedded PdM flow, its model, its work-order recorder and (simulating) the gateway.

    ``status`` says what it does now: ``waiting for a model``, ``running`` or ``stopped: ...``.
    """

    settings: Settings
    plant: Plant
    bus: Bus
    store: Any
    simulate: bool = True
    status: str = "starting"
    model_path: Path | None = None
    model_version: str | None = None
    recorder: PdmWorkOrderRecorder | None = None
    gateway: SimulatedVibrationGateway | None = None
    error: BaseException | None = None
    _thread: threading.Thread | None = None
    _engine: Any = None
    _stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> PdmService:
        """Wait for a model, then run the flow, in a daemon thread (start-up is not delayed)."""
        self._thread = threading.Thread(target=self._run, name="bytewax-pdm", daemon=True)
        self._thread.start()
        return self

    def publish(self, windows: PdmWindow | Sequence[PdmWindow] | bytes) -> None:
        """Hand windows (structs or the JSON a gateway sends) to the PdM flow."""
        self.bus.publish(PDM_WINDOW, windows if isinstance(windows, PdmWindow | bytes) else list(windows))

    @property
    def listening(self) -> bool:
        """Whether the flow has subscribed (windows published before are lost)."""
        return self.bus.has_subscribers(PDM_WINDOW)

    def _model(self) -> PdmModel | None:
        directory = model_dir(self.settings)
        told = False
        while not self._stop.is_set() and not self.bus.closed:
            path = latest(directory)
            if path is not None:
                try:
                    saved = load(path)
                except Exception as err:  # noqa: BLE001 - a broken file is reported, the platform runs on
                    self.status = f"stopped: cannot load {path.name}: {type(err).__name__}: {err}"
                    log.error("PdM model %s cannot be loaded (%s): the PdM flow is not running", path, err)  # noqa: TRY400
                    return None
                model: PdmModel = saved.meta["model"]
                self.model_path, self.model_version = path, model.version
                log.info("PdM model %s (%s) loaded from %s", model.version, path.name, directory)
                return model
            if not told:
                self.status = "waiting for a model"
                log.warning("no PdM model in %s: the PdM flow waits for one (run `safetwin pdm train`)", directory)
                told = True
            self._stop.wait(MODEL_POLL_S)
        return None

    def _run(self) -> None:
        try:
            model = self._model()
            if model is None:
                return
            self._engine = make_engine(self.settings.resolved_database_url)
            self.recorder = PdmWorkOrderRecorder(make_session_factory(self._engine))
            flow = build_flow(
                model,
                [BusSource(self.bus, PDM_WINDOW, maxsize=10_000)],
                [StorePdmSink(self.store), PdmWorkOrderSink(self.recorder)],
            )
            if self.simulate:
                self.gateway = SimulatedVibrationGateway.for_plant(self.plant, self.publish, seed=self.settings.seed)
                self.gateway.start(lambda: self.listening or self._stop.is_set())
            self.status = "running"
            # One window's prediction is a one-row scikit-learn call: OpenMP threads only contend
            # (200 ms instead of 19 ms per window measured on a busy 2-core machine).
            with threadpool_limits(limits=1):
                run_main(flow)  # type: ignore[no-untyped-call]
            self.status = "stopped"
        except BaseException as err:  # noqa: BLE001 - reported by status and the log, never silent
            self.error = err
            self.status = f"stopped: {type(err).__name__}: {err}"
            log.exception("PdM dataflow stopped")

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the gateway; the flow ends with the bus (closed by the runtime before this)."""
        self._stop.set()
        if self.gateway is not None:
            self.gateway.stop()
        if self._thread is not None:
            self._thread.join(timeout)
        if self._engine is not None:
            self._engine.dispose()
