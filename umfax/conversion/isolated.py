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
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.pool
import resource
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


def _limit_memory(memory_bytes: int) -> None:
    """In the worker, before any job: cap its address space."""
    if memory_bytes > 0:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))


def _convert(documents: list[tuple[str, bytes]], options: ConversionOptions) -> list[FaxPage]:
    try:
        return convert_documents(documents, options)
    except MemoryError:
        raise DocumentTooLarge(
            "the documents need more memory than a conversion may use; send fewer or smaller "
            "pages, or lower the resolution of embedded images"
        ) from None


def _warm() -> bool:
    """Imports and first render done before the first job needs them."""
    convert_documents([("warm-up.txt", b"warm up")], ConversionOptions())
    return True


class IsolatedConverter:
    """``convert()`` in a child process under ``timeout`` seconds and ``memory_bytes`` of
    address space (0: no limit).  Thread-safe; one job at a time."""

    def __init__(self, timeout: float = 300.0, memory_bytes: int = 0) -> None:
        self.timeout = timeout
        self.memory_bytes = memory_bytes
        self._context = multiprocessing.get_context("spawn")  # no fork of a threaded server
        self._pool: multiprocessing.pool.Pool | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        """Spawn the worker now and warm it up in the background."""
        with self._lock:
            self._ensure().apply_async(_warm)

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
            pending = self._ensure().apply_async(_convert, (documents, options))
            deadline = time.monotonic() + self.timeout
            try:
                while True:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise multiprocessing.TimeoutError
                    try:
                        pages: list[FaxPage] = pending.get(min(left, STOP_CHECK))
                        return pages
                    except multiprocessing.TimeoutError:
                        if stop is not None and stop.is_set():
                            self._kill()
                            raise ConversionStopped(
                                "the server stopped during the conversion; it is converted again "
                                "when the server starts"
                            ) from None
            except multiprocessing.TimeoutError:
                self._kill()
                names = ", ".join(name for name, _ in documents)
                logger.warning("conversion timed out; worker replaced", extra={"timeout": self.timeout})
                raise ConverterTimeout(
                    f"{names} took longer than {self.timeout:g} s to convert and was abandoned; "
                    "send it as a simpler PDF (print to PDF) or in parts"
                ) from None
            except ConversionError:
                raise
            except Exception as exc:  # the worker failed in a way the converter did not expect
                raise ConversionError(
                    f"the converter failed ({describe_error(exc)}); send the document as a PDF"
                ) from exc

    def close(self) -> None:
        with self._lock:
            self._kill()

    def _ensure(self) -> multiprocessing.pool.Pool:
        if self._pool is None:
            self._pool = self._context.Pool(1, initializer=_limit_memory, initargs=(self.memory_bytes,))
        return self._pool

    def _kill(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.terminate()
            pool.join()

    def __enter__(self) -> IsolatedConverter:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
