"""[voice], per-route and per-user voice rules, greetings as WAV files, and the voice
rule routing decides before a call is answered."""

from __future__ import annotations

import io
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from umfax.config import parse_config
from umfax.errors import ConfigError
from umfax.routing import CallFacts, InboundRouter
from umfax.voice import (
    SAMPLE_RATE,
    VoiceError,
    default_greeting,
    has_speech,
    load_wav,
    pcm_seconds,
    pcm_to_wav,
    wav_to_pcm,
)

USERS = [
    {"name": "ann", "email": "ann@example.com", "fax_numbers": ["+12125550150"]},
    {"name": "bob", "email": "bob@example.com", "fax_numbers": ["+12125550151"], "voice": "reject"},
    {"name": "desk", "email": "desk@example.com"},
]


def tone_wav(path: Path, rate: int = 44100, width: int = 2, channels: int = 2, seconds: float = 1.0) -> Path:
    """A 440 Hz tone at half scale as a WAV file of the given form."""
    t = np.arange(int(rate * seconds)) / rate
    signal = 0.5 * np.sin(2 * np.pi * 440 * t)
    if width == 1:
        frames = np.round(signal * 127 + 128).astype(np.uint8).tobytes()
    elif width == 3:
        ints = np.round(signal * (2**23 - 1)).astype(np.int32)
        frames = b"".join(int(v).to_bytes(3, "little", signed=True) for v in ints)
    else:
        dtype = "<i2" if width == 2 else "<i4"
        frames = np.round(signal * (2 ** (8 * width - 1) - 1)).astype(dtype).tobytes()
    if channels == 2:
        sample = len(frames) // t.size
        frames = b"".join(frames[i : i + sample] * 2 for i in range(0, len(frames), sample))
    with wave.open(str(path), "wb") as writer:
        writer.setnchannels(channels)
        writer.setsampwidth(width)
        writer.setframerate(rate)
        writer.writeframes(frames)
    return path


def config(**changes: Any) -> Any:
    return parse_config({"users": USERS} | changes)


def test_defaults() -> None:
    voice = config().voice
    assert (voice.action, voice.greeting, voice.drop_silent) == ("voicemail", None, False)
    assert (voice.listen_seconds, voice.max_message_seconds, voice.silence_seconds) == (6.0, 120.0, 5.0)
    assert config(voice={"greeting": ""}).voice.greeting is None  # "" is the built-in greeting
    assert config(voice={"action": "forward:sip:desk@pbx.example.com"}).voice.action == (
        "forward:sip:desk@pbx.example.com"
    )


@pytest.mark.parametrize(
    ("where", "value", "words"),
    [
        ("voice", "voicemal", 'use "voicemail", "reject" or "forward:<sip-uri>"'),
        ("voice", "forward:", "forward needs a SIP URI"),
        ("voice", "forward:desk@pbx", "forward needs a SIP URI"),
        ("user", "hangup", "is not a voice rule"),
        ("route", "forward:http://x", "forward needs a SIP URI"),
    ],
)
def test_a_bad_voice_rule_is_refused_with_the_choices(where: str, value: str, words: str) -> None:
    changes: dict[str, Any] = {
        "voice": {"voice": {"action": value}},
        "user": {"users": [USERS[0] | {"voice": value}]},
        "route": {"routing": {"routes": [{"line": "x", "users": ["ann"], "voice": value}]}},
    }[where]
    with pytest.raises(ConfigError) as caught:
        config(**changes)
    assert words in str(caught.value)


