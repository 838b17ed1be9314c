"""The kernels as built for Cortex-M4 (the fast kernels' DSP path: SMLAD, SXTAB16, SMMLAR, which the host tests
never run; and every op of the registry): whole models compiled, built for qemu-cm4 and validated in QEMU against
the TFLite Micro runtime, bit for bit (a float32 output too)."""
import shutil
import subprocess

import pytest

import op_cases
from aot_models import aot_run, function_tflite, keras_tflite, mlperf, student
from device_helpers import validate_in
from pipeline.compiler import pack, registry

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None,
                                 reason="needs qemu-system-arm and gcc-arm-none-eabi (make install)")]


def kernel_mix(x):
    """The DSP paths the two models above do not reach: 3 and 6 input channels (filter rows padded to 4 taps,
    read straight from the input inside the image, gathered on its border, the last pixel's row gathered too),
    a 1x1 conv, an odd output channel count (2-pixel fallback), strides, ADD's fast loop, a pixel count not a
    multiple of 3; a 3x3 depthwise on planes (9 rows: a last block of 1 row) and convs whose RELU really clamps
    (their outputs, concatenated with negative values, have their zero point; DS-CNN's run the unclamped loops),
    shallow convs (the unrolled 2-pixel loop) and deep ones (the 3-pixel loop), clamped and not; an average pool
    over 8 channels; max pools of 2x2 (unrolled, a RELU that clamps) and 2x1 windows (two words per 4 channels)."""
    from pipeline.kd.keras import keras
    L = keras.layers
    a = L.Conv2D(6, 3, padding="same", activation="relu")(x)
    wide = L.Conv2D(16, 1)(a)  # 3x3 convs over it have 36 groups of taps: the 3-pixel loop, not the unrolled one
    m = L.Concatenate()([L.DepthwiseConv2D(3, padding="same", activation="relu")(L.Conv2D(4, 1)(a)),
                         L.Conv2D(4, 1)(a), L.Conv2D(4, 3, padding="same", activation="relu")(a),
                         L.Conv2D(4, 3, padding="same", activation="relu")(wide)])
    d = L.Add()([L.Conv2D(6, 1)(m), L.Conv2D(6, 3, padding="same")(wide)])
    e = L.Conv2D(5, (5, 2), strides=(2, 1), padding="same")(d)
    # a 1x1 conv over 12 channels (an odd count of groups: the 2-pixel fill's single group first), an average pool
    # over 8 channels (a partial chunk of 16)
    pooled = L.AveragePooling2D(3, strides=2)(L.Conv2D(8, 1)(L.Conv2D(12, 1)(a)))
    # a 1x1 conv over 8 channels into an odd count (tk_conv2d_narrow_s8's loop entered at its second half); a max
    # pool over 8 channels whose fused RELU clamps (the byte-wise max per word), one over 6 (4 + 2 one by one)
    narrow = L.Conv2D(5, 1)(L.Conv2D(8, 1)(a))
    maxed = L.ReLU()(L.MaxPool2D(2)(L.Conv2D(8, 1)(a)))
    paired = L.MaxPool2D((2, 1))(L.Conv2D(8, 1)(a))  # windows of 2 pixels, as a series pooled in time
    return L.Dense(10)(L.Concatenate()([L.Flatten()(L.Conv2D(4, 3, strides=2)(e)), L.Flatten()(pooled),
                                        L.Flatten()(narrow), L.Flatten()(maxed), L.Flatten()(L.MaxPool2D(2)(a)),
                                        L.Flatten()(paired)]))


