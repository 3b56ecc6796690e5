"""Sans-IO T.30 engine (ITU-T T.30 phases B-E, T.4 Annex A ECM): the common machinery.

An engine is driven by its owner: :meth:`Engine.start` returns the first action; the
owner performs it and passes what happened to :meth:`Engine.step`, which returns the
next action, until a :class:`~modem.t30.messages.Hangup` comes out.  The engine never
touches a modem, a clock or a thread.  Progress notes and received pages pile up in
:attr:`Engine.progress` / :attr:`T30Receiver.pages` for the owner to drain.

Phase A (dialling, answering, CNG/CED) is the driver's job: the caller engine starts
by waiting for DIS, the called engine starts by sending CSI/DIS.

This module holds what both terminals share: the T.30 timers, the generator driving
(:class:`Engine`), frame building, command/response with repetition, and the hang-up
signal.  The calling terminal is :class:`modem.t30.sender.T30Sender`, the called one
:class:`modem.t30.receiver.T30Receiver`.
"""


from __future__ import annotations

import logging
from collections.abc import Generator

from modem.api import CallResult, HangupCause, Progress, ProgressKind
from modem.errors import HDLCError, T30Error
from modem.hdlc import FCF, X_BIT, Frame, build_frame, parse_frame
from modem.t30.dis import Y_RES_FINE, Y_RES_STANDARD, Y_RES_SUPERFINE, Params
from modem.t30.messages import (
    Action,
    Event,
    FramesReceived,
    Hangup,
    LineLost,
    ReceiveFrames,
    SendFrames,
)

log = logging.getLogger(__name__)

# T.30 timers (seconds)
T1 = 35.0  # wait for the other terminal to be identified
T2 = 6.0  # wait for a command (or page carrier)
T4 = 3.0  # wait for a response
T5 = 60.0  # ECM receiver-not-ready
MAX_TRIES = 3  # command repetitions on no response
MAX_PAGE_RETRIES = 3  # RTN per page before giving up
TURNAROUND_MS = 75  # T.30 5.3.2.4: silence between the end of a signal and the next

ECM_SYNC_MS = 200  # T.4 Annex A synchronisation flags before an ECM block (200 +- 100 ms)


