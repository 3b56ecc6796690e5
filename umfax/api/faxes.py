"""/api/v1/faxes: submit, read, list, cancel, retry, download."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Annotated, Any

import jsonschema
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

import schemas
from umfax.api import documents as docs
from umfax.api import resources
from umfax.api.auth import Caller, authenticate
from umfax.api.context import ApiContext
from umfax.api.errors import ApiError
from umfax.conversion.cover_templates import UnknownCoverTemplate
from umfax.errors import InvalidNumber, InvalidTransition, NotFound, describe_error
from umfax.lifecycle import JobState
from umfax.numbers import DialPlan
from umfax.store import DocumentIn
from umfax.store.models import Job
from umfax.submit import PRIORITIES, FaxRequest, submit_fax

router = APIRouter(prefix="/api/v1/faxes", tags=["faxes"])

FIELDS = (
    "to",
    "recipient_name",
    "recipient_company",
    "subject",
    "comments",
    "cover",
    "cover_template",
    "send_at",
    "priority",
    "resolution",
    "callback_url",
)


def context_of(request: Request) -> ApiContext:
    context: ApiContext = request.app.state.context
    return context


def base_url(request: Request) -> str:
    configured = context_of(request).config.api.public_url
    return configured.rstrip("/") if configured else str(request.base_url).rstrip("/")


def authorized(request: Request, scope: str) -> tuple[ApiContext, Caller]:
    context = context_of(request)
    caller = authenticate(context, request)
    caller.require(scope)
    return context, caller


def _bool(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if str(value).lower() in ("true", "1", "yes", "on"):
        return True
    if str(value).lower() in ("false", "0", "no", "off"):
        return False
    raise ApiError(422, f"{name} must be true or false")


def _priority(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in PRIORITIES:
        return PRIORITIES[text]
    try:
        return int(text)
    except ValueError as exc:
        raise ApiError(422, f"priority is one of {', '.join(PRIORITIES)} or a number") from exc


def _time(value: str) -> datetime:
    try:
        when = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ApiError(422, f"send_at {value!r} is not an ISO 8601 time (2026-11-23T09:00:00+01:00)") from exc
    if when.tzinfo is None:
        raise ApiError(422, "send_at needs a time zone offset (e.g. +00:00 or Z)")
    return when.astimezone(UTC)


async def _read_submission(request: Request, context: ApiContext) -> tuple[dict[str, Any], list[Any]]:
    """The fields and the document specs of a submission, multipart or JSON."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "multipart/form-data":
        form = await request.form(max_files=context.config.api.max_documents, max_fields=50)
        fields: dict[str, Any] = {}
        files: list[Any] = []
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                files.append(value)
            elif name in FIELDS:
                fields[name] = value
            else:
                raise ApiError(422, f"unknown field {name!r}; fields are {', '.join(FIELDS)} and file")
        if not files:
            raise ApiError(422, "attach at least one document as a 'file' part")
        return fields, files
    if kind == "application/json":
        try:
            body = json.loads(await request.body())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ApiError(400, f"the body is not JSON: {describe_error(exc)}") from exc
        try:
            schemas.validate("fax_submission", body)
        except jsonschema.ValidationError as exc:
            where = "/".join(str(p) for p in exc.absolute_path) or "body"
            raise ApiError(422, f"{where}: {exc.message}") from exc
        documents = body.pop("documents")
        if len(documents) > context.config.api.max_documents:
            raise ApiError(422, f"at most {context.config.api.max_documents} documents per fax")
        return body, documents
    raise ApiError(
        415,
        "send multipart/form-data (fields and 'file' parts) or application/json",
        code="unsupported_media_type",
    )


async def _documents(specs: list[Any], context: ApiContext) -> list[DocumentIn]:
    limit = context.config.api.max_request_bytes
    out: list[DocumentIn] = []
    for spec in specs:
        if isinstance(spec, UploadFile):
            data = await spec.read()
            if not data:
                raise ApiError(422, f"document {spec.filename!r} is empty")
            out.append(DocumentIn(spec.filename or "document", data, spec.content_type or ""))
        elif "content_base64" in spec:
            out.append(
                docs.from_base64(
                    spec.get("filename", ""), spec["content_base64"], spec.get("content_type", "")
                )
            )
        else:
            out.append(await run_in_threadpool(docs.fetch, spec["url"], context.config.api, limit))
    return out


