"""The per-layer choice between kernels and weight layouts (`--optimize speed|size|balanced`, config key
`export.optimize`, pipeline/config.py): every layer that more than one kernel runs exactly lists its candidates,
each with the bytes of its constant arrays (exact) and an estimate of its instructions (MACs and outputs times the
measured costs below, bench/kernels.py on QEMU's Cortex-M4); the policy picks one, and the choice is recorded per
layer (CompiledModel.layers: the manifest's compile metrics and `tinykd inspect`).

  speed     the fewest instructions (ties: fewer bytes)
  size      the fewest bytes (ties: fewer instructions): never more than the reference kernels' int8 weights,
            int32 biases and multipliers, since the reference kernel is always a candidate
  balanced  the least instructions + BYTE_PRICE x bytes (the default): weights stay int8 wherever an int8
            layout costs fewer than BYTE_PRICE instructions per byte it saves. A layout's kernel code is flash
            too, paid once per model: an int8 layout whose layers together save less than its code costs
            (CODE_BYTES) is left out and the model compiled again (`unprofitable`), so a tiny model does not
            link an int8 kernel to save a few hundred bytes of weights.
"""
from __future__ import annotations

from dataclasses import dataclass

from pipeline.config import OPTIMIZE, ExportConfig

POLICIES = OPTIMIZE                  # balanced | speed | size
DEFAULT = ExportConfig.optimize      # balanced
# balanced: a byte of flash is worth this many instructions per inference. A layer whose weights serve few
# output pixels (FC, the small late feature maps of MobileNet and ResNet) keeps them int8; one whose weights are
# reused over many pixels takes the faster int16 layout, whose extra bytes cost few instructions each.
BYTE_PRICE = 8.0

# Instructions per MAC and per output value of each layout, measured with bench/kernels.py --profile
# (QEMU -icount, the op's instructions over its MACs). Estimates: only their order matters to the choice.
COSTS = {
    "reference": (7.5, 12.0),       # tk_fully_connected_s8, int8 weights
    "reference_conv": (8.0, 12.0),  # tk_conv2d_s8
    "reference_dw": (13.0, 12.0),   # tk_depthwise_conv2d_s8
    "fc": (1.6, 10.0),              # tk_fully_connected_fast_s8, int16 weights (pack_matrix)
    "fc8": (0.9, 10.0),             # tk_fully_connected_fast8_s8, int8 weights two rows to an int16 (pack_fc8)
    "conv": (0.8, 6.0),             # tk_conv2d_fast_s8, int16 weights (pack_matrix)
    "conv8": (0.9, 8.0),            # tk_conv2d_fast8_s8, int8 weights two channels to an int16 (pack_fc8)
    "conv8t": (0.83, 8.0),          # tk_conv2d_fast8_tiles_s8, the same weights, tiles of 4 pixels (pack.conv8_tiles)
    "narrow": (1.0, 4.0),           # tk_conv2d_narrow_s8, 1x1 over 8 channels, one stream (pack_narrow)
    "depthwise": (1.8, 6.0),        # tk_depthwise_conv2d_fast_s8, int16 (pack_depthwise)
    "depthwise_3x3": (1.2, 4.0),    # tk_depthwise_conv2d_3x3_fast_s8, int16 (pack_depthwise_3x3)
}


# Flash of each fast layout's own kernel code (text of the functions only it calls), arm-none-eabi-gcc 12 -O2
# -mcpu=cortex-m4, `arm-none-eabi-nm -S` on the kernel objects. Shared helpers and the reference kernels are left
# out: only the order of magnitude matters to `unprofitable`.
CODE_BYTES = {"fc": 980, "fc8": 1392, "conv": 6800, "conv8": 6594, "conv8t": 6866, "narrow": 384, "depthwise": 2092,
              "depthwise_3x3": 3720}
# A layout whose kernel also links another's code (the tiles' kernel runs the pixels past them as conv8 does).
LINKS = {"conv8t": "conv8"}


@dataclass(frozen=True)
class Candidate:
    layout: str          # a key of COSTS
    weight_bytes: int    # its constant arrays: weights, biases, rescale words
    instructions: int    # estimated instructions of one inference of the layer


def candidate(layout: str, weight_bytes: int, macs: int, outputs: int) -> Candidate:
    per_mac, per_output = COSTS[layout]
    return Candidate(layout, int(weight_bytes), round(per_mac * macs + per_output * outputs))


def choose(policy: str, candidates: list[Candidate], exclude: frozenset[str] = frozenset()) -> Candidate:
    """The candidate `policy` picks (see the module doc), never a layout in `exclude` (the reference kernels,
    always first among the candidates, stay)."""
    if policy not in POLICIES:
        raise ValueError(f"optimize policy {policy!r}: one of {', '.join(POLICIES)}")
    candidates = [c for n, c in enumerate(candidates) if n == 0 or c.layout not in exclude]
    fastest = min(candidates, key=lambda c: (c.instructions, c.weight_bytes))
    smallest = min(candidates, key=lambda c: (c.weight_bytes, c.instructions))
    if policy == "speed":
        return fastest
    if policy == "size":
        return smallest
    return min(candidates, key=lambda c: (c.instructions + BYTE_PRICE * c.weight_bytes, c.instructions))


INT8_LAYOUTS = ("conv8", "conv8t", "fc8")  # the layouts that exist to save flash: dropped when their code costs more


def _picks(layers: dict[int, dict], exclude: frozenset[str]) -> list[Candidate]:
    """Each layer's balanced pick among its recorded candidates (the reference kernel first), `exclude` left out."""
    return [choose("balanced", [Candidate(name, c["weight_bytes"], c["instructions"])
                                for name, c in layer["candidates"].items()], exclude)
            for layer in layers.values() if layer.get("candidates")]


def _model_cost(layers: dict[int, dict], exclude: frozenset[str]) -> float:
    """Balanced cost of the whole model: its layers' instructions and weight bytes, and the code of each fast
    layout it links (once)."""
    picks = _picks(layers, exclude)
    linked = {c.layout for c in picks}
    code = sum(CODE_BYTES.get(layout, 0) for layout in linked | {LINKS[n] for n in linked if n in LINKS})
    return sum(c.instructions + BYTE_PRICE * c.weight_bytes for c in picks) + BYTE_PRICE * code


def unprofitable(policy: str, layers: dict[int, dict]) -> frozenset[str]:
    """Under balanced, the int8 layouts (INT8_LAYOUTS) to leave out of the model compiled with `layers`
    (Lowering.layers: each layer's pick and candidates): greedily, while leaving one out lowers the whole model's
    balanced cost once the kernel code of every layout it links is counted (a tiny model saves fewer weight bytes
    than the int8 kernel's code). Empty for the other policies."""
    exclude: frozenset[str] = frozenset()
    if policy != "balanced":
        return exclude
    while True:
        cost = _model_cost(layers, exclude)
        used = {c.layout for c in _picks(layers, exclude)} & set(INT8_LAYOUTS)
        options = sorted((_model_cost(layers, exclude | {layout}), layout) for layout in used)
        if not options or options[0][0] >= cost:
            return exclude
        exclude |= {options[0][1]}
