"""One channel of a SIP trunk as a fax line (:class:`modem.api.FaxLineDriver`).

A call is set up as a voice call (``m=audio``) and switched to T.38 by a re-INVITE
(T.38 Annex D): the called side sends it once it has answered; as the caller we accept
the far end's, or send our own when none came within ``t38_reinvite_after``.  A far
end that refuses T.38 (488, 415) ends the call with ``no_t38``.  Then our T.30 engine
runs over T.38 (:func:`modem.siptrunk.media.run_t38`); a session refresh during the fax
is answered with the image description in use, so nothing is renegotiated mid-page.
"""

from __future__ import annotations

import logging
import queue
import secrets
import socket
import time
from dataclasses import replace
from datetime import UTC, datetime

from modem.api import (
    AbortCall,
    CallResult,
    HangupCause,
    IncomingCall,
    LineStatus,
    PageImage,
    PageSink,
    Progress,
    ProgressCallback,
    ProgressKind,
    ReceiveOptions,
    SendOptions,
    VoiceOutcome,
)
from modem.errors import ModemError, SdpError
from modem.sdp import LocalSession, SessionDescription, T38Params, t38_params
from modem.sip import events as sipua
from modem.sip.errors import SipUsageError
from modem.sip.ua import UserAgent
from modem.siptrunk.audio import AudioTarget, audio_target, no_dialing
from modem.siptrunk.media import MediaOutcome, T38Settings, max_ifp_data, run_t38
from modem.siptrunk.transfer import forward
from modem.siptrunk.trunk import Call, SipTrunk
from modem.siptrunk.voice import CallWatch, listen, voice_result
from modem.softmodem import AudioSettings, G711Line
from modem.t30 import Engine, T30Receiver, T30Sender
from modem.t30.engine import fill_result
from modem.t38.terminal import T38Terminal
from modem.voice.answer import Verdict

log = logging.getLogger(__name__)

#: Final SIP responses to our INVITE, as hang-up causes.
SIP_CAUSES: dict[int, HangupCause] = {
    486: HangupCause.BUSY, 600: HangupCause.BUSY,
    408: HangupCause.NO_ANSWER, 480: HangupCause.NO_ANSWER, 487: HangupCause.NO_ANSWER,
    403: HangupCause.REMOTE_REJECTED, 603: HangupCause.REMOTE_REJECTED, 404: HangupCause.REMOTE_REJECTED,
    484: HangupCause.REMOTE_REJECTED, 604: HangupCause.REMOTE_REJECTED,
    488: HangupCause.NO_T38, 415: HangupCause.NO_T38, 606: HangupCause.NO_T38,
}
#: Where the far end's T.38 goes (host, port) and the parameters agreed.
ImageTarget = tuple[str, int, T38Params]
AUDIO_PAYLOADS = (0, 8)  # PCMU, PCMA: a fax call starts as a voice call


class _Ended(Exception):
    """Internal: the call ended (with ``result`` filled in) before the fax started."""


class _NoT38(_Ended):
    """Internal: the far end will not switch to T.38 (``result`` says why); with
    ``t38 = "prefer"`` the call goes on in G.711."""


def _now() -> datetime:
    return datetime.now(UTC)


