"""How Twilio Fax named things, for the compatible API and its status callbacks."""

from __future__ import annotations

from umfax.lifecycle import FailureCause, JobState
from umfax.store.models import Job

#: Twilio's fax status for each job state (a failed job's cause may say more: FAILED_AS).
TWILIO_STATUS: dict[JobState, str] = {
    JobState.PENDING: "queued",
    JobState.CONVERTING: "processing",
    JobState.QUEUED: "queued",
    JobState.SENDING: "sending",
    JobState.SENT: "delivered",
    JobState.FAILED: "failed",
    JobState.CANCELLED: "canceled",
}
#: The failure causes Twilio had a status of their own for.
FAILED_AS: dict[FailureCause, str] = {FailureCause.BUSY: "busy", FailureCause.NO_ANSWER: "no-answer"}


def fax_sid(job_id: int) -> str:
    return f"FX{job_id:032x}"


def twilio_status(job: Job) -> str:
    state = JobState(job.state)
    if state is JobState.FAILED and job.last_cause in FAILED_AS:
        return FAILED_AS[FailureCause(job.last_cause)]
    return TWILIO_STATUS[state]
