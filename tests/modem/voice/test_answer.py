"""The fax-or-voice state machine (modem.voice.answer) driven frame by frame on a fake
clock with synthesised audio and spandsp's real tone detectors."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pytest

from modem.api import VoiceOptions
from modem.voice.answer import (
    BEEP_HZ,
    SILENT_FRAME,
    TRANSITIONS,
    Phase,
    Signal,
    Verdict,
    VoiceCall,
    beep,
)
from modem.voice.tones import Tone, ToneDetector, tones_available
from tests.modem.voice.signals import cng, dtmf, frames, silence, sine, speech_like, v21_flags

pytestmark = pytest.mark.skipif(not tones_available(), reason="libspandsp2 is not installed")
START = 1000.0


@dataclass
class Run:
    machine: VoiceCall
    sent: list[bytes] = field(default_factory=list)
    phases: list[Phase] = field(default_factory=list)
    now: float = START


def run(options: VoiceOptions, caller: Sequence[bytes | None], *, record: bool = True,
        media_timeout: float = 30.0, hangup_after: int | None = None, received: bool = True) -> Run:
    """Feed ``caller``'s frames (then silence) until the machine is done; a hang-up after
    ``hangup_after`` frames.  None frames: nothing received."""
    detector = ToneDetector()
    r = Run(VoiceCall(options, detector.feed, START, record=record, media_timeout=media_timeout))
    i = 0
    while not r.machine.done and i < 20000:
        if hangup_after is not None and i == hangup_after:
            r.machine.hangup(r.now)
            break
        frame = caller[i] if i < len(caller) else SILENT_FRAME
        r.sent.append(r.machine.step(r.now, frame, received and frame is not None))
        r.phases.append(r.machine.phase)
        r.now += 0.02
        i += 1
    detector.close()
    return r


def energy_at(audio: bytes, hz: float) -> float:
    samples = np.frombuffer(audio, dtype=np.int16).astype(float)
    spectrum = np.abs(np.fft.rfft(samples))
    freqs = np.fft.rfftfreq(len(samples), 1 / 8000)
    return float(spectrum[np.argmin(abs(freqs - hz))] / (spectrum.sum() or 1.0))


def test_cng_during_the_greeting_is_a_fax_before_the_greeting_ends() -> None:
    greeting = sine(440, 4.0, 3000).astype("<i2").tobytes()
    r = run(VoiceOptions(greeting=greeting, listen_seconds=2.0), frames(cng(6.0)))
    outcome = r.machine.outcome
    assert outcome is not None and outcome.verdict is Verdict.FAX and outcome.tone is Tone.FAX_CNG
    assert outcome.listened < 1.0 and outcome.pcm == b""
    played = b"".join(r.sent[:-1])  # (the step that heard the tone sends silence)
    assert len(played) > 6000 and played == greeting[: len(played)]  # the greeting, as it was given


def test_v21_preamble_is_a_fax() -> None:
    r = run(VoiceOptions(listen_seconds=3.0), frames(np.concatenate([silence(1.0), v21_flags(2.0)])))
    assert r.machine.outcome is not None and r.machine.outcome.verdict is Verdict.FAX
    assert r.machine.outcome.tone is Tone.FAX_PREAMBLE


def test_a_greeting_longer_than_listen_seconds_is_heard_to_its_end() -> None:
    greeting = sine(440, 3.0, 3000).tobytes()
    r = run(VoiceOptions(greeting=greeting, listen_seconds=1.0, silence_seconds=1.0), [])
    assert r.phases.index(Phase.BEEP) in (150, 151)  # 3 s of greeting, not 1 s of listening


def test_silence_is_a_voice_message_of_silence_after_a_beep() -> None:
    options = VoiceOptions(listen_seconds=2.0, silence_seconds=1.5)
    r = run(options, [])
    outcome = r.machine.outcome
    assert outcome is not None and outcome.verdict is Verdict.VOICE and outcome.ended_by == "silence"
    assert outcome.pcm == bytes(len(outcome.pcm)) and abs(outcome.seconds - 1.5) <= 0.04
    beeped = [f for f, p in zip(r.sent, r.phases, strict=True) if p is Phase.BEEP]
    assert beeped and b"".join(beeped).startswith(beep()[:3200])
    assert energy_at(b"".join(beeped), BEEP_HZ) > 0.2
    assert all(f == SILENT_FRAME for f, p in zip(r.sent, r.phases, strict=True) if p is Phase.LISTEN)


def test_a_spoken_message_is_recorded_until_silence() -> None:
    speech = speech_like(3.0)
    options = VoiceOptions(listen_seconds=2.0, silence_seconds=1.0)
    caller = frames(np.concatenate([silence(2.6), speech]))
    r = run(options, caller)
    outcome = r.machine.outcome
    assert outcome is not None and outcome.ended_by == "silence"
    pcm = np.frombuffer(outcome.pcm, dtype="<i2")
    # the speech, sample for sample, starting at a frame boundary shortly after the beep
    assert any(np.array_equal(pcm[o:o + len(speech)], speech) for o in range(0, 8000, 160))
    assert 3.8 <= outcome.seconds <= 4.6


def test_a_long_message_stops_at_the_limit() -> None:
    r = run(VoiceOptions(listen_seconds=1.0, max_seconds=2.0), frames(speech_like(8.0)))
    assert r.machine.outcome is not None and r.machine.outcome.ended_by == "limit"
    assert r.machine.outcome.seconds == pytest.approx(2.0, abs=0.021)


def test_hangup_while_recording_keeps_the_message() -> None:
    r = run(VoiceOptions(listen_seconds=1.0), frames(speech_like(5.0)), hangup_after=150)
    outcome = r.machine.outcome
    assert outcome is not None and outcome.verdict is Verdict.VOICE and outcome.ended_by == "hangup"
    assert 1.4 <= outcome.seconds <= 1.6 and any(outcome.pcm)


def test_hangup_during_the_greeting() -> None:
    r = run(VoiceOptions(listen_seconds=3.0), frames(speech_like(5.0)), hangup_after=50)
    outcome = r.machine.outcome
    assert outcome is not None and outcome.verdict is Verdict.GONE
    assert outcome.ended_by == "hangup_in_greeting" and outcome.pcm == b""


def test_no_rtp_at_all_for_media_timeout_ends_media_timeout() -> None:
    r = run(VoiceOptions(listen_seconds=3.0, silence_seconds=10.0), [None] * 1000, media_timeout=5.0)
    outcome = r.machine.outcome
    assert outcome is not None and outcome.ended_by == "media_timeout"
    assert outcome.verdict is Verdict.VOICE and 1.5 <= outcome.seconds <= 1.7  # 5 s - 3 s - the beep


def test_a_stream_that_stops_while_listening_is_gone() -> None:
    caller: list[bytes | None] = [*frames(speech_like(1.0)), *([None] * 500)]
    r = run(VoiceOptions(listen_seconds=6.0), caller, media_timeout=2.0)
    assert r.machine.outcome is not None and r.machine.outcome.verdict is Verdict.GONE
    assert r.machine.outcome.ended_by == "media_timeout"
    assert abs(r.now - START - 3.0) < 0.05


def test_a_data_modem_is_neither() -> None:
    from modem.voice.tones import connect_tone

    audio = np.frombuffer(connect_tone(Tone.ANSAM, 4 * 8000), dtype=np.int16)
    r = run(VoiceOptions(listen_seconds=6.0), frames(audio))
    assert r.machine.outcome is not None and r.machine.outcome.verdict is Verdict.DATA
    assert r.machine.outcome.tone is Tone.ANSAM and r.now - START < 2.0


def test_dtmf_only_is_a_person_leaving_a_message() -> None:
    keys = dtmf("1591#" * 6)
    r = run(VoiceOptions(listen_seconds=2.0, silence_seconds=1.0), frames(keys))
    outcome = r.machine.outcome
    assert outcome is not None and outcome.verdict is Verdict.VOICE and outcome.ended_by == "silence"
    assert any(outcome.pcm)  # the key tones after the beep are in the message


def test_without_recording_the_verdict_comes_at_the_end_of_listening() -> None:
    r = run(VoiceOptions(action="reject", listen_seconds=2.0), frames(speech_like(5.0)), record=False)
    assert r.machine.outcome is not None and r.machine.outcome.verdict is Verdict.VOICE
    assert Phase.BEEP not in r.phases and abs(r.machine.outcome.listened - 2.0) < 0.03


def test_every_move_of_the_table_ends_done_with_a_verdict_or_goes_on() -> None:
    for (phase, signal), move in TRANSITIONS.items():
        assert phase is not Phase.DONE
        assert (move.to is Phase.DONE) == (move.verdict is not None), (phase, signal)
        if move.verdict is Verdict.GONE:
            assert move.ended_by in ("hangup_in_greeting", "media_timeout")
    assert {s for p, s in TRANSITIONS if p is Phase.RECORD} == {
        Signal.SILENCE, Signal.LIMIT, Signal.HANGUP, Signal.MEDIA_TIMEOUT, Signal.T38_OFFER}
    assert all(TRANSITIONS[(p, Signal.T38_OFFER)].verdict is Verdict.FAX
               for p in (Phase.LISTEN, Phase.BEEP, Phase.RECORD))


def test_a_t38_offer_while_recording_is_a_fax_and_drops_the_recording() -> None:
    detector = ToneDetector()
    machine = VoiceCall(VoiceOptions(listen_seconds=0.5), detector.feed, START)
    now = START
    for frame in frames(speech_like(2.0)):
        machine.step(now, frame, True)
        now += 0.02
    assert machine.phase is Phase.RECORD
    machine.t38_offered(now)
    detector.close()
    assert machine.outcome is not None and machine.outcome.verdict is Verdict.FAX
    assert machine.outcome.pcm == b"" and machine.outcome.tone is None
