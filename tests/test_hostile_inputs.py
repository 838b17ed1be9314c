"""The hostile-input matrix: what a hostile (or hurried) user types at every command. Each case ends in one line
on stderr starting `error:`, exit status 2, no traceback, and leaves an existing run folder byte-identical.

Cases are data: the command line (with {config}, {run} and {file:NAME} filled in), and words the line must
hold. Config errors must also give a hint that works: the option or config line it suggests is accepted.
Out-of-range labels are refused before anything is allocated per class.
"""
from __future__ import annotations

import dataclasses
import errno
import re
import shutil

import numpy as np
import pytest

from conftest import TINY_INT8, invoke, snapshot
from pipeline.cli.main import cli
from pipeline.config import OPTIONS, SECTIONS, load_config


def _npz(path, y_train=None, x_dtype=np.float32, **extra):
    rng = np.random.default_rng(0)
    y_train = np.tile(np.arange(3), 10) if y_train is None else np.asarray(y_train)
    arrays = dict(x_train=rng.random((len(y_train), 6, 6)).astype(x_dtype), y_train=y_train,
                  x_test=rng.random((6, 6, 6)).astype(x_dtype), y_test=np.tile(np.arange(3), 2))
    np.savez(path, **{**arrays, **extra})


def _write(data: bytes):
    return lambda path: path.write_bytes(data)


GARBAGE = bytes(np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8))
FILES = {  # name -> maker(path)
    "empty.npz": _write(b""),
    "garbage.npz": _write(GARBAGE),
    "dir.npz": lambda path: path.mkdir(),
    "keys.npz": lambda path: np.savez(path, images=np.zeros((4, 6, 6)), labels=np.zeros(4)),
    "objects.npz": lambda path: np.savez(path, x_train=np.array([None] * 30, dtype=object),
                                         y_train=np.zeros(30, np.int64), x_test=np.zeros((6, 6, 6)),
                                         y_test=np.zeros(6, np.int64)),
    "flat.npz": lambda path: np.savez(path, x_train=np.zeros(30, np.float32), y_train=np.tile(np.arange(3), 10),
                                      x_test=np.zeros(6, np.float32), y_test=np.tile(np.arange(3), 2)),
    "big_label.npz": lambda path: _npz(path, [0, 1, 2] * 9 + [10 ** 9]),
    "negative_label.npz": lambda path: _npz(path, [0, 1, 2] * 9 + [-3]),
    "gap.npz": lambda path: _npz(path, [0, 2] * 15),
    "valid.npz": lambda path: _npz(path),
    "float_labels.npz": lambda path: _npz(path, np.tile([0.0, 1.5, 2.0], 10)),
    "complex.npz": lambda path: _npz(path, x_dtype=np.complex64),
    "nan.npz": lambda path: np.savez(path, x_train=np.full((30, 6, 6), np.nan, np.float32),
                                     y_train=np.tile(np.arange(3), 10), x_test=np.zeros((6, 6, 6), np.float32),
                                     y_test=np.tile(np.arange(3), 2)),
    "inline_unlabeled.npz": lambda path: _npz(path, x_unlabeled=np.zeros((3, 5, 5), np.float32)),
    "unlabeled_shape.npz": lambda path: np.savez(path, x_unlabeled=np.zeros((4, 5, 5), np.float32)),
    "unlabeled_nan.npz": lambda path: np.savez(path, x_unlabeled=np.full((4, 8, 8), np.nan, np.float32)),
    "unlabeled_key.npz": lambda path: np.savez(path, x=np.zeros((4, 8, 8), np.float32)),
    "unlabeled_empty.npz": lambda path: np.savez(path, x_unlabeled=np.zeros((0, 8, 8), np.float32)),
    "empty_folder": lambda path: path.mkdir(),
    "empty.tflite": _write(b""),
    "garbage.tflite": _write(GARBAGE),
    "empty.keras": _write(b""),
    "garbage.keras": _write(GARBAGE),
    "notes.txt": _write(b"not a model\n"),
    "garbage.toml": _write(b"\x00\x01[run\n"),
    "latin1.toml": _write('[run]\nname = "caf\xe9"\n'.encode("latin-1")),
    "unknown_section.toml": _write(b"[runn]\nseed = 1\n"),
    "unknown_key.toml": _write(b"[distill]\ntempo = 3\n"),
    "config_folder": lambda path: path.mkdir(),
}

