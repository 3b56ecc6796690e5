"""Forwarding an answered call elsewhere by a blind transfer (REFER, see :mod:`modem.sip.refer`).

:func:`forward` runs on the channel's thread: it asks the trunk's user agent to REFER the
far end of ``call`` to the target and waits on the call's event queue for the outcome.
A transfer that succeeded is followed by our BYE (we leave the call); a failed one leaves
the call as it was, for the caller to hang up or go on.
"""

from __future__ import annotations

import logging
import queue
import time

from modem.errors import ModemError
from modem.sip import events as sipua
from modem.sip.errors import SipUsageError
from modem.sip.ua import UserAgent
from modem.siptrunk.trunk import Call, SipTrunk

log = logging.getLogger(__name__)

TRANSFER_TIMEOUT = 32.0  # REFER to final NOTIFY; a PBX ringing the target may take this long
AFTER_BYE = 2.0  # how long the last NOTIFY may lag a far end that hung up after accepting
RETRY = 0.05  # our 200 not ACKed yet: the REFER waits for the dialog to be confirmed


def forward(trunk: SipTrunk, call: Call, target: str, timeout: float = TRANSFER_TIMEOUT) -> tuple[bool, str]:
    """Transfer ``call`` to ``target`` (``sip:user@host`` or a number at the trunk's domain).

    Returns (True, detail) when the far end reported the target's 2xx (or accepted the REFER
    and then left the call without a final report), after our BYE; (False, why) when the
    REFER was refused or unanswered, the target failed, or nothing final came in ``timeout``.
    """
    started = time.monotonic()
    until = started + timeout
    unsent = _refer(trunk, call, target, until)
    if unsent is not None:
        return False, f"forward to {target} failed: {unsent}"
    accepted = gone = False
    until += AFTER_BYE  # the user agent's own deadline ends the transfer first
    while True:
        try:
            event = call.events.get(timeout=max(0.0, until - time.monotonic()))
        except queue.Empty:
            break
        if isinstance(event, sipua.TransferAccepted):
            accepted = True
        elif isinstance(event, sipua.TransferEnded):
            return _ended(trunk, call, target, event, time.monotonic() - started)
        elif isinstance(event, (sipua.CallEnded, sipua.CallFailed)):
            gone = True
            until = min(until, time.monotonic() + AFTER_BYE)
        elif isinstance(event, sipua.ReInviteReceived):  # keep the media as it is meanwhile
            trunk.act(lambda ua, now: ua.accept_reinvite(call.call_id, ua.local_sdp(call.call_id), now))
    if accepted and gone:
        log.info("call forwarded (no final status)", extra={"call_id": call.call_id, "target": target})
        return True, f"forwarded to {target} (the caller left after accepting; no final status)"
    if gone:
        return False, f"forward to {target} failed: the caller hung up before accepting the transfer"
    return False, f"forward to {target} failed: no answer from the far end in {timeout:.0f} s"


def _refer(trunk: SipTrunk, call: Call, target: str, until: float) -> str | None:
    """Send the REFER once the dialog is confirmed (our 200 ACKed); why not, if it was not."""
    def go(ua: UserAgent, now: float) -> None:
        ua.refer(call.call_id, target, now, timeout=max(0.1, until - now))

    while True:
        if call.ended.is_set():
            return "the call ended before the REFER could be sent"
        try:
            trunk.act(go)
            return None
        except SipUsageError as exc:
            if time.monotonic() + RETRY >= until:
                return f"the REFER could not be sent ({exc})"
            time.sleep(RETRY)


def _ended(trunk: SipTrunk, call: Call, target: str, event: sipua.TransferEnded,
           seconds: float) -> tuple[bool, str]:
    extra = {"call_id": call.call_id, "target": target, "code": event.code, "seconds": round(seconds, 2)}
    if not event.ok:
        log.info("call forward failed", extra={**extra, "reason": event.reason})
        return False, f"forward to {target} failed: {event.code} {event.reason}".strip()
    log.info("call forwarded", extra=extra)
    if not call.ended.is_set():
        try:
            trunk.act(lambda ua, now: ua.hangup(call.call_id, now))
        except ModemError as exc:
            log.warning("SIP hang-up after forwarding failed", extra={**extra, "error": str(exc)})
    return True, f"forwarded to {target}"