def ecm_preamble_flags(bit_rate: int) -> int:
    """Flags (one octet each) lasting ``ECM_SYNC_MS`` at ``bit_rate``."""
    return max(1, bit_rate * ECM_SYNC_MS // 8000)


Gen = Generator[Action, Event, None]
GenR = Generator[Action, Event, "Params"]


def _frame_name(octets: bytes) -> str:
    try:
        return parse_frame(octets).name
    except HDLCError:
        return "?"


class HangupSignal(Exception):
    """Internal: ends the conversation (caught in :meth:`Engine._main`, never escapes)."""

    def __init__(self, cause: HangupCause, message: str, *, dcn: bool = False) -> None:
        super().__init__(message)
        self.cause = cause
        self.message = message
        self.dcn = dcn


def y_res_class(y_res: float) -> float:
    """The T.30 resolution class (standard, fine, superfine) ``y_res`` lines/inch falls in."""
    if y_res >= 300:
        return Y_RES_SUPERFINE
    if y_res >= 150:
        return Y_RES_FINE
    return Y_RES_STANDARD


class Engine:
    """Common driving machinery (generator based)."""

    is_caller: bool = False

    def __init__(self) -> None:
        self.progress: list[Progress] = []
        self.remote_id = ""
        self.remote_nsf = b""  # NSF (or NSS) FIF from the far end, passed through as is
        self.params: Params | None = None
        self.pages_done = 0
        self.result: Hangup | None = None
        # ("tx" | "rx", frame name) of every V.21 control frame the engine asked to send or
        # was given, in its own order: a record for logs and tests, never read by the engine.
        self.frame_log: list[tuple[str, str]] = []
        self._gen: Gen | None = None
        self._x = X_BIT if self.is_caller else 0

    # --- driving --------------------------------------------------------------------------
    def start(self) -> Action:
        if self._gen is not None:
            raise T30Error("engine already started")
        self._gen = self._main()
        return self._advance(None)

    def step(self, event: Event) -> Action:
        if self._gen is None:
            raise T30Error("engine not started")
        if self.result is not None:
            raise T30Error("engine finished")
        return self._advance(event)

    @property
    def finished(self) -> bool:
        return self.result is not None

    def take_progress(self) -> list[Progress]:
        out, self.progress = self.progress, []
        return out

    def _advance(self, event: Event | None) -> Action:
        assert self._gen is not None
        if isinstance(event, FramesReceived):
            self.frame_log.extend(("rx", f.name) for f in event.frames)
        try:
            action = next(self._gen) if event is None else self._gen.send(event)
        except StopIteration as exc:  # pragma: no cover - _main always ends in Hangup
            raise T30Error("engine ended without hangup") from exc
        if isinstance(action, SendFrames):
            self.frame_log.extend(("tx", _frame_name(raw)) for raw in action.frames)
        if isinstance(action, Hangup):
            self.result = action
            self._note(ProgressKind.HANGUP, message=f"{action.cause}: {action.message}")
            log.info("t30 hangup", extra={"cause": str(action.cause), "detail": action.message,
                                          "pages": self.pages_done})
        return action

    def _main(self) -> Gen:
        try:
            yield from self._run()
        except HangupSignal as h:
            if h.dcn:
                yield SendFrames((self._frame(FCF.DCN),))
            yield Hangup(h.cause, h.message)

    def _run(self) -> Gen:  # pragma: no cover - abstract
        raise NotImplementedError
        yield

    # --- helpers ----------------------------------------------------------------------------
    def _frame(self, fcf: int, fif: bytes = b"", final: bool = True) -> bytes:
        return build_frame(fcf, fif, final=final, x=bool(self._x))

    def _note(self, kind: ProgressKind, **kw: object) -> None:
        p = self.params
        base: dict[str, object] = {"remote_id": self.remote_id}
        if p is not None:
            base.update(bit_rate=p.bit_rate, encoding=p.encoding, ecm=p.ecm)
        base.update(kw)
        self.progress.append(Progress(kind, **base))  # type: ignore[arg-type]

    @staticmethod
    def _last(ev: Event) -> Frame | None:
        if isinstance(ev, FramesReceived) and ev.frames:
            return ev.frames[-1]
        return None

    def _find(self, ev: Event, *names: str) -> Frame | None:
        if isinstance(ev, FramesReceived):
            for f in ev.frames:
                if f.name in names:
                    return f
        return None

    @staticmethod
    def _lost(ev: Event, what: str) -> None:
        if isinstance(ev, LineLost):
            raise HangupSignal(HangupCause.LINE_DROPPED, f"line lost {what}: {ev.message}".rstrip(": "))

    def _send(self, *frames: bytes) -> Gen:
        ev = yield SendFrames(tuple(frames))
        self._lost(ev, "while sending frames")

    def _command(self, frames: tuple[bytes, ...], name: str, *, tries: int = MAX_TRIES,
                 timeout: float = T4) -> Generator[Action, Event, Frame]:
        """Send a command and wait for the response; repeat on silence, CRP or bad FCS."""
        for _ in range(tries):
            yield from self._send(*frames)
            ev = yield ReceiveFrames(timeout)
            self._lost(ev, f"waiting for the response to {name}")
            last = self._last(ev)
            if last is None or last.name == "CRP":
                continue
            return last
        raise HangupSignal(HangupCause.PROTOCOL_ERROR, f"no response to {name} after {tries} tries",
                           dcn=True)

def fill_result(result: CallResult, engine: Engine | None) -> CallResult:
    """``result`` completed with what ``engine`` knows (cause, far end, pages, mode)."""
    if engine is None:
        return result
    if engine.result is not None:
        result.cause = engine.result.cause
        result.message = engine.result.message
    result.remote_id = engine.remote_id
    result.remote_nsf = engine.remote_nsf
    result.pages_done = engine.pages_done
    if engine.params is not None:
        result.bit_rate = engine.params.bit_rate
        result.encoding = engine.params.encoding
        result.ecm = engine.params.ecm
        result.y_res = engine.params.y_res
    return result


__all__ = [
    "MAX_PAGE_RETRIES",
    "MAX_TRIES",
    "T1",
    "T2",
    "T4",
    "T5",
    "TURNAROUND_MS",
    "Engine",
    "Gen",
    "GenR",
    "HangupSignal",
    "ecm_preamble_flags",
    "fill_result",
    "y_res_class",
]
