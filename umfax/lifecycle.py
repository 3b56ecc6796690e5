"""The job lifecycle: states, legal transitions, failure causes and the retry policy.

Everything that decides what happens to a job after an event lives here, so the
store and the workers only apply decisions.

::

    pending ──► converting ──► queued ──► sending ──► sent
       │            │            ▲  │         │
       │            │            │  │         ├──► queued   (retry later)
       └────────────┴────────────┴──┴─────────┴──► failed / cancelled
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta


class JobState(enum.StrEnum):
    PENDING = "pending"  # accepted: documents stored, pages not rendered yet
    CONVERTING = "converting"  # a worker is rendering the pages
    QUEUED = "queued"  # pages ready; dialled once not_before has passed
    SENDING = "sending"  # claimed by a line; a call is in progress
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL_STATES

    @property
    def active(self) -> bool:
        """Claimed by a worker (holds a lease)."""
        return self in (JobState.CONVERTING, JobState.SENDING)


TERMINAL_STATES = frozenset({JobState.SENT, JobState.FAILED, JobState.CANCELLED})
#: Jobs waiting to be sent (the queue depth): not yet in a call, not ended.
QUEUE_STATES = frozenset({JobState.PENDING, JobState.CONVERTING, JobState.QUEUED})

TRANSITIONS: dict[JobState, frozenset[JobState]] = {
    JobState.PENDING: frozenset({JobState.CONVERTING, JobState.FAILED, JobState.CANCELLED}),
    JobState.CONVERTING: frozenset({JobState.QUEUED, JobState.PENDING, JobState.FAILED, JobState.CANCELLED}),
    JobState.QUEUED: frozenset({JobState.SENDING, JobState.FAILED, JobState.CANCELLED}),
    JobState.SENDING: frozenset({JobState.SENT, JobState.QUEUED, JobState.FAILED, JobState.CANCELLED}),
    JobState.SENT: frozenset(),
    # `umfax retry` brings a failed or cancelled job back.
    JobState.FAILED: frozenset({JobState.QUEUED, JobState.PENDING}),
    JobState.CANCELLED: frozenset({JobState.QUEUED, JobState.PENDING}),
}


def can_transition(current: JobState, target: JobState) -> bool:
    return target in TRANSITIONS[current]


class FailureCause(enum.StrEnum):
    """Why an attempt (or a job) failed.  Call causes match ``modem.api.HangupCause``."""

    BUSY = "busy"
    NO_ANSWER = "no_answer"
    NO_CARRIER = "no_carrier"
    NO_DIALTONE = "no_dialtone"
    PROTOCOL_ERROR = "protocol_error"
    REMOTE_REJECTED = "remote_rejected"
    LINE_DROPPED = "line_dropped"
    MODEM_ERROR = "modem_error"
    CANCELLED = "cancelled"
    BAD_DOCUMENT = "bad_document"
    INVALID_NUMBER = "invalid_number"
    BLOCKED_NUMBER = "blocked_number"
    NO_T38 = "no_t38"  # SIP: the far end would not switch the call to T.38
    INTERRUPTED = "interrupted"  # the worker died (crash, kill -9) while it held the job


class Counts(enum.Enum):
    """What a failed attempt counts against."""

    NOTHING = "nothing"  # a local fault: the number is not to blame
    DIAL = "dial"  # a dial that never reached a fax machine
    TRY = "try"  # a call that reached a fax machine (and a dial)


@dataclass(frozen=True, slots=True)
class RetryRule:
    retry: bool  # False: the job fails at once
    delay: float  # seconds before the next attempt
    counts: Counts


#: Defaults; ``[queue.retry]`` in the config overrides the delays.
DEFAULT_RULES: dict[FailureCause, RetryRule] = {
    FailureCause.BUSY: RetryRule(True, 180.0, Counts.DIAL),
    FailureCause.NO_ANSWER: RetryRule(True, 600.0, Counts.DIAL),
    FailureCause.NO_CARRIER: RetryRule(True, 300.0, Counts.DIAL),
    FailureCause.NO_DIALTONE: RetryRule(True, 60.0, Counts.NOTHING),
    FailureCause.MODEM_ERROR: RetryRule(True, 30.0, Counts.NOTHING),
    FailureCause.PROTOCOL_ERROR: RetryRule(True, 120.0, Counts.TRY),
    FailureCause.LINE_DROPPED: RetryRule(True, 60.0, Counts.TRY),
    FailureCause.REMOTE_REJECTED: RetryRule(True, 600.0, Counts.TRY),
    FailureCause.NO_T38: RetryRule(True, 300.0, Counts.TRY),
    FailureCause.INTERRUPTED: RetryRule(True, 0.0, Counts.TRY),
    FailureCause.CANCELLED: RetryRule(False, 0.0, Counts.NOTHING),
    FailureCause.BAD_DOCUMENT: RetryRule(False, 0.0, Counts.NOTHING),
    FailureCause.INVALID_NUMBER: RetryRule(False, 0.0, Counts.NOTHING),
    FailureCause.BLOCKED_NUMBER: RetryRule(False, 0.0, Counts.NOTHING),
}

CAUSE_TEXT: dict[FailureCause, str] = {
    FailureCause.BUSY: "the number was busy",
    FailureCause.NO_ANSWER: "nobody answered",
    FailureCause.NO_CARRIER: "the call was answered but no fax machine responded",
    FailureCause.NO_DIALTONE: "the line had no dial tone",
    FailureCause.PROTOCOL_ERROR: "the fax exchange failed",
    FailureCause.REMOTE_REJECTED: "the remote fax machine refused the fax",
    FailureCause.LINE_DROPPED: "the call was cut off",
    FailureCause.MODEM_ERROR: "the fax modem did not respond properly",
    FailureCause.CANCELLED: "the job was cancelled",
    FailureCause.BAD_DOCUMENT: "a document could not be converted",
    FailureCause.INVALID_NUMBER: "the fax number is not valid",
    FailureCause.BLOCKED_NUMBER: "dial rules do not allow this number",
    FailureCause.INTERRUPTED: "the server stopped during the call",
    FailureCause.NO_T38: "the far end of the SIP call would not switch to T.38 fax",
}


@dataclass(frozen=True, slots=True)
class Limits:
    max_tries: int
    max_dials: int
    kill_at: datetime | None


@dataclass(frozen=True, slots=True)
class Decision:
    state: JobState
    not_before: datetime | None
    tries: int
    dials: int
    reason: str


def decide_after_failure(
    cause: FailureCause,
    *,
    tries: int,
    dials: int,
    limits: Limits,
    now: datetime,
    rules: dict[FailureCause, RetryRule] | None = None,
) -> Decision:
    """What happens to a job whose attempt ended with ``cause``.

    ``tries`` and ``dials`` are the counts *before* this attempt.
    """
    rule = (rules or DEFAULT_RULES).get(cause, DEFAULT_RULES[cause])
    if rule.counts is Counts.TRY:
        tries, dials = tries + 1, dials + 1
    elif rule.counts is Counts.DIAL:
        dials += 1
    text = CAUSE_TEXT[cause]
    if not rule.retry:
        return Decision(JobState.FAILED, None, tries, dials, text)
    if tries >= limits.max_tries:
        return Decision(JobState.FAILED, None, tries, dials, f"{text}; gave up after {tries} tries")
    if dials >= limits.max_dials:
        return Decision(JobState.FAILED, None, tries, dials, f"{text}; gave up after {dials} dials")
    next_time = now + timedelta(seconds=rule.delay)
    if limits.kill_at is not None and next_time >= limits.kill_at:
        return Decision(JobState.FAILED, None, tries, dials, f"{text}; kill time reached before a retry")
    return Decision(JobState.QUEUED, next_time, tries, dials, f"{text}; will retry")