def flat_mix(x):
    """Convs whose taps go back to back (tk_conv_flat: filter rows of 9, 6 or 2 taps): 3x3 over 3 input channels
    with stride 2, SAME over odd sizes (padding on every side) and VALID, a 5x3 and a 3x1 kernel, an odd output
    channel count (the odd-channel fallback), 2 input channels into 40 outputs, the int8-weight 3-pixel loop (under
    balanced conv8 takes the stride-2 3x3 over RGB), on an 11x13 input whose last pixel's rows end at the input's
    end."""
    from pipeline.kd.keras import keras
    L = keras.layers
    a = L.Conv2D(8, 3, strides=2, padding="same", activation="relu")(x)
    b = L.Conv2D(5, 3, strides=2, padding="valid")(x)
    c = L.Conv2D(6, (5, 3), padding="same")(x)
    d = L.Conv2D(40, 3, padding="same")(L.Conv2D(2, 1)(c))
    e = L.Conv2D(4, (3, 1), strides=(2, 1), padding="same")(L.Conv2D(2, 1)(x))
    return L.Dense(10)(L.Concatenate()([L.Flatten()(t) for t in (a, b, c, d, e)]))


def dw_s2_mix(x):
    """The 3x3 stride-2 depthwise on planes (tk_dw3s2_*; maps of >= 64 output pixels and >= 36 channels, see
    pipeline/compiler/ops/conv.py): padding 1 on top and 0 on the left (17x18 SAME), none (VALID; 16x18 SAME), 1 on
    both (17x17 SAME), odd output row counts (a last single row), clamped (RELU, RELU6) and not."""
    from pipeline.kd.keras import keras
    L = keras.layers
    dw = L.DepthwiseConv2D
    a = dw(3, strides=2, padding="same", activation="relu")(x)
    b = dw(3, strides=2)(x)
    c = L.ReLU(6.0)(dw(3, strides=2, padding="same")(L.Conv2D(36, (2, 1))(x)))
    d = dw(3, strides=2, padding="same")(L.Conv2D(40, (1, 2))(x))
    e = dw(3, strides=2, padding="same")(L.Conv2D(43, 1)(x))  # a last group of 3 channels, gathered
    return L.Dense(10)(L.Concatenate()([L.Flatten()(t) for t in (a, b, c, d, e)]))


def dw_fill_mix(x):
    """The 3x3 depthwise's DSP paths the models above do not reach: the plane fill's last block with 1 and 2 rows
    inside (7 and 6 rows: tk_dw3_fill_band), the per-pixel kernel's group-major weights (small stride-2 maps)
    inside, gathered on the border (8 channels) and through the clipped window (68 channels), a 5x5 filter (the
    tap-major layout, tk_dw_window), and planes over 6 channels (a last group of 2)."""
    from pipeline.kd.keras import keras
    L = keras.layers
    dw = L.DepthwiseConv2D
    a = dw(3, padding="same", activation="relu")(x)
    b = dw(3, padding="same")(L.Conv2D(8, (2, 1))(x))
    c = dw(3, strides=2, padding="same")(x)
    d = dw(3, strides=2, padding="same", activation="relu")(L.Conv2D(68, 1)(x))
    e = dw(5, padding="same")(x)
    f = dw(3, padding="same")(L.Conv2D(6, 1)(x))  # a last group of 2 channels, gathered
    return L.Dense(10)(L.Concatenate()([L.Flatten()(t) for t in (a, b, c, d, e, f)]))


def dw_band_mix(x):
    """The 3x3 depthwise on planes a band of blocks at a time (84 columns: planes of all 6 blocks would pass
    pack.DW3X3_PLANES_MAX): stride 1 written over its own input, its last block with no row past the first inside;
    stride 2 (padding 1 on top), clamped."""
    from pipeline.kd.keras import keras
    L = keras.layers
    dw = L.DepthwiseConv2D
    a = L.Conv2D(4, 1)(dw(3, padding="same")(L.Conv2D(8, 1)(x)))
    b = dw(3, strides=2, padding="same", activation="relu")(L.Conv2D(36, 1)(x))
    return L.Dense(10)(L.Concatenate()([L.Flatten()(L.MaxPool2D(4)(t)) for t in (a, b)]))


