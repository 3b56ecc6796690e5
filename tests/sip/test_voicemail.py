"""One number for voice and fax, end to end in real time: ``umfax serve`` with a SIP trunk
that listens for voice (``[[trunks]] listen_for_voice = true``), registered with
kamailio, delivering into a user's Dovecot mailbox; callers that none of us wrote:

- baresip dials the trunk's number through kamailio and speaks an espeak-ng message
  after the greeting and the beep: the voicemail in the mailbox is a
  ``Message-Context: voice-message`` with a WAV that sox says is as long as the speech
  (within 0.5 s) and not silence, and that correlates with the speech sent;
- spandsp's ``fax_state`` calls over G.711 (SIPp's SIP): its CNG is heard before the
  greeting ends (umfax's answering fax tone starts inside the greeting's time) and the
  fax arrives as a PDF;
- a caller that sends nothing ends as a voice message of silence, never a failed fax
  (and with ``drop_silent`` reaches nobody);
- tshark decodes every capture with no malformed SIP, SDP or RTP.

By default one site takes the spoken and the silent caller (about 30 s); the fax caller
and the drop_silent variant run with ``-m long_call`` (the fax after listening runs by
default at the line level, in tests/sip/test_voice_line.py).
"""

from __future__ import annotations

import email
import email.policy
import select
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from modem import g711
from tests.peers.faximage import make_test_page
from tests.servers import tshark
from tests.servers.baresip import BaresipCaller
from tests.servers.dovecot import DovecotServer, ImapUser
from tests.servers.fax_audio import AudioFax
from tests.servers.kamailio import KamailioServer
from tests.servers.ports import HOST, free_udp_port
from tests.servers.rtp_sink import RtpSink
from tests.servers.sip_fixtures import require_sipp, require_spandsp, require_speech_tools
from tests.servers.sipp import render_scenario, start_sipp
from tests.servers.speech import correlate, make_speech, sox_stat, tone_onset, wav_samples
from tests.servers.umfax_site import UmfaxSite

pytestmark = [pytest.mark.sip_peers, pytest.mark.slow, pytest.mark.timeout(240)]

USER, PASSWORD = "12125550100", "trunk-secret"
CALLER, CALLER_PASSWORD = "12125550199", "far-secret"
LISTEN_SECONDS = 2.0
SILENCE_SECONDS = 2.0
GREETING = "Ann cannot take your call. Please leave a message."
MESSAGE = "Hello Ann, this is Bob from accounts. Please call me back about the March invoice."
CED_HZ = 2100.0  # the answering fax's tone


@dataclass
class VoiceSite:
    """A running ``umfax serve`` whose trunk listens for voice, and what surrounds it."""

    site: UmfaxSite
    sip: KamailioServer
    dovecot: DovecotServer
    ann: ImapUser
    greeting: Path
    media_ports: range
    capture: tshark.LoopbackCapture

    @property
    def number_uri(self) -> str:
        return f"sip:{USER}@{self.sip.host}:{self.sip.port}"

    @property
    def record_starts(self) -> float:
        """Seconds from the answer to the start of recording: listening lasts
        max(listen_seconds, the greeting), then the beep."""
        from modem.voice.answer import BEEP_SECONDS  # (after the module's feature check)

        return max(LISTEN_SECONDS, sox_stat(self.greeting).seconds) + BEEP_SECONDS

    def mailbox(self) -> list[EmailMessage]:
        with self.dovecot.client(self.ann) as client:
            client.select_folder("INBOX", readonly=True)
            uids = client.search("ALL")
            fetched = client.fetch(uids, ["BODY.PEEK[]"]) if uids else {}
        return [
            email.message_from_bytes(fetched[uid][b"BODY[]"], policy=email.policy.default)  # type: ignore[misc]
            for uid in sorted(fetched)
        ]

    def wait_for_mail(self, count: int = 1, timeout: float = 60) -> list[EmailMessage]:
        self.site.wait_for(lambda: len(self.mailbox()) >= count, timeout, f"{count} message(s) for ann")
        return self.mailbox()

    def assert_clean_capture(self) -> None:
        """(d) tshark decodes the capture with no malformed SIP, SDP or RTP."""
        self.capture.stop()
        protocols = ("sip", "sdp", "rtp")
        counts = tshark.problem_counts(self.capture.file, protocols=protocols, malformed_only=True)
        assert not any(counts.values()), tshark.problems(self.capture.file)
        assert tshark.protocol_frames(self.capture.file, "rtp") > 50  # tshark found the media from the SDP


