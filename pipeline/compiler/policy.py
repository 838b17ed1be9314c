"""The per-layer choice between kernels and weight layouts (`--optimize speed|size|balanced`, config key
`export.optimize`, pipeline/config.py): every layer that more than one kernel runs exactly lists its candidates,
each with the bytes of its constant arrays (exact) and an estimate of its instructions (MACs and outputs times the
measured costs below, bench/kernels.py on QEMU's Cortex-M4); the policy picks one, and the choice is recorded per
layer (CompiledModel.layers: the manifest's compile metrics and `tinykd inspect`).

  speed     the fewest instructions (ties: fewer bytes)
  size      the fewest bytes (ties: fewer instructions): never more than the reference kernels' int8 weights,
            int32 biases and multipliers, since the reference kernel is always a candidate
  balanced  the fewest instructions among the candidates within BALANCED_BYTES of the smallest one's bytes, so
            weights stay int8 wherever an int8 layout runs fast; a layer where only a 2-byte layout is fast takes
            it when it saves at least BALANCED_SPEEDUP x the instructions (the default)
"""
from __future__ import annotations

from dataclasses import dataclass

from pipeline.config import OPTIMIZE, ExportConfig

POLICIES = OPTIMIZE                  # balanced | speed | size
DEFAULT = ExportConfig.optimize      # balanced
BALANCED_BYTES = 1.10    # "int8 density": up to 10 % above the smallest layout (bias, rescale words, padding)
BALANCED_SPEEDUP = 2.0   # ... or a layout that is at least twice as fast

# Instructions per MAC and per output value of each layout, measured with bench/kernels.py --profile
# (QEMU -icount, the op's instructions over its MACs). Estimates: only their order matters to the choice.
COSTS = {
    "reference": (7.5, 12.0),       # tk_fully_connected_s8, int8 weights
    "reference_conv": (8.0, 12.0),  # tk_conv2d_s8
    "reference_dw": (13.0, 12.0),   # tk_depthwise_conv2d_s8
    "fc": (1.6, 10.0),              # tk_fully_connected_fast_s8, int16 weights (pack_matrix)
    "fc8": (0.9, 10.0),             # tk_fully_connected_fast8_s8, int8 weights two rows to an int16 (pack_fc8)
    "conv": (0.8, 6.0),             # tk_conv2d_fast_s8, int16 weights (pack_matrix)
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
    dense = [c for c in candidates if c.weight_bytes <= BALANCED_BYTES * smallest.weight_bytes]
    best_dense = min(dense, key=lambda c: (c.instructions, c.weight_bytes))
    return fastest if fastest.instructions * BALANCED_SPEEDUP <= best_dense.instructions else best_dense
