"""Sans-IO wait for an incoming call: the first RING and the caller ID around it.

:class:`CallWatch` is fed unsolicited AT events and the time; its deadline is data (the
owner waits for the port until :attr:`CallWatch.deadline`).  No clock, no I/O.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from modem import at
from modem.api import IncomingCall

RING_GRACE = 0.5  # caller ID lines may follow the RING closely


class Watch(enum.Enum):
    WAITING = "waiting"  # for the first RING
    GRACE = "grace"  # rang: caller ID may still come
    DONE = "done"


@dataclass(slots=True)
class CallWatch:
    """Waits for a RING and collects caller ID (``NMBR=``, ``NAME=``, ``NDID=``).

    Feed unsolicited events with :meth:`event`, and the time with :meth:`tick` (which
    moves on when a RING was seen or :attr:`deadline` passed).  When :attr:`state` is
    DONE, :attr:`call` is the call, or None if the wait timed out.
    """

    deadline: float
    state: Watch = Watch.WAITING
    call: IncomingCall | None = None
    rings: int = 0
    fields: dict[str, str] = field(default_factory=dict)

    def event(self, ev: at.Event) -> None:
        if isinstance(ev, at.CallerId):
            self.fields[ev.key] = ev.value
        elif isinstance(ev, at.Ring) and self.state is Watch.WAITING:
            self.rings += 1

    def tick(self, now: float) -> None:
        if self.state is Watch.WAITING and self.rings:
            self.state = Watch.GRACE
            self.deadline = now + RING_GRACE
        elif self.state is Watch.GRACE and now >= self.deadline:
            self._done()
        elif self.state is Watch.WAITING and now >= self.deadline:
            self.state = Watch.DONE

    def _done(self) -> None:
        f = self.fields
        self.call = IncomingCall(caller_number=f.get("NMBR", ""), caller_name=f.get("NAME", ""),
                                 called_number=f.get("NDID", f.get("DDI", "")), rings=self.rings)
        self.state = Watch.DONE
