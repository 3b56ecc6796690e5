"""POST /twilio/sms-status: Twilio's delivery receipts for our text messages, accepted
only with a valid X-Twilio-Signature (HMAC-SHA1 under the account's auth token)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool
from twilio.request_validator import RequestValidator

from umfax.api.errors import ApiError
from umfax.api.faxes import context_of
from umfax.config import secret

router = APIRouter(tags=["twilio"])


@router.post("/twilio/sms-status", status_code=204, summary="Twilio SMS delivery receipts (signed)")
async def sms_status(request: Request) -> Response:
    context = context_of(request)
    twilio = context.config.twilio
    if twilio is None:
        raise ApiError(404, "text messages are not configured ([twilio])")
    form = await request.form()
    params = {key: str(value) for key, value in form.items()}
    # The signature covers the URL Twilio called: the public one we gave it.
    url = twilio.status_callback_url or str(request.url)
    validator = RequestValidator(secret(twilio.auth_token_env, "twilio.auth_token_env"))
    if not validator.validate(url, params, request.headers.get("x-twilio-signature", "")):
        raise ApiError(403, "the X-Twilio-Signature does not match this request")
    status = params.get("MessageStatus") or params.get("SmsStatus") or "unknown"
    await run_in_threadpool(
        context.store.log_event,
        "sms_status",
        f"text message {params.get('MessageSid', '?')} to {params.get('To', '?')}: {status}",
        sid=params.get("MessageSid", ""),
        status=status,
        to=params.get("To", ""),
        error_code=params.get("ErrorCode", ""),
    )
    return Response(status_code=204)
