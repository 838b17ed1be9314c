"""The report's audio section: a keyword run's report shows one test clip's features per class, the int8 confusion
matrix with the keyword names and accuracy per held-out voice, accent and SNR whose clips add up to the test set;
a run on other data gets no such section."""
import json
import shutil

import numpy as np
import pytest

from conftest import invoke
from pipeline.audio.breakdown import NO_VOICE, audio_breakdown
from pipeline.report.render import render

FRONTEND = {"sample_rate": 16000, "hop": 320, "mel_bands": 40, "mel_high_hz": 7600.0, "frames": 49}


def features_npz(path):
    """A features .npz as `tinykd data features` writes it: 3 classes, 6 test clips, two voices and silence."""
    rng = np.random.default_rng(3)
    np.savez(path, x_test=rng.integers(-128, 128, (6, 49, 40), dtype=np.int8), y_test=np.array([0, 0, 1, 1, 2, 2]),
             voice_test=np.array(["en-us+f3", "en-gb+m1", "en-us+m1", "en-gb+f3", "", ""]),
             snr_test=np.array([np.nan, 5.0, 20.0, 5.0, np.nan, np.nan]),
             manifest=np.array(json.dumps({"synthetic_speech": "Synthetic speech.", "frontend": FRONTEND})))
    return path


def test_breakdown_rows_add_up_and_one_clip_per_class(tmp_path):
    labels = np.array([0, 0, 1, 1, 2, 2])
    predicted = np.array([0, 1, 1, 1, 2, 0])
    metrics, arrays = audio_breakdown(str(features_npz(tmp_path / "f.npz")), predicted, labels)
    assert metrics["by_voice"] == [{"key": "f3", "clips": 2, "correct": 2}, {"key": "m1", "clips": 2, "correct": 1},
                                   {"key": NO_VOICE, "clips": 2, "correct": 1}]
    assert [r["key"] for r in metrics["by_snr"]] == ["clean", "20 dB", "5 dB", NO_VOICE]
    for rows in (metrics["by_voice"], metrics["by_accent"], metrics["by_snr"]):
        assert sum(r["clips"] for r in rows) == 6 and sum(r["correct"] for r in rows) == 4
    assert arrays["index"].tolist() == [0, 2, 4] and arrays["features"].shape == (3, 49, 40)
    assert metrics["frontend"]["hop"] == 320
    assert audio_breakdown("digits", predicted, labels) is None  # no voices: no audio section


def _manifest(audio: dict | None) -> dict:
    quantize = {"int8_confusion": [[1, 1, 0], [0, 2, 0], [1, 0, 1]], "int8_accuracy": 4 / 6}
    if audio:
        quantize["audio"] = audio
    return {"data": {"name": "kws", "class_names": ["yes", "no", "silence"], "sizes": {"test": 6}},
            "stages": {"quantize": {"metrics": quantize}}}


def test_section_only_for_audio_runs(tmp_path):
    labels, predicted = np.array([0, 0, 1, 1, 2, 2]), np.array([0, 1, 1, 1, 2, 0])
    metrics, arrays = audio_breakdown(str(features_npz(tmp_path / "f.npz")), predicted, labels)
    markdown, html = render(_manifest(metrics), audio_clips=arrays)
    section = markdown.split("## Audio: keyword spotting")[1].split("\n## ")[0]
    assert "| true \\ predicted | yes | no | silence |" in section and "| silence | 1 | 0 | 1 |" in section
    assert "| f3 | 2 | 2 | 100.0% |" in section and "Synthetic speech." in section
    assert "did not run the front end on the device" in section  # no bit-identity claimed: none recorded
    assert 'alt="spectrograms, one test clip per class"' in html
    plain_md, plain_html = render(_manifest(None))
    assert "Audio" not in plain_md and "Audio" not in plain_html and "spectrogram" not in plain_html


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng (make install)")
def test_a_keyword_run_reports_its_audio(models_root, tmp_path):
    """A tiny keyword set end to end through distill and int8 (PTQ), then the report (~35 s)."""
    from test_report import images_decoded
    root, config = models_root
    raw, feats = tmp_path / "kws.npz", tmp_path / "kwsf.npz"
    for args in (["data", "kws", "--keywords", "yes,no,stop", "--train-per-class", "10", "--test-per-class", "4",
                  "--out", raw], ["data", "features", raw, "--out", feats]):
        result = invoke(*args)
        assert result.exit_code == 0, result.output
    common = ["--config", config, "--run", "kws", "--dataset", feats, "--teacher-epochs", "1", "--epochs", "1",
              "--width", "4", "--depth", "1"]
    for args in (["distill", *common], ["quantize", *common, "--mode", "ptq"], ["report", root / "kws"]):
        result = invoke(*args)
        assert result.exit_code == 0, result.output
    folder = root / "kws"
    audio = json.loads((folder / "run.json").read_text())["stages"]["quantize"]["metrics"]["audio"]
    with np.load(feats) as f:
        test_clips, names = len(f["y_test"]), list(f["class_names"])
    assert test_clips == 5 * 4
    assert sum(r["clips"] for r in audio["by_voice"]) == test_clips
    with np.load(folder / "audio_clips.npz") as clips:
        assert clips["features"].shape == (len(names), 49, 40) and clips["label"].tolist() == list(range(len(names)))
    section = (folder / "report.md").read_text().split("## Audio: keyword spotting")[1].split("\n## ")[0]
    shown = [line for line in section.splitlines() if line.count("|") == 6 and line.split("|")[2].strip().isdigit()]
    assert [line.split("|")[1].strip() for line in shown] == names  # one spectrogram per class, in class order
    voices = section.split("| held-out voice")[1].split("\n\n")[0].splitlines()[2:]
    assert sum(int(row.split("|")[2]) for row in voices) == test_clips
    html = folder / "report.html"
    assert 'alt="spectrograms, one test clip per class"' in html.read_text()
    images = html.read_text().count("<img ")
    assert images_decoded(html, tmp_path) == f"{images}/{images}"


def test_device_features_are_claimed_only_when_recorded():
    from pipeline.report.audio import FEATURES_MISMATCHED, _device_note
    assert "did not run the front end on the device" in _device_note({"samples": 20, "accuracy": 0.5})
    note = _device_note({"samples": 20, FEATURES_MISMATCHED: 1})
    assert "19 of 20 validated clips bit-identical" in note
