"""``umfax serve``: the scheduler, one worker per line, the converter and connectors."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from apscheduler.schedulers.background import BackgroundScheduler

from umfax import composition
from umfax.config import Config
from umfax.errors import UmfaxError
from umfax.lines.drivers import SimulatedPorts, open_line
from umfax.lines.worker import LineWorker
from umfax.mail.services import MailServices
from umfax.prepare import ConversionWorker
from umfax.store import Store, open_store

if TYPE_CHECKING:
    from umfax.api.server import ApiServer
    from umfax.lines.simulated import SimulatedLines
    from umfax.lines.trunks import Trunks

logger = logging.getLogger(__name__)


class AlreadyRunning(UmfaxError):
    """Another ``umfax serve`` holds this node's lock."""


@contextlib.contextmanager
def node_lock(data_dir: Path) -> Iterator[None]:
    """One server per node and data directory: the previous holder is known dead when we get it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "serve.lock"
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            handle.seek(0)
            pid = handle.read().strip() or "?"
            raise AlreadyRunning(
                f"another umfax serve (pid {pid}) is running on this node with data directory "
                f"{data_dir}; stop it first, or give this one its own server.data_dir"
            ) from exc
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class Server:
    def __init__(self, config: Config, store: Store | None = None) -> None:
        self.config = config
        self.store = store or open_store(config)
        self.node = config.server.node_name
        self.prefix = f"{self.node}/{os.getpid()}/"
        self.stop = threading.Event()
        self.wake_converter = threading.Event()
        self.scheduler = BackgroundScheduler(timezone="UTC")
        self.sim: SimulatedLines | None = None
        self.trunks: Trunks | None = None
        self.lines: list[LineWorker] = []
        self.converter: ConversionWorker | None = None
        self.mail: MailServices | None = None
        self.api: ApiServer | None = None

    def _sim_network(self) -> SimulatedPorts | None:
        if not any(line.simulated and line.enabled for line in self.config.lines):
            return None
        from umfax.lines.simulated import SimulatedLines

        self.sim = SimulatedLines(self.config)
        return self.sim

    def recover(self) -> None:
        """Requeue what a previous process of this node left in flight."""
        jobs = self.store.recover(
            worker_prefix=f"{self.node}/",
            reason=f"umfax serve restarted on {self.node}; the previous process stopped mid-job",
        )
        faxes = self.store.recover_inbound([line.name for line in self.config.lines])
        if jobs or faxes:
            logger.warning("recovered interrupted work", extra={"jobs": jobs, "inbound": faxes})

    def start(self) -> None:
        self.recover()
        sim = self._sim_network()
        if any(trunk.enabled for trunk in self.config.trunks):
            from umfax.lines.trunks import Trunks

            self.trunks = Trunks(self.config)  # a missing password_env stops the start here
        trunks = self.trunks
        lease = self.config.queue.lease
        self.scheduler.add_job(
            self.store.extend_leases,
            "interval",
            seconds=max(1.0, lease / 3),
            args=(self.prefix, lease),
            id="extend-leases",
        )
        self.scheduler.add_job(
            self.store.recover, "interval", seconds=max(1.0, lease / 2), id="recover-expired"
        )
        self.scheduler.add_job(self.store.expire, "interval", seconds=30, id="kill-time")
        self.scheduler.add_job(
            self.store.touch_lines, "interval", seconds=10, args=(self.node,), id="line-heartbeat"
        )
        self.scheduler.start()
        self.converter = ConversionWorker(
            self.store, self.config, f"{self.prefix}convert", self.stop, self.wake_converter
        )
        self.converter.start()
        self.mail = composition.mail_services(self.config, self.store, self.prefix)
        self.mail.start()
        if self.config.api.enabled:
            from umfax.api.server import ApiServer

            printer = composition.printer(self.config, self.store)
            self.api = ApiServer(self.config, self.store, self.mail.health, printer)
            self.api.start()
        for line in self.config.lines:
            if not line.enabled:
                continue
            worker = LineWorker(
                line,
                self.config,
                self.store,
                lambda cfg: open_line(cfg, sim, trunks),
                self.prefix,
                self.stop,
                on_inbound=self.mail.wake,
            )
            self.lines.append(worker)
            worker.start()
        logger.info(
            "umfax serving",
            extra={
                "node": self.node,
                "lines": [w.line.name for w in self.lines],
                "store": self.store.dialect,
            },
        )

    def shutdown(self, grace: float = 120.0) -> None:
        """Stop taking work, let calls in progress finish (up to ``grace`` s), then stop.

        In order: the API and the mail connectors stop taking faxes in (at once, side by
        side); the line workers finish the call they are in (a line between calls stops
        at once); the converter gives back the job it holds; the dispatcher, still running
        until then, has delivered what those last calls received; then the rest."""
        self.stop.set()
        self.wake_converter.set()
        front_ends = []
        if self.api is not None:
            front_ends.append(threading.Thread(target=self.api.stop, name="stop:api", daemon=True))
        if self.mail is not None:
            front_ends.append(threading.Thread(target=self.mail.stop_intake, name="stop:intake", daemon=True))
        for thread in front_ends:
            thread.start()
        for thread in front_ends:
            thread.join(timeout=20)
        deadline = time.monotonic() + grace
        for worker in self.lines:
            worker.join(timeout=max(0.0, deadline - time.monotonic()))
            if worker.is_alive():
                logger.warning(
                    "line still busy at shutdown; its job will be requeued at next start",
                    extra={"line": worker.line.name},
                )
        if self.converter is not None:
            self.converter.join(timeout=10)  # it gives its job back within a quarter second
        if self.mail is not None:
            self.mail.stop()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        if self.sim is not None:
            self.sim.close()
        if self.trunks is not None:
            self.trunks.close()
        self.store.close()
        logger.info("umfax stopped")

    def serve_forever(self) -> None:
        """Run until SIGTERM or SIGINT; a second signal stops at once."""
        signals = 0

        def handler(signum: int, _frame: FrameType | None) -> None:
            nonlocal signals
            signals += 1
            if signals > 1:
                logger.warning("second signal: stopping now; in-flight jobs are requeued at next start")
                os._exit(1)
            logger.info("stopping: finishing calls in progress", extra={"signal": signum})
            self.stop.set()

        previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
        with node_lock(self.config.server.data_dir):
            self.start()
            try:
                while not self.stop.wait(1.0):
                    pass
            finally:
                self.shutdown()
                for sig, old in previous.items():
                    signal.signal(sig, old)
