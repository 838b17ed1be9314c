"""The audio front end's design in float64 numpy (the oracle of tests/test_frontend.py): the same framing, removal
of the frame's mean rounded to an integer (half away from zero, as the design says), periodic Hann window, 512-point
FFT, mel filterbank (exact weights) and log2; none of the fixed point."""
import numpy as np

from pipeline.audio.frontend_tables import FrontendParams, hann, mel_matrix


def log_mel(pcm: np.ndarray, p: FrontendParams = FrontendParams()) -> np.ndarray:
    """(49, 40) float64 log2 mel energies of one int16 clip (-inf where a band has no energy)."""
    window, mel = hann(p), mel_matrix(p)
    frames = np.stack([pcm[i * p.hop: i * p.hop + p.frame].astype(np.float64) for i in range(p.frames)])
    mean = frames.mean(axis=1, keepdims=True)
    frames = (frames - np.sign(mean) * np.floor(np.abs(mean) + 0.5)) * window
    power = np.abs(np.fft.rfft(frames, n=p.fft, axis=1)) ** 2  # (49, 257)
    with np.errstate(divide="ignore"):
        return np.log2(power @ mel.T)


def quantize(levels: np.ndarray, p: FrontendParams = FrontendParams()) -> np.ndarray:
    q = np.floor(levels * p.steps_per_log2 + 0.5) + p.zero_point
    return np.clip(np.nan_to_num(q, neginf=-128), -128, 127).astype(np.int8)