# name -> (command line, words the error line must hold)
CASES = {
    # every option of the stage commands past its bounds, or not of its type
    "seed_negative": ("distill {config} --seed -1", ["run.seed=-1", "[0, 2^32)"]),
    "seed_huge": ("distill {config} --seed 5000000000", ["run.seed=5000000000"]),
    "seed_not_a_number": ("distill {config} --seed x", ["'--seed'", "'x'"]),
    "run_name_with_slash": ("distill {config} --run a/b", ["run.name='a/b'", "plain folder name"]),
    "run_name_dotdot": ("distill {config} --run ..", ["run.name='..'"]),
    "limit_negative": ("distill {config} --limit -1", ["data.limit=-1"]),
    "layout_unknown": ("distill {config} --layout tall", ["'--layout'", "'tall'"]),
    "teacher_epochs_negative": ("distill {config} --teacher-epochs -1", ["teacher.epochs=-1"]),
    "student_unknown": ("distill {config} --student big", ["'--student'"]),
    "width_zero": ("distill {config} --width 0", ["student.width=0"]),
    "width_huge": ("distill {config} --width 100000", ["student.width=100000", "cannot fit"]),
    "depth_zero": ("distill {config} --depth 0", ["student.depth=0", "Use --depth 3."]),
    "depth_nine": ("distill {config} --depth 9", ["student.depth=9"]),
    "method_unknown": ("distill {config} --method magic", ["'--method'"]),
    "alpha_between_auto_and_zero": ("distill {config} --alpha -0.5", ["distill.alpha=-0.5", "-1 = auto"]),
    "temperature_negative": ("distill {config} -T -2", ["distill.temperature=-2.0"]),
    "temperature_nan": ("distill {config} -T nan", ["distill.temperature=nan"]),
    "alpha_above_one": ("distill {config} --alpha 1.5", ["distill.alpha=1.5"]),
    "alpha_negative": ("distill {config} --alpha -0.1", ["distill.alpha=-0.1"]),
    "epochs_negative": ("distill {config} --epochs -1", ["distill.epochs=-1"]),
    "batch_size_zero": ("distill {config} --batch-size 0", ["distill.batch_size=0"]),
    "strategy_unknown": ("distill {config} --strategy cluster", ["'--strategy'"]),
    "option_unknown": ("distill {config} --tempreature 3", ["--tempreature"]),
    "command_unknown": ("distil {config}", ["'distil'"]),
    "representative_zero": ("quantize {config} --representative-samples 0", ["quantize.representative_samples=0"]),
    "representative_huge": ("quantize {config} --representative-samples 100001", ["100001"]),
    "qat_epochs_negative": ("quantize {config} --qat-epochs -1", ["quantize.qat_epochs=-1"]),
    "mode_unknown": ("quantize {config} --mode fp16", ["'--mode'"]),
    "export_board_unknown": ("export {config} --board uno", ["'--board'"]),
    "stand_in_emulator": ("export {config} --stand-in qemu-cm4", ["'--stand-in'"]),
    "export_target_unknown": ("export {config} --target esp32", ["'--target'", "'board', 'qemu-cm4'"]),
    "validate_limit_negative": ("run {config} --validate-limit -1", ["device.limit=-1"]),
    "flash_without_port": ("run {config} --flash", ["needs a port"]),
    "tflm_without_port": ("run {config} --engine tflm", ["--engine tflm needs a real board"]),
    "port_remote_socket": ("run {config} --port socket://example.com:80", ["another host", "--allow-remote"]),
    "port_remote_rfc2217": ("run {config} --port rfc2217://1.2.3.4:5", ["another host (1.2.3.4)"]),
    "port_unknown_scheme": ("run {config} --port sockt://127.0.0.1:1", ["unknown URL scheme"]),
    "port_without_port_number": ("run {config} --port socket://127.0.0.1", ["needs a host and a port"]),
    "port_missing_board": ("run {config} --port /dev/ttyNOPE", ["Cannot open serial port '/dev/ttyNOPE'"]),
    "port_emulator_board": ("run {config} --port /dev/ttyNOPE --board qemu-cm4", ["'--board'"]),
    # data files
    "data_missing": ("distill {config} --dataset {root}/none.npz", ["does not exist"]),
    "data_folder_named_npz": ("distill {config} --dataset {file:dir.npz}", ["is a folder, not a .npz file"]),
    "data_empty_file": ("distill {config} --dataset {file:empty.npz}", ["empty.npz"]),
    "data_garbage": ("distill {config} --dataset {file:garbage.npz}", ["garbage.npz", "not a zip archive"]),
    "data_wrong_keys": ("distill {config} --dataset {file:keys.npz}", ["x_train"]),
    "data_object_arrays": ("distill {config} --dataset {file:objects.npz}", ["objects.npz"]),
    "data_flat_samples": ("distill {config} --dataset {file:flat.npz}", ["flat.npz"]),
    "data_label_a_billion": ("distill {config} --dataset {file:big_label.npz}",
                             ["contains label 1000000000", "K <= 10,000"]),
    "data_label_negative": ("distill {config} --dataset {file:negative_label.npz}", ["contains label -3"]),
    "data_class_missing": ("distill {config} --dataset {file:gap.npz}", ["no sample of class 1"]),
    "data_fractional_labels": ("distill {config} --dataset {file:float_labels.npz}", ["float_labels.npz"]),
    "data_complex": ("distill {config} --dataset {file:complex.npz}", ["has dtype complex64"]),
    "data_nan": ("distill {config} --dataset {file:nan.npz}", ["nan.npz"]),
    "data_empty_image_folder": ("distill {config} --dataset {file:empty_folder}", ["empty_folder"]),
    "data_other_run_folder": ("distill {config} --dataset {file:valid.npz} --run digits_victim",
                              ["holds a run on 'digits'", "--force"]),
    # the transfer set and the label share
    "label_fraction_zero": ("distill {config} --label-fraction 0", ["data.label_fraction=0.0", "(0, 1]"]),
    "label_fraction_above_one": ("distill {config} --label-fraction 1.5", ["data.label_fraction=1.5"]),
    "folds_zero": ("distill {config} --folds 0", ["teacher.folds=0", "[1, 10]"]),
    "folds_eleven": ("distill {config} --folds 11", ["teacher.folds=11"]),
    "unlabeled_missing": ("distill {config} --unlabeled {root}/none.npz", ["none.npz", "does not exist"]),
    "unlabeled_folder": ("distill {config} --unlabeled {file:dir.npz}", ["dir.npz", "is a folder"]),
    "unlabeled_garbage": ("distill {config} --unlabeled {file:garbage.npz}", ["not a zip archive"]),
    "unlabeled_wrong_key": ("distill {config} --unlabeled {file:unlabeled_key.npz}",
                            ["no array x_unlabeled", "it has: x"]),
    "unlabeled_wrong_shape": ("distill {config} --unlabeled {file:unlabeled_shape.npz}",
                              ["shape (5, 5)", "x_train's are (8, 8)"]),
    "unlabeled_nan": ("distill {config} --unlabeled {file:unlabeled_nan.npz}", ["256 NaN/inf"]),
    "unlabeled_empty": ("distill {config} --unlabeled {file:unlabeled_empty.npz}", ["x_unlabeled", "is empty"]),
    "data_unlabeled_wrong_shape": ("distill {config} --dataset {file:inline_unlabeled.npz}",
                                   ["inline_unlabeled.npz", "shape (5, 5)"]),
    # config files
    "config_missing": ("distill --config {root}/none.toml", ["none.toml"]),
    "config_folder": ("distill --config {file:config_folder}", ["config_folder"]),
    "config_garbage": ("distill --config {file:garbage.toml}", ["garbage.toml"]),
    "config_not_utf8": ("distill --config {file:latin1.toml}", ["is not UTF-8", "latin1.toml"]),
    "config_unknown_section": ("distill --config {file:unknown_section.toml}", ["[runn]"]),
    "config_unknown_key": ("distill --config {file:unknown_key.toml}", ["distill.tempo"]),
    # teacher files
    "teacher_missing": ("distill {config} --teacher {root}/none.keras", ["none.keras", "does not exist"]),
    "teacher_empty": ("distill {config} --teacher {file:empty.keras}", ["empty.keras"]),
    "teacher_garbage": ("distill {config} --teacher {file:garbage.keras}", ["garbage.keras"]),
    "teacher_text_file": ("distill {config} --teacher {file:notes.txt}", ["notes.txt"]),
    "teacher_folder": ("distill {config} --teacher {file:empty_folder}", ["empty_folder"]),
    # model files
    "inspect_missing": ("inspect {root}/none.tflite", ["none.tflite"]),
    "inspect_empty": ("inspect {file:empty.tflite}", ["empty.tflite"]),
    "inspect_garbage": ("inspect {file:garbage.tflite}", ["garbage.tflite"]),
    "inspect_folder": ("inspect {file:empty_folder}", ["empty_folder"]),
    "compile_garbage": ("compile {file:garbage.tflite} --out {root}/c", ["garbage.tflite"]),
    "compile_into_a_file": ("compile {run}/student_int8.tflite --out {file:notes.txt}", ["notes.txt"]),
    "verify_garbage": ("verify {file:garbage.tflite}", ["garbage.tflite"]),
    "export_garbage_model": ("export {config} --model {file:garbage.tflite} --out {root}/e", ["garbage.tflite"]),
    "build_empty_model_dir": ("build --model-dir {file:empty_folder}", ["tinykd compile"]),
    "build_unknown_target": ("build --target uno --model-dir {run}/aot", ["'--target'"]),
    # run folders and devices
    "report_missing_run": ("report {root}/nowhere", ["nowhere"]),
    "validate_missing_run": ("validate --emulator host --run-dir {root}/nowhere", ["nowhere", "does not exist"]),
    "validate_port_and_emulator": ("validate --port /dev/ttyNOPE --emulator host --run-dir {run}", ["exactly one"]),
    "validate_nothing": ("validate --run-dir {run}", ["exactly one"]),
    "validate_limit_negative_flag": ("validate --emulator host --run-dir {run} --limit -1", ["--limit -1"]),
    "validate_remote": ("validate --port socket://10.0.0.1:9 --run-dir {run}", ["another host (10.0.0.1)"]),
    "flash_to_a_url": ("flash --board nano33ble --port socket://127.0.0.1:1 --model-dir {run}/aot",
                       ["a URL is not a serial port"]),
}


