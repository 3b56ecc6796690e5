"""A real ``umfax serve`` for the browser tests: embedded defaults (SQLite in a temporary
data directory, the two default simulated lines), the API and console on a free port.

The only configuration given is ``[api] listen`` (the embedded default is the fixed port
8025, which other tests and helpers may hold); the data directory comes from
``UMFAX_DATA_DIR``.  Standard error is kept line by line: ``umfax serve`` prints the
first-run setup link there.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import requests

from tests.servers.ports import HOST, free_port
from umfax.config import CONFIG_ENV, DATA_DIR_ENV

START_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0  # it finishes calls in progress first; the tests leave none
STOPPED_GRACE = 2.0


class ConsoleServerError(RuntimeError):
    """``umfax serve`` did not start, or did not print what a test waited for."""


@dataclass
class ConsoleServer:
    """A running ``umfax serve`` and what it printed on standard error."""

    url: str
    data_dir: Path
    process: subprocess.Popen[str]
    stderr_lines: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def stderr_text(self) -> str:
        with self._lock:
            return "".join(self.stderr_lines)

    def wait_for_stderr(self, pattern: str, timeout: float = 20.0) -> re.Match[str]:
        """The first match of ``pattern`` in what the server printed, waiting for it."""
        compiled = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            match = compiled.search(self.stderr_text())
            if match:
                return match
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise ConsoleServerError(
                    f"umfax serve printed nothing matching {pattern!r}:\n{self.stderr_text()}"
                )
            time.sleep(0.1)

    def stop(self) -> None:
        """SIGTERM, as a service manager stops it; once it has logged that it stopped, a
        process still there after a short grace is killed with a warning (a leftover
        worker process must not cost every test module seconds)."""
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        stopped_at: float | None = None
        while self.process.poll() is None and time.monotonic() < deadline:
            if stopped_at is None and "umfax stopped" in self.stderr_text():
                stopped_at = time.monotonic()
            if stopped_at is not None and time.monotonic() - stopped_at > STOPPED_GRACE:
                break
            time.sleep(0.1)
        if self.process.poll() is None:
            warnings.warn(
                "umfax serve was still running "
                + (f"{STOPPED_GRACE:.0f} s after logging 'umfax stopped'" if stopped_at else
                   f"{STOP_TIMEOUT:.0f} s after SIGTERM")
                + "; killed it",
                stacklevel=2,
            )
            self.process.kill()
            self.process.wait(5)


def _keep_reading(server: ConsoleServer) -> None:
    stream = server.process.stderr
    assert stream is not None
    for line in stream:
        with server._lock:
            server.stderr_lines.append(line)


def start_console_server(base: Path) -> ConsoleServer:
    """Start ``umfax serve`` with its data directory and one-key config file in ``base``
    and return once the console answers."""
    data_dir = base / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = base / "umfax.toml"
    config.write_text(f'[api]\nlisten = "{HOST}:{port}"\n', encoding="utf-8")
    env = dict(os.environ)
    env[DATA_DIR_ENV] = str(data_dir)
    env[CONFIG_ENV] = str(config)
    process = subprocess.Popen(
        [sys.executable, "-m", "umfax", "serve"],
        env=env,
        cwd=base,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    server = ConsoleServer(url=f"http://{HOST}:{port}", data_dir=data_dir, process=process)
    threading.Thread(target=_keep_reading, args=(server,), daemon=True).start()
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if process.poll() is not None:
            raise ConsoleServerError(f"umfax serve exited ({process.returncode}):\n{server.stderr_text()}")
        try:
            if requests.get(server.url + "/static/console.css", timeout=2).status_code == 200:
                return server
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            server.stop()
            raise ConsoleServerError(
                f"umfax serve did not answer in {START_TIMEOUT:.0f} s:\n{server.stderr_text()}"
            )
        time.sleep(0.2)
