"""Voice callers on a line that listens for them: the options a call is answered with,
and how its outcome is stored (a message as a WAV delivered like a fax; a rejected or
forwarded call as a record of what happened)."""

from __future__ import annotations

import logging

from modem.api import CallResult, VoiceAction, VoiceOptions, VoiceOutcome
from umfax.config import VoiceConfig
from umfax.errors import shorten
from umfax.routing import Route, VoiceRule
from umfax.store import AudioIn, Store
from umfax.store.models import Inbound
from umfax.voice import VoiceError, default_greeting, greeting_pcm, has_speech, pcm_seconds, pcm_to_wav

logger = logging.getLogger(__name__)

ACTIONS: dict[str, VoiceAction] = {"voicemail": "voicemail", "reject": "reject", "forward": "forward"}

#: Why a message is kept from its users when ``[voice] drop_silent`` is on.
SILENT = "no speech in the message (voice.drop_silent)"


def voice_options(rule: VoiceRule, voice: VoiceConfig) -> VoiceOptions:
    """How the line treats a voice caller, with the greeting the rule names (the built-in
    one when that file cannot be read now: a caller still hears a greeting)."""
    try:
        greeting = greeting_pcm(rule.greeting)
    except VoiceError as exc:
        logger.error("cannot play the greeting; using the built-in one", extra={"error": str(exc)})
        greeting = default_greeting()
    action = ACTIONS.get(rule.action, "voicemail")
    return VoiceOptions(
        action=action,
        forward_to=rule.forward_to,
        greeting=greeting,
        listen_seconds=voice.listen_seconds,
        max_seconds=voice.max_message_seconds,
        silence_seconds=voice.silence_seconds,
    )


def _ended(outcome: VoiceOutcome) -> str:
    """The outcome in words: "forwarded: to sip:...", "ended by silence"."""
    what = outcome.ended_by or outcome.action
    if outcome.pcm:
        what = f"ended by {what}"
    return f"{what}: {outcome.detail}" if outcome.detail else what


def store_voice_call(
    store: Store, inbound_id: int, result: CallResult, route: Route, voice: VoiceConfig
) -> tuple[Inbound, bool]:
    """Close the inbound row of a voice call; True when its message goes to users.

    A message is stored as a 16-bit 8 kHz mono WAV and delivered to the routed users with
    this transaction, unless routing quarantined the call or, with ``drop_silent``, it
    holds no speech (then it is kept, quarantined, with the reason).  A call with no
    message closes failed with what happened (rejected, forwarded...) as its result.
    """
    outcome = result.voice or VoiceOutcome(action="voicemail", detail=result.message)
    if outcome.pcm:
        seconds = pcm_seconds(outcome.pcm)
        quarantine = route.why if route.quarantined else ""
        if not quarantine and voice.drop_silent and not has_speech(outcome.pcm):
            quarantine = SILENT
        fax = store.finish_inbound(
            inbound_id,
            result="ok",
            message=shorten(_ended(outcome)),
            transport=result.transport,
            deliver_to=[user.name for user in route.users],
            quarantine=quarantine,
            kind="voice",
            audio=AudioIn(wav=pcm_to_wav(outcome.pcm), seconds=seconds),
        )
        return fax, bool(route.users) and not quarantine
    fax = store.finish_inbound(
        inbound_id,
        result=(outcome.ended_by or outcome.action)[:32],
        message=shorten(_ended(outcome)),
        transport=result.transport,
        kind="voice",
    )
    return fax, False
