"""The report's audio section, for a run on keyword features (`tinykd data kws` -> `tinykd data features`): the
front end's parameters, one test clip's log-mel features per class (the model's view of it), the int8 confusion
matrix with the keyword names, and the int8 model's test accuracy per held-out voice, accent and SNR.

The numbers are the quantize stage's (run.json: stages.quantize.metrics.audio, from TFLite Micro's predictions on
the whole test set: pipeline/audio/breakdown.py); the features are its audio_clips.npz. A run on other data has
neither, and its report has no audio section.
"""
from __future__ import annotations

import numpy as np

# What a validation that ran the front end on the device would record: feature maps differing from the host's.
FEATURES_MISMATCHED = "mismatched_features"
TABLES = (("by_voice", "held-out voice (espeak-ng variant, any accent)"), ("by_accent", "accent"),
          ("by_snr", "speech-to-noise ratio"))
FRONTEND_LABELS = {"sample_rate": "sample rate (Hz)", "frame": "frame (samples)", "hop": "hop (samples)",
                   "fft": "FFT points", "mel_bands": "mel bands", "mel_low_hz": "lowest mel edge (Hz)",
                   "mel_high_hz": "highest mel edge (Hz)", "frames": "frames per clip",
                   "steps_per_log2": "int8 steps per log2 unit", "feature_zero_point": "int8 value of no energy",
                   "feature_meaning": "feature", "implementation": "implementation"}


def _rows(rows: list[dict]) -> list[dict]:
    return [{**r, "accuracy": f"{100 * r['correct'] / r['clips']:.1f}%" if r["clips"] else "-"} for r in rows]


def _device_note(validate: dict) -> str:
    """Whether the device's own front end was compared with the host's: said only when the validation recorded it."""
    if validate.get(FEATURES_MISMATCHED) is not None and validate.get("samples"):
        same = validate["samples"] - validate[FEATURES_MISMATCHED]
        return (f"The device's front end computed these features too: {same:,} of {validate['samples']:,} "
                "validated clips bit-identical with the host's.")
    return ("This run's validation fed the device these features; it did not run the front end on the device, so "
            "the device's features are not compared here (tests/test_frontend_qemu.py checks them bit for bit in "
            "QEMU).")


def _shown(clips: dict, names: list[str]) -> list[dict]:
    name = lambda k: names[k] if k < len(names) else str(k)
    snr = lambda s, v: "-" if not v else ("clean" if np.isnan(s) else f"{s:g} dB")
    return [{"index": int(i), "true": name(int(t)), "predicted": name(int(p)), "voice": str(v) or "none",
             "snr": snr(float(s), str(v))}
            for i, t, p, v, s in zip(clips["index"], clips["label"], clips["predicted"], clips["voice"], clips["snr"])]


def audio_view(manifest: dict, clips: dict | None) -> dict | None:
    """What the audio section shows (None for a run without keyword data)."""
    stages = manifest.get("stages", {})
    q = stages.get("quantize", {}).get("metrics", {})
    audio = q.get("audio")
    if not audio:
        return None
    names = manifest.get("data", {}).get("class_names") or []
    confusion = q.get("int8_confusion") or []
    frontend = audio.get("frontend", {})
    return {
        "synthetic": audio.get("synthetic_speech", ""),
        "tables": [(title, _rows(audio[key])) for key, title in TABLES if audio.get(key)],
        "clips": sum(r["clips"] for r in audio.get("by_voice", [])),
        "frontend": [(label, str(frontend[key])) for key, label in FRONTEND_LABELS.items() if key in frontend],
        "shown": _shown(clips, names) if clips else [],
        "device_note": _device_note(stages.get("validate", {}).get("metrics", {})),
        "names": names[:len(confusion)],
        "confusion": [{"name": names[i] if i < len(names) else str(i), "counts": row} for i, row in
                      enumerate(confusion)],
    }


def audio_images(audio: dict | None, clips: dict | None) -> dict[str, str]:
    """{"spectrograms": PNG} when the run's audio_clips.npz holds front-end features; {} otherwise."""
    if not audio or not clips or "features" not in clips:
        return {}
    from pipeline.report import plots
    frontend = dict(audio["frontend"])
    hop_ms = 1000 * float(frontend.get("hop (samples)", 320)) / float(frontend.get("sample rate (Hz)", 16000))
    titles = [f"{s['true']} (test clip {s['index']})\npredicted {s['predicted']}" for s in audio["shown"]]
    return {"spectrograms": plots.spectrograms(clips["features"], titles, hop_ms,
                                               float(frontend.get("highest mel edge (Hz)", 8000)))}
