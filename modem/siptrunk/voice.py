"""Fax or voice on a SIP channel's audio call: listen (greeting, tone detectors), then
either hand the call back as a fax or finish it as a voice call by the voice action.

Causes: a fax -> None (the channel goes on as before: T.38 re-INVITE or G.711).  A voice
call -> ``HangupCause.VOICE`` with ``CallResult.voice``: "voicemail" records a message
(ended_by "silence", "limit", "hangup" or "media_timeout"); "reject" -> "rejected";
"forward" -> whatever :meth:`SipChannel._forward_voice` says.  A caller gone before the
message: VOICE, ended_by "hangup_in_greeting" (or "media_timeout", no message).  A data
modem's tone (neither fax nor voice): ``HangupCause.NO_CARRIER``, message naming the tone.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

from modem.api import CallResult, HangupCause, VoiceOptions, VoiceOutcome
from modem.siptrunk.audio import AudioTarget
from modem.voice.answer import Outcome, Verdict, VoiceCall
from modem.voice.session import run_voice_call
from modem.voice.tones import ToneDetector


def listen(sock: socket.socket, audio: AudioTarget, options: VoiceOptions, *, stopped: Callable[[], bool],
           media_timeout: float, name: str) -> Outcome:
    """Run the listening (and, for voicemail, the recording) on the call's media socket."""
    detector = ToneDetector()
    try:
        machine = VoiceCall(options, detector.feed, time.monotonic(), record=options.action == "voicemail",
                            media_timeout=media_timeout)
        outcome, _stats = run_voice_call(sock, (audio.host, audio.port), audio.law, machine, stopped=stopped,
                                         name=name)
    finally:
        detector.close()
    return outcome


def voice_result(result: CallResult, outcome: Outcome, options: VoiceOptions,
                 forward: Callable[[], VoiceOutcome]) -> CallResult:
    """``result`` filled in for a call that was not a fax (``outcome``'s verdict)."""
    if outcome.verdict is Verdict.DATA:
        tone = outcome.tone.name if outcome.tone is not None else "?"
        result.cause = HangupCause.NO_CARRIER
        result.message = f"the caller is a data modem ({tone} tone): neither fax nor voice"
        return result
    result.cause = HangupCause.VOICE
    result.transport = "g711"
    if outcome.verdict is Verdict.GONE:
        detail = ("the caller hung up before the message" if outcome.ended_by == "hangup_in_greeting"
                  else "the caller's audio stopped before the message")
        result.voice = VoiceOutcome(options.action, ended_by=outcome.ended_by, detail=detail)
    elif options.action == "reject":
        result.voice = VoiceOutcome("reject", ended_by="rejected", detail="voice call refused by rule")
    elif options.action == "forward":
        result.voice = forward()
    else:
        result.voice = VoiceOutcome("voicemail", pcm=outcome.pcm, seconds=outcome.seconds,
                                    ended_by=outcome.ended_by, detail=f"message of {outcome.seconds:.1f} s")
    result.message = f"voice call: {result.voice.ended_by}"
    return result


__all__ = ["listen", "voice_result"]