def test_a_greeting_must_be_a_wav_file_we_can_read(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the greeting"):
        config(voice={"greeting": str(tmp_path / "missing.wav")})
    text = tmp_path / "greeting.wav"
    text.write_text("not audio")
    with pytest.raises(ConfigError, match="is not a WAV file"):
        config(users=[USERS[0] | {"greeting": str(text)}])
    good = tone_wav(tmp_path / "good.wav")
    assert config(users=[USERS[0] | {"greeting": str(good)}]).users[0].greeting == good


def test_trunks_listen_for_voice_only_when_told() -> None:
    trunk = {"name": "carrier", "proxy": "sip.example.net", "channels": 2}
    plain = config(trunks=[trunk])
    assert [plain.trunk_of(line).listen_for_voice for line in plain.lines] == [False, False]  # type: ignore[union-attr]
    voice = config(trunks=[trunk | {"listen_for_voice": True}])
    assert all(voice.trunk_of(line).listen_for_voice for line in voice.lines)  # type: ignore[union-attr]
    assert config().trunk_of(config().lines[0]) is None  # a modem (simulated) line


def test_voice_rule_route_then_user_then_section(tmp_path: Path) -> None:
    ann_greeting = tone_wav(tmp_path / "ann.wav")
    main_greeting = tone_wav(tmp_path / "main.wav", rate=8000, channels=1)
    users = [USERS[0] | {"greeting": str(ann_greeting)}, *USERS[1:]]
    cfg = config(
        users=users,
        voice={"action": "forward:sip:reception@pbx", "greeting": str(main_greeting)},
        routing={
            "default": ["desk"],
            "routes": [
                {"caller": "+1646*", "users": ["bob"], "voice": "voicemail"},
                {"called": "+12125550199", "users": ["bob", "ann"]},
                {"csi": "*ACME*", "users": ["ann"], "voice": "reject"},  # never decides a voice call
            ],
        },
    )
    router = InboundRouter(cfg)
    # the matching route's own rule wins over bob's "reject"
    rule = router.voice_rule(CallFacts("sip-1", called="+12125550151", caller="+16465550100"))
    assert (rule.action, rule.forward_to, rule.greeting) == ("voicemail", "", main_greeting)
    assert [u.name for u in rule.route.users] == ["bob"] and rule.why == "routing.routes[0]"
    # a route without voice: the first routed user's rule (bob: reject), the greeting of the
    # first routed user who has... bob has none: [voice].greeting
    rule = router.voice_rule(CallFacts("sip-1", called="+12125550199"))
    assert (rule.action, rule.greeting, rule.why) == ("reject", main_greeting, "user bob")
    # ann by her own number: no rule of hers, so [voice].action; her greeting
    rule = router.voice_rule(CallFacts("sip-1", called="+12125550150", caller="+12125550100"))
    assert (rule.action, rule.forward_to, rule.greeting) == ("forward", "sip:reception@pbx", ann_greeting)
    # nothing routed, no [voice].greeting: the built-in greeting (None)
    bare = InboundRouter(config())
    rule = bare.voice_rule(CallFacts("sip-1", called="+19999999999"))
    assert (rule.action, rule.greeting, rule.route.users) == ("voicemail", None, [])


@pytest.mark.parametrize(
    ("rate", "width", "channels"), [(44100, 2, 2), (22050, 1, 1), (48000, 3, 1), (8000, 4, 2)]
)
def test_wav_files_become_8_khz_16_bit_mono(tmp_path: Path, rate: int, width: int, channels: int) -> None:
    pcm = load_wav(tone_wav(tmp_path / "in.wav", rate, width, channels))
    assert pcm_seconds(pcm) == pytest.approx(1.0, abs=1 / SAMPLE_RATE)
    samples = np.frombuffer(pcm, dtype="<i2").astype(float)
    assert np.abs(samples).max() == pytest.approx(16384, rel=0.05)  # half scale kept
    spectrum = np.abs(np.fft.rfft(samples))
    assert np.argmax(spectrum) * SAMPLE_RATE / samples.size == pytest.approx(440, abs=2)


def test_wav_files_it_cannot_read_are_refused_clearly(tmp_path: Path) -> None:
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:  # a float WAV is format 3: wave refuses it
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(8000)
        writer.writeframes(b"\0\0" * 10)
    data = bytearray(out.getvalue())
    data[20:22] = (3).to_bytes(2, "little")
    with pytest.raises(VoiceError, match="use uncompressed PCM"):
        wav_to_pcm(bytes(data), "the greeting x.wav")
    with pytest.raises(VoiceError, match="at most 60 s"):
        load_wav(tone_wav(tmp_path / "long.wav", rate=8000, channels=1, seconds=61))


def test_the_built_in_greeting_is_speech_at_8_khz() -> None:
    pcm = default_greeting()
    assert 3.0 < pcm_seconds(pcm) < 15.0 and has_speech(pcm)
    with wave.open(io.BytesIO(pcm_to_wav(pcm))) as reader:
        assert (reader.getframerate(), reader.getsampwidth(), reader.getnchannels()) == (8000, 2, 1)
        assert reader.readframes(reader.getnframes()) == pcm


def test_speech_is_told_from_silence_and_line_noise() -> None:
    rng = np.random.default_rng(1)
    assert not has_speech(b"")
    assert not has_speech(b"\0\0" * 8000)
    noise = np.round(rng.normal(0, 60, 16000)).astype("<i2")  # about -55 dBFS
    assert not has_speech(noise.tobytes())
    speech = default_greeting()
    assert has_speech(noise.tobytes() + speech[:8000])