@pytest.fixture(scope="module")
def victim(tiny_int8, tmp_path_factory):
    """(root, config, run folder): a finished run every case is aimed at; no case may change a byte of it."""
    root = tmp_path_factory.mktemp("hostile")
    run = root / "victim"
    shutil.copytree(tiny_int8.path, run)
    shutil.copytree(tiny_int8.path, root / "digits_victim")  # a run on digits, for the other-data case
    config = root / "victim.toml"
    config.write_text(TINY_INT8.format(root=root).replace('name = "tiny"', 'name = "victim"'))
    return root, config, run


def _argv(template: str, root, config, run, tmp_path) -> list[str]:
    def fill(word: str) -> list[str]:
        if word == "{config}":
            return ["--config", str(config)]
        match = re.fullmatch(r"\{file:(.+)\}", word)
        if match:
            path = tmp_path / match.group(1)
            FILES[match.group(1)](path)
            return [str(path)]
        return [word.replace("{root}", str(root)).replace("{run}", str(run))]
    return [part for word in template.split() for part in fill(word)]


def one_line_error(result, *needles) -> str:
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert "Traceback" not in result.output, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_input_is_one_line_and_changes_nothing(case, victim, tmp_path):
    root, config, run = victim
    template, needles = CASES[case]
    before = {name: snapshot(root / name) for name in ("victim", "digits_victim")}
    one_line_error(invoke(*_argv(template, root, config, run, tmp_path)), *needles)
    assert {name: snapshot(root / name) for name in before} == before


