"""Generated background noise and the mixing of speech with it, all from a numpy Generator (deterministic).

Kinds: white (flat spectrum), pink (power ~ 1/f), brown (power ~ 1/f^2, a random walk), hum (mains at 50 or 60 Hz
with its first harmonics, random phases). Every generator returns unit-RMS float32; `mix` scales the noise to a
signal-to-noise ratio measured against the speech's power over the speech itself (not over the whole second).
"""
from __future__ import annotations

import numpy as np

KINDS = ("white", "pink", "brown", "hum")


def noise(kind: str, n: int, rng: np.random.Generator, rate: int = 16_000) -> np.ndarray:
    """(n,) float32 with RMS 1."""
    if kind == "white":
        x = rng.standard_normal(n)
    elif kind in ("pink", "brown"):
        spectrum = np.fft.rfft(rng.standard_normal(n))
        f = np.fft.rfftfreq(n, 1.0 / rate)
        f[0] = f[1]  # no infinite gain at DC
        spectrum *= f ** (-0.5 if kind == "pink" else -1.0)  # amplitude ~ f^-1/2 (pink) or f^-1 (brown)
        spectrum[f < 20.0] = 0.0  # below hearing: also keeps the random walk from drifting off
        x = np.fft.irfft(spectrum, n)
    elif kind == "hum":
        t = np.arange(n) / rate
        mains = rng.choice([50.0, 60.0])
        x = sum(rng.uniform(0.2, 1.0) / h * np.sin(2 * np.pi * mains * h * t + rng.uniform(0, 2 * np.pi))
                for h in range(1, 6))
    else:
        raise ValueError(kind)
    x = np.asarray(x, dtype=np.float64)
    return (x / max(float(np.sqrt(np.mean(x ** 2))), 1e-12)).astype(np.float32)


def place(speech: np.ndarray, n: int, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """Speech put at a random offset in n samples of zeros (cut to n if longer): the random time shift."""
    out = np.zeros(n, np.float32)
    speech = speech[:n]
    offset = int(rng.integers(0, n - len(speech) + 1))
    out[offset:offset + len(speech)] = speech
    return out, offset


def mix(speech: np.ndarray, background: np.ndarray, snr_db: float | None) -> np.ndarray:
    """speech + background scaled to `snr_db` (None: the speech alone). Speech power: over its non-zero span."""
    if snr_db is None:
        return speech
    active = speech[np.flatnonzero(speech)[0]: np.flatnonzero(speech)[-1] + 1] if np.any(speech) else speech
    power = float(np.mean(active.astype(np.float64) ** 2)) if active.size else 0.0
    return speech + background * np.float32(np.sqrt(power / 10 ** (snr_db / 10)))


def to_int16(x: np.ndarray, peak_dbfs: float) -> np.ndarray:
    """x scaled so its peak sits at `peak_dbfs` (dB below int16 full scale), rounded; silence stays zero."""
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    if peak == 0.0:
        return np.zeros(len(x), np.int16)
    scaled = x.astype(np.float64) * (32767.0 * 10 ** (peak_dbfs / 20) / peak)
    return np.clip(np.round(scaled), -32768, 32767).astype(np.int16)
