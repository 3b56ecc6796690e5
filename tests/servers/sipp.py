"""SIPp (Debian ``sip-tester``) runs for tests: scenarios from ``tests/sip_scenarios/``.

A scenario file may be a template: ``{{name}}`` placeholders (e.g. ``{{media_port}}``) are
filled by :func:`render_scenario`; SIPp's own ``[keywords]`` are left alone.

Usage::

    uas = start_sipp(render_scenario("uas_answer.xml", tmp_path, media_port=port), workdir=tmp_path)
    result = run_sipp("register_digest.xml", (HOST, kamailio.port), workdir=tmp_path,
                      service="alice", auth=("alice", "secret"))
    assert result.ok, result.report()
    assert uas.wait(10).ok

Each run keeps SIPp's files in its ``workdir``: the SIP messages sent and received, the
unexpected messages, the ``<log>`` actions, the statistics (CSV) and the last screen.
"""

from __future__ import annotations

import contextlib
import itertools
import re
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from tests.servers.ports import HOST, free_udp_port

SCENARIOS = Path(__file__).resolve().parent.parent / "sip_scenarios"
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
_runs = itertools.count(1)


def sipp_binary() -> str | None:
    """The path of ``sipp``, or None when it is not installed."""
    return shutil.which("sipp")


def render_scenario(template: str | Path, directory: Path, **values: object) -> Path:
    """Write ``template`` (a path, or a name in ``tests/sip_scenarios/``) into ``directory``
    with every ``{{name}}`` replaced by ``values[name]``; a placeholder left without a value
    raises KeyError.  Returns the written file."""
    source = Path(template) if Path(template).is_absolute() else SCENARIOS / template
    text = source.read_text()
    missing = sorted({m.group(1) for m in _PLACEHOLDER.finditer(text)} - set(values))
    if missing:
        raise KeyError(f"{source.name}: no value for {', '.join(missing)}")
    text = _PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), text)
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / source.name
    target.write_text(text)
    return target


@dataclass(frozen=True)
class SippResult:
    """What one SIPp run did.  ``returncode``: SIPp's exit code (0 all calls succeeded,
    1 some failed, 97/99 stopped without calls, -N killed by signal N)."""

    returncode: int
    timed_out: bool  # still running after the caller's wait: stopped (returncode then says how)
    messages: str  # every SIP message sent and received (-trace_msg)
    errors: str  # unexpected messages and scenario errors (-trace_err)
    log: str  # the scenario's <log> actions (-trace_logs)
    stats: str  # the statistics CSV (-trace_stat)
    screen: str  # the last statistics screen (-trace_screen)
    output: str  # SIPp's stdout and stderr

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    def report(self) -> str:
        """The run's exit code, errors, screen and messages, for assertion messages."""
        parts = [
            f"sipp exit code {self.returncode}{' (timed out)' if self.timed_out else ''}",
            f"--- errors\n{self.errors}",
            f"--- output\n{self.output}",
            f"--- screen\n{self.screen}",
            f"--- log\n{self.log}",
            f"--- messages\n{self.messages}",
        ]
        return "\n".join(parts)


class SippProcess:
    """A started SIPp run; :meth:`wait` collects its :class:`SippResult`.  A context
    manager that kills SIPp if the test left it running."""

    def __init__(self, argv: list[str], workdir: Path, name: str, port: int) -> None:
        self.workdir = workdir
        self.port = port  # SIPp's local SIP port
        kinds = ("messages", "errors", "log", "stats", "screen", "out")
        self._files = {k: workdir / f"{name}.{k}" for k in kinds}
        argv += [
            "-trace_msg", "-message_file", str(self._files["messages"]),
            "-trace_err", "-error_file", str(self._files["errors"]),
            "-trace_logs", "-log_file", str(self._files["log"]),
            "-trace_stat", "-stf", str(self._files["stats"]),
            "-trace_screen", "-screen_file", str(self._files["screen"]),
        ]  # fmt: skip
        self.argv = argv
        with self._files["out"].open("wb") as out:
            self._process = subprocess.Popen(
                argv, cwd=workdir, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
            )

    def wait(self, timeout: float = 30.0) -> SippResult:
        """Wait for SIPp to end (killing it after ``timeout`` seconds) and read its files."""
        timed_out = False
        try:
            code = self._process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            self._process.send_signal(signal.SIGUSR1)  # SIPp: dump its statistics and quit
            try:
                code = self._process.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self._process.kill()
                code = self._process.wait()

        def read(key: str) -> str:
            with contextlib.suppress(OSError):
                return self._files[key].read_text(errors="replace")
            return ""

        return SippResult(
            code,
            timed_out,
            read("messages"),
            read("errors"),
            read("log"),
            read("stats"),
            read("screen"),
            " ".join(self.argv) + "\n" + read("out"),
        )

    def __enter__(self) -> SippProcess:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait()


def start_sipp(
    scenario: str | Path,
    target: tuple[str, int] | None = None,
    *,
    workdir: Path,
    port: int | None = None,
    transport: str = "udp",
    calls: int = 1,
    service: str | None = None,
    auth: tuple[str, str] | None = None,
    timeout: float = 30.0,
    extra: list[str] | None = None,
) -> SippProcess:
    """Start SIPp on ``scenario`` (a path, or a name in ``tests/sip_scenarios/``).
    ``target``: where a UAC sends (None for a UAS); ``port``: SIPp's SIP port (a free one
    when None; :attr:`SippProcess.port`); ``transport``: ``udp`` or ``tcp``; ``service``:
    the Request-URI user (``-s``); ``auth``: username and password for digest challenges;
    ``timeout``: SIPp's own global timeout (it then fails); ``extra``: more arguments."""
    binary = sipp_binary()
    if binary is None:
        raise FileNotFoundError("sipp is not installed (apt-get install sip-tester)")
    path = Path(scenario) if Path(scenario).is_absolute() else SCENARIOS / scenario
    port = port or free_udp_port()
    argv = [binary, "-sf", str(path), "-i", HOST, "-p", str(port), "-m", str(calls),
            "-t", {"udp": "u1", "tcp": "t1"}[transport], "-nostdin",
            "-timeout", f"{timeout}s", "-timeout_error", "-max_recv_loops", "1000"]  # fmt: skip
    if service:
        argv += ["-s", service]
    if auth:
        argv += ["-au", auth[0], "-ap", auth[1]]
    argv += extra or []
    if target:
        argv.append(f"{target[0]}:{target[1]}")
    workdir.mkdir(parents=True, exist_ok=True)
    return SippProcess(argv, workdir, f"sipp{next(_runs)}-{path.stem}", port)


def run_sipp(
    scenario: str | Path, target: tuple[str, int] | None = None, *, wait: float = 30.0, **options: object
) -> SippResult:
    """:func:`start_sipp` and wait up to ``wait`` seconds for its result (same options)."""
    with start_sipp(scenario, target, **options) as process:  # type: ignore[arg-type]
        return process.wait(wait)
