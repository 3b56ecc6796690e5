"""Voice messages on a fax number: greetings read from WAV files, messages written as WAV.

A SIP line that hears a voice caller plays a greeting and records a message, both as
16-bit signed little-endian PCM at 8 kHz mono (``modem.api.VoiceOptions`` /
``VoiceOutcome``).  This package turns WAV files into that form (any rate, sample width
and channel count the stdlib ``wave`` module reads), ships the default greeting (package
data ``greeting.wav``, spoken by espeak-ng once, offline), writes messages as WAV for the
store and tells a message with speech from one of silence.
"""

from umfax.voice.audio import (
    SAMPLE_RATE,
    VoiceError,
    default_greeting,
    greeting_pcm,
    has_speech,
    load_wav,
    pcm_seconds,
    pcm_to_wav,
    wav_to_pcm,
)

__all__ = [
    "SAMPLE_RATE",
    "VoiceError",
    "default_greeting",
    "greeting_pcm",
    "has_speech",
    "load_wav",
    "pcm_seconds",
    "pcm_to_wav",
    "wav_to_pcm",
]