def conv8_mix(x):
    """The int8-weight conv (balanced picks it for all of these: few pixels, many weights) on both of its 3-pixel
    loops: unrolled up to 64 groups of taps (the whole sequence at 256 taps), clamped (a RELU concatenated with
    negative values) and not, 45 groups of a 3x3 over 20 channels; looped past 64 (260 taps); 5 pixels (a last
    pass of 2; too few for tiles of 4)."""
    from pipeline.kd.keras import keras
    L = keras.layers
    a = L.Conv2D(24, 1)(L.Conv2D(256, 1)(x))
    b = L.Concatenate()([L.Conv2D(30, 1, activation="relu")(L.Conv2D(128, 1)(x)), L.Conv2D(4, 1)(x)])
    c = L.Conv2D(12, 1)(L.Conv2D(260, 1)(x))
    d = L.Conv2D(10, 3, padding="same")(L.Conv2D(20, 1)(x))
    return L.Dense(10)(L.Concatenate()([L.Flatten()(t) for t in (a, b, c, d)]))


def conv8_tile_mix(x):
    """The int8-weight conv's tiles of 4 pixels (tk_conv2d_fast8_tiles_s8: groups of taps in fours) and the pass of 3
    after them: 25 pixels, 6 tiles and a last pass of 1; over 256 taps in chunks of 5 and 1 tiles (2 KB each), over
    16 and 128 taps in one; a 5x3 over 3 channels (flat taps, 45 -> 48: padding rows and columns filled with the
    zero point); clamped (RELU) and not; 2 to 128 channel pairs. 40 taps take no tiles (nor the 1x1 to 3 channels:
    an odd count keeps int16 weights). The 32 KB of weights over 128 taps make int8 worth its code."""
    from pipeline.kd.keras import keras
    L = keras.layers
    a = L.Conv2D(6, 1, activation="relu")(L.Conv2D(256, 1)(L.Conv2D(128, 1)(x)))
    b = L.Conv2D(8, 1)(L.Conv2D(40, 1)(x))
    c = L.Conv2D(4, (5, 3), padding="same")(L.Conv2D(3, 1)(x))
    return L.Dense(10)(L.Concatenate()([L.Flatten()(t) for t in (a, b, c)]))


def conv8_tile_rows(x):
    """Tiles of 4 pixels writing over their own dying input a few rows lower (the planner's row shift for CONV_2D):
    a chunk's inputs are all in the scratch before any of its outputs land."""
    from pipeline.kd.keras import keras
    L = keras.layers
    h = L.Conv2D(96, 1)(L.Conv2D(128, 1)(L.Conv2D(128, 1)(x)))
    return L.Dense(10)(L.Flatten()(L.Conv2D(4, 1)(h)))


def narrow_mix(x):
    """The 1x1 over 8 channels in assembly (tk_conv2d_narrow_s8): 40 output channels written over their dying input
    a few rows lower (the planner's row shift: each pixel is read before its outputs land), then one and three. (At
    32, the conv after it takes tiles of 4 pixels, whose 5 KB of scratch move the row shift onto that conv.)"""
    from pipeline.kd.keras import keras
    L = keras.layers
    h = L.Conv2D(8, 1)(L.Conv2D(40, 1)(L.Conv2D(8, 3, padding="same")(x)))
    return L.Dense(10)(L.Concatenate()([L.Flatten()(L.Conv2D(1, 1)(h)), L.Flatten()(L.Conv2D(3, 1)(h))]))


# name: (make the .tflite, samples); the first three exercise the fast kernels' DSP paths, the others the op
# registry's kernels (each registry entry that names "qemu:NAME" must be in NAME's model).
MODELS = {"digits_student": (lambda: student("dsconv"), 100), "ds_cnn": (lambda: mlperf("ds_cnn"), 50),
          "kernel_mix": (lambda: keras_tflite(kernel_mix, (9, 10, 3), seed=3), 50),
          "flat_mix": (lambda: keras_tflite(flat_mix, (11, 13, 3), seed=7), 30),
          "dw_s2_mix": (lambda: keras_tflite(dw_s2_mix, (17, 18, 40), seed=8), 10),
          "dw_fill_mix": (lambda: keras_tflite(dw_fill_mix, (7, 6, 8), seed=9), 20),
          "dw_band_mix": (lambda: keras_tflite(dw_band_mix, (21, 84, 4), seed=13), 10),
          "conv8_mix": (lambda: keras_tflite(conv8_mix, (1, 5, 16), seed=11), 20),
          "conv8_tile_mix": (lambda: keras_tflite(conv8_tile_mix, (5, 5, 16), seed=14), 20),
          "conv8_tile_rows": (lambda: keras_tflite(conv8_tile_rows, (9, 9, 16), seed=15), 20),
          "narrow_mix": (lambda: keras_tflite(narrow_mix, (9, 9, 3), seed=12), 20),
          "op_mix": (lambda: function_tflite(op_cases.op_mix, (8, 8, 4), seed=3), 50),
          "prelu_mix": (lambda: keras_tflite(op_cases.prelu_mix, (6, 5, 3), seed=4), 30),
          "dequantize_output": (op_cases.CONVERTER_CASES["dequantize_out_softmax"][0], 30),
          "fc_autoencoder": (lambda: mlperf("fc_autoencoder"), 10), "resnet8": (lambda: mlperf("resnet8"), 3)}
