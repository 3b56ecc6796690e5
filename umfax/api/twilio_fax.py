"""Twilio Fax compatibility: /v1/Faxes as Twilio's retired Programmable Fax spoke it, so
an integration written for it works by changing its base URL.

Clients authenticate as they did with Twilio, HTTP Basic with their account SID as user
name and, as password, an umfax API key (their "auth token").  Faxes are Twilio-shaped
(sid ``FX`` + 32 hex digits, statuses queued, processing, sending, delivered, no-answer,
busy, failed, canceled), and a ``StatusCallback`` receives the form POST Twilio sent,
signed with X-Twilio-Signature under that same key.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from umfax.api import documents as docs
from umfax.api.auth import authenticate
from umfax.api.context import ApiContext
from umfax.api.errors import ApiError
from umfax.api.faxes import base_url, context_of
from umfax.errors import InvalidNumber, InvalidTransition, NotFound, describe_error
from umfax.lifecycle import JobState
from umfax.sealing import Sealer
from umfax.store.models import Job
from umfax.submit import FaxRequest, submit_fax
from umfax.twilio_shapes import fax_sid, twilio_status

router = APIRouter(prefix="/v1/Faxes", tags=["twilio fax"])

QUALITIES = {"standard": "standard", "fine": "fine", "superfine": "superfine"}
ACCOUNT = re.compile(r"AC[0-9a-fA-F]{32}")
SID = re.compile(r"FX([0-9a-f]{32})")


def job_id_of(sid: str) -> int:
    match = SID.fullmatch(sid)
    if match is None:
        raise ApiError(404, f"The requested resource /Faxes/{sid} was not found")
    return int(match.group(1), 16)


def _iso(when: datetime | None) -> str | None:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ") if when else None


def resource(job: Job, base: str) -> dict[str, Any]:
    twilio = (job.notify or {}).get("twilio", {})
    sid = fax_sid(job.id)
    done = JobState(job.state).terminal
    return {
        "sid": sid,
        "account_sid": twilio.get("account_sid", ""),
        "api_version": "v1",
        "direction": "outbound",
        "from": twilio.get("from") or None,
        "to": job.number,
        "quality": job.resolution,
        "status": twilio_status(job),
        "num_pages": job.pages_done if done else None,
        "duration": int((job.completed_at - job.created_at).total_seconds()) if job.completed_at else None,
        "media_url": twilio.get("media_url"),
        "media_sid": None,
        "price": None,
        "price_unit": None,
        "date_created": _iso(job.created_at),
        "date_updated": _iso(job.updated_at),
        "url": f"{base}/v1/Faxes/{sid}",
        "links": {"media": f"{base}/v1/Faxes/{sid}/Media"},
    }


def _basic(request: Request) -> tuple[str, str]:
    """The user name and password of an ``Authorization: Basic`` header ("" when absent)."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return "", ""
    try:
        user, _, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return "", ""
    return user, password


def _account(request: Request, context: ApiContext) -> tuple[Any, str]:
    """The caller, and the account SID they sent as user name (echoed in resources)."""
    caller = authenticate(context, request)
    user = _basic(request)[0]
    return caller, user if ACCOUNT.fullmatch(user) else ""


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {key: str(value) for key, value in form.items()}


@router.post("", status_code=201, summary="Send a fax (Twilio Fax v1)")
async def create(request: Request) -> JSONResponse:
    context = context_of(request)
    caller, account = await run_in_threadpool(_account, request, context)
    caller.require("fax:send")
    params = await _form(request)
    if not params.get("To"):
        raise ApiError(400, "Required parameter 'To' is missing", code="21604")
    if not params.get("MediaUrl"):
        raise ApiError(400, "Required parameter 'MediaUrl' is missing", code="21620")
    quality = params.get("Quality", "fine").lower()
    if quality not in QUALITIES:
        raise ApiError(400, "Quality must be standard, fine or superfine", code="21623")
    document = await run_in_threadpool(
        docs.fetch, params["MediaUrl"], context.config.api, context.config.api.max_request_bytes
    )
    twilio: dict[str, Any] = {
        "account_sid": account,
        "from": params.get("From", ""),
        "media_url": params["MediaUrl"],
    }
    callback = params.get("StatusCallback", "")
    if callback:
        if not callback.startswith(("https://", "http://")):
            raise ApiError(400, "StatusCallback must be an http or https URL", code="11100")
        key = _basic(request)[1] or request.headers.get("authorization", "").partition(" ")[2]
        twilio["status_callback"] = callback
        # the key signs the callbacks, as the auth token did at Twilio: kept sealed
        twilio["key"] = await run_in_threadpool(lambda: Sealer(context.config).seal(key))
    fax = FaxRequest(
        number=params["To"],
        documents=[document],
        sender=caller.user.email,
        cover=False,
        resolution=QUALITIES[quality],
        user_id=caller.user_id,
        source="twilio",
        notify={"twilio": twilio},
    )
    try:
        job = await run_in_threadpool(submit_fax, context.store, context.config, fax)
    except InvalidNumber as exc:
        error = describe_error(exc)
        raise ApiError(400, f"The 'To' number {params['To']} is not valid: {error}", code="21211") from exc
    return JSONResponse(resource(job, base_url(request)), status_code=201)


def _visible(context: ApiContext, request: Request, sid: str, scope: str) -> tuple[Any, Job]:
    caller, _account_sid = _account(request, context)
    caller.require(scope)
    try:
        job = context.store.get_job(job_id_of(sid))
    except NotFound as exc:
        raise ApiError(404, f"The requested resource /Faxes/{sid} was not found") from exc
    if not caller.owns(job.user_id) or job.source != "twilio":
        raise ApiError(404, f"The requested resource /Faxes/{sid} was not found")
    return caller, job


@router.get("/{sid}", summary="A fax (Twilio Fax v1)")
def fetch(sid: str, request: Request) -> dict[str, Any]:
    context = context_of(request)
    _caller, job = _visible(context, request, sid, "fax:read")
    return resource(job, base_url(request))


@router.post("/{sid}", summary="Cancel a fax: Status=canceled (Twilio Fax v1)")
async def update(sid: str, request: Request) -> dict[str, Any]:
    context = context_of(request)
    caller, job = await run_in_threadpool(_visible, context, request, sid, "fax:send")
    params = await _form(request)
    if params.get("Status") != "canceled":
        raise ApiError(400, "Status can only be set to 'canceled'", code="20001")
    try:
        job = await run_in_threadpool(context.store.cancel, job.id, caller.user.email)
    except InvalidTransition as exc:
        raise ApiError(400, f"the fax cannot be canceled: {describe_error(exc)}", code="20001") from exc
    return resource(job, base_url(request))


@router.get("", summary="Faxes (Twilio Fax v1)")
def list_faxes(
    request: Request, page_size: Annotated[int, Query(alias="PageSize", ge=1, le=1000)] = 50
) -> dict[str, Any]:
    context = context_of(request)
    caller, _account_sid = _account(request, context)
    caller.require("fax:read")
    rows = context.store.list_jobs(
        limit=page_size, user_id=None if caller.admin else (caller.user_id or -1), source="twilio"
    )
    base = base_url(request)
    return {
        "faxes": [resource(job, base) for job in rows],
        "meta": {
            "page": 0,
            "page_size": page_size,
            "first_page_url": f"{base}/v1/Faxes?PageSize={page_size}&Page=0",
            "previous_page_url": None,
            "next_page_url": None,
            "url": f"{base}/v1/Faxes?PageSize={page_size}&Page=0",
            "key": "faxes",
        },
    }
