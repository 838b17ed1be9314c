"""Settings: defaults, TOML file, CLI overrides, and clear errors for every bad value."""
import json
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


def test_the_distillation_defaults_are_the_ones_chosen_on_validation():
    """Fashion-MNIST's auto teacher.folds, temperature and alpha are its runs' best validation choice
    (bench/experiments/fm_kd.py), small sets keep T = 4, alpha = 0.9: changing a default means measuring it again."""
    from pipeline.kd.sizing import kd_weights
    record = json.loads((EXAMPLE.parent.parent / "bench" / "results" / "fm_kd_defaults.json").read_text())
    chosen, cfg = record["chosen_on_validation"], Config()
    fashion = kd_weights(cfg, 54_000)
    assert (fashion.teacher.folds, fashion.distill.temperature, fashion.distill.alpha) == \
        (chosen["folds"], chosen["temperature"], chosen["alpha"])
    full = [r for r in record["rows"] if r["limit"] == 0 and r["epochs"] == 0]
    assert chosen["student_val"] == max(r["student_val"] for r in full)
    small = kd_weights(cfg, 243).distill  # JapaneseVowels
    assert (small.temperature, small.alpha) == (4.0, 0.9)


@pytest.mark.parametrize("settings, samples, expected", [
    ({}, 1437, (1.0, 0.3)), ({}, 999, (4.0, 0.9)), ({"temperature": 2.0}, 54_000, (2.0, 0.3)),
    ({"alpha": 0.5}, 36, (4.0, 0.5)), ({"method": "dkd"}, 54_000, (4.0, 0.9))])
def test_auto_kd_weights_follow_the_data_and_never_override_a_given_value(settings, samples, expected):
    from pipeline.kd.sizing import kd_weights
    kd = kd_weights(load_config(None, {"distill": settings}), samples).distill
    assert (kd.temperature, kd.alpha) == expected


def test_your_own_teacher_gets_the_classic_weights(tmp_path):
    from pipeline.kd.sizing import kd_weights
    kd = kd_weights(load_config(None, {"teacher": {"path": str(tmp_path / "t.keras")}}), 54_000).distill
    assert (kd.temperature, kd.alpha) == (4.0, 0.9)


def test_a_loss_made_outside_a_run_uses_the_classic_auto_weights():
    from pipeline.kd.losses import resolved
    from pipeline.config import DistillConfig
    assert (resolved(DistillConfig()).temperature, resolved(DistillConfig()).alpha) == (4.0, 0.9)
