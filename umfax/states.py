"""The states of every record that has them, each with its table of legal transitions.

A job's states (``JobState``) live in :mod:`umfax.lifecycle` with the retry policy that
moves them; the others are here.  The values are what the store keeps in each record's
``state`` column and what the API, the CLI's ``--json`` and webhooks show; the JSON
Schemas in ``schemas/`` list the same values (a test holds them equal).

Received faxes (``inbound``)::

    receiving ──► received | partial | failed | quarantined

Lines (``line_states``, written by each line's worker)::

    starting ──► idle ◄──► sending / receiving
        │         │  ▲            │
        └─────────┴──┴──► down ◄──┘        any ──► stopped;  any ──► starting

Notifications (``outbox``)::

    pending ──► done | dead        done / dead ──► pending   (`umfax outbox --retry`)
"""

from __future__ import annotations

import enum

from umfax.lifecycle import TRANSITIONS as JOB_TRANSITIONS
from umfax.lifecycle import JobState

__all__ = [
    "INBOUND_TRANSITIONS",
    "IN_SERVICE",
    "JOB_TRANSITIONS",
    "LINE_TRANSITIONS",
    "OUTBOX_TRANSITIONS",
    "REPORTED_LINE_STATES",
    "InboundState",
    "JobState",
    "LineState",
    "OutboxState",
]


class InboundState(enum.StrEnum):
    """A received fax (or a call that tried to deliver one)."""

    RECEIVING = "receiving"  # the call is in progress; pages are stored as they arrive
    RECEIVED = "received"  # the call ended well; delivered to the users it was routed to
    PARTIAL = "partial"  # the call ended early; the pages that arrived are kept and delivered
    FAILED = "failed"  # the call ended before any page arrived
    QUARANTINED = "quarantined"  # an inbound rule kept its pages from every user

    @property
    def terminal(self) -> bool:
        return not INBOUND_TRANSITIONS[self]

    def can_become(self, target: InboundState) -> bool:
        return target in INBOUND_TRANSITIONS[self]


INBOUND_TRANSITIONS: dict[InboundState, frozenset[InboundState]] = {
    InboundState.RECEIVING: frozenset(
        {InboundState.RECEIVED, InboundState.PARTIAL, InboundState.FAILED, InboundState.QUARANTINED}
    ),
    InboundState.RECEIVED: frozenset(),
    InboundState.PARTIAL: frozenset(),
    InboundState.FAILED: frozenset(),
    InboundState.QUARANTINED: frozenset(),
}


class LineState(enum.StrEnum):
    """A fax line: as its worker last reported it, or, for the two last values, as shown
    when no report applies (they are never stored)."""

    STARTING = "starting"  # the worker is opening the modem
    IDLE = "idle"  # in service, waiting for a job or a call
    SENDING = "sending"  # in a call, sending
    RECEIVING = "receiving"  # in a call, receiving
    DOWN = "down"  # out of service (the modem failed its probe); probed again with backoff
    STOPPED = "stopped"  # the server stopped the line
    UNKNOWN = "unknown"  # shown: no server has reported on this line
    DISABLED = "disabled"  # shown: the configuration disables this line

    @property
    def in_service(self) -> bool:
        """The line can carry a fax (``/healthz``, ``umfax_line_up``)."""
        return self in IN_SERVICE

    def can_become(self, target: LineState) -> bool:
        return target in LINE_TRANSITIONS.get(self, frozenset())


#: The states a line's worker writes.
REPORTED_LINE_STATES = frozenset(
    {
        LineState.STARTING,
        LineState.IDLE,
        LineState.SENDING,
        LineState.RECEIVING,
        LineState.DOWN,
        LineState.STOPPED,
    }
)
IN_SERVICE = frozenset({LineState.STARTING, LineState.IDLE, LineState.SENDING, LineState.RECEIVING})

_AFTER_A_CALL = frozenset(REPORTED_LINE_STATES)  # an error in a call leaves its state until the next report

#: What a worker may report after what.  A server starting finds whatever its predecessor
#: left, so ``starting`` may follow any state.
LINE_TRANSITIONS: dict[LineState, frozenset[LineState]] = {
    state: follows | {LineState.STARTING}
    for state, follows in {
        LineState.STARTING: frozenset({LineState.IDLE, LineState.DOWN, LineState.STOPPED}),
        LineState.IDLE: frozenset(  # idle again: a probe's new detail
            {LineState.IDLE, LineState.SENDING, LineState.RECEIVING, LineState.DOWN, LineState.STOPPED}
        ),
        LineState.SENDING: _AFTER_A_CALL,
        LineState.RECEIVING: _AFTER_A_CALL,
        LineState.DOWN: frozenset({LineState.IDLE, LineState.DOWN, LineState.STOPPED}),
        LineState.STOPPED: frozenset(),
    }.items()
}


class OutboxState(enum.StrEnum):
    """A notification in the outbox."""

    PENDING = "pending"  # to be delivered once next_at has passed (claimed under a lease)
    DONE = "done"  # delivered
    DEAD = "dead"  # given up after its last try; `umfax outbox --retry` brings it back

    def can_become(self, target: OutboxState) -> bool:
        return target in OUTBOX_TRANSITIONS[self]


OUTBOX_TRANSITIONS: dict[OutboxState, frozenset[OutboxState]] = {
    OutboxState.PENDING: frozenset({OutboxState.PENDING, OutboxState.DONE, OutboxState.DEAD}),
    OutboxState.DONE: frozenset({OutboxState.PENDING}),
    OutboxState.DEAD: frozenset({OutboxState.PENDING}),
}