def site_toml(vs_sip: KamailioServer, dovecot: DovecotServer, ann: ImapUser, greeting: Path,
              media: range, drop_silent: bool) -> str:
    return f"""
[mail]
from_address = "fax@example.test"
[mail.imap]
host = "{dovecot.host}"
port = {dovecot.tls_port}
ca_file = "{dovecot.ca_file}"
username = "{dovecot.master_user}"
password_env = "TEST_MASTER_PASSWORD"

[voice]
action = "voicemail"
listen_seconds = {LISTEN_SECONDS}
silence_seconds = {SILENCE_SECONDS}
max_message_seconds = 30
drop_silent = {"true" if drop_silent else "false"}

[[users]]
name = "ann"
email = "{ann.name}"
delivery = "imap"
voice = "voicemail"
greeting = "{greeting}"

[routing]
default = ["ann"]

[[trunks]]
name = "carrier"
registrar = "{vs_sip.host}:{vs_sip.port}"
username = "{USER}"
password_env = "UMFAX_TEST_SIP_PASSWORD"
listen = "{HOST}:0"
media_ports = "{media.start}-{media.stop - 1}"
channels = 1
dids = ["+{USER}"]
t38 = "never"
listen_for_voice = true
media_timeout = "10s"
"""


@pytest.fixture
def voice_site(
    request: pytest.FixtureRequest,
    site: UmfaxSite,
    kamailio: Callable[..., KamailioServer],
    dovecot: DovecotServer,
    loopback_capture: Callable[..., tshark.LoopbackCapture],
    tmp_path: Path,
) -> Iterator[VoiceSite]:
    """``umfax serve`` with the trunk, ann's greeting (espeak-ng) and her IMAP mailbox;
    a loopback capture of kamailio's and the trunk's media ports runs from the start.
    ``@pytest.mark.parametrize("voice_site", [True], indirect=True)``: drop_silent."""
    require_speech_tools()
    drop_silent = bool(getattr(request, "param", False))
    sip = kamailio({USER: PASSWORD, CALLER: CALLER_PASSWORD})
    ann = dovecot.add_user()
    greeting = make_speech(GREETING, tmp_path / "greeting.wav")
    low = min(free_udp_port(), 64000) & ~1
    media = range(low, low + 10)
    toml = site_toml(sip, dovecot, ann, greeting, media, drop_silent)
    site.config.write_text(site.config.read_text() + toml)
    site.env |= {"UMFAX_TEST_SIP_PASSWORD": PASSWORD, "TEST_MASTER_PASSWORD": dovecot.master_password}
    capture = loopback_capture(tshark.udp_ports_filter(sip.port, *media))
    site.start()
    (line,) = site.json("lines")
    assert line["registration"].startswith("registered"), line
    yield VoiceSite(site, sip, dovecot, ann, greeting, media, capture)


def attachment(message: EmailMessage, kind: str) -> bytes:
    found = [part for part in message.iter_attachments() if part.get_content_type().startswith(kind)]
    assert found, f"no {kind} attachment in {[p.get_content_type() for p in message.iter_attachments()]}"
    content = found[0].get_content()
    assert isinstance(content, bytes)
    return content


