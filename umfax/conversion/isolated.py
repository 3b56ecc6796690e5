"""Conversion in a child process: a document that makes the renderer hang or eat memory
costs its own job, never the server.

pdfium, Pillow and the codecs run in process (fast, no copies), so a hostile PDF that
loops in pdfium, or a page that needs gigabytes, would stall or kill the server's
conversion thread.  :class:`IsolatedConverter` runs :func:`convert_documents` in one
spawned worker process, started ahead of need and reused across jobs, under a wall-clock
timeout per job and an address-space limit (``RLIMIT_AS``).  A job that overruns the time
is abandoned: the worker is killed and a fresh one spawned; one that overruns the memory
gets ``MemoryError`` in the worker, which lives on.  Either way the job fails with a
:class:`ConversionError` that says why.

The worker ignores SIGINT and SIGTERM: Ctrl-C in a terminal and systemd's stop
(``KillMode=control-group``) signal every process of the server, and the server, not the
signal, decides when its child goes (it kills it with SIGKILL at once on close).  A
worker whose server died reads end-of-file on its pipe and exits.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import logging
import multiprocessing
import multiprocessing.connection
import multiprocessing.process
import resource
import signal
import threading
import time
from typing import Any

from umfax.conversion.convert import convert_documents
from umfax.conversion.errors import (
    ConversionError,
    ConversionStopped,
    ConverterTimeout,
    DocumentTooLarge,
)
from umfax.conversion.model import ConversionOptions, FaxPage
from umfax.errors import describe_error

logger = logging.getLogger(__name__)

STOP_CHECK = 0.25
"""Seconds between looks at the stop event while the child converts."""

_WARM_UP = [("warm-up.txt", b"warm up")]


def _convert(documents: list[tuple[str, bytes]], options: ConversionOptions) -> list[FaxPage]:
    try:
        return convert_documents(documents, options)
    except MemoryError:
        raise DocumentTooLarge(
            "the documents need more memory than a conversion may use; send fewer or smaller "
            "pages, or lower the resolution of embedded images"
        ) from None


def _child(conn: multiprocessing.connection.Connection, memory_bytes: int) -> None:
    """The worker: answers ``(request id, documents, options)`` with ``(id, ok, value)``
    until its pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if memory_bytes > 0:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    while True:
        try:
            request_id, documents, options = conn.recv()
        except (EOFError, OSError):
            return
        if not _answer(conn, request_id, documents, options):
            del documents, options
            gc.collect()  # a failed job's traceback cycles hold its pages' memory


def _answer(
    conn: multiprocessing.connection.Connection,
    request_id: int,
    documents: list[tuple[str, bytes]],
    options: ConversionOptions,
) -> bool:
    """Converts one request and sends the answer; False when the conversion failed."""
    try:
        reply: tuple[int, bool, Any] = (request_id, True, _convert(documents, options))
    except Exception as exc:
        reply = (request_id, False, exc)
    try:
        conn.send(reply)
    except Exception as exc:  # an exception that does not pickle
        conn.send((request_id, False, ConversionError(describe_error(exc))))
    return reply[1]


class _Worker:
    """One child process and the parent's end of its pipe."""

    def __init__(self, context: Any, memory_bytes: int) -> None:
        self.conn, child_conn = context.Pipe()
        self.process: multiprocessing.process.BaseProcess = context.Process(
            target=_child, args=(child_conn, memory_bytes), name="umfax-convert", daemon=True
        )
        self.process.start()
        child_conn.close()

    def kill(self) -> None:
        with contextlib.suppress(Exception):
            self.process.kill()
        self.process.join(timeout=2)
        self.conn.close()


class IsolatedConverter:
    """``convert()`` in a child process under ``timeout`` seconds and ``memory_bytes`` of
    address space (0: no limit).  Thread-safe; one job at a time."""

    def __init__(self, timeout: float = 300.0, memory_bytes: int = 0) -> None:
        self.timeout = timeout
        self.memory_bytes = memory_bytes
        self._context = multiprocessing.get_context("spawn")  # no fork of a threaded server
        self._worker: _Worker | None = None
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def start(self) -> None:
        """Spawn the worker now and warm it up (imports, first render) before the first
        job needs it; its answer is read and dropped by the first :meth:`convert`."""
        with self._lock:
            self._ensure().conn.send((next(self._ids), _WARM_UP, ConversionOptions()))

    def convert(
        self,
        documents: list[tuple[str, bytes]],
        options: ConversionOptions,
        stop: threading.Event | None = None,
    ) -> list[FaxPage]:
        """Pages of ``documents``.  When ``stop`` is set while the child works, the child is
        killed (and replaced at the next call) and ConversionStopped is raised within
        :data:`STOP_CHECK` seconds, so that a server shutting down does not wait for a
        conversion of up to ``timeout`` seconds."""
        with self._lock:
            worker = self._ensure()
            request_id = next(self._ids)
            try:
                worker.conn.send((request_id, documents, options))
                ok, value = self._await(worker, request_id, time.monotonic() + self.timeout, stop)
            except TimeoutError:
                self._kill()
                names = ", ".join(name for name, _ in documents)
                logger.warning("conversion timed out; worker replaced", extra={"timeout": self.timeout})
                raise ConverterTimeout(
                    f"{names} took longer than {self.timeout:g} s to convert and was abandoned; "
                    "send it as a simpler PDF (print to PDF) or in parts"
                ) from None
            except ConversionStopped:
                self._kill()
                raise
            except (EOFError, OSError) as exc:  # the child died (killed, crashed in a library)
                self._kill()
                raise ConversionError(
                    "the converter process ended while converting; send the document as a PDF"
                ) from exc
        if ok:
            pages: list[FaxPage] = value
            return pages
        if isinstance(value, ConversionError):
            raise value
        raise ConversionError(
            f"the converter failed ({describe_error(value)}); send the document as a PDF"
        ) from value

    def _await(
        self, worker: _Worker, request_id: int, deadline: float, stop: threading.Event | None
    ) -> tuple[bool, Any]:
        """The child's answer to ``request_id`` (earlier answers, e.g. the warm-up's, are
        dropped); TimeoutError past ``deadline``, ConversionStopped once ``stop`` is set."""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            if worker.conn.poll(min(left, STOP_CHECK)):
                answer_id, ok, value = worker.conn.recv()
                if answer_id == request_id:
                    return ok, value
            elif stop is not None and stop.is_set():
                raise ConversionStopped(
                    "the server stopped during the conversion; it is converted again when the server starts"
                )

    def close(self) -> None:
        with self._lock:
            self._kill()

    def _ensure(self) -> _Worker:
        if self._worker is None or not self._worker.process.is_alive():
            if self._worker is not None:
                self._worker.kill()
            self._worker = _Worker(self._context, self.memory_bytes)
        return self._worker

    def _kill(self) -> None:
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.kill()

    def __enter__(self) -> IsolatedConverter:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
