"""The distill stage from the CLI: accuracies, manifest, skipping, --force, and bad input leaving runs intact."""
import json
import subprocess
import sys

import numpy as np
import pytest

from pipeline.kd.keras import keras
from pipeline.runs import sha256_path
from conftest import TINY, invoke, snapshot


def test_manifest_records_config_versions_hashes_and_metrics(tiny_run):
    manifest = json.loads((tiny_run / "run.json").read_text())
    assert manifest["config"]["distill"]["method"] == "hinton" and manifest["config"]["data"]["limit"] == 400
    assert manifest["packages"]["tensorflow"] == "2.21.0" and manifest["packages"]["tf-keras"] == "2.21.0"
    assert manifest["data"]["normalization"]["scale"] == 16.0
    for name, entry in manifest["artifacts"].items():
        assert sha256_path(tiny_run / name) == entry["sha256"], name
    assert set(manifest["artifacts"]) == {"teacher.keras", "teacher_logits.npy", "baseline.keras", "student.keras"}
    for stage in ("teacher", "baseline", "distill"):
        metrics = manifest["stages"][stage]["metrics"]
        assert 0.1 < metrics["accuracy"] <= 1.0 and metrics["params"] > 0 and metrics["macs"] > 0
        assert manifest["stages"][stage]["seconds"] > 0
    assert manifest["stages"]["distill"]["metrics"]["teacher_mode"] == "cached"
    logits = np.load(tiny_run / "teacher_logits.npy")
    assert logits.shape == (400, 10) and logits.dtype == np.float32


def test_student_file_is_the_reported_student(tiny_run):
    from pipeline.config import DataConfig
    from pipeline.kd.data import load_dataset
    from pipeline.kd.train import accuracy
    manifest = json.loads((tiny_run / "run.json").read_text())
    data = load_dataset(DataConfig(limit=400), seed=0)
    student = keras.models.load_model(tiny_run / "student.keras", compile=False)
    assert accuracy(student, data.x_test, data.y_test) == pytest.approx(
        manifest["stages"]["distill"]["metrics"]["accuracy"], abs=1e-5)


@pytest.mark.slow
def test_second_call_skips_and_force_reruns(models_root):
    root, config = models_root
    first = invoke("distill", "--config", str(config), *TINY)
    assert first.exit_code == 0, first.output
    for name in ("teacher", "baseline", "student"):
        assert any(line.startswith(name) and "%" in line for line in first.output.splitlines()), first.output
    before = snapshot(root / "digits")

    second = invoke("distill", "--config", str(config), *TINY)
    assert second.output.count("unchanged, skipped") == 3
    assert snapshot(root / "digits") == before

    changed = invoke("distill", "--config", str(config), *TINY, "--temperature", "2")
    assert changed.output.count("unchanged, skipped") == 2  # teacher and baseline do not depend on T
    assert "distill   training" in changed.output

    again = invoke("distill", "--config", str(config), *TINY, "--temperature", "2")  # the new T is now recorded
    assert again.output.count("unchanged, skipped") == 3
    (root / "other.toml").write_text(config.read_text() + "[distill]\ndkd_beta = 2.0\ndist_gamma = 1.0\n")
    unrelated = invoke("distill", "--config", str(root / "other.toml"), *TINY, "--temperature", "2")
    assert unrelated.output.count("unchanged, skipped") == 3  # Hinton does not read DKD's or DIST's weights

    forced = invoke("distill", "--config", str(config), *TINY, "--temperature", "2", "--force")
    assert "skipped" not in forced.output and forced.output.count("training") == 3


@pytest.mark.slow
def test_same_seed_same_student(models_root, tiny_run):
    """Runs are deterministic: a second run in another folder gives the same weights."""
    root, config = models_root
    assert invoke("distill", "--config", str(config), "--run", "again", *TINY).exit_code == 0
    a = keras.models.load_model(tiny_run / "student.keras", compile=False).get_weights()
    b = keras.models.load_model(root / "again" / "student.keras", compile=False).get_weights()
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