def _fingerprint(fields: dict[str, Any], documents: list[DocumentIn]) -> str:
    digest = hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode())
    for document in documents:
        digest.update(hashlib.sha256(document.data).digest())
    return digest.hexdigest()


@router.post("", status_code=202, summary="Submit a fax")
async def submit(request: Request) -> JSONResponse:
    """Queue a fax.  202 means the job is committed to the store."""
    started = datetime.now(UTC)
    context, caller = await run_in_threadpool(authorized, request, "fax:send")
    if not caller.user.can_send:
        raise ApiError(403, f"{caller.user.email} may not send faxes (can_send = false in [[users]])")
    fields, specs = await _read_submission(request, context)
    if not str(fields.get("to", "")).strip():
        raise ApiError(422, "to: the fax number is missing")
    documents = await _documents(specs, context)
    key = request.headers.get("idempotency-key", "").strip()
    if len(key) > 200:
        raise ApiError(422, "Idempotency-Key is longer than 200 characters")
    fingerprint = _fingerprint(fields, documents)
    notify: dict[str, Any] = {"request": fingerprint}
    if fields.get("callback_url"):
        url = str(fields["callback_url"])
        if not url.startswith(("https://", "http://")):
            raise ApiError(422, "callback_url must be an http or https URL")
        if not context.config.webhooks.signing_secret_env:
            raise ApiError(
                422,
                "callback_url needs a signing secret: set [webhooks] signing_secret_env on the server "
                "(callbacks are always signed)",
            )
        notify["callback_url"] = url
    fax_request = FaxRequest(
        number=str(fields["to"]),
        documents=documents,
        sender=caller.user.email,
        recipient_name=str(fields.get("recipient_name", "")),
        recipient_company=str(fields.get("recipient_company", "")),
        subject=str(fields.get("subject", "")),
        comments=str(fields.get("comments", "")),
        cover=_bool(fields["cover"], "cover") if "cover" in fields else None,
        cover_template=str(fields.get("cover_template") or ""),
        resolution=_resolution(fields.get("resolution")),
        priority=_priority(fields.get("priority", 0)),
        send_at=_time(str(fields["send_at"])) if fields.get("send_at") else None,
        user_id=caller.user_id,
        source="api",
        source_ref=f"{caller.user.name}:{key}" if key else None,
        notify=notify,
    )
    try:
        job = await run_in_threadpool(submit_fax, context.store, context.config, fax_request)
    except InvalidNumber as exc:
        raise ApiError(422, describe_error(exc), code="invalid_number") from exc
    except UnknownCoverTemplate as exc:
        raise ApiError(422, f"cover_template: {describe_error(exc)}", code="unknown_cover_template") from exc
    headers = {"Location": f"{base_url(request)}/api/v1/faxes/{job.id}"}
    if key and (job.notify or {}).get("request") != fingerprint:
        raise ApiError(
            409,
            f"Idempotency-Key {key!r} was used for a different fax (job {job.id}); "
            "use a new key for a new fax",
            code="idempotency_conflict",
        )
    if key:
        headers["Idempotent-Replayed"] = "true" if job.created_at < started else "false"
    return JSONResponse(resources.fax(job, base_url(request)), status_code=202, headers=headers)


def _resolution(value: Any) -> str | None:
    if value in (None, ""):
        return None
    if value not in ("standard", "fine", "superfine"):
        raise ApiError(422, "resolution is standard, fine or superfine")
    return str(value)


def _visible_job(context: ApiContext, caller: Caller, job_id: int) -> Job:
    try:
        job = context.store.get_job(job_id)
    except NotFound as exc:
        raise ApiError(404, f"there is no fax {job_id}") from exc
    if not caller.owns(job.user_id):
        raise ApiError(404, f"there is no fax {job_id}")  # not 403: don't reveal that it exists
    return job