def wait_for_calls(site: UmfaxSite, count: int) -> list[dict[str, Any]]:
    """``umfax inbox`` once it lists ``count`` ended calls, oldest first."""
    records: list[dict[str, Any]] = []

    def ended() -> bool:
        records[:] = sorted(site.json("inbox"), key=lambda record: int(record["id"]))
        return len(records) >= count and all(record["ended_at"] for record in records)

    site.wait_for(ended, 30, f"{count} ended call(s) in the inbox")
    return records


def assert_voice_calls(records: list[dict[str, Any]]) -> None:
    """Every call was a voice call over G.711 (never a fax: no pages, no fax result)."""
    for record in records:
        assert record["kind"] == "voice" and record["transport"] == "g711" and record["pages"] == 0, record


def leave_spoken_message(vs: VoiceSite, baresip: Callable[..., BaresipCaller], tmp_path: Path) -> None:
    """(a) baresip stays silent through the greeting and the beep, speaks, and hangs up
    as the speech ends; the mailbox gets a voice message whose WAV is that speech."""
    speech = make_speech(MESSAGE, tmp_path / "speech.wav")
    spoken = sox_stat(speech).seconds
    lead = vs.record_starts
    # silent through the greeting and the beep; a silent tail keeps aufile's end of file
    # from racing the hang-up
    played = make_speech(MESSAGE, tmp_path / "played.wav", lead_seconds=lead, tail_seconds=2.0)
    phone = baresip(played, user=CALLER, password=CALLER_PASSWORD, proxy=(vs.sip.host, vs.sip.port))
    before = len(vs.mailbox())
    call = phone.call(vs.number_uri, hangup_after=lead + spoken + 0.1)
    assert call.established and call.hung_up_by_us, call

    message = vs.wait_for_mail(before + 1)[-1]
    assert message["Message-Context"] == "voice-message", message
    assert CALLER in str(message["X-Fax-Caller-Number"]), message
    wav = tmp_path / "spoken-received.wav"
    wav.write_bytes(attachment(message, "audio/"))
    stat = sox_stat(wav)
    assert abs(stat.seconds - spoken) <= 0.5, (stat.text, spoken)
    assert not stat.silent, stat.text
    match = correlate(wav_samples(speech), wav_samples(wav))
    assert match.peak > 0.8 and abs(match.offset_seconds) < 0.5, match


def call_and_send_nothing(vs: VoiceSite, tmp_path: Path) -> None:
    """(c) the caller hears the greeting and the beep (its RTP sink keeps them) and sends
    nothing; umfax ends the message after silence_seconds and hangs up itself."""
    with RtpSink() as sink:
        scenario = render_scenario("uac_audio.xml", tmp_path / "silent", media_port=sink.port,
                                   from_user=CALLER, call_timeout_ms=40000)
        with start_sipp(scenario, (vs.sip.host, vs.sip.port), workdir=tmp_path / "silent",
                        service=USER, auth=(CALLER, CALLER_PASSWORD), timeout=60) as caller:
            sipp = caller.wait(50)
    assert sipp.ok, sipp.report()  # umfax hung up (BYE) by itself
    heard = sink.samples()
    greeting = correlate(wav_samples(vs.greeting), heard)
    assert greeting.peak > 0.8 and greeting.offset_seconds < 0.5, greeting
    assert tone_onset(heard, 1000.0) is not None  # the beep


