"""SDP (RFC 4566) and offer/answer (RFC 3264, RFC 4612 / T.38 Annex D) with SDP as real
peers write it (typed from their documentation and source: rtpengine, SIPp, Asterisk,
FreeSWITCH, a Cisco-style gateway)."""

from __future__ import annotations

import random

import pytest

from modem.errors import ModemError, SdpError
from modem.sdp import (
    LocalSession,
    SessionDescription,
    T38Params,
    answer_audio,
    answer_t38,
    audio_offer,
    negotiate_t38,
    t38_offer,
    t38_params,
)

# rtpengine 10.5 with T.38=decode, local TCF chosen (see FIELD-NOTES: "localTFC" sic)
RTPENGINE = """v=0
o=- 1545997027 1 IN IP4 127.0.0.1
s=tester
t=0 0
m=image 30000 udptl t38
c=IN IP4 127.0.0.1
a=T38FaxVersion:0
a=T38MaxBitRate:14400
a=T38FaxRateManagement:localTFC
a=T38FaxMaxBuffer:1800
a=T38FaxMaxDatagram:512
a=T38FaxUdpEC:t38UDPRedundancy
a=sendrecv
"""

# SIPp's T.38 re-INVITE body (uac_pcap-style scenario): booleans in the :0/:1 form
SIPP = (
    "v=0\r\n"
    "o=user1 53655765 2353687637 IN IP4 127.0.0.1\r\n"
    "s=-\r\n"
    "c=IN IP4 127.0.0.1\r\n"
    "t=0 0\r\n"
    "m=image 6000 udptl t38\r\n"
    "a=T38FaxVersion:0\r\n"
    "a=T38MaxBitRate:14400\r\n"
    "a=T38FaxFillBitRemoval:0\r\n"
    "a=T38FaxTranscodingMMR:0\r\n"
    "a=T38FaxTranscodingJBIG:0\r\n"
    "a=T38FaxRateManagement:transferredTCF\r\n"
    "a=T38FaxMaxBuffer:260\r\n"
    "a=T38FaxMaxDatagram:316\r\n"
    "a=T38FaxUdpEC:t38UDPRedundancy\r\n"
)

# Asterisk chan_sip: no T38FaxUdpEC line means no error correction; FEC offered here
ASTERISK = """v=0
o=root 1821232337 1821232338 IN IP4 192.0.2.10
s=Asterisk PBX 16.28.0
c=IN IP4 192.0.2.10
t=0 0
m=image 4390 udptl t38
a=T38FaxVersion:0
a=T38MaxBitRate:14400
a=T38FaxFillBitRemoval
a=T38FaxRateManagement:transferredTCF
a=T38FaxMaxDatagram:400
a=T38FaxUdpEC:t38UDPFEC
"""

# FreeSWITCH: the audio stream refused (port 0) beside the image stream, media-level c=
FREESWITCH = """v=0
o=FreeSWITCH 1700000000 1700000002 IN IP4 198.51.100.5
s=FreeSWITCH
t=0 0
m=audio 0 RTP/AVP 19
m=image 16392 udptl t38
c=IN IP4 198.51.100.5
a=T38FaxVersion:0
a=T38MaxBitRate:9600
a=T38FaxFillBitRemoval
a=T38FaxRateManagement:transferredTCF
a=T38FaxMaxBuffer:2000
a=T38FaxMaxDatagram:400
a=T38FaxUdpEC:t38UDPRedundancy
"""

# Cisco-style gateway writing names in another case; version 3 offered
CISCO = """v=0
o=CiscoSystemsSIP-GW-UserAgent 2410 5531 IN IP4 203.0.113.7
s=SIP Call
c=IN IP4 203.0.113.7
t=0 0
m=image 17062 udptl t38
c=IN IP4 203.0.113.8
a=T38FaxVersion:3
a=T38MaxBitrate:33600
a=T38FaxFillBitRemoval:1
a=T38FaxTranscodingMMR:0
a=T38FaxTranscodingJBIG:0
a=T38FaxRateManagement:transferredTCF
a=T38FaxMaxBuffer:200
a=T38FaxMaxDatagram:320
a=T38FaxUdpEc:t38UDPNoEC
"""

