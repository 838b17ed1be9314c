"""`tinykd run` takes the options of the stages it chains (README: every option of the earlier stages works on
`run`), and they land in the Config the stages receive. The stages are replaced by a recorder: mapping only."""
import pytest

from conftest import invoke
from pipeline.cli.main import cli

# export options that do not belong on `run`: another model, another folder, the library mode and its settings,
# and the hidden old spelling --stand-in (run's --board never was the emulator)
EXPORT_ONLY = {"--model", "--out", "--library", "--format", "--name", "--stand-in"}


def _flags(command: str) -> set[str]:
    return {flag for param in cli.commands[command].params for flag in param.opts}


@pytest.mark.parametrize("stage", ["distill", "quantize", "export"])
def test_run_has_every_option_of_the_stages_it_chains(stage):
    missing = _flags(stage) - EXPORT_ONLY - _flags("run")
    assert not missing, f"tinykd run lacks {sorted(missing)} of tinykd {stage}"


def test_run_passes_the_quantize_options_to_the_config(run_config):
    cfg = run_config("--qat-epochs", "1", "--representative-samples", "50", "--mode", "ptq")
    assert (cfg.quantize.qat_epochs, cfg.quantize.representative_samples, cfg.quantize.mode) == (1, 50, "ptq")


def test_run_passes_the_export_options_to_the_config(run_config):
    cfg = run_config("--board", "esp32", "--target", "qemu-cm4")
    assert (cfg.export.board, cfg.export.stand_in) == ("qemu-cm4", "esp32")
    assert run_config("--board", "esp32").export.board == "esp32"


def test_a_bad_quantize_option_on_run_is_one_line(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    result = invoke("run", "--representative-samples", "0")
    assert result.exit_code == 2 and "quantize.representative_samples=0" in result.stderr
