"""Fax or voice on a SIP channel (``ReceiveOptions.voice``), in real time: SIPp places the
call (audio offered, a T.38 re-INVITE refused), the caller's media is spandsp's
``fax_state`` on G.711 RTP (tests.servers.fax_audio) or a small RTP sender of
synthesised audio (tests.servers.rtp_voice).  Listening times are short (2 s); the
representative calls run by default, the rest with ``-m long_call``."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from modem.api import CallResult, HangupCause, ReceivedPage, ReceiveOptions, VoiceOptions
from modem.siptrunk import SipChannel, SipTrunk, TrunkSettings
from modem.softmodem import t31_available
from modem.voice.tones import Tone, connect_tone, tones_available
from tests.modem.pages import decode
from tests.modem.voice.signals import silence, speech_like
from tests.peers.faximage import load_fax_pages, make_test_page
from tests.servers.fax_audio import AudioFax
from tests.servers.ports import HOST, free_udp_port
from tests.servers.rtp_voice import RtpNoise, RtpVoice
from tests.servers.sip_fixtures import require_sipp, require_spandsp
from tests.servers.sipp import SippProcess, render_scenario, start_sipp
from tests.sip.test_trunk_faults import assert_idle

pytestmark = [pytest.mark.sip_peers, pytest.mark.timeout(120)]

DID = "12125550100"
CALLER = "12125550199"
LISTEN = 2.0


@pytest.fixture(autouse=True)
def _needs() -> None:
    require_sipp()
    require_spandsp()
    if not tones_available():
        pytest.skip("libspandsp2 has no connect-tone detectors")


class Line:
    """A trunk (one channel, one media port) that SIPp calls directly."""

    def __init__(self, **more: object) -> None:
        self.media = free_udp_port()
        values: dict[str, object] = {
            "name": "voice", "listen": (HOST, 0), "proxy": (HOST, free_udp_port()), "username": DID,
            "media_ports": (self.media, self.media), "channels": 1, "dids": (f"+{DID}",),
            "t38_reinvite_after": 0.2, "media_timeout": 5.0, "ring_timeout": 10.0,
        }
        values.update(more)
        self.trunk = SipTrunk(TrunkSettings(**values))  # type: ignore[arg-type]
        self.trunk.start()
        self.channel = SipChannel(self.trunk, 1)

    @property
    def rtp(self) -> tuple[str, int]:
        return HOST, self.media

    def call(self, scenario: str, tmp: Path, **values: object) -> SippProcess:
        path = render_scenario(scenario, tmp, from_user=CALLER, **values)
        return start_sipp(path, (HOST, self.trunk.local[1]), workdir=tmp, service=DID, timeout=60)

    def receive(self, voice: VoiceOptions, before_answer: Callable[[], object] = lambda: None,
                on_page: Callable[[ReceivedPage], None] = lambda _p: None) -> CallResult:
        call = self.channel.wait_for_call(10)
        assert call is not None and call.caller_number == CALLER
        before_answer()
        return self.channel.receive(call, ReceiveOptions(local_id="+1 212 555 0100", voice=voice), on_page,
                                    lambda _p: None)


@pytest.fixture
def line_factory() -> Iterator[Callable[..., Line]]:
    lines: list[Line] = []

    def make(**more: object) -> Line:
        line = Line(**more)
        lines.append(line)
        return line

    yield make
    for line in lines:
        line.trunk.close()


def non_silent_seconds(pcm: bytes, threshold: float = 300.0) -> float:
    """From the first to the last 20 ms frame louder than ``threshold`` (RMS)."""
    samples = np.frombuffer(pcm, dtype="<i2").astype(float)
    loud = [i for i in range(0, len(samples) - 159, 160)
            if np.sqrt(np.mean(samples[i:i + 160] ** 2)) >= threshold]
    return (loud[-1] - loud[0] + 160) / 8000 if loud else 0.0


def best_correlation(pcm: bytes, sent: np.ndarray) -> float:
    """The peak of the normalised cross-correlation of what was sent in what was recorded."""
    got = np.frombuffer(pcm, dtype="<i2").astype(float)
    ref = sent.astype(float)
    if len(got) < len(ref):
        return 0.0
    corr = np.correlate(got, ref, mode="valid")
    windows = np.sqrt(np.convolve(got * got, np.ones(len(ref)), mode="valid"))
    return float(np.max(corr / (windows * np.linalg.norm(ref) + 1e-9)))


# (a) a fax caller: CNG heard during the greeting, the page arrives in G.711 -------------------
@pytest.mark.slow  # about 29 s of real time: the one fax call of the default run
def test_a_fax_callers_cng_is_heard_before_the_greeting_ends_and_its_page_arrives(
        line_factory: Callable[..., Line], tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    if not t31_available():
        pytest.skip("libspandsp2 has no T.31 modem")
    page = make_test_page(tmp_path / "page.tif", resolution="fine")
    line = line_factory()
    fax = AudioFax(calling=True, send_tiff=page, remote=line.rtp)
    greeting = (speech_like(3.0) // 4).astype("<i2").tobytes()
    pages: list[ReceivedPage] = []
    caplog.set_level(logging.INFO, logger="modem.siptrunk.channel")
    with line.call("uac_audio_wait.xml", tmp_path, media_port=fax.port, bye_timeout_ms=90000) as far:
        try:
            result = line.receive(VoiceOptions(greeting=greeting, listen_seconds=LISTEN), fax.start,
                                  pages.append)
            sent = fax.wait(20)
        finally:
            fax.close()
        sipp = far.wait(10)
    heard = [r for r in caplog.records if r.getMessage() == "fax tone heard: a fax call"]
    assert heard and getattr(heard[0], "tone", "") == str(Tone.FAX_CNG), caplog.text
    assert getattr(heard[0], "after", 99.0) < 3.0  # within the 3 s greeting
    assert result.ok and result.transport == "g711" and result.pages_done == 1, result
    assert result.voice is None and result.cause is HangupCause.OK
    assert sent.ok and sent.pages == 1, sent
    ink = load_fax_pages(page)[0]
    got = decode(pages[0].image)
    assert np.array_equal(got[: ink.shape[0]], ink[: got.shape[0]])
    assert sipp.ok, sipp.report()  # it refused T.38 (488), then took our BYE
    assert_idle(line.trunk)


# (b) a voice caller leaves a message -----------------------------------------------------------
def test_a_voice_callers_message_is_recorded_as_sent(line_factory: Callable[..., Line],
                                                     tmp_path: Path) -> None:
    line = line_factory()
    speech = speech_like(2.0, seed=3)
    with RtpVoice(speech, remote=line.rtp, after_beep=True) as caller, \
            line.call("uac_audio_wait.xml", tmp_path, media_port=caller.port, bye_timeout_ms=20000) as far:
        started = time.monotonic()
        result = line.receive(VoiceOptions(listen_seconds=1.5, silence_seconds=0.8))
        took = time.monotonic() - started
        sipp = far.wait(10)
    assert result.cause is HangupCause.VOICE and result.voice is not None, result
    voice = result.voice
    assert voice.action == "voicemail" and voice.ended_by == "silence", voice
    assert caller.beep_heard  # our beep reached the caller, who spoke after it
    assert abs(non_silent_seconds(voice.pcm) - 2.0) <= 0.5, non_silent_seconds(voice.pcm)
    assert best_correlation(voice.pcm, speech) > 0.9
    assert voice.seconds == pytest.approx(len(voice.pcm) / 16000)
    assert 2.8 <= voice.seconds <= 3.8, voice.seconds
    assert took < 1.5 + 0.4 + 2.0 + 0.8 + 4.0, took  # by silence, long before max_seconds
    assert sipp.ok, sipp.report()  # our BYE
    assert_idle(line.trunk)


# (c) + (e) a silent caller, and loud RTP from an address never negotiated --------------------
def test_a_silent_caller_leaves_a_message_of_silence_and_foreign_rtp_is_ignored(
        line_factory: Callable[..., Line], tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="modem.voice.session")
    line = line_factory()
    with RtpVoice(silence(0.1), remote=line.rtp) as caller, RtpNoise(line.rtp) as stranger, \
            line.call("uac_audio_wait.xml", tmp_path, media_port=caller.port, bye_timeout_ms=20000) as far:
        result = line.receive(VoiceOptions(listen_seconds=1.5, silence_seconds=1.0))
        sipp = far.wait(10)
    assert stranger.packets_out > 100  # the noise was sent all along
    assert result.cause is HangupCause.VOICE and result.voice is not None, result
    assert result.voice.ended_by == "silence" and result.voice.seconds == pytest.approx(1.0, abs=0.1)
    assert np.max(np.abs(np.frombuffer(result.voice.pcm, dtype="<i2"))) < 50  # no noise in it
    ended = [r for r in caplog.records if r.getMessage() == "voice listening ended"]
    assert ended and getattr(ended[0], "foreign", 0) > 100 and getattr(ended[0], "in", 0) > 100  # counted
    assert sipp.ok, sipp.report()
    assert_idle(line.trunk)


@pytest.mark.long_call
def test_a_caller_that_sends_no_rtp_at_all_leaves_silence_not_a_failed_fax(
        line_factory: Callable[..., Line], tmp_path: Path) -> None:
    line = line_factory()
    with line.call("uac_audio_wait.xml", tmp_path, media_port=free_udp_port(), bye_timeout_ms=20000) as far:
        result = line.receive(VoiceOptions(listen_seconds=LISTEN, silence_seconds=1.0))
        sipp = far.wait(10)
    assert result.cause is HangupCause.VOICE and result.voice is not None, result
    assert result.voice.ended_by == "silence" and not any(result.voice.pcm) and result.voice.seconds > 0.9
    assert sipp.ok, sipp.report()


# (d) the caller hangs up during the greeting ---------------------------------------------------
def test_hang_up_during_the_greeting(line_factory: Callable[..., Line], tmp_path: Path) -> None:
    line = line_factory()
    with RtpVoice(speech_like(5.0), remote=line.rtp) as caller, \
            line.call("uac_audio_bye.xml", tmp_path, media_port=caller.port, bye_ms=800) as far:
        started = time.monotonic()
        result = line.receive(VoiceOptions(greeting=(speech_like(4.0) // 4).astype("<i2").tobytes(),
                                           listen_seconds=LISTEN))
        took = time.monotonic() - started
        sipp = far.wait(10)
    assert result.cause is HangupCause.VOICE and result.voice is not None, result
    assert result.voice.ended_by == "hangup_in_greeting" and result.voice.pcm == b"", result.voice
    assert took < 2.0, took  # at once, not at the end of the greeting
    assert caller.packets_in > 10  # the greeting played
    assert sipp.ok, sipp.report()
    assert_idle(line.trunk)


# (f) the stream stops while recording ----------------------------------------------------------
@pytest.mark.long_call
def test_a_stream_that_stops_ends_the_message_media_timeout(
        line_factory: Callable[..., Line], tmp_path: Path) -> None:
    line = line_factory(media_timeout=1.5)
    with RtpVoice(speech_like(10.0), remote=line.rtp, after_beep=True, stop_after=LISTEN + 2.5) as caller, \
            line.call("uac_audio_wait.xml", tmp_path, media_port=caller.port, bye_timeout_ms=20000) as far:
        result = line.receive(VoiceOptions(listen_seconds=LISTEN, silence_seconds=5.0))
        sipp = far.wait(10)
    assert result.cause is HangupCause.VOICE and result.voice is not None, result
    assert result.voice.ended_by == "media_timeout", result.voice
    assert non_silent_seconds(result.voice.pcm) > 1.0  # what was said before it stopped is kept
    assert sipp.ok, sipp.report()
    assert_idle(line.trunk)


# reject, forward, a data modem -----------------------------------------------------------------
@pytest.mark.long_call
def test_reject_hangs_up_after_listening(line_factory: Callable[..., Line], tmp_path: Path) -> None:
    line = line_factory()
    with RtpVoice(speech_like(5.0), remote=line.rtp) as caller, \
            line.call("uac_audio_wait.xml", tmp_path, media_port=caller.port, bye_timeout_ms=20000) as far:
        result = line.receive(VoiceOptions(action="reject", listen_seconds=1.5))
        sipp = far.wait(10)
    assert result.cause is HangupCause.VOICE and result.voice is not None, result
    assert (result.voice.action, result.voice.ended_by, result.voice.pcm) == ("reject", "rejected", b"")
    assert sipp.ok, sipp.report()  # our BYE
    assert_idle(line.trunk)


def test_forward_transfers_the_caller_by_refer(line_factory: Callable[..., Line], tmp_path: Path) -> None:
    """A voice caller and the rule "forward:": after listening we REFER the caller to the
    target (tests/sip_scenarios/uac_refer.xml: 202, NOTIFY 100 then 200) and hang up."""
    line = line_factory()
    with RtpVoice(speech_like(5.0), remote=line.rtp) as caller, \
            line.call("uac_refer.xml", tmp_path, media_port=caller.port, refer_to="sip:desk@pbx",
                      final="200 OK") as far:
        result = line.receive(VoiceOptions(action="forward", forward_to="sip:desk@pbx", listen_seconds=1.5))
        sipp = far.wait(10)
    assert result.cause is HangupCause.VOICE and result.voice is not None, result
    assert (result.voice.action, result.voice.ended_by, result.voice.detail) == (
        "forward", "forwarded", "forwarded to sip:desk@pbx")
    assert sipp.ok, sipp.report()  # REFER taken, both NOTIFYs answered 200, our BYE
    assert_idle(line.trunk)


def test_a_refused_forward_says_why_and_hangs_up(line_factory: Callable[..., Line], tmp_path: Path) -> None:
    line = line_factory()
    with RtpVoice(speech_like(3.0), remote=line.rtp) as caller, \
            line.call("uac_refer_refused.xml", tmp_path, media_port=caller.port) as far:
        result = line.receive(VoiceOptions(action="forward", forward_to="sip:desk@pbx", listen_seconds=1.0))
        sipp = far.wait(10)
    assert result.voice is not None and result.voice.ended_by == "forward_failed", result
    assert result.voice.detail == "forward to sip:desk@pbx failed: 603 REFER refused (Decline)"
    assert sipp.ok, sipp.report()  # REFER answered 603, then our BYE
    assert_idle(line.trunk)


@pytest.mark.long_call  # (tests/modem/voice covers the verdict without a call)
def test_a_data_modem_is_neither_fax_nor_voice(line_factory: Callable[..., Line], tmp_path: Path) -> None:
    line = line_factory()
    answer_tone = np.frombuffer(connect_tone(Tone.ANSAM, 5 * 8000), dtype=np.int16)
    with RtpVoice(answer_tone, remote=line.rtp) as caller, \
            line.call("uac_audio_wait.xml", tmp_path, media_port=caller.port, bye_timeout_ms=20000) as far:
        result = line.receive(VoiceOptions(listen_seconds=4.0))
        sipp = far.wait(10)
    assert result.cause is HangupCause.NO_CARRIER and result.voice is None, result
    assert "data modem" in result.message and "ANSAM" in result.message
    assert sipp.ok, sipp.report()
    assert_idle(line.trunk)


def test_a_t38_reinvite_from_the_caller_while_listening_is_a_fax(
        line_factory: Callable[..., Line], tmp_path: Path) -> None:
    """A gateway that heard the CNG itself re-INVITEs to T.38 during our greeting: the
    listening stops and the call goes on as a T.38 fax (here without a fax machine: the
    caller hangs up, so the call ends as a T.38 call dropped)."""
    line = line_factory()
    with RtpVoice(speech_like(5.0), remote=line.rtp) as caller, \
            line.call("uac_audio_t38_offer.xml", tmp_path, media_port=caller.port, reinvite_ms=500,
                      bye_ms=500) as far:
        started = time.monotonic()
        result = line.receive(VoiceOptions(listen_seconds=4.0))
        took = time.monotonic() - started
        sipp = far.wait(10)
    assert result.voice is None and result.transport == "t38", result
    assert result.cause in (HangupCause.NO_CARRIER, HangupCause.LINE_DROPPED) and "hung up" in result.message
    assert took < 3.0, took  # not the 4 s of listening
    assert sipp.ok, sipp.report()  # our 200 to its re-INVITE carried an image stream
    assert_idle(line.trunk)


def test_an_invite_offering_t38_is_a_fax_without_listening(
        line_factory: Callable[..., Line], tmp_path: Path) -> None:
    """An INVITE that offers T.38 at once is a fax: no greeting, no listening, even with
    voice options (the caller hangs up, so the T.38 call ends dropped)."""
    line = line_factory()
    with line.call("uac_image_bye.xml", tmp_path, media_port=free_udp_port(), bye_ms=300) as far:
        started = time.monotonic()
        result = line.receive(VoiceOptions(listen_seconds=4.0))
        took = time.monotonic() - started
        sipp = far.wait(10)
    assert result.voice is None and result.transport == "t38", result
    assert result.cause in (HangupCause.NO_CARRIER, HangupCause.LINE_DROPPED) and "hung up" in result.message
    assert took < 2.0, took
    assert sipp.ok, sipp.report()
    assert_idle(line.trunk)
