"""WAV in and out: greetings to line PCM, messages to WAV, and whether a message has speech.

Line audio is 16-bit signed little-endian PCM at 8 kHz mono (what ``modem.api`` carries).
"""

from __future__ import annotations

import io
import wave
from functools import cache
from importlib.resources import files
from pathlib import Path

import numpy as np
import numpy.typing as npt

from umfax.errors import UmfaxError

SAMPLE_RATE = 8000
BYTES_PER_SECOND = SAMPLE_RATE * 2

#: The longest greeting accepted: a caller waits through it before the beep.
MAX_GREETING_SECONDS = 60.0

#: A message counts as speech when a 20 ms block reaches this RMS (of full scale 32767)...
SPEECH_RMS = 300.0
#: ...or this peak.  Line noise and comfort noise stay well below both (about -40 dBFS).
SPEECH_PEAK = 1500


class VoiceError(UmfaxError):
    """An audio file that cannot be used (not a WAV file, an encoding wave cannot read)."""


def _samples(raw: bytes, width: int) -> npt.NDArray[np.float64]:
    """Frames of ``width``-byte PCM as floats in 16-bit scale."""
    if width == 1:  # 8-bit WAV is unsigned
        return (np.frombuffer(raw, dtype=np.uint8).astype(np.float64) - 128.0) * 256.0
    if width == 2:
        return np.frombuffer(raw, dtype="<i2").astype(np.float64)
    if width == 3:
        octets = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        value = octets[:, 0] | (octets[:, 1] << 8) | (octets[:, 2] << 16)
        value = np.where(value >= 1 << 23, value - (1 << 24), value)
        return value.astype(np.float64) / 256.0
    if width == 4:
        return np.frombuffer(raw, dtype="<i4").astype(np.float64) / 65536.0
    raise VoiceError(f"{width * 8}-bit samples are not supported (8, 16, 24 or 32-bit PCM)")


def _resample(signal: npt.NDArray[np.float64], rate: int) -> npt.NDArray[np.float64]:
    """Band-limited resampling to 8 kHz (in the frequency domain: greetings are short)."""
    if rate == SAMPLE_RATE or signal.size == 0:
        return signal
    count = max(1, round(signal.size * SAMPLE_RATE / rate))
    spectrum = np.fft.rfft(signal)
    kept = np.zeros(count // 2 + 1, dtype=complex)
    n = min(kept.size, spectrum.size)
    kept[:n] = spectrum[:n]
    return np.fft.irfft(kept, count) * (count / signal.size)


def wav_to_pcm(data: bytes, what: str = "the WAV file", max_seconds: float | None = None) -> bytes:
    """A WAV file's audio as line PCM (16-bit LE, 8 kHz, mono; channels are mixed down)."""
    try:
        with wave.open(io.BytesIO(data)) as reader:
            channels, width, rate = reader.getnchannels(), reader.getsampwidth(), reader.getframerate()
            frames = reader.getnframes()
            if max_seconds is not None and rate and frames / rate > max_seconds:
                raise VoiceError(f"{what} lasts {frames / rate:.0f} s; at most {max_seconds:.0f} s")
            raw = reader.readframes(frames)
    except (wave.Error, EOFError) as exc:
        raise VoiceError(
            f"{what} is not a WAV file wave can read ({exc}); use uncompressed PCM, "
            "e.g. `sox IN -b 16 -r 8000 -c 1 OUT.wav`"
        ) from exc
    if not rate or not channels:
        raise VoiceError(f"{what} has no sample rate or channels")
    try:
        samples = _samples(raw[: len(raw) - len(raw) % (width * channels)], width)
    except VoiceError as exc:
        raise VoiceError(f"{what}: {exc}") from exc
    mono = samples.reshape(-1, channels).mean(axis=1)
    out = np.clip(np.round(_resample(mono, rate)), -32768, 32767).astype("<i2")
    return out.tobytes()


def load_wav(path: Path, max_seconds: float | None = MAX_GREETING_SECONDS) -> bytes:
    """A WAV file on disk as line PCM; :class:`VoiceError` when it cannot be."""
    try:
        data = path.expanduser().read_bytes()
    except OSError as exc:
        raise VoiceError(f"cannot read the greeting {path}: {exc.strerror or exc}") from exc
    return wav_to_pcm(data, f"the greeting {path}", max_seconds)


@cache
def default_greeting() -> bytes:
    """The built-in greeting ("...please leave a message after the tone"), as line PCM."""
    data = files("umfax.voice").joinpath("greeting.wav").read_bytes()
    return wav_to_pcm(data, "the built-in greeting")


@cache
def _cached_greeting(path: Path, mtime_ns: int) -> bytes:
    return load_wav(path)


def greeting_pcm(path: Path | None) -> bytes:
    """The greeting at ``path`` (read again only when the file changes), or the built-in
    one for None."""
    if path is None:
        return default_greeting()
    try:
        stamp = path.expanduser().stat().st_mtime_ns
    except OSError as exc:
        raise VoiceError(f"cannot read the greeting {path}: {exc.strerror or exc}") from exc
    return _cached_greeting(path.expanduser(), stamp)


def pcm_seconds(pcm: bytes) -> float:
    return len(pcm) / BYTES_PER_SECOND


def pcm_to_wav(pcm: bytes) -> bytes:
    """Line PCM as a WAV file (16-bit, 8 kHz, mono)."""
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(SAMPLE_RATE)
        writer.writeframes(pcm[: len(pcm) - len(pcm) % 2])
    return out.getvalue()


def has_speech(pcm: bytes) -> bool:
    """Whether any 20 ms block of the message is louder than line noise (RMS or peak)."""
    samples = np.frombuffer(pcm[: len(pcm) - len(pcm) % 2], dtype="<i2").astype(np.float64)
    block = SAMPLE_RATE // 50
    usable = samples.size - samples.size % block
    if usable == 0:
        return bool(samples.size) and float(np.abs(samples).max()) >= SPEECH_PEAK
    blocks = samples[:usable].reshape(-1, block)
    rms = np.sqrt((blocks**2).mean(axis=1))
    return bool(rms.max() >= SPEECH_RMS or np.abs(samples).max() >= SPEECH_PEAK)
