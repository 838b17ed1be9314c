"""A malformed .tflite never crashes the compiler: truncations and byte mutations (fixed seed) of a real model
end in a PipelineError or in a successful compile, never in another exception."""
import numpy as np
import pytest
from click.testing import CliRunner

from aot_models import STUDENT_DSCONV
from pipeline.cli.main import cli
from pipeline.compiler import compile_model
from pipeline.errors import PipelineError

MUTATIONS = 300


def _compile_or_clear_error(data: bytes) -> str:
    try:
        compile_model(data)
        return "compiled"
    except PipelineError as e:
        assert str(e).strip(), "an empty error message"
        return "error"


@pytest.mark.parametrize("data", [b"", b"\x00" * 7, b"not a flatbuffer at all", b"\x10\x00\x00\x00TFL3" + b"\xff" * 8])
def test_garbage_is_refused_clearly(data):
    with pytest.raises(PipelineError):
        compile_model(data)


@pytest.mark.slow
def test_mutated_flatbuffers_only_raise_pipeline_errors():
    model = STUDENT_DSCONV.read_bytes()
    rng = np.random.default_rng(1234)
    outcomes = {"compiled": 0, "error": 0}
    for i in range(MUTATIONS):
        data = bytearray(model)
        if i % 5 == 0:  # truncate
            data = data[:int(rng.integers(8, len(data)))]
        else:  # overwrite a few bytes, biased towards the tables at the start and end of the file
            for _ in range(int(rng.integers(1, 5))):
                where = int(rng.integers(0, len(data)))
                data[where] = int(rng.integers(0, 256))
        outcomes[_compile_or_clear_error(bytes(data))] += 1
    assert outcomes["error"] > 0


def test_cli_compile_missing_file_exits_2_naming_it(tmp_path):
    result = CliRunner().invoke(cli, ["compile", str(tmp_path / "nope.tflite"), "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "nope.tflite" in result.output


def test_cli_compile_garbage_exits_2(tmp_path):
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"garbage bytes")
    result = CliRunner().invoke(cli, ["compile", str(bad), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "bad.tflite" in result.output and "not a TFLite flatbuffer" in result.output


def test_cli_verify_negative_samples_exits_2(tmp_path):
    path = tmp_path / "m.tflite"
    path.write_bytes(STUDENT_DSCONV.read_bytes())
    result = CliRunner().invoke(cli, ["verify", str(path), "--samples", "-3"])
    assert result.exit_code == 2
    assert "-3" in result.output


@pytest.mark.slow  # builds the kernel library for the host (seconds)
def test_cli_verify_reports_zero_mismatches(tmp_path):
    path = tmp_path / "m.tflite"
    path.write_bytes(STUDENT_DSCONV.read_bytes())
    result = CliRunner().invoke(cli, ["verify", str(path), "--samples", "30", "--json"])
    assert result.exit_code == 0, result.output
    assert '"mismatches": 0' in result.output and '"inputs": 30' in result.output


def test_cli_compile_writes_both_files(tmp_path):
    path = tmp_path / "m.tflite"
    path.write_bytes(STUDENT_DSCONV.read_bytes())
    result = CliRunner().invoke(cli, ["compile", str(path), "--out", str(tmp_path / "gen")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "gen" / "model.h").is_file() and (tmp_path / "gen" / "model.c").is_file()
