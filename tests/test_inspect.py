"""`tinykd inspect` and the flatbuffer reader: contents against independent oracles, and bad files."""
from __future__ import annotations

import json

import pytest

from conftest import invoke
from pipeline.errors import PipelineError
from pipeline.int8.tflite_file import read_model, used_ops


def test_json_report_matches_model_and_keras_student(tiny_int8):
    from pipeline.kd.keras import keras
    from pipeline.kd.zoo import count_macs
    result = invoke("inspect", tiny_int8.model, "--json")
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["bytes"] == tiny_int8.model.stat().st_size
    assert info["ops"] == sorted(used_ops(read_model(tiny_int8.model)))
    # MACs per layer summed = the Keras student's count (zoo.count_macs walks the float model, not the file).
    student = keras.models.load_model(tiny_int8.path / "student.keras", compile=False)
    assert info["macs"] == count_macs(student) > 0
    assert info["arena"]["minimum"] == tiny_int8.export["arena_measured"]
    assert [t["type"] for t in info["inputs"] + info["outputs"]] == ["int8", "int8"]
    assert info["inputs"][0]["quantization"]["zero_point"] == [tiny_int8.quantize["input"]["zero_point"]]
    conv = info["layers"][0]  # the stem: 3x3 conv, 1 -> 8 channels on 8x8, batch norm folded into its bias
    assert conv["op"] == "CONV_2D" and conv["outputs"] == [[1, 8, 8, 8]]
    assert conv["macs"] == 8 * 8 * 8 * 3 * 3 * 1 and conv["params"] == 8 * 9 + 8
    assert sum(layer["params"] for layer in info["layers"]) == info["params"]


def test_table_lists_every_layer(tiny_int8):
    result = invoke("inspect", tiny_int8.model, "--no-arena")
    assert result.exit_code == 0
    for op in used_ops(read_model(tiny_int8.model)):
        assert op in result.stdout
    assert "per-channel" in result.stdout and "total" in result.stdout


@pytest.mark.parametrize("content, expected", [
    (b"", "0 bytes"),
    (b"\x89PNG\r\n\x1a\n" + bytes(64), "not a TFLite flatbuffer"),
    ("truncated", "truncated"),
    ("relabelled", "identifier b'TFL9'"),  # a flatbuffer, but of another schema
])
def test_bad_files_exit_2_with_one_line_naming_the_file(tiny_int8, tmp_path, content, expected):
    path = tmp_path / "bad.tflite"
    model = tiny_int8.model.read_bytes()
    if content == "truncated":
        content = model[:len(model) // 2]
    elif content == "relabelled":
        content = model[:4] + b"TFL9" + model[8:]
    path.write_bytes(content)
    result = invoke("inspect", path)
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert str(path) in result.stderr and expected in result.stderr


def test_every_truncation_is_detected(tiny_int8):
    data = tiny_int8.model.read_bytes()
    for cut in range(8, len(data), max(1, len(data) // 97)):
        with pytest.raises(PipelineError, match="truncated"):
            read_model(data[:cut])
