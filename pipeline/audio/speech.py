"""Speech from Debian's espeak-ng: one word, one voice, one speed/pitch/amplitude -> float32 samples at 16 kHz.

A voice is an English accent plus a voice variant (`en-us+f3`); espeak-ng's output is 22,050 Hz int16, resampled
here to 16 kHz by a polyphase filter (160/441) and trimmed of the silence espeak-ng puts around a word. All of it is
synthetic speech: robotic next to recorded voices, which is why many voices, variants and noise are mixed in.
"""
from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass

import numpy as np

from pipeline.errors import PipelineError

SAMPLE_RATE = 16_000
ESPEAK_RATE = 22_050  # espeak-ng's native output rate
# Accents of espeak-ng's English (its `gmw/en*` voices; the mbrola ones need extra packages).
ACCENTS = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-gbclan", "en-gb-x-rp", "en-gb-x-gbcwmd", "en-029",
           "en-us-nyc")
# Voice variants (espeak-ng-data/voices/!v) that still sound like a person; the robots, whispers and effects are
# left out. Sorted: the held-out test variants are chosen by position (kws_data.split_variants).
VARIANTS = ("Andy", "Annie", "Denis", "Gene", "Gene2", "Henrique", "Hugo", "Jacky", "Lee", "Marco", "Mario",
            "Michael", "Mike", "Nguyen", "Storm", "Tweaky", "adam", "anika", "antonio", "aunty", "belinda",
            "benjamin", "boris", "caleb", "david", "ed", "edward", "edward2", "f1", "f2", "f3", "f4", "f5",
            "grandma", "grandpa", "gustave", "iven", "iven2", "iven3", "iven4", "john", "kaukovalta", "linda",
            "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "marcelo", "max", "michel", "miguel", "norbert", "pablo",
            "paul", "pedro", "quincy", "rob", "robert", "sandro", "shelby", "steph", "steph2", "steph3", "travis",
            "victor", "zac")


@dataclass(frozen=True)
class Utterance:
    """What espeak-ng is asked to say, and how."""
    word: str  # the text
    voice: str  # accent+variant, e.g. "en-us+f3"
    speed: int  # words per minute (espeak-ng -s; its default is 175)
    pitch: int  # 0..99 (espeak-ng -p; default 50)
    amplitude: int  # 0..200 (espeak-ng -a; default 100)


def espeak() -> str:
    path = shutil.which("espeak-ng")
    if path is None:
        raise PipelineError("espeak-ng is not installed: the keyword data set is synthesised with it.",
                            "Install it: apt-get install -y espeak-ng (make install does it).")
    return path


def synthesize(u: Utterance, program: str | None = None) -> np.ndarray:
    """(n,) float32 in [-1, 1] at 16 kHz: the word as espeak-ng says it, leading/trailing silence trimmed."""
    args = [program or espeak(), "-v", u.voice, "-s", str(u.speed), "-p", str(u.pitch), "-a", str(u.amplitude),
            "--stdout", u.word]
    result = subprocess.run(args, capture_output=True, timeout=60)
    if result.returncode != 0:
        raise PipelineError(f"espeak-ng failed on {u} ({result.stderr.decode(errors='replace').strip()[:200]}).",
                            "Check that `espeak-ng --voices=en` lists the accent.")
    pcm = _wav_samples(result.stdout)
    return trim(resample(pcm.astype(np.float32) / 32768.0))


def _wav_samples(wav: bytes) -> np.ndarray:
    """int16 samples of espeak-ng's WAV on stdout (its header's sizes are unset when it writes to a pipe)."""
    at = wav.find(b"data")
    if wav[:4] != b"RIFF" or at < 0:
        raise PipelineError("espeak-ng wrote no WAV data.", "Check the espeak-ng installation (espeak-ng --version).")
    body = wav[at + 8:]
    return np.frombuffer(body[:len(body) // 2 * 2], dtype="<i2")


def resample(x: np.ndarray) -> np.ndarray:
    from scipy.signal import resample_poly
    return resample_poly(x, 160, 441).astype(np.float32)  # 22,050 * 160 / 441 = 16,000


def trim(x: np.ndarray, threshold: float = 0.01) -> np.ndarray:
    """x without the leading and trailing stretch below `threshold` of its peak (5 ms kept on each side)."""
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    loud = np.flatnonzero(np.abs(x) > threshold * peak) if peak > 0 else np.array([], int)
    if loud.size == 0:
        return x[:0]
    margin = SAMPLE_RATE // 200
    return x[max(0, loud[0] - margin): loud[-1] + 1 + margin]
