"""The API's HTTP server (uvicorn) in a thread of ``umfax serve``."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import uvicorn

from umfax.api.app import create_app
from umfax.config import Config
from umfax.errors import UmfaxError
from umfax.printer.ports import PrinterEndpoint
from umfax.store import Store

logger = logging.getLogger(__name__)


class ApiStartError(UmfaxError):
    """The API could not listen where configured."""


class ApiServer:
    def __init__(
        self,
        config: Config,
        store: Store,
        connector_health: Callable[[], dict[str, Any]] = dict,
        printer: PrinterEndpoint | None = None,
    ) -> None:
        host, _, port = config.api.listen.rpartition(":")
        self.host = host.strip("[]")
        self.printing = printer is not None
        self._app = create_app(config, store, connector_health, printer)
        self._server = uvicorn.Server(
            uvicorn.Config(
                self._app,
                host=self.host,
                port=int(port),
                log_level="warning",
                access_log=False,
                lifespan="off",
                timeout_graceful_shutdown=5,
            )
        )
        self._thread = threading.Thread(target=self._server.run, name="api", daemon=True)

    @property
    def port(self) -> int:
        for server in self._server.servers:
            for sock in server.sockets:
                return int(sock.getsockname()[1])
        raise ApiStartError("the API is not listening")

    def start(self, timeout: float = 10.0) -> None:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise ApiStartError(
                    f"the API could not listen on {self.host}:{self._server.config.port} "
                    "(in use?); set [api] listen to a free address, or [api] enabled = false"
                )
            time.sleep(0.01)
        logger.info("API listening", extra={"host": self.host, "port": self.port})
        if self.printing:
            host = f"[{self.host}]" if ":" in self.host else self.host
            logger.info("fax printer listening", extra={"uri": f"ipp://{host}:{self.port}/ipp/faxout"})

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._app.close()