class SipChannel:
    """Channel ``number`` of ``trunk``; one call at a time, on the line worker's thread."""

    def __init__(self, trunk: SipTrunk, number: int) -> None:
        self.trunk = trunk
        self.number = number
        self.name = f"{trunk.settings.name}-{number}"
        self._ringing: dict[IncomingCall, Call] = {}

    # --- FaxLineDriver ------------------------------------------------------------------------
    def probe(self) -> LineStatus:
        try:
            self.trunk.start()
        except (OSError, ModemError) as exc:
            return LineStatus(False, f"SIP trunk {self.trunk.settings.name} cannot start: {exc}")
        reg = self.trunk.registration
        if self.trunk.settings.registrar is not None and not reg.registered:
            deadline = time.monotonic() + 5.0  # the first REGISTER is usually answered at once
            while time.monotonic() < deadline and not self.trunk.registration.registered:
                time.sleep(0.05)
            reg = self.trunk.registration
        registration = reg.detail if self.trunk.settings.registrar is not None else ""
        return LineStatus(reg.registered, reg.detail, ("sip", "t38"), registration=registration)

    def close(self) -> None:
        for call in list(self._ringing.values()):
            self._hang_up(call)
        self._ringing.clear()

    def decline(self, call: IncomingCall, reason: str) -> None:
        sip_call = self._ringing.pop(call, None)
        if sip_call is not None:
            self.trunk.act(lambda ua, now: ua.reject(sip_call.call_id, 603, "Decline", now))
            self.trunk.forget(sip_call)

    def wait_for_call(self, timeout: float) -> IncomingCall | None:
        try:
            call = self.trunk.incoming.get(timeout=timeout)
        except queue.Empty:
            return None
        if call.ended.is_set() or call.incoming is None:  # the caller gave up while queued
            self.trunk.forget(call)
            return None
        invite = call.incoming
        found = IncomingCall(
            caller_number=_user(invite.asserted_identity or invite.from_uri),
            caller_name=invite.from_display or "",
            called_number=called_number(invite, self.trunk.settings.dids, self.trunk.settings.username),
            rings=1,
        )
        self._ringing[found] = call
        return found

    def send(self, dial_string: str, pages: list[PageImage], options: SendOptions,
             progress: ProgressCallback) -> CallResult:
        result = CallResult(cause=HangupCause.MODEM_ERROR, started_at=_now())
        progress(Progress(ProgressKind.DIALING, pages=len(pages)))
        engine: Engine | None = None
        self.trunk.start()  # (first use: the socket and the user agent our SDP needs)
        media = self.trunk.media.open()
        call: Call | None = None
        try:
            sdp = self._session(media)
            offer = sdp.audio_offer(self._port(media), AUDIO_PAYLOADS).serialize().encode()
            target = f"sip:{dial_string}@{self.trunk.settings.call_domain}"
            call = self._invite(target, offer)
            answered = _parse(self._await_answer(call, result))
            result.connected_at = _now()
            audio = audio_target(answered, answered) if answered else None
            image = self._t38_or_audio(call, sdp, self._port(media), audio, calling=True, result=result)
            if image is None:
                assert audio is not None
                line = self._g711(call, media, audio)
                sent = line.send(dial_string, pages, options, no_dialing(progress))
                return self._audio_result(result, sent)
            engine = T30Sender(pages, options)
            result.transport = "t38"
            self._fax(call, media, engine, image, calling=True, progress=progress, on_page=None)
        except _Ended:
            pass
        except AbortCall:
            result.cause, result.message = HangupCause.CANCELLED, "cancelled"
        except ModemError as exc:
            result.cause, result.message = HangupCause.MODEM_ERROR, f"SIP: {exc}"
        finally:
            if call is not None:
                self._hang_up(call)
            media.close()
            result.ended_at = _now()
        return fill_result(result, engine)

    def receive(self, call: IncomingCall, options: ReceiveOptions, on_page: PageSink,
                progress: ProgressCallback) -> CallResult:
        result = CallResult(cause=HangupCause.MODEM_ERROR, started_at=_now())
        sip_call = self._ringing.pop(call, None)
        if sip_call is None or sip_call.incoming is None:
            result.cause, result.message = HangupCause.NO_CARRIER, "the call is gone"
            return result
        engine: T30Receiver | None = None
        self.trunk.start()  # (first use: the socket and the user agent our SDP needs)
        media = self.trunk.media.open()
        try:
            sdp = self._session(media)
            image, audio = self._answer(sip_call, sdp, self._port(media), result)
            result.connected_at = _now()
            voice = options.voice
            if image is None and audio is not None and voice is not None:
                heard = listen(media, audio, voice, CallWatch(self.trunk, sip_call),
                               media_timeout=self.trunk.settings.media_timeout, name=self.name)
                if heard.verdict is not Verdict.FAX:
                    return voice_result(result, heard, voice,
                                        lambda: self._forward_voice(sip_call, voice.forward_to))
                log.info("fax tone heard: a fax call", extra={"channel": self.name, "tone": str(heard.tone),
                                                              "after": round(heard.listened, 2)})
                # (tone None: the far end offered T.38 itself; its re-INVITE waits in the queue)
            if image is None:
                image = self._t38_or_audio(sip_call, sdp, self._port(media), audio, calling=False,
                                           result=result)
            if image is None:
                assert audio is not None
                line = self._g711(sip_call, media, audio)
                return self._audio_result(result, line.receive(call, options, on_page, progress))
            engine = T30Receiver(options)
            result.transport = "t38"
            self._fax(sip_call, media, engine, image, calling=False, progress=progress, on_page=on_page)
        except _Ended:
            pass
        except AbortCall:
            result.cause, result.message = HangupCause.CANCELLED, "cancelled"
        except ModemError as exc:
            result.cause, result.message = HangupCause.MODEM_ERROR, f"SIP: {exc}"
        finally:
            if engine is not None:
                for page in engine.take_pages():
                    on_page(page)
            self._hang_up(sip_call)
            media.close()
            result.ended_at = _now()
        return fill_result(result, engine)

    # --- call set-up ----------------------------------------------------------------------------
    def _session(self, media: socket.socket) -> LocalSession:
        """Our SDP for one call (its ``o=`` version grows with each new description)."""
        host = self.trunk.settings.public_host or self.trunk.contact_host
        return LocalSession(host, session_id=secrets.randbelow(2**31) + int(time.time()) % 1000)

    @staticmethod
    def _port(media: socket.socket) -> int:
        return int(media.getsockname()[1])

    def _invite(self, target: str, offer: bytes) -> Call:
        settings = self.trunk.settings
        # The From user: the caller ID configured, else the account we register as (what a
        # registrar's proxy authenticates), else our first number.
        caller = settings.caller_id or (settings.username if settings.registrar else None) or (
            settings.dids[0] if settings.dids else None)

        def go(ua: UserAgent, now: float) -> Call:
            call_id = ua.invite(target, offer, now, caller_id=caller)
            return self.trunk.open_call(call_id)

        self.trunk.start()
        return self.trunk.act(go)

    def _next(self, call: Call, until: float) -> sipua.UAEvent | None:
        try:
            return call.events.get(timeout=max(0.0, until - time.monotonic()))
        except queue.Empty:
            return None

    def _await_answer(self, call: Call, result: CallResult) -> bytes:
        """The far end's answer (its SDP) once it picks up."""
        until = time.monotonic() + self.trunk.settings.ring_timeout
        while True:
            event = self._next(call, until)
            if event is None:
                result.cause, result.message = HangupCause.NO_ANSWER, "no answer (ring timeout)"
                raise _Ended
            if isinstance(event, sipua.CallAnswered):
                return event.sdp
            if isinstance(event, sipua.CallFailed):
                result.cause = SIP_CAUSES.get(event.code, HangupCause.NO_CARRIER)
                if event.code >= 500 and event.code not in SIP_CAUSES:
                    result.cause = HangupCause.MODEM_ERROR  # the trunk's fault, not the number's
                result.message = f"SIP {event.code} {event.reason}".strip()
                raise _Ended
            if isinstance(event, sipua.CallEnded):
                result.cause, result.message = HangupCause.NO_CARRIER, "the call ended before it was answered"
                raise _Ended

    def _answer(self, call: Call, sdp: LocalSession, port: int,
                result: CallResult) -> tuple[ImageTarget | None, AudioTarget | None]:
        """Answer the INVITE: with T.38 at once when it offered an image stream, else audio
        (or 488 when it offered neither in a form we take).  Where T.38 goes, or where the
        audio goes and in which law."""
        invite = call.incoming
        assert invite is not None
        if not invite.sdp:  # an INVITE without SDP: we offer in the 200 (audio), they answer in ACK
            body = sdp.audio_offer(port, AUDIO_PAYLOADS).serialize().encode()
            self.trunk.act(lambda ua, now: ua.answer(call.call_id, body, now))
            return None, None  # (their audio address comes in the ACK: T.38 or nothing)
        try:
            offer = SessionDescription.parse(invite.sdp.decode("utf-8", "replace"))
        except SdpError as exc:  # refused, never answered with an offer as if it had none
            why = " ".join(str(exc).split())[:80]
            self.trunk.act(lambda ua, now: ua.reject(call.call_id, 488, f"Bad SDP ({why})", now))
            result.cause, result.message = HangupCause.PROTOCOL_ERROR, f"the caller's SDP is malformed: {why}"
            call.ended.set()
            raise _Ended from exc
        answer = sdp.answer_t38(offer, port, self._t38_local())
        if answer is not None:
            image = _image_target(offer, answer)
            self.trunk.act(lambda ua, now: ua.answer(call.call_id, answer.serialize().encode(), now))
            return image, None
        audio = sdp.answer_audio(offer, port, AUDIO_PAYLOADS)
        if audio is None:
            self.trunk.act(lambda ua, now: ua.reject(call.call_id, 488, "Not Acceptable Here", now))
            result.cause, result.message = HangupCause.NO_T38, "the caller offered neither T.38 nor G.711"
            call.ended.set()
            raise _Ended
        self.trunk.act(lambda ua, now: ua.answer(call.call_id, audio.serialize().encode(), now))
        return None, audio_target(offer, audio)

    def _switch_to_t38(self, call: Call, sdp: LocalSession, port: int, *, calling: bool,
                       result: CallResult) -> ImageTarget:
        """Wait for the far end's T.38 re-INVITE (as the caller, for a while) or send ours."""
        wait = self.trunk.settings.t38_reinvite_after if calling else 0.0
        until = time.monotonic() + wait
        sent = False
        while True:
            if not sent and time.monotonic() >= until:
                offer = sdp.t38_offer(port, self._t38_local()).serialize().encode()
                try:
                    self._reinvite(call, offer)
                except SipUsageError:  # our 200 not ACKed yet, or their offer in progress
                    until = time.monotonic() + 0.05
                    continue
                sent = True
                until = time.monotonic() + 32.0  # Timer B: the re-INVITE's own timeout
            event = self._next(call, until)
            if event is None:
                if sent:
                    result.cause, result.message = HangupCause.NO_T38, "no answer to our T.38 re-INVITE"
                    raise _NoT38
                continue
            if isinstance(event, sipua.ReInviteReceived):
                theirs = _parse(event.sdp)
                answer = sdp.answer_t38(theirs, port, self._t38_local()) if theirs else None
                image = _image_target(theirs, answer) if theirs and answer else None
                if answer is None or image is None:
                    self.trunk.act(lambda ua, now: ua.reject_reinvite(call.call_id, 488, now))
                    continue
                body = answer.serialize().encode()
                self._accept_reinvite(call, body)
                if sent:  # ours lost a glare and waits for its retry: theirs did the switch
                    self.trunk.act(lambda ua, now: ua.withdraw_reinvite(call.call_id))
                return image
            if isinstance(event, sipua.ReInviteAccepted):
                answer_sdp = _parse(event.sdp)
                image = _image_target(answer_sdp, answer_sdp) if answer_sdp else None
                if image is None:
                    result.cause = HangupCause.NO_T38
                    result.message = "the far end accepted T.38 without an image stream"
                    raise _NoT38
                return image
            if isinstance(event, sipua.ReInviteRejected):
                if event.code == 491:  # glare: the far end's own offer follows (or we retry)
                    sent, until = False, time.monotonic() + 2.0
                    continue
                result.cause = HangupCause.NO_T38
                result.message = f"the far end refused T.38 (SIP {event.code})"
                raise _NoT38
            if isinstance(event, (sipua.CallEnded, sipua.CallFailed)):
                result.cause, result.message = HangupCause.LINE_DROPPED, "the far end hung up before T.38"
                raise _Ended

    def _t38_or_audio(self, call: Call, sdp: LocalSession, port: int, audio: AudioTarget | None, *,
                      calling: bool, result: CallResult) -> ImageTarget | None:
        """T.38 as the trunk's ``t38`` setting says: "never" stays in G.711 (None); "prefer"
        switches, and stays in G.711 when the far end will not; "require" ends the call then."""
        mode = self.trunk.settings.t38
        if mode == "never" and audio is not None:
            return None
        try:
            return self._switch_to_t38(call, sdp, port, calling=calling, result=result)
        except _NoT38:
            if mode == "require" or audio is None:
                raise
            log.info("T.38 refused: the fax goes on in G.711",
                     extra={"channel": self.name, "why": result.message, "law": audio.law})
            return None

    def _g711(self, call: Call, media: socket.socket, audio: AudioTarget) -> G711Line:
        settings = AudioSettings(codec=audio.law, media_timeout=self.trunk.settings.media_timeout)
        return G711Line(media, (audio.host, audio.port), settings, stopped=call.ended.is_set,
                        name=self.name)

    @staticmethod
    def _audio_result(ours: CallResult, line: CallResult) -> CallResult:
        """The soft modem's result, with the call's own start and answer times."""
        line.started_at, line.connected_at = ours.started_at, ours.connected_at or line.connected_at
        line.transport = "g711"
        return line

    def _forward_voice(self, call: Call, target: str) -> VoiceOutcome:
        """Hand a voice call to ``target`` by a blind transfer (SIP REFER, see
        :func:`modem.siptrunk.transfer.forward`): "forwarded" once the far end reports the
        target's answer (we then hang up), "forward_failed" with the reason otherwise."""
        if not target:
            return VoiceOutcome(action="forward", ended_by="forward_failed", detail="no target to forward to")
        ok, detail = forward(self.trunk, call, target)
        return VoiceOutcome(action="forward", ended_by="forwarded" if ok else "forward_failed", detail=detail)

    def _reinvite(self, call: Call, offer: bytes) -> None:
        self.trunk.act(lambda ua, now: ua.reinvite(call.call_id, offer, now))

    def _accept_reinvite(self, call: Call, answer: bytes) -> None:
        self.trunk.act(lambda ua, now: ua.accept_reinvite(call.call_id, answer, now))

    def _t38_local(self) -> T38Params:
        return T38Params(max_bit_rate=14400)

    # --- the fax -------------------------------------------------------------------------------
    def _fax(self, call: Call, media: socket.socket, engine: Engine, image: ImageTarget, *,
             calling: bool, progress: ProgressCallback, on_page: PageSink | None) -> MediaOutcome:
        host, port, params = image
        terminal = T38Terminal(
            engine, now=time.monotonic(), calling=calling,
            max_ifp_data=max_ifp_data(params.max_datagram or None, self.trunk.settings.t38_redundancy),
        )
        settings = T38Settings(
            redundancy=self.trunk.settings.t38_redundancy,
            version=params.version,
            max_datagram=params.max_datagram or None,
            media_timeout=self.trunk.settings.media_timeout,
        )
        gone = False

        def on_step() -> None:
            nonlocal gone
            for note in engine.take_progress():
                progress(note)
            if on_page is not None and isinstance(engine, T30Receiver):
                for page in engine.take_pages():
                    on_page(page)
            while True:
                try:
                    event = call.events.get_nowait()
                except queue.Empty:
                    break
                if isinstance(event, sipua.ReInviteReceived):  # a refresh: keep what we have
                    self.trunk.act(
                        lambda ua, now: ua.accept_reinvite(call.call_id, ua.local_sdp(call.call_id), now)
                    )
                elif isinstance(event, (sipua.CallEnded, sipua.CallFailed)):
                    gone = True

        outcome = run_t38(media, (host, port), terminal, settings, stopped=lambda: gone, on_step=on_step)
        log.info("t38 call ended", extra={"channel": self.name, "ended_by": outcome.ended_by,
                                           "lost_ifps": outcome.lost_ifps, "in": outcome.datagrams_in,
                                           "out": outcome.datagrams_out})
        return outcome

    def _hang_up(self, call: Call) -> None:
        if not call.ended.is_set():
            try:
                self.trunk.act(lambda ua, now: ua.hangup(call.call_id, now))
            except ModemError as exc:
                log.warning("SIP hang-up failed", extra={"channel": self.name, "error": str(exc)})
        self.trunk.forget(call)