def test_spoken_and_silent_callers_leave_voicemail_on_the_fax_number(
    voice_site: VoiceSite, baresip: Callable[..., BaresipCaller], tmp_path: Path
) -> None:
    """(a), then (c) with drop_silent off: the silent caller's message is delivered too,
    and sox says it is silence; then a caller who hangs up during the greeting leaves
    nothing, its call recorded as such; (d) tshark on the three calls."""
    require_sipp()
    leave_spoken_message(voice_site, baresip, tmp_path)
    call_and_send_nothing(voice_site, tmp_path)
    (_, message) = voice_site.wait_for_mail(2)
    assert message["Message-Context"] == "voice-message", message
    wav = tmp_path / "silent-received.wav"
    wav.write_bytes(attachment(message, "audio/"))
    stat = sox_stat(wav)
    assert stat.silent and stat.seconds <= SILENCE_SECONDS + 1.0, stat.text

    hasty = make_speech("Oh, a machine.", tmp_path / "hasty.wav", tail_seconds=2.0)
    proxy = (voice_site.sip.host, voice_site.sip.port)
    phone = baresip(hasty, user=CALLER, password=CALLER_PASSWORD, proxy=proxy)
    call = phone.call(voice_site.number_uri, hangup_after=1.0)
    assert call.established and call.hung_up_by_us, call
    records = wait_for_calls(voice_site.site, 3)
    assert_voice_calls(records)
    assert records[2]["result"] == "hangup_in_greeting", records[2]
    assert len(voice_site.mailbox()) == 2
    voice_site.assert_clean_capture()


@pytest.mark.long_call
@pytest.mark.parametrize("voice_site", [True], ids=["drop_silent"], indirect=True)
def test_with_drop_silent_a_caller_that_sends_nothing_reaches_nobody(
    voice_site: VoiceSite, tmp_path: Path
) -> None:
    """(c) with ``[voice] drop_silent``: the silent message is kept from ann."""
    require_sipp()
    call_and_send_nothing(voice_site, tmp_path)
    assert_voice_calls(wait_for_calls(voice_site.site, 1))
    time.sleep(1.0)  # the dispatcher's turn, had it anything to deliver
    assert voice_site.mailbox() == []
    voice_site.assert_clean_capture()


@pytest.mark.long_call  # the fax path after listening runs by default in tests/sip/test_voice_line.py
def test_a_fax_caller_is_heard_during_the_greeting_and_its_fax_arrives(
    voice_site: VoiceSite, tmp_path: Path
) -> None:
    """(b) spandsp's fax_state sends CNG from the answer; umfax's answering fax tone
    (2100 Hz) begins before the greeting would have ended, and the page arrives as a PDF
    in the same mailbox; (d) tshark on the call."""
    require_sipp()
    require_spandsp()
    page = make_test_page(tmp_path / "page.tif", resolution="fine")
    fax = AudioFax(calling=True, send_tiff=page)
    scenario = render_scenario("uac_audio.xml", tmp_path, media_port=fax.port, from_user=CALLER,
                               call_timeout_ms=90000)
    try:
        with start_sipp(scenario, (voice_site.sip.host, voice_site.sip.port), workdir=tmp_path / "uac",
                        service=USER, auth=(CALLER, CALLER_PASSWORD), timeout=120) as caller:
            # The machine's T.30 clock (CNG at once, then every 3.5 s) starts with the
            # answer, when umfax's first RTP arrives: started at the INVITE, its first CNG
            # would be cut by the call set-up and the next come after the greeting.
            answered, _, _ = select.select([fax.sock], [], [], 30)
            assert answered, "no RTP from umfax within 30 s of the INVITE"
            fax.start()
            result = fax.wait(90)
            sipp = caller.wait(30)
    finally:
        fax.close()
    assert result.ok, result
    assert sipp.ok, sipp.report()
    (message,) = voice_site.wait_for_mail()
    assert message["Message-Context"] == "fax-message", message
    assert attachment(message, "application/pdf").startswith(b"%PDF")
    (inbound,) = voice_site.site.json("inbox")
    assert inbound["kind"] == "fax" and inbound["pages"] == 1 and inbound["transport"] == "g711", inbound

    voice_site.assert_clean_capture()
    heard = tshark.rtp_payloads(voice_site.capture.file, f"udp.dstport == {fax.port}")
    assert heard, "no RTP from umfax to the fax machine in the capture"
    samples = g711.decode(b"".join(payload for _, pt, payload in heard if pt == 0), "PCMU").astype(float)
    ced = tone_onset(samples, CED_HZ)
    greeting = sox_stat(voice_site.greeting).seconds
    assert ced is not None and ced < greeting, (ced, greeting)
