"""Settings: defaults, TOML file, CLI overrides, and clear errors for every bad value."""
from pathlib import Path

import pytest

from pipeline.config import Config, load_config
from pipeline.errors import PipelineError
from conftest import invoke

EXAMPLE = Path(__file__).parent.parent / "configs" / "default.toml"


def test_example_file_is_the_defaults():
    assert load_config(EXAMPLE) == Config()


def test_cli_overrides_beat_the_file(tmp_path):
    file = tmp_path / "c.toml"
    file.write_text('[distill]\ntemperature = 2\nmethod = "dkd"\n[student]\nwidth = 4\n')
    cfg = load_config(file, {"distill": {"temperature": 6.0, "alpha": None}})
    assert cfg.distill.temperature == 6.0  # CLI wins
    assert cfg.distill.method == "dkd"  # file wins over default
    assert cfg.distill.alpha == Config().distill.alpha  # None = not given
    assert cfg.student.width == 4


def test_run_dir_defaults_to_the_dataset_name():
    assert load_config().run_dir == Path("models/digits")
    assert load_config(None, {"data": {"dataset": "x/my.data.npz"}}).run_dir == Path("models/my_data")
    assert load_config(None, {"run": {"name": "exp1"}}).run_dir == Path("models/exp1")


@pytest.mark.parametrize("text, needle", [
    ("[distill]\ntempo = 3\n", "distill.tempo"),
    ("[nope]\nx = 1\n", "[nope]"),
    ("[distill]\nepochs = 'ten'\n", "'ten'"),
    ("[distill\n", "not valid TOML"),
])
def test_bad_config_file(tmp_path, text, needle):
    file = tmp_path / "bad.toml"
    file.write_text(text)
    with pytest.raises(PipelineError) as e:
        load_config(file)
    assert needle in str(e.value)


def test_missing_config_file_names_it():
    result = invoke("distill", "--config", "/no/such.toml")
    assert result.exit_code == 2 and "/no/such.toml" in result.stderr


@pytest.mark.parametrize("port, flash", [("--help", False), ("sockt://127.0.0.1:1", False), (" /dev/ttyACM0", False),
                                         ("socket://127.0.0.1:4321", True)])
def test_device_port_is_checked_wherever_it_comes_from(port, flash):
    """`tinykd run --port` and a config file's device.port get the same check as `validate --port` (a URL is not
    a port PlatformIO can upload to)."""
    from pipeline.config import DeviceConfig
    with pytest.raises(PipelineError, match="Invalid serial port"):
        DeviceConfig(port=port, flash=flash)
    assert DeviceConfig(port="/dev/ttyACM0", flash=flash).port == "/dev/ttyACM0"


def test_a_port_on_another_host_needs_allow_remote():
    from pipeline.config import DeviceConfig
    with pytest.raises(PipelineError, match="another host"):
        DeviceConfig(port="socket://10.1.2.3:4000")
    for loopback in ("socket://127.0.0.1:4000", "socket://localhost:4000", "socket://[::1]:4000"):
        assert DeviceConfig(port=loopback).port == loopback
    assert DeviceConfig(port="socket://10.1.2.3:4000", allow_remote=True).allow_remote