def test_the_matrix_is_large():
    assert len(CASES) + len(TYPE_CASES) + len(RANGE_CASES) >= 60


# Every setting of every section, given a value of the wrong type in a config file.
WRONG_TYPE = {bool: '"yes"', int: '"x"', float: '"x"', str: "5"}
TYPE_CASES = [f"{section}.{f.name}" for section, cls in SECTIONS.items() for f in dataclasses.fields(cls)]
# Settings past their bounds in a config file (those with a CLI option are covered above).
RANGE_CASES = {"data.val_fraction": 0.7, "data.test_fraction": 0.0, "teacher.width": 2000, "teacher.batch_size": 0,
               "teacher.learning_rate": -1.0, "distill.dkd_alpha": -1.0, "distill.dkd_beta": -1.0,
               "distill.dist_beta": -1.0, "distill.dist_gamma": -1.0, "distill.learning_rate": 0.0,
               "quantize.qat_learning_rate": 0.0, "quantize.qat_batch_size": 0, "export.arena_margin": 2.0,
               "device.timeout": 0.0, "device.limit": -1}


def _config(path, root, section: str, name: str, value: str):
    """A config file with the run root and one setting (the run section written once)."""
    tables = {"run": {"root": f'"{root}"'}}
    tables.setdefault(section, {})[name] = value
    path.write_text("".join(f"[{t}]\n" + "".join(f"{k} = {v}\n" for k, v in kv.items()) for t, kv in tables.items()))
    return path


