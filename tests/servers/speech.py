"""Spoken audio for the voice tests, made and judged by tools none of us wrote.

- :func:`make_speech`: ``espeak-ng`` speaks a text; ``sox`` turns it into the telephone
  form (WAV, 8 kHz, mono, 16-bit signed), optionally with silence before and after.
- :func:`sox_stat`: what ``sox FILE -n stat`` says of a file (length, RMS and peak
  amplitude): is it as long as expected, is it more than silence?
- :func:`correlate`: a transcript-free check that received audio is the speech sent: the
  normalised cross-correlation peak of the two, searched over every offset (numpy, FFT).
  A G.711 round trip keeps it near 1 (0.99+ for one PCMU pass); different speech or
  noise stays far below 0.5.

Usage::

    wav = make_speech("Please call me back.", tmp_path / "speech.wav", lead_seconds=1.0)
    stat = sox_stat(received_wav)
    assert abs(stat.seconds - 3.2) <= 0.5 and not stat.silent
    match = correlate(wav_samples(wav), wav_samples(received_wav))
    assert match.peak > 0.8, match
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

RATE = 8000
Samples = npt.NDArray[np.float64]

#: Below this RMS amplitude (of full scale 1.0, as sox reports it) a file is silence:
#: G.711 idle noise is under 0.001, quiet speech well above 0.01.
SILENCE_RMS = 0.003


class SpeechToolError(RuntimeError):
    """espeak-ng or sox is missing or failed."""


def espeak_binary() -> str | None:
    """The path of ``espeak-ng``, or None when it is not installed."""
    return shutil.which("espeak-ng")


def sox_binary() -> str | None:
    """The path of ``sox``, or None when it is not installed."""
    return shutil.which("sox")


def _run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    binary = shutil.which(argv[0])
    if binary is None:
        raise SpeechToolError(f"{argv[0]} is not installed (apt-get install {argv[0]})")
    done = subprocess.run([binary, *argv[1:]], capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        raise SpeechToolError(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()}")
    return done


def make_speech(
    text: str,
    path: Path,
    *,
    lead_seconds: float = 0.0,
    tail_seconds: float = 0.0,
    voice: str = "en",
    words_per_minute: int = 175,
) -> Path:
    """Speak ``text`` with espeak-ng into ``path``: a WAV at 8 kHz, mono, 16-bit signed
    (sox resamples espeak-ng's 22.05 kHz), with ``lead_seconds``/``tail_seconds`` of
    digital silence before/after.  Returns ``path``."""
    raw = path.with_name(path.stem + ".espeak.wav")
    _run(["espeak-ng", "-v", voice, "-s", str(words_per_minute), "-w", str(raw), text])
    argv = ["sox", str(raw), "-r", str(RATE), "-c", "1", "-b", "16", "-e", "signed-integer", str(path)]
    if lead_seconds or tail_seconds:
        argv += ["pad", f"{lead_seconds:.3f}", f"{tail_seconds:.3f}"]
    _run(argv)
    raw.unlink()
    return path


def make_silence(path: Path, seconds: float) -> Path:
    """A WAV of ``seconds`` of digital silence in the telephone form."""
    write_wav(path, np.zeros(round(seconds * RATE)))
    return path


def make_tone(path: Path, seconds: float, hertz: float, *, amplitude: float = 0.3) -> Path:
    """A WAV of a sine tone (``amplitude`` of full scale) in the telephone form."""
    t = np.arange(round(seconds * RATE)) / RATE
    write_wav(path, amplitude * 32767 * np.sin(2 * np.pi * hertz * t))
    return path


def write_wav(path: Path, samples: npt.ArrayLike) -> Path:
    """Write 16-bit samples (clipped) as a WAV at 8 kHz mono."""
    pcm = np.clip(np.rint(np.asarray(samples, dtype=np.float64)), -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(pcm.tobytes())
    return path


def wav_samples(source: Path | bytes) -> Samples:
    """The samples of a 16-bit mono WAV (a path or the file's bytes), as floats in
    16-bit units; a WAV at another rate or width is refused."""
    data = source.read_bytes() if isinstance(source, Path) else source
    with wave.open(io.BytesIO(data), "rb") as wav:
        if wav.getsampwidth() != 2 or wav.getnchannels() != 1:
            width, channels = wav.getsampwidth() * 8, wav.getnchannels()
            raise ValueError(f"want 16-bit mono, got {width}-bit, {channels} channels")
        rate, frames = wav.getframerate(), wav.readframes(wav.getnframes())
    if rate != RATE:
        raise ValueError(f"want {RATE} Hz, got {rate} Hz")
    return np.frombuffer(frames, dtype="<i2").astype(np.float64)


@dataclass(frozen=True)
class SoxStat:
    """What ``sox FILE -n stat`` reports; amplitudes are fractions of full scale."""

    seconds: float
    rms: float
    max_amplitude: float  # the larger of |maximum| and |minimum|
    text: str  # sox's whole report, for assertion messages

    @property
    def silent(self) -> bool:
        return self.rms < SILENCE_RMS


def sox_stat(path: Path) -> SoxStat:
    """Run ``sox path -n stat`` and read its length and amplitudes."""
    report = _run(["sox", str(path), "-n", "stat"]).stderr

    def field(name: str) -> float:
        found = re.search(rf"^{re.escape(name)}:\s+(-?[0-9.eE+-]+)\s*$", report, re.MULTILINE)
        if found is None:
            raise SpeechToolError(f"sox stat printed no {name!r}:\n{report}")
        return float(found.group(1))

    peak = max(abs(field("Maximum amplitude")), abs(field("Minimum amplitude")))
    return SoxStat(field("Length (seconds)"), field("RMS     amplitude"), peak, report)


@dataclass(frozen=True)
class Match:
    """The best alignment of sent audio within received audio: ``peak`` is the normalised
    cross-correlation there (1.0 identical up to gain), ``offset_seconds`` where the sent
    audio starts in the received (negative: the received starts inside the sent)."""

    peak: float
    offset_seconds: float


def correlate(sent: Samples, received: Samples, *, max_offset_seconds: float | None = None) -> Match:
    """The normalised cross-correlation of ``sent`` against ``received`` at every offset
    (or within ``max_offset_seconds`` either way), normalised by the energy of both in
    the overlap only, so a recording cut short still matches where it overlaps; offsets
    overlapping less than half of the shorter signal are ignored (a short overlap of two
    unrelated signals can correlate by chance)."""
    a = np.asarray(sent, dtype=np.float64) - float(np.mean(sent)) if len(sent) else np.zeros(0)
    b = np.asarray(received, dtype=np.float64) - float(np.mean(received)) if len(received) else np.zeros(0)
    if not len(a) or not len(b):
        return Match(0.0, 0.0)
    n = len(a) + len(b) - 1
    size = 1 << (n - 1).bit_length()
    # full[k] = sum_i b[i] * a[i - lag] for lag = k - (len(a) - 1): a placed at lag in b
    full = np.fft.irfft(np.fft.rfft(b, size) * np.conj(np.fft.rfft(a, size)), size)
    lags = np.arange(-(len(a) - 1), len(b))
    cross = np.concatenate([full[size - (len(a) - 1):], full[: len(b)]]) if len(a) > 1 else full[: len(b)]
    energy_a = np.concatenate([[0.0], np.cumsum(a * a)])
    energy_b = np.concatenate([[0.0], np.cumsum(b * b)])
    start_b = np.clip(lags, 0, len(b))  # overlap in b: [start_b, end_b)
    end_b = np.clip(lags + len(a), 0, len(b))
    start_a, end_a = start_b - lags, end_b - lags
    overlap = end_b - start_b
    norm = np.sqrt((energy_a[end_a] - energy_a[start_a]) * (energy_b[end_b] - energy_b[start_b]))
    valid = (overlap >= min(len(a), len(b)) / 2) & (norm > 0)
    if max_offset_seconds is not None:
        valid &= np.abs(lags) <= max_offset_seconds * RATE
    if not valid.any():
        return Match(0.0, 0.0)
    score = np.where(valid, cross / np.where(norm > 0, norm, 1.0), -np.inf)
    best = int(np.argmax(score))
    return Match(float(score[best]), float(lags[best]) / RATE)


def tone_onset(samples: Samples, hertz: float, *, frame: int = 160, ratio: float = 0.5) -> float | None:
    """The time (seconds from the first sample) of the first 20 ms frame whose energy is
    mostly (``ratio`` of it) at ``hertz`` (a Goertzel-style projection), or None: where a
    fax answerer's 2100 Hz CED begins in received audio, for example."""
    count = len(samples) // frame
    if not count:
        return None
    frames = np.asarray(samples[: count * frame], dtype=np.float64).reshape(count, frame)
    t = np.arange(frame) / RATE
    cos, sin = np.cos(2 * np.pi * hertz * t), np.sin(2 * np.pi * hertz * t)
    at_tone = 2 * ((frames @ cos) ** 2 + (frames @ sin) ** 2) / frame
    total = (frames**2).sum(axis=1)
    hits = np.nonzero((total > frame * 100.0**2) & (at_tone >= ratio * total))[0]
    return float(hits[0]) * frame / RATE if len(hits) else None
