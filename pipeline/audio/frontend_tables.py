"""The audio front end's parameters and the constant tables its C reads (firmware/lib/tinykd_frontend).

Python computes the tables once (Hann window in Q15, the cosine quarter wave in Q31, the mel filterbank as one
band index and one Q15 weight per FFT bin) and writes `tk_frontend_tables.h`; the C only loops over them. The
header is checked in, and a test checks it is what this module writes. Rewrite it after changing FrontendParams:
    python -m pipeline.audio.frontend_tables
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from pipeline.paths import FRONTEND

FRONTEND_DIR = FRONTEND
TABLES_HEADER = FRONTEND_DIR / "tk_frontend_tables.h"
PER_LINE = 12  # values per line of the generated tables


@dataclass(frozen=True)
class FrontendParams:
    """The front end's design; the C header's TK_FE_* macros must agree (a test checks)."""
    sample_rate: int = 16_000  # Hz
    clip_samples: int = 16_000  # one clip: 1 s
    frame: int = 480  # 30 ms analysis window
    hop: int = 320  # 20 ms between frames: 1 + (16000 - 480) // 320 = 49 frames
    fft: int = 512  # the frame zero-padded to the next power of two (bins 31.25 Hz apart)
    mel_bands: int = 40  # triangular filters, evenly spaced on the HTK mel scale
    mel_low_hz: float = 60.0  # lower edge of the first filter
    mel_high_hz: float = 7600.0  # upper edge of the last filter
    log_frac_bits: int = 12  # log2 of the band energies in Q12
    steps_per_log2: int = 5  # int8 feature step = 1/5 of a log2 unit (0.6 dB)
    zero_point: int = -128  # the int8 value of log2 energy 0: features cover log2 energy [0, 51)

    @property
    def frames(self) -> int:
        return 1 + (self.clip_samples - self.frame) // self.hop

    def manifest(self) -> dict:
        """What a run's manifest records: the design, and the int8 input's scale and zero point."""
        return {**asdict(self), "frames": self.frames, "feature_shape": [self.frames, self.mel_bands],
                "feature_scale": 1.0 / self.steps_per_log2, "feature_zero_point": self.zero_point,
                "feature_meaning": "log2 of the mel band energy of the Hann-windowed, mean-removed frame "
                                   "(int16 sample units); int8 = round(steps_per_log2 * log2) + zero_point"}


def hz_to_mel(f):
    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def mel_edges(p: FrontendParams) -> np.ndarray:
    """(bands + 2,) mel positions: lower edge, the band centres, upper edge."""
    return np.linspace(hz_to_mel(p.mel_low_hz), hz_to_mel(p.mel_high_hz), p.mel_bands + 2)


def mel_bins(p: FrontendParams) -> tuple[int, np.ndarray, np.ndarray]:
    """(first bin, upper band index per bin, exact weight of that upper band per bin). A bin between edges j and
    j+1 gives weight t to band j (rising side) and 1 - t to band j - 1 (falling side); band 40 / -1 do not exist."""
    edges = mel_edges(p)
    mels = hz_to_mel(np.arange(p.fft // 2 + 1) * p.sample_rate / p.fft)
    inside = np.flatnonzero((mels >= edges[0]) & (mels < edges[-1]))
    first, last = int(inside[0]), int(inside[-1])
    m = mels[first:last + 1]
    band = np.searchsorted(edges, m, side="right") - 1  # edges[band] <= m < edges[band + 1]
    t = (m - edges[band]) / (edges[band + 1] - edges[band])
    return first, band, t


def mel_matrix(p: FrontendParams) -> np.ndarray:
    """(bands, fft/2 + 1) float64 filterbank with the exact weights (the float reference's)."""
    first, band, t = mel_bins(p)
    w = np.zeros((p.mel_bands, p.fft // 2 + 1))
    for i, (j, tj) in enumerate(zip(band, t)):
        if j < p.mel_bands:
            w[j, first + i] += tj
        if j >= 1:
            w[j - 1, first + i] += 1.0 - tj
    return w


def hann(p: FrontendParams) -> np.ndarray:
    """Periodic Hann window of `frame` samples, float."""
    return 0.5 * (1.0 - np.cos(2 * np.pi * np.arange(p.frame) / p.frame))


def tables(p: FrontendParams) -> dict[str, np.ndarray]:
    first, band, t = mel_bins(p)
    weights = np.round(t * 32768).astype(np.int64)  # Q15, 32768 = 1.0 (uint16)
    assert np.all(np.bincount(band, minlength=p.mel_bands + 1)[:p.mel_bands] > 0), "a mel band without bins"
    cos = np.minimum(np.round(np.cos(2 * np.pi * np.arange(p.fft // 4 + 1) / p.fft) * 2 ** 31), 2 ** 31 - 1)
    return {"first_bin": np.array(first), "hann_q15": np.round(hann(p) * 32767).astype(np.int64),
            "cos_q31": cos.astype(np.int64), "mel_band": band.astype(np.int64), "mel_weight_q15": weights}


def _array(ctype: str, name: str, values: np.ndarray, size: str) -> str:
    rows = [", ".join(str(int(v)) for v in values[i:i + PER_LINE]) for i in range(0, len(values), PER_LINE)]
    return f"static const {ctype} {name}[{size}] = {{\n    " + ",\n    ".join(rows) + "\n};\n"


def render_header(p: FrontendParams = FrontendParams()) -> str:
    t = tables(p)
    return (
        "/* tk_frontend_tables.h: constant tables of the audio front end (tk_frontend.c), generated by\n"
        " * pipeline/audio/frontend_tables.py from FrontendParams: do not edit; rewrite it with\n"
        " * `python -m pipeline.audio.frontend_tables`. Included by tk_frontend.c only. */\n"
        "#ifndef TK_FRONTEND_TABLES_H\n#define TK_FRONTEND_TABLES_H\n\n#include <stdint.h>\n\n"
        "/* clang-format off */\n"
        f"/* FFT bins {int(t['first_bin'])} .. {int(t['first_bin']) + len(t['mel_band']) - 1} fall inside the "
        f"filterbank ({p.mel_low_hz:g} .. {p.mel_high_hz:g} Hz). */\n"
        f"#define TK_FE_MEL_FIRST_BIN {int(t['first_bin'])}\n#define TK_FE_MEL_BINS {len(t['mel_band'])}\n\n"
        f"/* Periodic Hann window, round(32767 * 0.5 * (1 - cos(2 pi n / {p.frame}))). */\n"
        + _array("int16_t", "tk_fe_hann_q15", t["hann_q15"], "TK_FE_FRAME") +
        f"\n/* round(cos(2 pi i / {p.fft}) * 2^31), i = 0 .. {p.fft // 4} (a quarter wave; 2^31 saturates to "
        "2^31 - 1). */\n"
        + _array("int32_t", "tk_fe_cos_q31", t["cos_q31"], "TK_FE_FFT / 4 + 1") +
        "\n/* Per bin from TK_FE_MEL_FIRST_BIN: the band j whose rising side the bin is on (j = TK_FE_MEL_BANDS: only\n"
        " * the falling side of band j - 1), and that side's weight in Q15 (32768 = 1.0); band j - 1 gets\n"
        " * 32768 - weight. */\n"
        + _array("uint8_t", "tk_fe_mel_band", t["mel_band"], "TK_FE_MEL_BINS")
        + "\n" + _array("uint16_t", "tk_fe_mel_weight_q15", t["mel_weight_q15"], "TK_FE_MEL_BINS") +
        "/* clang-format on */\n\n#endif /* TK_FRONTEND_TABLES_H */\n")


if __name__ == "__main__":
    FRONTEND_DIR.mkdir(parents=True, exist_ok=True)
    TABLES_HEADER.write_text(render_header())
    print(f"wrote {TABLES_HEADER}")
