"""The report: read from the manifest alone, and rendered by a real browser with every plot decoded."""
from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from conftest import invoke
from pipeline.report.render import summary_table, write_report


def _altered_copy(run_dir, tmp_path):
    """A folder holding only a copy of run.json, with numbers no stage could have produced."""
    manifest = json.loads((run_dir / "run.json").read_text())
    stages = manifest["stages"]
    stages["validate"]["metrics"]["accuracy"] = 0.43219
    stages["quantize"]["metrics"]["int8_accuracy"] = 0.51237
    stages["teacher"]["metrics"]["accuracy"] = 0.98765
    stages["build"]["metrics"]["flash_bytes"] = 123457
    stages["build"]["metrics"]["ram_bytes"] = 54321
    stages["compile"]["metrics"]["arena_bytes"] = 7777
    stages["compile"]["metrics"]["layers"][0]["macs"] = 31337
    stages["validate"]["metrics"]["instructions_median"] = 8642413.0
    stages["validate"]["metrics"]["mismatched_outputs"] = 3
    folder = tmp_path / "copy"
    folder.mkdir()
    (folder / "run.json").write_text(json.dumps(manifest))
    return folder, manifest


@pytest.mark.slow
def test_report_shows_the_manifest_numbers(e2e_run, tmp_path):
    folder, manifest = _altered_copy(e2e_run[0], tmp_path)
    md_path, html_path = write_report(folder)  # no model, no golden data, no firmware: only run.json
    samples = manifest["stages"]["validate"]["metrics"]["samples"]
    expected = ["43.22%", "51.24%", "98.77%", "123,457", "54,321", "7,777 B", "31,337", "8,642,413",
                f"{samples - 3:,} of {samples:,}"]
    for text in (md_path.read_text(), html_path.read_text(), summary_table(manifest)):
        for figure in expected[:3] + ["123,457", f"{samples - 3:,} of {samples:,}"]:
            assert figure in text, figure
    for figure in expected:
        assert figure in md_path.read_text(), figure
        assert figure in html_path.read_text(), figure


def chromium_flags(tmp_path) -> list[str]:
    return ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000"]


def images_decoded(html, tmp_path) -> str:
    """`decoded/all` <img> of a report page in headless Chromium (the page sets it on load: naturalWidth > 0)."""
    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium is missing: `make install` installs it (APT_PACKAGES)"
    dom = subprocess.run([chromium, *chromium_flags(tmp_path), "--dump-dom", html.as_uri()], capture_output=True,
                         text=True, timeout=120).stdout
    found = re.search(r'data-images="(\d+/\d+)"', dom)
    return found[1] if found else "no data-images attribute"


@pytest.mark.slow
def test_report_html_renders_in_chromium(e2e_run, tmp_path):
    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium is missing: `make install` installs it (APT_PACKAGES)"
    html = e2e_run[0] / "report.html"
    text = html.read_text()
    assert "src=\"http" not in text and "<link" not in text  # self-contained: nothing fetched
    images = len(re.findall(r"<img ", text))
    assert images >= 5  # accuracy, confusion, budget, MACs, memory plan
    assert images_decoded(html, tmp_path) == f"{images}/{images}"
    flags = chromium_flags(tmp_path)
    shot = tmp_path / "report.png"
    subprocess.run([chromium, *flags, "--window-size=1000,1400", f"--screenshot={shot}", html.as_uri()],
                   capture_output=True, timeout=120)
    from PIL import Image
    pixels = Image.open(shot).convert("L")
    assert pixels.getextrema()[0] < 100  # dark text and plots, not a blank page


def test_report_of_a_missing_run(models_root):
    _, config = models_root
    result = invoke("report", "nosuchrun", "--config", config)
    assert result.exit_code == 2
    assert "nosuchrun" in result.stderr and "not a run folder" in result.stderr


@pytest.mark.slow
def test_report_command_regenerates(e2e_run, tmp_path):
    copy = tmp_path / "tiny"
    shutil.copytree(e2e_run[0], copy)
    (copy / "report.html").unlink()
    result = invoke("report", copy)
    assert result.exit_code == 0, result.output
    assert (copy / "report.html").read_text() == (e2e_run[0] / "report.html").read_text()


@pytest.mark.slow
def test_a_device_validated_on_part_of_the_test_set_says_so(e2e_run, tmp_path):
    """With --validate-limit (default 2,000) the device row scores fewer samples than the host rows: its label
    and the agreement line must say how many, or the two accuracies would be compared as equals."""
    folder, manifest = _altered_copy(e2e_run[0], tmp_path)
    table = summary_table(manifest)
    # the int8 rows are the shipped student's: the baseline's when it won on validation (tests/test_ship.py)
    who = "baseline" if manifest["stages"]["quantize"]["metrics"].get("shipped") == "baseline" else "student,"
    assert f"{who} int8 on device  " in table and "validated: the first" not in table  # the whole set
    manifest["data"]["sizes"]["test"] = 10_000
    manifest["stages"]["validate"]["metrics"]["samples"] = 2_000
    manifest["stages"]["validate"]["metrics"]["host_accuracy"] = 0.8125
    table = summary_table(manifest)
    rows = {line[:36].strip(): line[36:].split() for line in table.splitlines()}
    assert rows[f"{who} int8 on device, first 2,000"][1] == "2,000"  # accuracy, samples, params, MACs
    assert rows[f"{who} int8 on host, first 2,000"][:2] == ["81.25%", "2,000"]  # compared on the same samples
    assert rows[f"{who} int8 on host (TFLM)"][1] == rows["teacher"][1] == "10,000"
    assert "1,997 of 2,000 device outputs bit-identical" in table
    assert "validated: the first 2,000 of 10,000 test samples" in table


