"""A new user's first start: clone, install the runtime dependencies as ``make run`` does, start.

The clone gets its own virtual environment with only the runtime dependencies (no dev extra),
so a module that the app imports at start but that only the dev extra installs (httpx, once)
fails here. The web UI is not built in the clone: the API must start without ``viz/web/dist``.

``SAFETWIN_CLONE_FROM`` names the source (default: this repository). A git repository is
cloned (its committed HEAD, as CI sees it); a plain folder, e.g. a ``cp -r`` of a working tree
with uncommitted changes, is copied without its virtual environment and build outputs.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
INSTALL_TIMEOUT_S = 900
HEALTH_TIMEOUT_S = 120
STOP_TIMEOUT_S = 15
#: what is never copied from a plain folder: the source's environment and build outputs
NOT_COPIED = shutil.ignore_patterns(
    ".venv", "var", "node_modules", "dist", "__pycache__", "*.egg-info", ".*_cache", ".hypothesis"
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(INSTALL_TIMEOUT_S + HEALTH_TIMEOUT_S + 120)]


def _fetch(source: Path, dest: Path) -> None:
    if (source / ".git").exists():
        subprocess.run(["git", "clone", "--quiet", str(source), str(dest)], check=True, timeout=300)
    else:
        shutil.copytree(source, dest, ignore=NOT_COPIED, symlinks=True)


def _base_python() -> Path:
    """The interpreter this test's virtual environment was made from (what ``make`` would find)."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    base = Path(sys.base_prefix) / "bin" / version
    return base if base.exists() else Path(sys.executable)


def _clean_env() -> dict[str, str]:
    """The environment of a new shell: no venv of ours, no SafeTwin settings of the test run."""
    drop = ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP")
    return {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("SAFETWIN_")}


def _health(port: int) -> dict[str, object] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=2) as response:
            if response.status == 200:
                body: dict[str, object] = json.load(response)
                return body
    except (OSError, urllib.error.URLError, ValueError):
        pass
    return None


def test_fresh_clone_installs_and_starts(tmp_path: Path) -> None:
    if shutil.which("make") is None or shutil.which("git") is None:
        pytest.skip("needs make and git, as the README's first command does")
    source = Path(os.environ.get("SAFETWIN_CLONE_FROM", ROOT)).resolve()
    clone = tmp_path / "safetwin"
    _fetch(source, clone)
    assert not (clone / "viz" / "web" / "dist").exists(), "the clone must start without a built web UI"
    env = _clean_env()
    try:
        install = subprocess.run(
            ["make", f"PYTHON={_base_python()}", ".venv/.installed"],
            cwd=clone,
            env=env,
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT_S,
            check=False,
        )
        assert install.returncode == 0, f"make .venv/.installed failed:\n{install.stdout}\n{install.stderr}"

        port = free_port()
        log_path = tmp_path / "safetwin-run.log"
        data_dir = tmp_path / "data"
        with log_path.open("w") as log:
            process = subprocess.Popen(
                [str(clone / ".venv" / "bin" / "safetwin"), "run", "--port", str(port)],
                cwd=clone,
                env={**env, "SAFETWIN_DATA_DIR": str(data_dir)},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            started = time.monotonic()
            body = None
            while time.monotonic() - started < HEALTH_TIMEOUT_S and process.poll() is None:
                body = _health(port)
                if body is not None and body.get("flow_running") is True:
                    break
                time.sleep(0.25)
            output = log_path.read_text(errors="replace")
            assert body is not None, f"no 200 from /api/v1/health within {HEALTH_TIMEOUT_S} s:\n{output}"
            assert body.get("flow_running") is True, f"health says the flow is not running: {body}\n{output}"
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
                assert response.status == 200  # the "web UI is not built" page, not a crash

            process.send_signal(signal.SIGTERM)
            stopping = time.monotonic()
            try:
                process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                pytest.fail(f"safetwin run did not stop within {STOP_TIMEOUT_S} s of SIGTERM")
            stop_s = time.monotonic() - stopping
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        output = log_path.read_text(errors="replace")
        # uvicorn re-raises the signal it handled once shutdown is complete
        assert process.returncode in (0, -signal.SIGTERM), f"exit {process.returncode}:\n{output}"
        assert stop_s < STOP_TIMEOUT_S
        for failure in ("ModuleNotFoundError", "No module named", "ImportError", "Traceback"):
            assert failure not in output, f"{failure} in the output of safetwin run:\n{output}"
    finally:
        shutil.rmtree(clone, ignore_errors=True)  # a whole virtual environment: do not keep it around
