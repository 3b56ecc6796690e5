"""Self-tests of the voice peer fixtures (tests/servers/baresip.py, speech.py, rtp_sink.py),
without any umfax code: espeak-ng speech judged by sox and the cross-correlation, and
baresip calling through kamailio (digest-challenged) to a SIPp telephone whose RTP lands
in a sink of ours, the audio there being the speech sent; tshark decodes the capture.

Marked ``sip_peers``; a peer that is not installed skips its tests with the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from modem import g711
from tests.servers import tshark
from tests.servers.baresip import BaresipCaller
from tests.servers.kamailio import KamailioServer
from tests.servers.ports import HOST, free_udp_port
from tests.servers.rtp_sink import RtpSink
from tests.servers.sip_fixtures import require_sipp, require_speech_tools
from tests.servers.sipp import render_scenario, start_sipp
from tests.servers.speech import correlate, make_silence, make_speech, make_tone, sox_stat, wav_samples

pytestmark = pytest.mark.sip_peers

MESSAGE = "Hello, this is Ada. Please call me back."
OTHER = "The weather tomorrow will be dry, with a light wind from the north."


@pytest.fixture
def speech(tmp_path: Path) -> Path:
    require_speech_tools()
    return make_speech(MESSAGE, tmp_path / "speech.wav")


def test_speech_is_telephone_audio_that_sox_and_the_correlation_recognise(
    speech: Path, tmp_path: Path
) -> None:
    stat = sox_stat(speech)
    assert 2.0 < stat.seconds < 8.0 and not stat.silent and stat.max_amplitude > 0.2, stat.text
    padded = make_speech(MESSAGE, tmp_path / "padded.wav", lead_seconds=1.0, tail_seconds=0.5)
    assert abs(sox_stat(padded).seconds - stat.seconds - 1.5) < 0.01
    assert sox_stat(make_silence(tmp_path / "quiet.wav", 2.0)).silent

    sent = wav_samples(speech)
    # the speech after one PCMU pass, at half the level, 0.4 s into a longer recording
    once = g711.decode(g711.encode(sent / 2, "PCMU"), "PCMU")
    received = np.concatenate([np.zeros(3200), once, np.zeros(8000)])
    match = correlate(sent, received.astype(np.float64))
    assert match.peak > 0.98 and abs(match.offset_seconds - 0.4) < 0.001, match
    cut = correlate(sent, received[: len(received) // 2])  # a message cut short still matches
    assert cut.peak > 0.98, cut
    assert correlate(sent, wav_samples(make_speech(OTHER, tmp_path / "other.wav"))).peak < 0.3
    assert correlate(sent, wav_samples(make_tone(tmp_path / "tone.wav", 3.0, 1100))).peak < 0.3
    noise = np.random.default_rng(7).normal(0, 2000, len(sent))
    assert correlate(sent, noise).peak < 0.3


def test_baresip_calls_through_kamailio_and_plays_its_wav(
    speech: Path,
    kamailio: Callable[..., KamailioServer],
    baresip: Callable[..., BaresipCaller],
    loopback_capture: Callable[..., tshark.LoopbackCapture],
    tmp_path: Path,
) -> None:
    """baresip answers kamailio's 407 with its account's password, its INVITE reaches the
    SIPp telephone behind kamailio, the RTP our sink receives is the WAV (PCMU both ways,
    so a high but not perfect correlation), and it hangs up when asked; tshark finds no
    malformed SIP, SDP or RTP."""
    require_sipp()
    far_sip = free_udp_port()
    sip = kamailio({"12125550199": "far-secret"}, next_hop=(HOST, far_sip))
    # a silent tail keeps aufile's end of file (about a second after the last sample)
    # from racing our hang-up
    tailed = make_speech(MESSAGE, tmp_path / "tailed.wav", tail_seconds=2.0)
    phone = baresip(tailed, user="12125550199", password="far-secret", proxy=(sip.host, sip.port))
    played = sox_stat(speech).seconds
    with RtpSink() as sink:
        rtp = range(phone.rtp_ports[0], phone.rtp_ports[1] + 1)
        ports = (sip.port, far_sip, phone.sip_port, sink.port, *rtp)
        capture = loopback_capture(tshark.udp_ports_filter(*ports))
        scenario = render_scenario("uas_audio_sink.xml", tmp_path, media_port=sink.port,
                                   call_timeout_ms=20000)
        with start_sipp(scenario, workdir=tmp_path / "uas", port=far_sip, timeout=30) as telephone:
            call = phone.call(f"sip:12125550100@{sip.host}:{sip.port}", hangup_after=played + 0.3)
            result = telephone.wait(10)
        assert result.ok, result.report()
    assert call.established and call.hung_up_by_us, call
    assert abs(call.seconds - played - 0.3) < 0.3, call
    assert sink.not_rtp == 0
    received = sink.samples()
    assert abs(len(received) / 8000 - played - 0.3) < 0.3, (len(received) / 8000, played)
    match = correlate(wav_samples(speech), received)
    assert 0.95 < match.peak < 0.99999 and abs(match.offset_seconds) < 0.1, match

    capture.stop()
    counts = tshark.problem_counts(capture.file, protocols=("sip", "sdp", "rtp"), malformed_only=True)
    assert not any(counts.values()), tshark.problems(capture.file)
    assert tshark.protocol_frames(capture.file, "sip.Status-Code == 407") >= 1
    # tshark found the RTP from the SDP (no decode-as)
    assert tshark.protocol_frames(capture.file, f"rtp && udp.dstport == {sink.port}") > 100


def test_baresip_hangs_up_at_the_end_of_its_wav(
    tmp_path: Path, baresip: Callable[..., BaresipCaller]
) -> None:
    """Without ``hangup_after`` the call ends with aufile's end of file, within about a
    second of the WAV's last sample (baresip calls the SIPp telephone directly here)."""
    require_sipp()
    require_speech_tools()
    short = make_speech("Bye now.", tmp_path / "short.wav")
    phone = baresip(short)
    with RtpSink() as sink:
        scenario = render_scenario("uas_audio_sink.xml", tmp_path, media_port=sink.port,
                                   call_timeout_ms=10000)
        with start_sipp(scenario, workdir=tmp_path / "uas", timeout=15) as telephone:
            call = phone.call(f"sip:telephone@{HOST}:{telephone.port}")
            result = telephone.wait(5)
    assert result.ok, result.report()
    assert call.established and not call.hung_up_by_us and "end of file" in call.closed_reason, call
    assert sox_stat(short).seconds < call.seconds < sox_stat(short).seconds + 1.6, call
