"""An in-memory "line" connecting two T.30 engines: each one's actions become the
other's events.  Faults are injected with a ``tamper`` hook.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from modem.hdlc import fcs_ok, parse_frame
from modem.t30 import messages as m
from modem.t30.engine import Engine


# what travels on the line
@dataclass
class Burst:
    kind: str  # "frames" | "tcf" | "image"
    payload: object
    modulation: int = 0


Tamper = Callable[[str, Burst], Burst | None]  # (sender name, burst) -> burst or None (lost)


@dataclass
class FakeLine:
    a: Engine
    b: Engine
    tamper: Tamper | None = None
    log: list[str] = field(default_factory=list)
    max_steps: int = 5000

    def run(self) -> tuple[m.Hangup, m.Hangup]:
        engines = {"A": self.a, "B": self.b}
        queues: dict[str, deque[Burst]] = {"A": deque(), "B": deque()}  # inbound
        pending: dict[str, m.Action] = {"A": self.a.start(), "B": self.b.start()}
        other = {"A": "B", "B": "A"}
        for _ in range(self.max_steps):
            if all(isinstance(pending[k], m.Hangup) for k in pending):
                break
            progressed = False
            for name in ("A", "B"):
                act = pending[name]
                eng = engines[name]
                if isinstance(act, m.Hangup):
                    continue
                ev: m.Event | None = None
                if isinstance(act, m.SendFrames | m.SendTCF | m.SendImage):
                    if isinstance(act, m.SendFrames):
                        burst = Burst("frames", act.frames)
                        self.log.append(f"{name}> " + " ".join(
                            parse_frame(f).name for f in act.frames))
                    elif isinstance(act, m.SendTCF):
                        burst = Burst("tcf", bytes(act.octets), act.modulation)
                        self.log.append(f"{name}> TCF@{act.bit_rate}")
                    else:
                        burst = Burst("image", act.data, act.modulation)
                        self.log.append(f"{name}> IMAGE@{act.bit_rate}")
                    t = self.tamper(name, burst) if self.tamper is not None else burst
                    if t is not None and not isinstance(pending[other[name]], m.Hangup):
                        queues[other[name]].append(t)
                    ev = m.Done()
                elif isinstance(act, m.Silence):
                    ev = m.Done()
                else:
                    q = queues[name]
                    if q:
                        ev = self._deliver(act, q)
                if ev is not None:
                    pending[name] = eng.step(ev)
                    progressed = True
            if not progressed:
                # both wait: the one that times out first (ties: A) gets TimedOut
                waits = {k: v for k, v in pending.items() if not isinstance(v, m.Hangup)}
                if not waits:
                    break
                name = min(waits, key=lambda k: getattr(waits[k], "timeout", 0.0))
                self.log.append(f"{name} timeout")
                pending[name] = engines[name].step(m.TimedOut())
                if isinstance(pending[name], m.Hangup):
                    queues[other[name]].clear()
        a, b = pending["A"], pending["B"]
        assert isinstance(a, m.Hangup) and isinstance(b, m.Hangup), self.log[-20:]
        return a, b

    @staticmethod
    def _deliver(act: m.Action, q: deque[Burst]) -> m.Event:
        head = q[0]
        if isinstance(act, m.ReceiveFrames):
            q.popleft()
            if head.kind != "frames":
                return m.TimedOut()  # high-speed carrier is not V.21: nothing decoded
            frames = []
            bad = 0
            for raw in head.payload:  # type: ignore[attr-defined]
                if raw is None:
                    bad += 1
                    continue
                frames.append(parse_frame(raw))
            if not frames:
                return m.FrameError()
            return m.FramesReceived(tuple(frames), bad)
        # ReceiveTCF / ReceiveImage
        if head.kind == "frames":
            return m.WrongCarrier()  # +FCERROR; the frames stay for +FRH
        q.popleft()
        return m.DataReceived(head.payload)  # type: ignore[arg-type]


def corrupt_frames_with_fcs(frames: tuple[bytes, ...]) -> tuple[bytes | None, ...]:
    """Helper: mark frames bad as a DCE would drop them after an FCS check."""
    return tuple(None if not fcs_ok(f) else f for f in frames)