def bad_npz(tmp_path, **arrays):
    rng = np.random.default_rng(0)
    data = {"x_train": rng.random((30, 8, 8)), "y_train": np.arange(30) % 10,
            "x_test": rng.random((10, 8, 8)), "y_test": np.arange(10)}
    data.update(arrays)
    path = tmp_path / "bad.npz"
    np.savez(path, **{k: v for k, v in data.items() if v is not None})
    return str(path)


def small_teacher(tmp_path, classes):
    x = inputs = keras.Input((8, 8, 1))
    keras.Model(inputs, keras.layers.Dense(classes)(keras.layers.Flatten()(x))).save(tmp_path / "t.keras")
    return str(tmp_path / "t.keras")


@pytest.mark.parametrize("make_args, needle", [
    (lambda p: ["--teacher", str(p / "missing.keras")], "missing.keras"),
    (lambda p: ["--teacher", str((p / "c.keras").write_bytes(b"\0" * 64) and p / "c.keras")], "c.keras"),
    (lambda p: ["--teacher", small_teacher(p, 3)], "3 output classes, the data has 10"),
    (lambda p: ["--dataset", bad_npz(p, y_test=None)], "lacks y_test"),
    (lambda p: ["--dataset", bad_npz(p, y_train=np.arange(29) % 10)], "y_train has 29"),
    (lambda p: ["--dataset", bad_npz(p, x_test=np.full((10, 8, 8), np.nan))], "NaN/inf"),
    (lambda p: ["--dataset", bad_npz(p, y_test=np.arange(10) + 5)], "contains label 14"),
    (lambda p: ["--temperature", "-1"], "temperature=-1.0"),
    (lambda p: ["--alpha", "2"], "alpha=2.0"),
])
def test_bad_input_exits_2_and_leaves_the_run_untouched(tiny_run, tmp_path, make_args, needle):
    """Aimed at the tiny run's own folder: nothing in it may change."""
    before = snapshot(tiny_run)
    args = ["distill", "--config", str(tiny_run.parent / "tiny.toml"), "--run", "tiny", *TINY, *make_args(tmp_path)]
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    message = result.stderr.strip()
    assert message.startswith("error: ") and "\n" not in message and needle in message, message
    assert snapshot(tiny_run) == before


def test_console_script_exit_status_and_debug(tmp_path):
    """The installed `tinykd` script: one line and exit 2; --debug shows the traceback."""
    tinykd = [sys.executable, "-m", "pipeline.cli.main"]
    plain = subprocess.run([*tinykd, "distill", "--alpha", "7"], capture_output=True, text=True, cwd=tmp_path)
    assert plain.returncode == 2 and "distill.alpha=7.0" in plain.stderr and "Traceback" not in plain.stderr
    debug = subprocess.run([*tinykd, "--debug", "distill", "--alpha", "7"], capture_output=True, text=True,
                           cwd=tmp_path)
    assert debug.returncode != 0 and "Traceback" in debug.stderr and "PipelineError" in debug.stderr


@pytest.mark.slow
@pytest.mark.parametrize("extra, mode, method", [
    (["--method", "dkd"], "cached", "dkd"),
    (["--method", "dist", "--augment"], "online", "dist"),
    (["--method", "none"], "cached", "none"),
])
def test_methods_and_online_teacher(tiny_run, tmp_path, extra, mode, method):
    """Every method trains from the tiny run's teacher; with --augment the teacher runs on every batch."""
    (tmp_path / "c.toml").write_text(f'[run]\nroot = "{tmp_path}"\n')
    result = invoke("distill", "--config", str(tmp_path / "c.toml"), "--teacher", str(tiny_run / "teacher.keras"),
                    "--limit", "200", "--epochs", "2", *extra)
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "digits" / "run.json").read_text())["stages"]["distill"]["metrics"]
    assert metrics["method"] == method and metrics["teacher_mode"] == mode
    assert ("baseline" in json.loads((tmp_path / "digits" / "run.json").read_text())["stages"]) == (method != "none")