# Asterisk audio INVITE (PCMU, PCMA, GSM, telephone-event 101)
ASTERISK_AUDIO = """v=0
o=- 1234 1234 IN IP4 192.0.2.10
s=Asterisk
c=IN IP4 192.0.2.10
b=AS:64
t=0 0
m=audio 10000 RTP/AVP 3 8 0 101
a=rtpmap:3 GSM/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
a=ptime:20
a=maxptime:150
a=sendrecv
"""


def test_rtpengine_local_tfc_spelling_is_local_tcf() -> None:
    sdp = SessionDescription.parse(RTPENGINE)
    image = sdp.find("image")
    assert image is not None and image.is_t38
    params = t38_params(image)
    assert params == T38Params(
        rate_management="localTCF", max_buffer=1800, max_datagram=512, udp_ec="t38UDPRedundancy"
    )
    assert sdp.media_address(image) == "127.0.0.1"
    assert sdp.session_name == "tester" and sdp.origin.session_version == 1


def test_sipp_zero_one_booleans() -> None:
    params = t38_params(SessionDescription.parse(SIPP).media[0])
    assert not params.fill_bit_removal and not params.transcoding_mmr and not params.transcoding_jbig
    assert (params.max_buffer, params.max_datagram) == (260, 316)


def test_asterisk_flag_form_and_fec() -> None:
    params = t38_params(SessionDescription.parse(ASTERISK).media[0])
    assert params.fill_bit_removal and params.udp_ec == "t38UDPFEC"
    assert params.max_buffer is None and params.max_datagram == 400


def test_freeswitch_rejected_audio_and_media_level_connection() -> None:
    sdp = SessionDescription.parse(FREESWITCH)
    assert [m.kind for m in sdp.media] == ["audio", "image"]
    assert sdp.media[0].rejected and sdp.connection is None
    assert sdp.find("audio") is None
    image = sdp.find("image")
    assert image is not None and sdp.media_address(image) == "198.51.100.5"
    assert t38_params(image).max_bit_rate == 9600


def test_cisco_names_in_any_case_and_media_connection_wins() -> None:
    sdp = SessionDescription.parse(CISCO)
    params = t38_params(sdp.media[0])
    assert params.version == 3 and params.max_bit_rate == 33600 and params.fill_bit_removal
    assert params.udp_ec == "t38UDPNoEC"
    assert sdp.media_address(sdp.media[0]) == "203.0.113.8"


def test_missing_attributes_take_defaults() -> None:
    sdp = SessionDescription.parse(
        "v=0\no=- 1 1 IN IP4 192.0.2.1\ns=-\nc=IN IP4 192.0.2.1\nt=0 0\nm=image 5 udptl t38\n"
    )
    assert t38_params(sdp.media[0]) == T38Params(max_buffer=None, max_datagram=None, udp_ec="t38UDPNoEC")


@pytest.mark.parametrize("sample", [RTPENGINE, SIPP, ASTERISK, FREESWITCH, CISCO, ASTERISK_AUDIO])
def test_serialize_round_trips(sample: str) -> None:
    sdp = SessionDescription.parse(sample)
    text = sdp.serialize()
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    assert SessionDescription.parse(text) == sdp
    assert SessionDescription.parse(text.encode()).serialize() == text


def test_written_in_flag_form() -> None:
    params = T38Params(fill_bit_removal=True, transcoding_mmr=True, udp_ec="t38UDPFEC")
    text = t38_offer("192.0.2.1", 4000, params, session_id=77, version=3).serialize()
    assert text == (
        "v=0\r\no=umfax 77 3 IN IP4 192.0.2.1\r\ns=umfax\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
        "m=image 4000 udptl t38\r\n"
        "a=T38FaxVersion:0\r\na=T38MaxBitRate:14400\r\na=T38FaxFillBitRemoval\r\n"
        "a=T38FaxTranscodingMMR\r\na=T38FaxRateManagement:transferredTCF\r\n"
        "a=T38FaxMaxBuffer:2000\r\na=T38FaxMaxDatagram:400\r\na=T38FaxUdpEC:t38UDPFEC\r\n"
    )
    assert t38_params(SessionDescription.parse(text).media[0]) == params


# ---------------------------------------------------------------- answers


