"""What the throwaway peer servers (kamailio, rtpengine) share: a process group started
in the foreground, stopped with SIGTERM then SIGKILL, a temporary root removed on close,
and a log file read on failure."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from pathlib import Path
from types import TracebackType
from typing import Self


class Daemon:
    """Mix-in: the subclass sets ``root``, ``log_file`` and, in :meth:`start`, starts
    ``_process`` (in its own process group: ``start_new_session=True``); ``with`` starts
    and closes it."""

    root: Path
    log_file: Path
    _process: subprocess.Popen[bytes] | None

    def start(self) -> None:  # pragma: no cover - the subclass's
        raise NotImplementedError

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.close()  # the temporary directory too
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def stop(self) -> None:
        proc, self._process = self._process, None
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def log_text(self) -> str:
        try:
            return self.log_file.read_text(errors="replace")
        except OSError:
            return ""
