"""spandsp's connect-tone detectors through modem.voice.tones, on synthesised audio."""

from __future__ import annotations

import numpy as np
import pytest

from modem.voice.tones import DATA_TONES, FAX_TONES, Tone, ToneDetector, connect_tone, tones_available
from tests.modem.voice.signals import cng, dtmf, frames, silence, sine, speech_like, v21_flags

pytestmark = pytest.mark.skipif(not tones_available(), reason="libspandsp2 is not installed")


def detected(audio: np.ndarray | bytes) -> list[tuple[float, Tone]]:
    """(seconds, tone) of each detection, feeding 20 ms frames."""
    if isinstance(audio, bytes):
        audio = np.frombuffer(audio, dtype=np.int16)
    detector = ToneDetector()
    try:
        return [(i * 0.02, tone) for i, frame in enumerate(frames(audio)) for tone in detector.feed(frame)]
    finally:
        detector.close()


def test_cng_from_a_numpy_sine_is_a_fax_tone_within_half_a_second() -> None:
    found = detected(np.concatenate([silence(0.2), cng(4.0)]))
    assert found and found[0][1] is Tone.FAX_CNG and found[0][1] in FAX_TONES
    assert 0.4 <= found[0][0] <= 0.8, found  # the burst starts at 0.2 s and lasts 0.5 s
    assert {tone for _, tone in found} == {Tone.FAX_CNG}


def test_spandsps_own_cng_is_detected() -> None:
    assert [tone for _, tone in detected(connect_tone(Tone.FAX_CNG, 8000))][:1] == [Tone.FAX_CNG]


@pytest.mark.parametrize("amplitude", [8000.0, 1500.0])
def test_v21_hdlc_flags_are_the_fax_preamble(amplitude: float) -> None:
    found = detected(np.concatenate([silence(0.3), v21_flags(1.5, amplitude)]))
    assert found and found[0][1] is Tone.FAX_PREAMBLE, found
    assert found[0][0] < 0.9


@pytest.mark.parametrize("kind", [Tone.ANS, Tone.ANSAM, Tone.BELL_ANS, Tone.CALLING_TONE])
def test_data_modem_tones_are_neither_fax_nor_silence(kind: Tone) -> None:
    found = detected(connect_tone(kind, 4 * 8000))
    assert found and found[0][1] in DATA_TONES and found[0][1] not in FAX_TONES, found


@pytest.mark.parametrize("name,audio", [
    ("silence", silence(5.0)),
    ("speech-like noise", speech_like(10.0)),
    ("dtmf", dtmf("1591#" * 4)),
    ("1000 Hz beep", sine(1000, 1.0)),
])
def test_no_tone_in_voice_silence_dtmf_or_our_beep(name: str, audio: np.ndarray) -> None:
    assert detected(audio) == [], name


def test_a_1300_hz_sine_is_a_calling_data_modem_not_cng() -> None:
    found = detected(sine(1300, 1.0))
    assert [tone for _, tone in found][:1] == [Tone.CALLING_TONE], found