def _check_hint(line: str, key: str, tmp_path) -> None:
    """The hint's suggestion is accepted: `Use --opt V.` names a real option and a valid value; `Set f = V under
    [section]` is a valid config line."""
    section, name = key.split(".")
    use = re.search(r"Use (--[a-z-]+) (\S+)\.$", line)
    if use:
        option, value = use.groups()
        assert OPTIONS[key] == option
        assert any(option in p.opts for command in cli.commands.values() for p in command.params), option
        field = next(f for f in dataclasses.fields(SECTIONS[section]) if f.name == name)
        load_config(None, {section: {name: type(field.default)(value)}})
        return
    setting = re.search(r"Set (\w+) = (.+) under \[(\w+)\] in your --config file\.$", line)
    assert setting and setting.group(1) == name and setting.group(3) == section, line
    file = tmp_path / "hinted.toml"
    file.write_text(f"[{section}]\n{name} = {setting.group(2)}\n")
    load_config(file)


@pytest.mark.parametrize("key", TYPE_CASES)
def test_a_setting_of_the_wrong_type_is_one_line_with_a_hint_that_works(key, victim, tmp_path):
    root, _, _ = victim
    section, name = key.split(".")
    field = next(f for f in dataclasses.fields(SECTIONS[section]) if f.name == name)
    file = _config(tmp_path / "typed.toml", root, section, name, WRONG_TYPE[type(field.default)])
    line = one_line_error(invoke("distill", "--config", file), key, "wrong type")
    _check_hint(line, key, tmp_path)


