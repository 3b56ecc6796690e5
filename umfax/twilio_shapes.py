"""How Twilio Fax named things, for the compatible API and its status callbacks."""

from __future__ import annotations

from umfax.store.models import Job


def fax_sid(job_id: int) -> str:
    return f"FX{job_id:032x}"


def twilio_status(job: Job) -> str:
    if job.state == "sent":
        return "delivered"
    if job.state == "cancelled":
        return "canceled"
    if job.state == "failed":
        return {"busy": "busy", "no_answer": "no-answer"}.get(job.last_cause or "", "failed")
    return {"pending": "queued", "converting": "processing", "queued": "queued", "sending": "sending"}.get(
        job.state, "queued"
    )