DSP_MODELS = {"digits_student", "ds_cnn", "kernel_mix", "flat_mix", "dw_s2_mix", "dw_fill_mix", "dw_band_mix",
              "conv8_mix", "conv8_tile_mix", "conv8_tile_rows", "narrow_mix"}
# name: the kernel each --optimize policy must run in it (tests/test_kernels_qemu.py checks them all bit-exact)
FC8, CONV8 = "tk_fully_connected_fast8_s8(", "tk_conv2d_fast8_s8("
POLICY_KERNELS = {"fc_autoencoder": {"speed": FC8, "balanced": FC8, "size": "tk_fully_connected_s8("},
                  "resnet8": {"speed": "tk_conv2d_fast_s8(", "balanced": CONV8, "size": "tk_conv2d_s8("}}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_kernels_are_bit_exact_with_tflm_in_qemu(name, tmp_path):
    make, samples = MODELS[name]
    run = tmp_path / "run"
    compiled = aot_run(run, make(), samples, seed=5)
    claimed = {spec.name for spec in registry.ops().values() if f"qemu:{name}" in spec.tests}
    assert claimed <= set(compiled.ops), f"{name} lacks {claimed - set(compiled.ops)}"
    if name in DSP_MODELS:
        assert "_fast_s8(" in compiled.source or "_fast8_s8(" in compiled.source  # the fast kernels are what runs
    if name in POLICY_KERNELS:
        assert POLICY_KERNELS[name]["balanced"] in compiled.source
    if name in DSP_MODELS - {"digits_student", "flat_mix", "conv8_mix", "conv8_tile_mix", "conv8_tile_rows",
                             "narrow_mix"}:  # ... and the 3x3 planes
        assert "tk_depthwise_conv2d_3x3_fast_s8(" in compiled.source
    if name in ("digits_student", "kernel_mix"):  # ... and the 1x1 over 8 channels, an even and an odd count
        assert "tk_conv2d_narrow_s8(" in compiled.source
    if name == "conv8_tile_rows":  # ... tiles of 4 over their own input
        tiles = {i for i, layer in compiled.layers.items() if layer["layout"] == "conv8t"}
        assert tiles & compiled.plan.overlaps, (compiled.layers, compiled.plan.overlaps)
    if name == "narrow_mix":  # ... on 1, 3 and 40 channels, the last over its own input
        narrow = {i for i, layer in compiled.layers.items() if layer["layout"] == "narrow"}
        assert len(narrow) == 3 and narrow & compiled.plan.overlaps, (compiled.layers, compiled.plan.overlaps)
    if name == "dw_band_mix":  # ... planes of a band of blocks (all 6 blocks' planes would be 24,768 bytes)
        assert pack.dw3x3_scratch_bytes(21, 84, 8) < 4 * 6 * 86 * 12 < 2 * pack.DW3X3_PLANES_MAX
        assert compiled.source.count("tk_depthwise_conv2d_3x3_fast_s8(") == 2
    if name in ("conv8_mix", "conv8_tile_mix"):  # ... and the convs on int8 weights (in tiles of 4 where they pay)
        layouts = sorted(layer["layout"] for layer in compiled.layers.values() if layer["op"] == "CONV_2D")
        assert layouts == (["conv8"] * 9 if name == "conv8_mix" else ["conv", "conv8"] + ["conv8t"] * 5), layouts
        assert name == "conv8_mix" or pack.flat_taps(5, 9) and pack.conv8_tiles(5, 3, 3, 25)  # the 5x3's tiles
    report = validate_in("qemu", run, tmp_path / "build")
    assert report["samples"] == samples and report["mismatched_outputs"] == 0, report["first_mismatches"]
    if name in DSP_MODELS:  # the image really holds the DSP inner loops (not the portable ones)
        disassembly = subprocess.run(["arm-none-eabi-objdump", "-d", str(tmp_path / "build" / "firmware.elf")],
                                     capture_output=True, text=True, check=True).stdout
        assert "smlad" in disassembly and "smmlar" in disassembly and "sxtab16" in disassembly
    if name == "conv8_tile_mix":  # the tiles of 4 ran, and the passes of 3 after them
        ran = dict(_bench_kernels().functions_in(tmp_path / "build" / "firmware.elf", run))
        assert ran.get("tk_conv8_tiles_4x2u", 0) > 0 and ran.get("tk_conv8_pairs_3x2u", 0) > 0, ran