@pytest.mark.parametrize("key", sorted(RANGE_CASES))
def test_a_setting_out_of_range_is_one_line_with_a_hint_that_works(key, victim, tmp_path):
    root, _, _ = victim
    section, name = key.split(".")
    file = _config(tmp_path / "range.toml", root, section, name, repr(RANGE_CASES[key]))
    line = one_line_error(invoke("distill", "--config", file), f"{key}={RANGE_CASES[key]!r}", "not allowed")
    _check_hint(line, key, tmp_path)


def test_every_option_hint_names_an_option_tinykd_has():
    flags = {opt for command in cli.commands.values() for p in command.params for opt in p.opts}
    assert set(OPTIONS.values()) <= flags


@pytest.mark.parametrize("failure, needle", [
    (OSError(errno.ENOSPC, "No space left on device", "teacher.keras"), "the disk is full"),
    (OSError(errno.EROFS, "Read-only file system", "run.json"), "read-only"),
    (OSError(errno.EACCES, "Permission denied", "run.json"), "permission denied"),
    (MemoryError(), "Out of memory"),
])
def test_a_machine_failure_inside_a_stage_is_one_line_and_the_rerun_recovers(failure, needle, victim, monkeypatch):
    """Disk full, read-only or forbidden folders, out of memory: raised where tinykd writes its manifest, as the
    machine would. One line, exit 2, earlier artifacts intact; once the machine is fine again a rerun finishes."""
    import pipeline.runs

    root, config, run = victim
    before = snapshot(run)
    real = pipeline.runs.write_json_atomic

    def failing(path, data):
        raise failure
    monkeypatch.setattr(pipeline.runs, "write_json_atomic", failing)
    one_line_error(invoke("export", "--config", config, "--force"), needle)
    assert snapshot(run) == before
    monkeypatch.setattr(pipeline.runs, "write_json_atomic", real)
    assert invoke("export", "--config", config, "--force").exit_code == 0
    after = snapshot(run)  # the same artifacts again; the manifest has new times
    assert {k: v for k, v in after.items() if k != "run.json"} == {k: v for k, v in before.items() if k != "run.json"}


def test_a_board_that_does_not_answer_is_found_before_training(tmp_path):
    """`tinykd run --port` opens the port and says HELLO before any stage: a port where no tinykd firmware answers
    stops the run in seconds, with nothing trained (a loopback socket that accepts and stays silent)."""
    import socket

    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        config = tmp_path / "c.toml"
        config.write_text(f'[run]\nroot = "{tmp_path}"\n[device]\ntimeout = 0.2\n')
        one_line_error(invoke("run", "--config", config, "--run", "silent", "--port", f"socket://127.0.0.1:{port}"),
                       "No answer from the device", f"127.0.0.1:{port}")
    assert not (tmp_path / "silent" / "run.json").exists()


BROKEN = ("[]", '{"stages": "x"}', "\xff\xfe")  # not a manifest, a manifest of the wrong shape, not text


@pytest.mark.parametrize("command, edit", [(c, edit) for c in ("distill", "report") for edit in BROKEN]
                         + [("report", "accuracy")])
def test_a_hand_edited_manifest_is_one_line_with_one_advice(command, edit, victim, tmp_path):
    """run.json broken by hand: every command that reads it says the same thing (delete it, rerun `tinykd run`).
    (A stage that reruns simply overwrites a hand-edited number of its own, so `accuracy` is a report case.)"""
    _, _, run = victim
    copy = tmp_path / "edited"
    shutil.copytree(run, copy)
    manifest = copy / "run.json"
    if edit == "accuracy":  # valid JSON, a tinykd manifest, one number made a string
        text = manifest.read_text()
        manifest.write_text(re.sub(r'"accuracy": [0-9.]+', '"accuracy": "high"', text, count=1))
    else:
        manifest.write_bytes(edit.encode("latin-1"))
    config = _config(tmp_path / "c.toml", tmp_path, "run", "name", '"edited"')
    result = invoke(command, *(["--config", config] if command == "distill" else [copy]))
    one_line_error(result, "run.json", "is corrupt", "Delete it", "tinykd run --run edited")
