"""Fax or voice on a SIP channel's audio call: listen (greeting, tone detectors), then
either hand the call back as a fax or finish it as a voice call by the voice action.

Causes: a fax (a fax tone, or the far end's T.38 re-INVITE) -> None: the channel goes on
as before (T.38 re-INVITE or G.711).  A voice call -> ``HangupCause.VOICE`` with
``CallResult.voice``: "voicemail" records a message (ended_by "silence", "limit",
"hangup" or "media_timeout"); "reject" -> "rejected"; "forward" -> whatever
:meth:`SipChannel._forward_voice` says.  A caller gone before the message: VOICE,
ended_by "hangup_in_greeting" (or "media_timeout"), no message.  A data modem's tone
(neither fax nor voice): ``HangupCause.NO_CARRIER``, the message naming the tone.
"""

from __future__ import annotations

import queue
import socket
import time
from collections.abc import Callable

from modem.api import CallResult, HangupCause, VoiceOptions, VoiceOutcome
from modem.errors import SdpError
from modem.sdp import SessionDescription
from modem.sip import events as sipua
from modem.siptrunk.audio import AudioTarget
from modem.siptrunk.trunk import Call, SipTrunk
from modem.voice.answer import Outcome, Verdict, VoiceCall
from modem.voice.session import run_voice_call
from modem.voice.tones import ToneDetector


class CallWatch:
    """The SIP side of a call while it is listened to: the call ended (BYE), a session
    refresh (answered with the audio description in use), or a T.38 re-INVITE from the
    far end (a gateway that heard CNG itself: a fax).  That re-INVITE is kept unanswered
    in :attr:`t38_offer` and given back to the call's queue by :meth:`hand_back`, for the
    T.38 switch to answer."""

    def __init__(self, trunk: SipTrunk, call: Call) -> None:
        self.trunk = trunk
        self.call = call
        self.t38_offer: sipua.ReInviteReceived | None = None
        self._held: list[sipua.UAEvent] = []

    def poll(self) -> None:
        while self.t38_offer is None:
            try:
                event = self.call.events.get_nowait()
            except queue.Empty:
                return
            if isinstance(event, sipua.ReInviteReceived):
                if _offers_image(event.sdp):
                    self.t38_offer = event
                    continue
                self._keep_audio()
            else:
                self._held.append(event)  # (CallEnded etc.: call.ended is set; kept in order)

    def _keep_audio(self) -> None:
        """Answer a session refresh with the audio description in use."""
        call_id = self.call.call_id
        self.trunk.act(lambda ua, now: ua.accept_reinvite(call_id, ua.local_sdp(call_id), now))

    def gone(self) -> bool:
        self.poll()
        return self.call.ended.is_set()

    def offered_t38(self) -> bool:
        self.poll()
        return self.t38_offer is not None

    def hand_back(self) -> None:
        """Put what was taken (and not answered) back into the call's queue, in order,
        ahead of anything that came since."""
        later: list[sipua.UAEvent] = []
        while True:
            try:
                later.append(self.call.events.get_nowait())
            except queue.Empty:
                break
        first = [self.t38_offer] if self.t38_offer is not None else []
        for event in [*self._held, *first, *later]:
            self.call.events.put(event)
        self._held, self.t38_offer = [], None


def _offers_image(sdp: bytes) -> bool:
    try:
        return SessionDescription.parse(sdp.decode("utf-8", "replace")).find("image") is not None
    except SdpError:
        return False


def listen(sock: socket.socket, audio: AudioTarget, options: VoiceOptions, watch: CallWatch, *,
           media_timeout: float, name: str) -> Outcome:
    """Run the listening (and, for voicemail, the recording) on the call's media socket."""
    detector = ToneDetector()
    try:
        machine = VoiceCall(options, detector.feed, time.monotonic(), record=options.action == "voicemail",
                            media_timeout=media_timeout)
        outcome, _stats = run_voice_call(sock, (audio.host, audio.port), audio.law, machine,
                                         stopped=watch.gone, t38_offered=watch.offered_t38, name=name)
    finally:
        detector.close()
        watch.hand_back()
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


__all__ = ["CallWatch", "listen", "voice_result"]
