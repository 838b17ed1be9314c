"""platformio.ini parsed by PlatformIO's own config parser, its model script, and `tinykd flash`'s command.
Nothing here runs `pio`: building for a board needs PlatformIO's registry."""
import os
import subprocess
from types import SimpleNamespace
from pathlib import Path

import pytest
from click.testing import CliRunner
from device_helpers import FIXTURE_MODEL

from pipeline.cli.main import cli
from pipeline.errors import PipelineError
from pipeline.device.flash import flash, flash_command

ROOT = Path(__file__).resolve().parent.parent
ProjectConfig = pytest.importorskip("platformio.project.config").ProjectConfig


@pytest.fixture(scope="module")
def config():
    return ProjectConfig(str(ROOT / "platformio.ini"))


def test_platformio_ini_is_valid_for_platformio(config):
    assert ProjectConfig.lint(str(ROOT / "platformio.ini")) == {"errors": [], "warnings": []}
    assert config.validate(silent=True)
    assert {"nano33ble", "esp32dev", "nano33ble_tflm", "esp32dev_tflm"} <= set(config.envs())
    assert config.default_envs() == ["nano33ble"]


@pytest.mark.parametrize("env, board, platform, engine", [
    ("nano33ble", "nano33ble", "nordicnrf52", "aot"), ("esp32dev", "esp32dev", "espressif32", "aot"),
    ("nano33ble_tflm", "nano33ble", "nordicnrf52", "tflm"), ("esp32dev_tflm", "esp32dev", "espressif32", "tflm")])
def test_each_env_builds_the_right_engine(config, env, board, platform, engine):
    section = f"env:{env}"
    assert config.get(section, "board") == board and config.get(section, "platform") == platform
    assert config.get(section, "framework") == ["arduino"]
    flags = " ".join(config.get(section, "build_flags"))
    sources = " ".join(config.get(section, "build_src_filter"))
    assert f'-DTK_BOARD_NAME=\\"{board}\\"' in flags
    if engine == "tflm":
        assert "-DTK_ENGINE_TFLM" in flags and "+<src/engine_tflm.cpp>" in sources
        assert "-<src/engine_aot.c>" in sources and config.get(section, "lib_deps")
    else:
        assert "TK_ENGINE_TFLM" not in flags and "engine_tflm" not in sources
    for script in config.get(section, "extra_scripts"):
        assert (ROOT / script.split(":", 1)[-1]).is_file()
    for path in ("src", "ports/arduino"):
        assert (ROOT / config.get("platformio", "src_dir") / path).is_dir()


class FakeSConsEnv:
    """The few SCons calls firmware/ports/arduino/pio_model.py makes."""

    def __init__(self, options):
        self.options, self.appended, self.built, self.exit_status = options, [], [], None

    def subst(self, text):
        return str(ROOT) if text == "$PROJECT_DIR" else text

    def GetProjectOption(self, name):  # noqa: N802 (SCons' name)
        return self.options[name]

    def Append(self, **kw):  # noqa: N802
        self.appended.append(kw)

    def BuildSources(self, variant, src):  # noqa: N802
        self.built.append(src)

    def Exit(self, status):  # noqa: N802
        self.exit_status = status


def run_model_script(options, env_var=None):
    env = FakeSConsEnv(options)
    old = os.environ.pop("TINYKD_MODEL_DIR", None)
    try:
        if env_var:
            os.environ["TINYKD_MODEL_DIR"] = env_var
        code = (ROOT / "firmware/ports/arduino/pio_model.py").read_text()
        exec(compile(code, "pio_model.py", "exec"), {"Import": lambda name: None, "env": env})
    finally:
        os.environ.pop("TINYKD_MODEL_DIR", None)
        if old is not None:
            os.environ["TINYKD_MODEL_DIR"] = old
    return env


def test_model_script_adds_the_model_folder_from_the_environment(tmp_path):
    env = run_model_script({"custom_model_dir": "models/none", "build_flags": ["-Ifirmware/src"]},
                           env_var=str(FIXTURE_MODEL))
    assert env.exit_status is None
    assert str(FIXTURE_MODEL) in env.built and {"CPPPATH": [str(FIXTURE_MODEL)]} in env.appended


def test_model_script_stops_when_the_model_is_missing(tmp_path, capsys):
    env = run_model_script({"custom_model_dir": str(tmp_path), "build_flags": ["-DTK_ENGINE_TFLM"]})
    assert env.exit_status == 1
    assert "model_data.h or model_data.cc" in capsys.readouterr().out


def test_flash_wraps_pio_upload_with_the_model_folder():
    calls = []

    def runner(command, env, check):
        calls.append((command, env["TINYKD_MODEL_DIR"]))
        return subprocess.CompletedProcess(command, 0)

    board = SimpleNamespace(device="/dev/ttyACM0", vid=0x2341, pid=0x805A, serial_number="s")
    flashed = flash("nano33ble", "/dev/ttyACM0", FIXTURE_MODEL, runner=runner, lister=lambda: [board])
    command = flashed.command
    assert flashed.port == "/dev/ttyACM0" and command == ["pio", "run", "--project-dir", str(ROOT), "-e", "nano33ble",
                                                          "-t", "upload", "--upload-port", "/dev/ttyACM0"]
    assert calls == [(command, str(FIXTURE_MODEL.resolve()))]
    assert flash_command("esp32", "/dev/ttyUSB0", engine="tflm")[5] == "esp32dev_tflm"


def test_flash_reports_a_failed_upload():
    def runner(command, env, check):
        return subprocess.CompletedProcess(command, 1)

    with pytest.raises(PipelineError, match="failed with status 1"):
        flash("nano33ble", "/dev/ttyACM0", FIXTURE_MODEL, runner=runner)


def test_flash_refuses_bad_arguments(tmp_path):
    with pytest.raises(PipelineError, match="Unknown board or budget 'uno'"):
        flash_command("uno", "/dev/ttyACM0")
    with pytest.raises(PipelineError, match="Invalid serial port '--help'"):
        flash_command("nano33ble", "--help")
    with pytest.raises(PipelineError, match=str(tmp_path)):
        flash("nano33ble", "/dev/ttyACM0", tmp_path, runner=lambda *a, **k: None)
    result = CliRunner().invoke(cli, ["flash", "--board", "nano33ble", "--port", "/dev/ttyACM0", "--model-dir",
                                      str(tmp_path)])
    assert result.exit_code == 2 and str(tmp_path) in result.output
