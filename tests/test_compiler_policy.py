"""`--optimize speed|size|balanced`: the compiler's per-layer choice between exact kernels (policy.py), the int8
two-rows-to-an-int16 packing of FULLY_CONNECTED (pack.pack_fc8) it makes possible, what is recorded of the choice
(compile metrics, `tinykd inspect`) and the bits: every policy bit-exact with TFLM on the host here (the Cortex-M4
assembly: tests/test_kernels_qemu.py, test_every_optimize_policy_is_bit_exact_in_qemu)."""
import json
from pathlib import Path

import numpy as np
import pytest

from aot_models import mismatches, mlperf
from conftest import invoke
from pipeline.compiler import compile_model, pack, policy
from pipeline.compiler.graph import build_graph
from pipeline.config import load_config, with_overrides
from pipeline.device.stages import compile_stage
from pipeline.int8.tflite_file import read_model

GOLDEN_MODEL = Path(__file__).parent / "fixtures" / "golden_model" / "student_dsconv.tflite"  # CONV, DW, FC
WEIGHT_OPS = {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"}


def int8_weights_and_code(model) -> int:
    """The constant bytes of the model's weight layers as the reference kernels keep them: int8 weights, int32
    biases, an int32 multiplier and shift per output channel (what `size` must never exceed)."""
    graph = build_graph(read_model(model))
    total = 0
    for op in graph.ops:
        if op.name not in WEIGHT_OPS:
            continue
        w = graph.tensors[op.inputs[1]]
        b = graph.tensors[op.inputs[2]] if len(op.inputs) > 2 and op.inputs[2] >= 0 else None
        channels = w.shape[-1] if op.name == "DEPTHWISE_CONV_2D" else w.shape[0]
        total += w.data.size + (0 if b is None else 4 * b.data.size) + 8 * (channels if len(w.scales) > 1 else 1)
    return total


def weight_layer_bytes(compiled) -> int:
    return sum(entry["weight_bytes"] for entry in compiled.layers.values())


def test_each_policy_picks_by_its_rule():
    small_slow = policy.Candidate("reference", 1000, 80_000)
    dense_fast = policy.Candidate("conv8", 1050, 10_000)
    wide_faster = policy.Candidate("conv", 2000, 9_000)
    candidates = [small_slow, dense_fast, wide_faster]
    assert policy.choose("speed", candidates) == wide_faster
    assert policy.choose("size", candidates) == small_slow
    assert policy.choose("balanced", candidates) == dense_fast  # 950 bytes saved for 1,000 instructions
    # weights reused over many pixels: the int16 layout saves more instructions than its bytes are worth
    reused = [small_slow, dense_fast, policy.Candidate("conv", 2000, 10_000 - 10 * 950)]
    assert policy.choose("balanced", reused) == reused[2]
    with pytest.raises(ValueError, match="'fast'.*balanced, speed, size"):
        policy.choose("fast", candidates)


def test_fc8_packing_recovers_both_rows_exactly():
    """The kernel's arithmetic in numpy: SMLAD with h and with SXTB16(h), modulo 2^32, then the unmix."""
    rng = np.random.default_rng(0)
    rows, depth, offset = 6, 37, 128  # a partial tile, a partial group, inputs [0, 255]
    w = rng.integers(-127, 128, (rows, depth))
    bias = rng.integers(-50_000, 50_000, rows)
    q = pack.fast_quant([1 << 30] * rows, [-8] * rows, w, bias, 0, rows)
    weights, bias_words, quant_words = pack.pack_fc8(w, bias, offset, q)
    assert weights.dtype == np.int16 and weights.size == 8 * 10 * 2  # 8 rows x 40 taps: one byte per weight
    x = rng.integers(-128, 128, 40) + offset
    x[depth:] = 0
    h = weights.astype(np.int64).reshape(2, 10, 2, 2, 2)  # (tile, group, pair, a|b, low|high)
    low_bytes = ((h & 0xFF) ^ 0x80) - 0x80                  # SXTB16
    taps = x.reshape(10, 2, 2).transpose(0, 2, 1)           # (group, a|b, low|high): (x0, x2) (x1, x3)
    mix = np.einsum("tgpwl,gwl->tp", h, taps)
    a = np.einsum("tgpwl,gwl->tp", low_bytes, taps)
    words = bias_words.astype(np.int64).reshape(2, 2, 2)    # (tile, pair, a|mix)
    a, mix = (a + words[..., 0]) & 0xFFFFFFFF, (mix + words[..., 1]) & 0xFFFFFFFF
    low2 = quant_words.astype(np.int64).reshape(2, 2, 7)[..., 6]
    doubled_b = ((mix - a) & 0xFFFFFFFF) // 128 + low2
    a_signed = np.where(a >= 1 << 31, a - (1 << 32), a)
    expected = w @ x[:depth] + bias
    assert np.array_equal(2 * a_signed.reshape(-1)[:3], 2 * expected[0::2])
    assert np.array_equal(doubled_b.reshape(-1)[:3], 2 * expected[1::2])


def test_fc8_refuses_a_row_whose_range_the_mix_cannot_hold():
    w = np.full((2, 1000), 127)  # row B spans 255 * 127 * 1000 > 2^24
    q = pack.fast_quant([1 << 30] * 2, [-20] * 2, w, None, 0, 2)
    assert pack.pack_fc8(w, None, 0, q) is None


@pytest.mark.parametrize("optimize", policy.POLICIES)
def test_every_policy_is_bit_exact_on_the_host(optimize):
    differ, total, compiled = mismatches(GOLDEN_MODEL.read_bytes(), 50, seed=2, optimize=optimize)
    assert total > 0 and differ == 0
    assert compiled.optimize == optimize and {e["optimize"] for e in compiled.layers.values()} == {optimize}


def test_size_is_never_larger_than_int8_weights():
    model = GOLDEN_MODEL.read_bytes()
    sizes = {p: weight_layer_bytes(compile_model(model, optimize=p)) for p in policy.POLICIES}
    assert sizes["size"] <= int8_weights_and_code(model)
    assert sizes["size"] <= sizes["balanced"] <= sizes["speed"]


@pytest.mark.slow
def test_fc_autoencoder_balanced_keeps_int8_weights_and_size_is_smallest():
    model = mlperf("fc_autoencoder")
    compiled = {p: compile_model(model, optimize=p) for p in policy.POLICIES}
    assert {e["layout"] for e in compiled["balanced"].layers.values()} == {"fc8"}
    assert weight_layer_bytes(compiled["size"]) <= int8_weights_and_code(model)
    assert weight_layer_bytes(compiled["balanced"]) <= 1.05 * int8_weights_and_code(model)
    for optimize in ("speed", "size"):
        differ, total, _ = mismatches(model, 20, seed=3, optimize=optimize)
        assert total > 0 and differ == 0, optimize


def test_the_policy_and_each_layers_choice_are_recorded(tmp_path):
    cfg = with_overrides(load_config(None), "export", optimize="size")
    metrics = compile_stage(cfg, model=GOLDEN_MODEL, out=tmp_path / "aot", log=lambda _: None)
    assert metrics["optimize"] == "size"
    layers = metrics["aot_layers"]
    assert {layer["op"] for layer in layers} == WEIGHT_OPS
    assert all(layer["layout"].startswith("reference") and layer["weight_bytes"] > 0 for layer in layers)
    result = invoke("inspect", GOLDEN_MODEL, "--no-arena", "--json", "--optimize", "speed")
    aot = json.loads(result.output)["aot"]
    assert aot["optimize"] == "speed" and {layer["layout"] for layer in aot["layers"]} >= {"conv", "fc8"}
    text = invoke("inspect", GOLDEN_MODEL, "--no-arena").output
    # balanced: the FC layer's int8 kernel would save 200 weight bytes for ~1.4 KB of code: the reference runs it
    assert "AOT (--optimize balanced)" in text and "fc8" not in text


@pytest.mark.parametrize("command", [["compile", GOLDEN_MODEL, "--out", "unused"], ["inspect", GOLDEN_MODEL], ["run"]])
def test_an_unknown_policy_is_one_line_naming_it_and_the_choices(command):
    result = invoke(*command, "--optimize", "fast")
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "'fast'" in lines[0] and all(p in lines[0] for p in policy.POLICIES)
    assert "Traceback" not in result.output


def test_run_passes_the_policy_to_the_compile_stage(run_config):
    assert run_config("--optimize", "size").export.optimize == "size"


def test_a_config_file_with_an_unknown_policy_names_the_key(tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text('[export]\noptimize = "fast"\n')
    with pytest.raises(Exception, match="export.optimize.*fast"):
        load_config(config)


def _layer(pick: str, **candidates: tuple[int, int]) -> dict:
    """A Lowering.layers entry: the pick and its candidates as (weight bytes, instructions), reference first."""
    return {"layout": pick,
            "candidates": {k: {"weight_bytes": b, "instructions": i} for k, (b, i) in candidates.items()}}


def test_an_int8_layout_is_left_out_when_its_code_outweighs_what_it_saves():
    small = {0: _layer("fc8", reference=(368, 2520), fc8=(600, 388), fc=(800, 612))}
    assert policy.unprofitable("balanced", small) == {"fc8"}
    # the same layer 100 times over: 100 x 200 bytes saved against fc is worth the kernel's code
    big = {n: _layer("fc8", reference=(36_800, 252_000), fc8=(60_000, 38_800), fc=(80_000, 61_200)) for n in range(3)}
    assert policy.unprofitable("balanced", big) == set()
    assert policy.unprofitable("speed", small) == policy.unprofitable("size", small) == set()
    # the fast int16 layouts are never dropped for the reference kernels, however small the model
    assert policy.unprofitable("balanced", {0: _layer("conv", reference_conv=(168, 43_008), conv=(352, 6758))}) == set()


def test_tiles_of_4_pay_for_their_own_code_and_the_int8_kernel_they_link():
    """conv8t (tk_conv2d_fast8_tiles_s8) links conv8's code too (policy.LINKS): a layer whose tiles save fewer
    instructions than the tiles' own code is worth goes back to conv8; one that saves more keeps them; and the tiles
    alone are charged for conv8's code as well."""
    def layer(saved: int) -> dict:
        return _layer("conv8t", reference_conv=(5_000, 900_000), conv=(40_000, 100_000), conv8=(20_000, 110_000),
                      conv8t=(20_000, 110_000 - saved))
    tiles = policy.CODE_BYTES["conv8t"] * policy.BYTE_PRICE
    assert policy.unprofitable("balanced", {0: layer(tiles // 2)}) == {"conv8t"}
    assert policy.unprofitable("balanced", {0: layer(2 * tiles)}) == set()
    both = policy.CODE_BYTES["conv8"] + policy.CODE_BYTES["conv8t"]
    assert policy._model_cost({0: layer(1)}, frozenset({"conv8"})) == \
        policy._model_cost({0: layer(1)}, frozenset()) == 109_999 + policy.BYTE_PRICE * (20_000 + both)


def test_narrow_stream_holds_each_channels_taps_bias_rescale_and_the_last_channel_flag():
    """pack_narrow: per output channel 8 words, the doubled taps as int16 pairs (k0, k2) (k1, k3) (k4, k6)
    (k5, k7), the doubled bias, then fast_quant's row, with NARROW_LAST on the last channel's shift only."""
    rng = np.random.default_rng(0)
    weights, bias = rng.integers(-128, 128, (5, 8)), rng.integers(-1000, 1000, 5)
    quant = pack.fast_quant([1 << 30] * 5, [-7] * 5, weights, bias, 3, 5)
    stream = pack.pack_narrow(weights, bias, quant).reshape(5, 8)
    halves = stream[:, :4].astype(np.int32).view(np.int16).reshape(5, 4, 2)  # little-endian: (low, high)
    taps = np.empty((5, 8), np.int64)
    taps[:, [0, 1, 4, 5]] = halves[:, :, 0]
    taps[:, [2, 3, 6, 7]] = halves[:, :, 1]
    assert (taps == 2 * weights).all() and (stream[:, 4] == 2 * bias).all()
    rows = quant.reshape(-1, 3)[:5]
    assert (stream[:, 5] == rows[:, 0]).all() and (stream[:, 7] == rows[:, 2]).all()
    assert list(stream[:, 6] & 0xFF) == list(rows[:, 1])
    assert list(stream[:, 6] & pack.NARROW_LAST) == [0, 0, 0, 0, pack.NARROW_LAST]
