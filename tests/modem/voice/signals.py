"""Synthesised test audio (8 kHz int16): sines, V.21 HDLC flags, DTMF, speech-like noise."""

from __future__ import annotations

import numpy as np

RATE = 8000


def sine(hz: float, seconds: float, amplitude: float = 8000.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (amplitude * np.sin(2 * np.pi * hz * t)).astype(np.int16)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * RATE), dtype=np.int16)


def cng(seconds: float) -> np.ndarray:
    """T.30 CNG: 1100 Hz, 0.5 s on, 3 s off, repeated."""
    out = np.zeros(int(seconds * RATE), dtype=np.int16)
    period = int(3.5 * RATE)
    burst = sine(1100, 0.5)
    for start in range(0, len(out), period):
        piece = burst[: len(out) - start]
        out[start:start + len(piece)] = piece
    return out


def v21_flags(seconds: float, amplitude: float = 8000.0) -> np.ndarray:
    """V.21 channel 2 (mark 1650 Hz, space 1850 Hz, 300 bit/s, continuous phase) carrying
    HDLC flags 0x7E: the preamble of a fax machine's T.30 frames."""
    bits = [0, 1, 1, 1, 1, 1, 1, 0] * int(seconds * 300 / 8 + 1)
    per_bit = RATE / 300
    n = int(seconds * RATE)
    freq = np.array([1650.0 if bits[int(i / per_bit)] else 1850.0 for i in range(n)])
    phase = 2 * np.pi * np.cumsum(freq) / RATE
    return (amplitude * np.sin(phase)).astype(np.int16)


DTMF = {"1": (697, 1209), "5": (770, 1336), "9": (852, 1477), "#": (941, 1477)}


def dtmf(keys: str, on: float = 0.1, off: float = 0.1) -> np.ndarray:
    parts = []
    for key in keys:
        low, high = DTMF[key]
        parts += [sine(low, on, 5000) + sine(high, on, 5000), silence(off)]
    return np.concatenate(parts).astype(np.int16)


def speech_like(seconds: float, seed: int = 1) -> np.ndarray:
    """Noise shaped like speech: 300-3000 Hz, syllables of 150-300 ms at varying level with
    short pauses (never 1100 Hz-pure, never a modem tone)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    noise = rng.normal(0, 1, n)
    spectrum = np.fft.rfft(noise)
    freqs = np.fft.rfftfreq(n, 1 / RATE)
    spectrum[(freqs < 300) | (freqs > 3000)] = 0
    band = np.fft.irfft(spectrum, n)
    envelope = np.zeros(n)
    pos = 0
    while pos < n:
        length = int(rng.uniform(0.15, 0.3) * RATE)
        envelope[pos:pos + length] = rng.uniform(0.4, 1.0)
        pos += length + int(rng.uniform(0.03, 0.12) * RATE)
    out = band / (np.std(band) or 1.0) * 3000 * envelope
    return np.clip(out, -32000, 32000).astype(np.int16)


def frames(audio: np.ndarray) -> list[bytes]:
    """20 ms frames (the last padded)."""
    pad = (-len(audio)) % 160
    audio = np.concatenate([audio, np.zeros(pad, dtype=np.int16)])
    return [audio[i:i + 160].tobytes() for i in range(0, len(audio), 160)]