@pytest.mark.slow
def test_time_series_end_to_end(tmp_path):
    """A .npz of series (T x C): the 1-D teacher and student train, and KD runs."""
    rng = np.random.default_rng(0)
    t = np.linspace(0, 1, 32)
    def make(n):
        y = rng.integers(0, 3, n)
        x = np.sin(2 * np.pi * (y[:, None] + 1) * t)[..., None] + 0.3 * rng.normal(size=(n, 32, 1))
        return np.concatenate([x, rng.normal(size=(n, 32, 1))], -1).astype(np.float32), y
    (x_train, y_train), (x_test, y_test) = make(300), make(90)
    np.savez(tmp_path / "waves.npz", x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    (tmp_path / "c.toml").write_text(f'[run]\nroot = "{tmp_path}"\n')
    result = invoke("distill", "--config", str(tmp_path / "c.toml"), "--dataset", str(tmp_path / "waves.npz"),
                    "--layout", "series", "--teacher-epochs", "6", "--epochs", "6")
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "waves" / "run.json").read_text())
    assert manifest["data"]["kind"] == "series" and manifest["data"]["input_shape"] == [32, 2]
    assert manifest["stages"]["teacher"]["metrics"]["accuracy"] > 0.6  # three clearly separable waves


def test_tampered_artifact_is_refused_and_force_rebuilds(tiny_run, tmp_path):
    import shutil
    copy = tmp_path / "tiny"
    shutil.copytree(tiny_run, copy)
    (tmp_path / "c.toml").write_text(f'[run]\nroot = "{tmp_path}"\n')
    logits = np.load(copy / "teacher_logits.npy")
    np.save(copy / "teacher_logits.npy", logits + 1.0)  # someone edits the teacher's logits
    before = snapshot(copy)
    result = invoke("distill", "--config", str(tmp_path / "c.toml"), "--run", "tiny", *TINY)
    assert result.exit_code == 2 and "teacher_logits.npy" in result.stderr and "--force" in result.stderr
    assert snapshot(copy) == before
    (copy / "teacher.keras").unlink()  # a missing artifact is simply rebuilt
    rebuilt = invoke("distill", "--config", str(tmp_path / "c.toml"), "--run", "tiny", *TINY)
    assert rebuilt.exit_code == 0 and "teacher   training" in rebuilt.output


def test_lambda_teacher_refused_from_the_cli(tiny_run, tmp_path):
    from test_zoo import lambda_teacher
    path = lambda_teacher(tmp_path, ".keras")
    before = snapshot(tiny_run)
    result = invoke("distill", "--config", str(tiny_run.parent / "tiny.toml"), "--run", "tiny", *TINY,
                    "--teacher", str(path))
    assert result.exit_code == 2 and "Lambda layer" in result.stderr and str(path) in result.stderr
    assert snapshot(tiny_run) == before


@pytest.mark.slow
def test_a_trusted_lambda_teacher_runs_on_every_augmented_batch(models_root, tmp_path):
    """--unsafe lets a Lambda teacher load, and --augment reloads it from the run folder for every batch: that load
    must trust it too (it failed in Keras safe mode)."""
    from test_zoo import lambda_teacher
    root, config = models_root
    result = invoke("distill", "--config", str(config), "--run", "lam", "--limit", "200", "--epochs", "1",
                    "--teacher", str(lambda_teacher(tmp_path, ".keras")), "--unsafe", "--augment")
    assert result.exit_code == 0, result.output + result.stderr
    assert json.loads((root / "lam" / "run.json").read_text())["stages"]["distill"]["metrics"]["accuracy"] > 0


def test_confusion_matrices_agree_with_accuracy(tiny_run):
    manifest = json.loads((tiny_run / "run.json").read_text())
    for stage in ("teacher", "baseline", "distill"):
        metrics = manifest["stages"][stage]["metrics"]
        confusion = np.array(metrics["confusion"])
        assert confusion.shape == (10, 10) and confusion.sum() == manifest["data"]["sizes"]["test"]
        assert np.trace(confusion) / confusion.sum() == pytest.approx(metrics["accuracy"], abs=1e-5)