def test_answer_t38_rules() -> None:
    local = T38Params(version=2, max_bit_rate=14400, udp_ec="t38UDPRedundancy", fill_bit_removal=True)
    answer = answer_t38(SessionDescription.parse(CISCO), "192.0.2.99", 5000, local)
    assert answer is not None
    got = t38_params(answer.media[0])
    assert got.version == 2  # lower of 3 and 2
    assert got.max_bit_rate == 14400  # lower of 33600 and 14400
    assert got.udp_ec == "t38UDPNoEC"  # the offer allows none: we cannot raise it
    assert got.fill_bit_removal  # both
    assert (got.max_buffer, got.max_datagram) == (2000, 400)  # ours: declarative
    assert answer.media[0].port == 5000 and answer.media_address(answer.media[0]) == "192.0.2.99"


def test_answer_echoes_rate_management_and_takes_our_ec_when_allowed() -> None:
    answer = answer_t38(
        SessionDescription.parse(RTPENGINE), "192.0.2.99", 5000, T38Params(udp_ec="t38UDPRedundancy")
    )
    assert answer is not None
    got = t38_params(answer.media[0])
    assert got.rate_management == "localTCF"
    assert "a=T38FaxRateManagement:localTCF" in answer.serialize()  # never the misspelling
    fec_offer = t38_params(SessionDescription.parse(ASTERISK).media[0])
    assert negotiate_t38(fec_offer, T38Params(udp_ec="t38UDPRedundancy")).udp_ec == "t38UDPRedundancy"
    assert negotiate_t38(fec_offer, T38Params(udp_ec="t38UDPFEC")).udp_ec == "t38UDPFEC"
    red_offer = t38_params(SessionDescription.parse(SIPP).media[0])
    assert negotiate_t38(red_offer, T38Params(udp_ec="t38UDPFEC")).udp_ec == "t38UDPRedundancy"
    assert negotiate_t38(red_offer, T38Params(fill_bit_removal=True)).fill_bit_removal is False


def test_answer_keeps_m_lines_and_rejects_the_others() -> None:
    answer = answer_t38(SessionDescription.parse(FREESWITCH), "192.0.2.99", 5000, T38Params())
    assert answer is not None
    assert [(m.kind, m.port, m.formats) for m in answer.media] == [
        ("audio", 0, ["19"]),
        ("image", 5000, ["t38"]),
    ]


def test_answer_t38_none_without_an_image_stream() -> None:
    assert answer_t38(SessionDescription.parse(ASTERISK_AUDIO), "192.0.2.99", 5000, T38Params()) is None
    offer = SessionDescription.parse(RTPENGINE.replace("image 30000", "image 0"))
    assert answer_t38(offer, "192.0.2.99", 5000, T38Params()) is None


def test_audio_offer_and_answer() -> None:
    offer = audio_offer("192.0.2.1", 4000, session_id=5, version=1)
    text = offer.serialize()
    assert "m=audio 4000 RTP/AVP 0 8 101\r\n" in text and "a=rtpmap:101 telephone-event/8000\r\n" in text
    answer = answer_audio(SessionDescription.parse(ASTERISK_AUDIO), "192.0.2.99", 6000)
    assert answer is not None
    audio = answer.media[0]
    assert audio.formats == ["8", "101"]  # first offered codec we have (PCMA), with the offer's event PT
    assert audio.rtpmap() == {"8": "PCMA", "101": "telephone-event"}
    static_only = SessionDescription.parse(
        "v=0\r\no=- 1 1 IN IP4 192.0.2.3\r\ns=-\r\nc=IN IP4 192.0.2.3\r\nt=0 0\r\n"
        "m=audio 9 RTP/AVP 18 0\r\na=sendonly\r\n"
    )
    answer = answer_audio(static_only, "192.0.2.99", 6000)
    assert answer is not None and answer.media[0].formats == ["0"]
    assert answer.media[0].direction == "recvonly"
    gsm_only = SessionDescription.parse(ASTERISK_AUDIO.replace("3 8 0 101", "3"))
    assert answer_audio(gsm_only, "192.0.2.99", 6000) is None


