"""The int8 model's test accuracy per held-out voice, accent and SNR of a keyword data set, and one test clip's
features per class: what the report's audio section shows, computed by the quantize stage from its own predictions.

A keyword .npz (`tinykd data kws`, or its features from `tinykd data features`) carries voice_test ("accent+variant",
"" for silence) and snr_test (dB, NaN for clean speech and silence) per test clip; the features file's manifest
carries the front end's parameters. Any other data set has neither, and gets no breakdown.
"""
from __future__ import annotations

import json
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np

VOICE_KEY, SNR_KEY = "voice_test", "snr_test"
NO_VOICE = "none (silence)"  # the row of the clips nobody speaks
FRONTEND_SHOWN = ("sample_rate", "frame", "hop", "fft", "mel_bands", "mel_low_hz", "mel_high_hz", "frames",
                  "steps_per_log2", "feature_zero_point", "feature_meaning", "implementation")


def _order(key: str) -> tuple:
    """Names alphabetically; SNRs clean first, then from the quietest noise down; the silence row last."""
    db = -float(key.split()[0]) if key.endswith(" dB") else 0.0
    return key == NO_VOICE, key.endswith(" dB"), db, key.lower()


def _rows(keys: list[str], right: np.ndarray) -> list[dict]:
    """[{"key", "clips", "correct"}] per distinct key; the clips add up to len(keys)."""
    clips, correct = Counter(keys), Counter(k for k, ok in zip(keys, right) if ok)
    return [{"key": k, "clips": clips[k], "correct": correct[k]} for k in sorted(clips, key=_order)]


def _snr(value: float, voice: str) -> str:
    if not voice:
        return NO_VOICE
    return "clean" if np.isnan(value) else f"{value:g} dB"


def audio_breakdown(dataset: str, predicted: np.ndarray, labels: np.ndarray) -> tuple[dict, dict] | None:
    """(metrics, arrays) of a keyword data set's test split, or None for a data set without voices.

    metrics: per voice variant (the unit held out from training), per accent, per SNR, each row {key, clips,
    correct}; the front end's parameters; the statement that the speech is synthetic. arrays: the int8 features
    (k, 49, 40) of the first test clip of each class, their test index, label, int8 prediction, voice and SNR."""
    path = Path(dataset)
    if path.suffix != ".npz" or not path.is_file() or not zipfile.is_zipfile(path):
        return None
    with np.load(path, allow_pickle=False) as f:
        if VOICE_KEY not in f.files or len(f[VOICE_KEY]) != len(labels):
            return None
        voices = [str(v) for v in f[VOICE_KEY]]
        snr = f[SNR_KEY].astype(np.float64) if SNR_KEY in f.files else np.full(len(voices), np.nan)
        manifest = json.loads(str(f["manifest"])) if "manifest" in f.files else {}
        x_test = f["x_test"]
    right = np.asarray(predicted) == np.asarray(labels)
    frontend = manifest.get("frontend") or {}
    metrics = {"by_voice": _rows([v.split("+")[-1] if v else NO_VOICE for v in voices], right),
               "by_accent": _rows([v.split("+")[0] if v else NO_VOICE for v in voices], right),
               "by_snr": _rows([_snr(s, v) for s, v in zip(snr, voices)], right),
               "frontend": {k: frontend[k] for k in FRONTEND_SHOWN if k in frontend},
               "synthetic_speech": manifest.get("synthetic_speech", "")}
    shown = [int(np.flatnonzero(labels == c)[0]) for c in np.unique(labels)]  # the first test clip of each class
    arrays = {"index": np.array(shown, np.int64), "label": np.asarray(labels)[shown],
              "predicted": np.asarray(predicted)[shown], "voice": np.array([voices[i] for i in shown]),
              "snr": snr[shown]}
    if frontend and x_test.dtype == np.int8 and x_test.ndim == 3:  # front-end features, (n, frames, mel bands)
        arrays["features"] = x_test[shown]
    return metrics, arrays