@router.get("/{job_id}", summary="A fax, with its documents and calls")
def get_fax(job_id: int, request: Request) -> dict[str, Any]:
    context, caller = authorized(request, "fax:read")
    job = _visible_job(context, caller, job_id)
    return resources.fax(job, base_url(request), context.store)


@router.get("", summary="Faxes, newest first")
def list_faxes(
    request: Request,
    state: Annotated[list[str] | None, Query()] = None,
    to: str | None = None,
    since: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before: int | None = None,
) -> dict[str, Any]:
    context, caller = authorized(request, "fax:read")
    try:
        states = [JobState(s) for s in state] if state else None
    except ValueError as exc:
        raise ApiError(422, f"state is one of {', '.join(s.value for s in JobState)}") from exc
    number = None
    if to:
        try:
            plan = DialPlan(context.config.dial_rules, context.config.fax.default_country)
            number = plan.destination(to).address  # as jobs store it; no rules: blocked ones are found too
        except InvalidNumber as exc:
            raise ApiError(422, describe_error(exc)) from exc
    rows = context.store.list_jobs(
        states,
        limit=limit + 1,
        user_id=None if caller.admin else (caller.user_id if caller.user_id is not None else -1),
        number=number,
        before_id=before,
        since=_time(since) if since else None,
    )
    base = base_url(request)
    page = rows[:limit]
    next_link = None
    if len(rows) > limit:
        query = request.query_params.multi_items()
        kept = "&".join(f"{k}={v}" for k, v in query if k != "before")
        next_link = f"{base}/api/v1/faxes?{kept + '&' if kept else ''}before={page[-1].id}"
    return {"faxes": [resources.fax(job, base) for job in page], "next": next_link}


@router.post("/{job_id}/cancel", summary="Cancel a fax not yet sent")
def cancel(job_id: int, request: Request) -> dict[str, Any]:
    context, caller = authorized(request, "fax:send")
    _visible_job(context, caller, job_id)
    try:
        job = context.store.cancel(job_id, by=caller.user.email)
    except InvalidTransition as exc:
        raise ApiError(409, describe_error(exc), code="invalid_state") from exc
    return resources.fax(job, base_url(request))


@router.post("/{job_id}/retry", summary="Send a failed or cancelled fax again")
def retry(job_id: int, request: Request) -> dict[str, Any]:
    context, caller = authorized(request, "fax:send")
    _visible_job(context, caller, job_id)
    try:
        job = context.store.retry(job_id, by=caller.user.email)
    except InvalidTransition as exc:
        raise ApiError(409, describe_error(exc), code="invalid_state") from exc
    return resources.fax(job, base_url(request))


def _pages(context: ApiContext, job: Job) -> list[Any]:
    from umfax.conversion import tiff_to_pages

    pages = [p for page in context.store.pages(job.id) for p in tiff_to_pages(page.data)]
    if not pages:
        raise ApiError(
            409,
            f"fax {job.id} has no pages yet (it is {job.state}); try again once converted",
            code="not_converted",
        )
    return pages


@router.get(
    "/{job_id}/pdf",
    summary="The fax pages as sent, as PDF",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
)
def fax_pdf(job_id: int, request: Request) -> Response:
    context, caller = authorized(request, "fax:read")
    job = _visible_job(context, caller, job_id)
    return resources.pages_file(_pages(context, job), "pdf", f"fax-{job.id}", f"Fax {job.id}")


@router.get(
    "/{job_id}/tiff",
    summary="The fax pages as sent, as TIFF Class F",
    response_class=Response,
    responses={200: {"content": {"image/tiff": {}}}},
)
def fax_tiff(job_id: int, request: Request) -> Response:
    context, caller = authorized(request, "fax:read")
    job = _visible_job(context, caller, job_id)
    return resources.pages_file(_pages(context, job), "tiff", f"fax-{job.id}", f"Fax {job.id}")