def test_local_session_version_grows_with_each_new_offer() -> None:
    session = LocalSession("192.0.2.1", 123456)
    first = session.audio_offer(4000)
    second = session.t38_offer(4002, T38Params())
    assert (first.origin.session_id, first.origin.session_version) == ("123456", 1)
    assert (second.origin.session_id, second.origin.session_version) == ("123456", 2)
    assert session.answer_t38(SessionDescription.parse(ASTERISK_AUDIO), 4004, T38Params()) is None
    with pytest.raises(SdpError):
        session.answer_t38(
            SessionDescription.parse(RTPENGINE.replace("Version:0", "Version:x")), 4004, T38Params()
        )
    third = session.answer_t38(SessionDescription.parse(RTPENGINE), 4004, T38Params())
    assert third is not None and third.origin.session_version == 3
    assert session.current is third


# ---------------------------------------------------------------- malformed


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "v=0"),
        ("o=- 1 1 IN IP4 1.2.3.4\n", "v=0"),
        ("v=0\ns=-\n", "o="),
        ("v=0\no=- 1 IN IP4 1.2.3.4\n", "line 2: bad o="),
        ("v=0\no=- 1 x IN IP4 1.2.3.4\n", "session version"),
        ("v=0\no=- 1 1 IN IP4 1.2.3.4\ns=-\nc=IN IP4\n", "line 4: bad c="),
        ("v=0\no=- 1 1 IN IP4 1.2.3.4\ns=-\nc=IN IP4 1.2.3.4\nm=image x udptl t38\n", "line 5: bad port"),
        ("v=0\no=- 1 1 IN IP4 1.2.3.4\ns=-\nc=IN IP4 1.2.3.4\nm=image 70000 udptl t38\n", "out of range"),
        ("v=0\no=- 1 1 IN IP4 1.2.3.4\ns=-\nc=IN IP4 1.2.3.4\nm=image\n", "bad m="),
        ("v=0\no=- 1 1 IN IP4 1.2.3.4\ns=-\nthis is not sdp\n", "line 4: not an SDP line"),
        ("v=0\no=- 1 1 IN IP4 1.2.3.4\ns=-\nm=image 5 udptl t38\n", "no c= line"),
        (b"v=0\no=- 1 1 IN IP4 1.2.3.4\ns=\xff\n", "UTF-8"),
    ],
)
def test_malformed_sdp_raises_a_clear_error(text: str | bytes, words: str) -> None:
    with pytest.raises(SdpError, match=words):
        SessionDescription.parse(text)
    assert issubclass(SdpError, ModemError)


@pytest.mark.parametrize(
    ("good", "bad"),
    [
        ("a=T38FaxVersion:0", "a=T38FaxVersion:zero"),
        ("a=T38MaxBitRate:14400", "a=T38MaxBitRate:fast"),
        ("a=T38FaxRateManagement:localTFC", "a=T38FaxRateManagement:sometimes"),
        ("a=sendrecv", "a=T38FaxFillBitRemoval:yes"),
    ],
)
def test_bad_t38_values_raise_sdp_error(good: str, bad: str) -> None:
    sdp = SessionDescription.parse(RTPENGINE.replace(good, bad))
    with pytest.raises(SdpError, match=bad.split(":")[0][2:]):
        t38_params(sdp.media[0])


def test_fuzz_only_sdp_errors() -> None:
    """Random edits of real samples either parse or raise SdpError, never anything else."""
    rng = random.Random(4566)
    alphabet = "=:/ \r\n\tavomcstb0123456789T38Fax.-\u00b2\u0663"
    samples = [RTPENGINE, SIPP, ASTERISK, FREESWITCH, CISCO, ASTERISK_AUDIO]
    for _ in range(3000):
        text = list(rng.choice(samples))
        for _ in range(rng.randrange(1, 6)):
            i = rng.randrange(len(text))
            action = rng.randrange(3)
            if action == 0:
                del text[i]
            elif action == 1:
                text.insert(i, rng.choice(alphabet))
            else:
                text[i] = rng.choice(alphabet)
        try:
            sdp = SessionDescription.parse("".join(text))
            for media in sdp.media:
                if media.is_t38:
                    t38_params(media)
                media.rtpmap()
                answer_t38(sdp, "192.0.2.1", 5000, T38Params())
                answer_audio(sdp, "192.0.2.1", 5000)
        except SdpError:
            pass