def _parse(sdp: bytes | None) -> SessionDescription | None:
    if not sdp:
        return None
    try:
        return SessionDescription.parse(sdp.decode("utf-8", "replace"))
    except SdpError as exc:
        log.info("unusable SDP", extra={"error": str(exc)[:200]})
        return None


def _image_target(theirs: SessionDescription, agreed: SessionDescription) -> ImageTarget | None:
    """The far end's T.38 address (from ``theirs``) and the parameters agreed (``agreed``'s
    image stream: our answer to their offer, or their answer to ours), if both have one.
    ``T38FaxMaxDatagram`` is each side's own receive limit (RFC 4612), so what we send is
    bounded by the far end's, from ``theirs``."""
    media, ours = theirs.find("image"), agreed.find("image")
    host = theirs.media_address(media) if media is not None else None
    if media is None or ours is None or not host:
        return None
    return host, media.port, replace(t38_params(ours), max_datagram=t38_params(media).max_datagram)


def called_number(invite: sipua.IncomingCall, dids: tuple[str, ...], contact_user: str) -> str:
    """The number that was called: the Request-URI's user when it is one of ``dids`` (a
    carrier's usual way), else the ``To`` user when that is; else the Request-URI's user
    unless it is only our registered contact, else ``To``'s."""
    request_user, to_user = _user(invite.request_uri), _user(invite.to_uri)
    digits = {d.lstrip("+") for d in dids}
    for user in (request_user, to_user):
        if user and user.lstrip("+") in digits:
            return user
    if request_user and request_user != contact_user:
        return request_user
    return to_user or request_user


def _user(uri: str) -> str:
    """The user part of a SIP/tel URI (``+12125550100`` of ``sip:+12125550100@host``)."""
    uri = uri.strip().strip("<>")
    for scheme in ("sip:", "sips:", "tel:"):
        if uri.lower().startswith(scheme):
            uri = uri[len(scheme):]
            break
    user = uri.split("@", 1)[0] if "@" in uri else (uri if uri[:1] in "+0123456789" else "")
    return user.split(";", 1)[0]