def _bench_kernels():
    """bench/kernels.py as a module."""
    import importlib.util
    from pathlib import Path
    spec = importlib.util.spec_from_file_location("bench_kernels", Path(__file__).parents[1] / "bench" / "kernels.py")
    kernels = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(kernels)
    return kernels


@pytest.mark.parametrize("optimize", ["speed", "size"])  # balanced: the default, checked above
@pytest.mark.parametrize("name", sorted(POLICY_KERNELS))
def test_every_optimize_policy_is_bit_exact_in_qemu(name, optimize, tmp_path):
    """Each policy's kernels (int8 weights two rows to an int16, int16 weights, the reference kernels) give TFLM's
    bits on the Cortex-M4."""
    make, samples = MODELS[name]
    compiled = aot_run(tmp_path / "run", make(), samples, seed=6, optimize=optimize)
    assert POLICY_KERNELS[name][optimize] in compiled.source
    assert {layer["optimize"] for layer in compiled.layers.values()} == {optimize}
    report = validate_in("qemu", tmp_path / "run", tmp_path / "build")
    assert report["samples"] == samples and report["mismatched_outputs"] == 0, report["first_mismatches"]


def test_operator_profile_accounts_for_the_inference(tmp_path):
    """bench/kernels.py --profile: a firmware built with -DTK_PROFILE_OPS reports every operator's instructions
    (QEMU semihosting), and they add up to the inference's count less the reporting itself."""
    prof = _bench_kernels().profile("digits_student", student("dsconv"), tmp_path)
    assert prof["mismatched_outputs"] == 0
    counts = [op["instructions"] for op in prof["ops"]]
    assert all(c is not None and c > 0 for c in counts), prof["ops"]
    convs = [op for op in prof["ops"] if op["macs"]]
    assert convs and all(op["instructions"] >= op["macs"] / 2 for op in convs)  # SMLAD: 2 MACs at most
    # the operators account for most of the inference; the rest is the per-operator reporting
    assert 0.5 * prof["inference_instructions"] < sum(counts) < prof["inference_instructions"]


def test_function_profile_accounts_for_the_inference(tmp_path):
    """bench/kernels.py --functions: the execution trace's blocks, counted per firmware function, add up to the
    traced inference and name the kernels that model runs (the digits student: the narrow 1x1 and 3x3 planes)."""
    counts = dict(_bench_kernels().functions("digits_student", student("dsconv"), tmp_path))
    assert all(n > 0 for n in counts.values()) and "?" not in counts
    assert {"tk_narrow_pixels", "tk_dw3_channel", "tk_conv2d_narrow_s8", "tk_engine_invoke"} <= set(counts)
    assert 40_000 < sum(counts.values()) < 80_000  # one inference: ~60 K instructions (bench/kernels.py --profile)
