"""Raw audio to class on QEMU's Cortex-M4: the C front end, the feature -> model-input table and an AOT-compiled
DS-CNN-style student (random weights, 49 x 40 input, 12 classes) in one firmware give, for every clip, the host's
features (ctypes) and TFLite Micro's outputs on the host's model inputs, bit for bit."""
import importlib.util
import shutil
from pathlib import Path

import numpy as np
import pytest

from pipeline.audio.frontend import features
from pipeline.device.audio_input import apply, input_table
from pipeline.int8.tflm import quantize_input

NORMALIZATION = {"shift": -128.0, "scale": 228.0, "per_channel": False}  # as data.py records int8 features


def test_table_is_the_pipelines_own_normalize_then_quantize():
    f = np.arange(-128, 128)
    table = input_table(NORMALIZATION, (0.0039, -128))
    x = ((f.astype(np.float32) - np.float32(-128.0)) / np.float32(228.0)).astype(np.float32)
    np.testing.assert_array_equal(table, quantize_input(x, 0.0039, -128))
    assert np.all(np.diff(table.astype(int)) >= 0)
    np.testing.assert_array_equal(apply(table, np.array([[-128, 5]], np.int8)), table[[[0, 133]]])


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None,
                    reason="needs qemu-system-arm and gcc-arm-none-eabi (make install)")
def test_raw_audio_to_class_in_qemu_is_bit_exact(tmp_path):
    from aot_models import student
    from pipeline.compiler import compile_model
    from pipeline.int8.tflm import run as tflm_run
    from test_frontend import clips
    spec = importlib.util.spec_from_file_location("bench_frontend", Path(__file__).parents[1] / "bench" / "frontend.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)

    model = student("dsconv", (49, 40, 1), 12)
    compiled = compile_model(model)
    compiled.write(tmp_path / "aot")
    table = input_table(NORMALIZATION, compiled.input_quant)
    pcm = np.stack(list(clips(seed=5).values()))
    elf = bench.build_firmware(tmp_path, tmp_path / "aot", table)
    device = bench.run_in_qemu(elf, pcm, tmp_path, output_bytes=12)
    host_features = features(pcm)
    np.testing.assert_array_equal(device["features"], host_features)
    np.testing.assert_array_equal(device["outputs"], tflm_run(model, apply(table, host_features)[..., None]))
    assert np.all(device["model_ticks"] > 0)


def audio_run(tmp_path, clips_pcm, target="qemu-cm4", frontend=True):
    """A run folder as `tinykd quantize` leaves it for front-end data (a random DS-CNN student, golden data with raw
    clips) and its firmware built with the front end: (run folder, firmware ELF, model, table)."""
    from aot_models import student
    from pipeline.compiler import compile_model
    from pipeline.device.build import build
    from pipeline.int8.tflm import run as tflm_run

    model = student("dsconv", (49, 40, 1), 12)
    compiled = compile_model(model)
    compiled.write(tmp_path / "aot")
    table = input_table(NORMALIZATION, compiled.input_quant)
    host_features = features(clips_pcm)
    inputs = apply(table, host_features)[..., None]
    run = tmp_path / "run"
    run.mkdir()
    (run / "student_int8.tflite").write_bytes(model)
    np.savez(run / "golden.npz", inputs=inputs, outputs=tflm_run(model, inputs), labels=np.zeros(len(inputs), int),
             pcm=clips_pcm, features=host_features)
    elf = build(target, tmp_path / "aot", out_dir=tmp_path / "fw", input_table=table if frontend else None).elf
    return run, elf


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None,
                    reason="needs qemu-system-arm and gcc-arm-none-eabi (make install)")
def test_raw_clips_stream_over_the_serial_link_and_match_the_host_bit_for_bit(tmp_path):
    """The real firmware app (AUDIO requests, chunked) validated by the session on raw clips: features and outputs
    identical, front end and model timed apart."""
    from pipeline.device import emulator, session
    from test_frontend import clips
    pcm = np.stack(list(clips(seed=7).values()))[:4]
    run, elf = audio_run(tmp_path, pcm)
    report = session.validate_emulated(emulator.qemu(elf), run, progress=False)
    assert report["samples"] == len(pcm)
    assert report["mismatched_features"] == 0 and report["mismatched_outputs"] == 0
    assert 3e6 < report["frontend_instructions_median"] < 6e6  # README: 4.15 M per clip
    assert report["instructions_median"] > 0 and report["seconds_per_clip"] > 0


@pytest.mark.slow
def test_audio_requests_out_of_order_and_firmware_without_front_end_are_refused(tmp_path):
    """On the host port: a chunk past what the device holds is ERROR 2 (one line); golden clips of the wrong length
    and a run with raw clips against firmware without the front end stop at the handshake with one line each."""
    from pipeline.device import emulator, session
    from pipeline.device import protocol as P
    from pipeline.device.link import Link
    from pipeline.errors import PipelineError
    pcm = np.zeros((1, 16000), np.int16)
    run, exe = audio_run(tmp_path, pcm, target="host")
    with emulator.host(exe) as emu:
        link = Link(session.open_port(emu.url), emu.url, timeout=5)
        link.resync()
        assert link.hello().flags & P.FLAG_FRONTEND
        chunk = P.AUDIO_CHUNK.pack(500) + bytes(64)  # nothing is held yet: sample 500 cannot come first
        with pytest.raises(PipelineError, match="refused AUDIO: bad length"):
            link.request(P.AUDIO, chunk)
        reply = session.stream_clip(link, pcm[0].tobytes(), 1960)  # the link still works afterwards
        assert reply.features == features(pcm)[0].tobytes()
        link.bye()
        link.port.close()
    with np.load(run / "golden.npz") as golden:
        short = {**golden, "pcm": golden["pcm"][:, :15999]}
    np.savez(run / "golden.npz", **short)
    with pytest.raises(PipelineError, match=r"int16 of shape \(1, 15999\).*16000 samples") as error:
        session.validate_emulated(emulator.host(exe), run, progress=False, finish=False)
    assert "\n" not in str(error.value)
    plain, exe = audio_run(tmp_path / "plain", pcm, target="host", frontend=False)
    with pytest.raises(PipelineError, match="has no audio front end") as error:
        session.validate_emulated(emulator.host(exe), plain, progress=False)
    assert "\n" not in str(error.value)
