"""The device commands build a Config and call the device stages (pipeline/device/stages.py): one name per
concept (--board, --run), old spellings still accepted, defaults from the settings. The stages are replaced by
recorders here, so these tests check the mapping only (the device tests run the stages for real)."""
import pytest
from device_helpers import FIXTURE_MODEL, make_run

from conftest import invoke
from pipeline.cli import device as cli_device
from pipeline.cli.main import export_settings
from pipeline.config import DeviceConfig, ExportConfig, load_config


@pytest.fixture
def calls(monkeypatch):
    """stage name -> (cfg, keyword arguments) of the last call the commands made."""
    seen = {}

    def recorder(name, result):
        def stage(cfg, **kwargs):
            seen[name] = (cfg, kwargs)
            return result
        return stage

    monkeypatch.setattr(cli_device, "build_stage", recorder("build", {"elf": "fw.elf"}))
    monkeypatch.setattr(cli_device, "validate_stage", recorder("validate", {"samples": 1}))
    return seen


@pytest.mark.parametrize("spelling", ["--board", "--budget"])  # --budget: the old spelling
def test_build_takes_the_board_under_either_name(calls, spelling, tmp_path):
    result = invoke("build", "--model-dir", tmp_path, spelling, "esp32", "--target", "host")
    assert result.exit_code == 0, result.output
    cfg, kwargs = calls["build"]
    assert cfg.export.board == "esp32" and kwargs["target"] == "host" and str(kwargs["model_dir"]) == str(tmp_path)
    assert "firmware: fw.elf" in result.output


def test_build_and_validate_default_to_the_settings(calls, tmp_path):
    make_run(tmp_path / "run", samples=3)
    assert invoke("build", "--model-dir", tmp_path).exit_code == 0
    assert calls["build"][0].export.board == ExportConfig.board
    assert invoke("validate", "--emulator", "host", "--run", tmp_path / "run").exit_code == 0
    device = calls["validate"][0].device
    assert (device.limit, device.timeout, device.port) == (DeviceConfig.limit, DeviceConfig.timeout, "")


@pytest.mark.parametrize("spelling", ["--run", "--run-dir"])  # --run-dir: the old spelling
def test_validate_takes_the_run_by_path_or_name(calls, spelling, tmp_path):
    make_run(tmp_path / "run", samples=3)
    config = tmp_path / "root.toml"
    config.write_text(f'[run]\nroot = "{tmp_path}"\n')
    for run in (tmp_path / "run", "run"):  # a path, or a name under the config's run root
        result = invoke("validate", "--emulator", "qemu", spelling, run, "--config", config, "--budget", "esp32",
                        "--limit", "7", "--timeout", "0.5", "--model-dir", FIXTURE_MODEL)
        assert result.exit_code == 0, result.output
        cfg, kwargs = calls["validate"]
        assert cfg.run_dir == (tmp_path / "run").resolve() and cfg.export.board == "esp32"
        assert (cfg.device.limit, cfg.device.timeout) == (7, 0.5)
        assert kwargs["emulator"] == "qemu" and str(kwargs["model_dir"]) == str(FIXTURE_MODEL)


def test_validate_of_a_missing_run_names_it(calls, tmp_path):
    result = invoke("validate", "--emulator", "qemu", "--run", tmp_path / "ghost")
    assert result.exit_code == 2 and "ghost" in result.stderr and "not a run folder" in result.stderr
    assert "validate" not in calls


@pytest.mark.parametrize("board, target, stand_in, expected", [
    (None, None, None, ("nano33ble", "nano33ble")),
    ("esp32", None, None, ("esp32", "nano33ble")),
    ("esp32", "qemu-cm4", None, ("qemu-cm4", "esp32")),
    (None, "qemu-cm4", None, ("qemu-cm4", "nano33ble")),
    ("qemu-cm4", None, "esp32", ("qemu-cm4", "esp32")),  # the old spelling: --board qemu-cm4 --stand-in esp32
    ("qemu-cm4", None, None, ("qemu-cm4", "nano33ble")),
])
def test_export_board_and_target_set_the_export_settings(board, target, stand_in, expected):
    export = export_settings(load_config(None), board, target, stand_in).export
    assert (export.board, export.stand_in) == expected


def test_export_target_board_leaves_the_emulator_of_a_config_file(tmp_path):
    config = tmp_path / "emulator.toml"
    config.write_text('[export]\nboard = "qemu-cm4"\nstand_in = "esp32"\n')
    cfg = load_config(config)
    assert export_settings(cfg, None, None, None).export.board == "qemu-cm4"  # as the file says
    assert export_settings(cfg, None, "board", None).export.board == "esp32"  # the board it stood in for
    assert export_settings(cfg, "nano33ble", None, None).export.stand_in == "nano33ble"


def test_help_offers_only_the_real_boards():
    for command in ("build", "validate", "export", "run", "flash"):
        result = invoke(command, "--help")
        assert "[nano33ble|esp32]" in result.output, command
        assert "--budget" not in result.output and "--stand-in" not in result.output and "--run-dir" not in \
            result.output


def test_missing_golden_data_names_the_command_that_writes_it(tmp_path):
    """golden.npz comes from `tinykd quantize` (its TFLM outputs are the oracle), not from `tinykd export`."""
    make_run(tmp_path / "run", samples=3)
    (tmp_path / "run" / "golden.npz").unlink()
    result = invoke("validate", "--emulator", "host", "--run", tmp_path / "run", "--model-dir", FIXTURE_MODEL,
                    "--limit", "3")
    assert result.exit_code == 2 and "No golden outputs" in result.stderr and "tinykd quantize" in result.stderr
