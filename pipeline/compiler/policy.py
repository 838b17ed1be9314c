"""The per-layer choice between kernels and weight layouts (`--optimize speed|size|balanced`, config key
`export.optimize`, pipeline/config.py): every layer that more than one kernel runs exactly lists its candidates,
each with the bytes of its constant arrays (exact) and an estimate of its instructions (MACs and outputs times the
measured costs below, bench/kernels.py on QEMU's Cortex-M4); the policy picks one, and the choice is recorded per
layer (CompiledModel.layers: the manifest's compile metrics and `tinykd inspect`).

  speed     the fewest instructions (ties: fewer bytes)
  size      the fewest bytes (ties: fewer instructions): never more than the reference kernels' int8 weights,
            int32 biases and multipliers, since the reference kernel is always a candidate
  balanced  the least instructions + BYTE_PRICE x bytes (the default): weights stay int8 wherever an int8
            layout costs fewer than BYTE_PRICE instructions per byte it saves
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
    "depthwise": (1.8, 6.0),        # tk_depthwise_conv2d_fast_s8, int16 (pack_depthwise)
    "depthwise_3x3": (1.2, 4.0),    # tk_depthwise_conv2d_3x3_fast_s8, int16 (pack_depthwise_3x3)
}


@dataclass(frozen=True)
class Candidate:
    layout: str          # a key of COSTS
    weight_bytes: int    # its constant arrays: weights, biases, rescale words
    instructions: int    # estimated instructions of one inference of the layer


def candidate(layout: str, weight_bytes: int, macs: int, outputs: int) -> Candidate:
    per_mac, per_output = COSTS[layout]
    return Candidate(layout, int(weight_bytes), round(per_mac * macs + per_output * outputs))


def choose(policy: str, candidates: list[Candidate]) -> Candidate:
    """The candidate `policy` picks (see the module doc)."""
    if policy not in POLICIES:
        raise ValueError(f"optimize policy {policy!r}: one of {', '.join(POLICIES)}")
    fastest = min(candidates, key=lambda c: (c.instructions, c.weight_bytes))
    smallest = min(candidates, key=lambda c: (c.weight_bytes, c.instructions))
    if policy == "speed":
        return fastest
    if policy == "size":
        return smallest
    return min(candidates, key=lambda c: (c.instructions + BYTE_PRICE * c.weight_bytes, c.instructions))
