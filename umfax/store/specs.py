"""The plain records callers hand the store (a job to submit, its documents, a rendered
or received page, a voice message's audio, a call's outcome) and the claim it hands back
to a line."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from umfax.lifecycle import FailureCause
from umfax.store.models import Job, Page


@dataclass(frozen=True, slots=True)
class DocumentIn:
    filename: str
    data: bytes
    content_type: str = ""


@dataclass(frozen=True, slots=True)
class AudioIn:
    """A voice message: a WAV file and its length."""

    wav: bytes
    seconds: float


@dataclass(frozen=True, slots=True)
class JobSpec:
    number: str  # E.164, already validated
    number_as_given: str = ""
    recipient_name: str = ""
    recipient_company: str = ""
    sender: str = ""
    user_id: int | None = None
    subject: str = ""
    comments: str = ""
    cover: bool = True
    cover_template: str = ""  # a template's name; "": the configured one
    resolution: str = "fine"
    paper: str = "letter"
    priority: int = 0
    not_before: datetime | None = None
    kill_at: datetime | None = None
    max_tries: int = 3
    max_dials: int = 12
    source: str = "cli"
    source_ref: str | None = None
    notify: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PageIn:
    data: bytes
    width: int
    length: int
    x_res: float
    y_res: float
    encoding: str


@dataclass(frozen=True, slots=True)
class Claim:
    """A job claimed by a line: the pages still to send and the attempt being made."""

    job: Job
    attempt_id: int
    worker: str
    line: str
    pages: list[Page]  # pages after job.pages_done, in order


@dataclass(frozen=True, slots=True)
class CallOutcome:
    cause: FailureCause | None  # None: every page was sent
    message: str = ""
    remote_id: str = ""
    bit_rate: int = 0
    encoding: str = ""
    ecm: bool = False
    resolution: str = ""
    transport: str = ""  # a SIP call's: "t38" or "g711"
    pages_sent: int = 0  # pages confirmed in this call
    connected_at: datetime | None = None
    ended_at: datetime | None = None