@pytest.mark.slow
def test_the_host_build_never_replaces_the_device_record(e2e_run, tmp_path):
    """`tinykd validate --emulator host` checks the engine on x86: recorded beside the QEMU validation, labelled
    as not a device, never as `int8 on device`."""
    folder = tmp_path / "copy"
    shutil.copytree(e2e_run[0], folder)
    before = json.loads((folder / "run.json").read_text())["stages"]["validate"]
    result = invoke("validate", "--emulator", "host", "--run-dir", folder, "--limit", "20")
    assert result.exit_code == 0, result.output
    manifest = json.loads((folder / "run.json").read_text())
    assert manifest["stages"]["validate"] == before
    assert manifest["validations"]["host-pty"]["samples"] == 20
    assert "also validated: the x86 host build on a pty (not a device): 20 of 20 outputs" in summary_table(manifest)


@pytest.mark.slow
def test_a_negative_kd_gain_is_said_plainly(e2e_run, tmp_path):
    """A run where distillation hurt must not read like a success: the opening says so, with both accuracies."""
    from pipeline.report.render import render
    _, manifest = _altered_copy(e2e_run[0], tmp_path)
    manifest["stages"]["baseline"]["metrics"]["accuracy"] = 0.9
    manifest["stages"]["distill"]["metrics"]["accuracy"] = 0.8722
    markdown, html = render(manifest)
    sentence = ("Distillation hurt: the student trained on labels alone is 2.78 pp better (87.22% distilled vs "
                "90.00% on labels alone over 360 test samples)")
    assert sentence in markdown and sentence in html
    assert markdown.index(sentence) < markdown.index("## Settings")


@pytest.mark.slow
def test_the_settings_behind_the_numbers_are_shown(e2e_run, tmp_path):
    from pipeline.report.render import render
    _, manifest = _altered_copy(e2e_run[0], tmp_path)
    manifest["config"]["distill"]["temperature"] = 3.25
    manifest["stages"]["distill"]["metrics"]["best_epoch"] = 7
    markdown, _ = render(manifest)
    settings = markdown.split("## Settings")[1].split("##")[0]
    assert "| distillation | hinton (T = 3.25, alpha = 0.9) |" in settings  # 400 samples: auto alpha 0.9
    assert "best epoch 7" in settings and "| quantization | QAT, 2 epochs" in settings


def test_per_class_precision_recall_f1():
    from pipeline.report.sections import per_class
    confusion = [[8, 2, 0],   # true 0: 8 right, 2 taken for class 1
                 [1, 5, 0],   # true 1
                 [0, 0, 0]]   # class 2 never occurs and is never predicted
    rows = per_class(confusion, ["a", "b", "c"])
    assert [r["name"] for r in rows] == ["a", "b", "c"]
    assert rows[0]["precision"] == 8 / 9 and rows[0]["recall"] == 0.8 and rows[0]["support"] == 10
    assert rows[1]["precision"] == 5 / 7 and rows[1]["recall"] == 5 / 6
    assert abs(rows[1]["f1"] - 2 * (5 / 7) * (5 / 6) / (5 / 7 + 5 / 6)) < 1e-12
    assert rows[2]["precision"] is None and rows[2]["recall"] is None and rows[2]["f1"] is None


@pytest.mark.slow
def test_training_curves_are_recorded_per_epoch_and_drawn(e2e_run):
    folder = e2e_run[0]
    manifest = json.loads((folder / "run.json").read_text())
    distill = manifest["stages"]["distill"]["metrics"]
    assert [h["epoch"] for h in distill["history"]] == list(range(1, manifest["config"]["distill"]["epochs"] + 1))
    assert max(h["val_accuracy"] for h in distill["history"]) == distill["best_val_accuracy"]
    assert len(manifest["stages"]["quantize"]["metrics"]["qat_history"]) == manifest["config"]["quantize"]["qat_epochs"]
    assert 'alt="training curves"' in (folder / "report.html").read_text()


@pytest.mark.slow
def test_the_misclassified_samples_are_the_int8_models_mistakes(e2e_run):
    """The report's grid shows the first test samples whose int8 output (golden.npz, TFLM on the host) is not the
    label; the markdown lists them with their classes."""
    import numpy as np
    folder = e2e_run[0]
    with np.load(folder / "golden.npz") as golden:
        wrong = np.flatnonzero(np.argmax(golden["outputs"], axis=1) != golden["labels"])[:16]
    markdown = (folder / "report.md").read_text()
    listed = re.findall(r"^\| (\d+) \| \w+ \| \w+ \|$", markdown, flags=re.M)
    assert [int(i) for i in listed] == wrong.tolist() and len(wrong) > 0
    assert 'alt="misclassified test samples"' in (folder / "report.html").read_text()


@pytest.mark.slow
def test_per_layer_int8_error_is_recorded_and_shown(e2e_run):
    folder = e2e_run[0]
    rows = json.loads((folder / "run.json").read_text())["stages"]["quantize"]["metrics"]["layer_error"]
    assert len(rows) >= 4 and rows[-1]["op"] == "FULLY_CONNECTED"
    markdown = (folder / "report.md").read_text()
    section = markdown.split("## Per-layer int8 error")[1].split("##")[0]
    first = rows[0]
    assert f"| {first['layer']} | {first['op']} |" in section and f"{first['sqnr_db']:.1f} dB" in section
